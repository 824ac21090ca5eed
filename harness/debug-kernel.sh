#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build a full debug kernel (KASAN, lockdep, failslab, kmemleak) from
# build/linux, our change included, into build/debug-kernel. KVM is built
# in. Incremental: the object dir stays, and ccache keeps compiled objects
# across clean clones.
source "$(dirname "$0")/lib.sh"

LINUX=$BUILD/linux
OBJ=$BUILD/debug-kernel
FRAGMENT=$TOP/harness/debug-kernel.config
LOG=$BUILD/debug-kernel.log
[ -d "$LINUX/.git" ] || die "build/$BASE/linux is missing; run 'make base' first."
mkdir -p "$OBJ"

cc=gcc
command -v ccache >/dev/null && cc="ccache gcc"
kmake() {
	make -C "$LINUX" O="$OBJ" ARCH=x86_64 CC="$cc" "$@"
}

# Configure again only when the fragment changed (or on the first build).
if ! [ -f "$OBJ/.config" ] || [ "$FRAGMENT" -nt "$OBJ/.config" ]; then
	step "configuring: x86_64_defconfig + kvm_guest.config + harness/debug-kernel.config"
	kmake -s defconfig >"$LOG" 2>&1 ||
		{ tail -20 "$LOG" >&2; die "defconfig failed in build/$BASE/linux (its output above, all of it in build/$BASE/debug-kernel.log); fix what it names."; }
	(cd "$OBJ" && "$LINUX/scripts/kconfig/merge_config.sh" -m -O "$OBJ" \
		"$OBJ/.config" "$LINUX/kernel/configs/kvm_guest.config" \
		"$FRAGMENT") >>"$LOG" 2>&1 ||
		die "merging the config fragments failed (see build/$BASE/debug-kernel.log); fix harness/debug-kernel.config."
	kmake -s olddefconfig >>"$LOG" 2>&1 ||
		die "olddefconfig failed (see build/$BASE/debug-kernel.log); fix harness/debug-kernel.config."
	# Every option we ask for must have survived Kconfig's dependencies.
	bad=
	while read -r line; do
		case "$line" in
		CONFIG_*=*) grep -qxF "$line" "$OBJ/.config" || bad="$bad ${line%%=*}" ;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }; opt=${opt%% *}
			grep -q "^$opt=" "$OBJ/.config" && bad="$bad $opt" ;;
		esac
	done <"$FRAGMENT"
	[ -z "$bad" ] || die "Kconfig dropped or changed$bad; fix their dependencies in harness/debug-kernel.config."
fi

step "building the debug kernel in build/$BASE/debug-kernel (log: build/$BASE/debug-kernel.log; about 15 min the first time)"
# Show progress: the number of objects compiled so far, every 30 s.
(
	while sleep 30; do
		echo "    ... $(grep -c '^  CC' "$LOG" 2>/dev/null || echo 0) files compiled"
	done
) &
ticker=$!
trap 'kill $ticker 2>/dev/null' EXIT
start=$SECONDS
kmake -j"$(nproc)" bzImage >>"$LOG" 2>&1 ||
	{ grep -B2 -A8 -E 'error|Error' "$LOG" | tail -40 >&2
	  die "the debug kernel failed to build (errors above, full log build/$BASE/debug-kernel.log); fix the code or harness/debug-kernel.config."; }
echo "debug kernel: $(kmake -s kernelrelease) built in $((SECONDS - start)) s"
