#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernel-build.sh debug: a full debug kernel (KASAN, lockdep, failslab,
#   kmemleak) from build/<base>/linux, our change included, KVM built in,
#   into build/<base>/debug-kernel (harness/base/debug-kernel.config).
# kernel-build.sh vm: for a base whose kernel is built here (BASE_KERNEL=
#   built), the VM's kernel from the pristine source, KVM as modules (the
#   stock set), into build/<base>/vmkernel: obj/ (the tree our modules
#   build against), boot/vmlinuz-$KVER and lib/modules/$KVER
#   (harness/base/vm-kernel.config).
# Both merge their fragment over a base config (x86_64_defconfig and
# kvm_guest.config, or tinyconfig) and are incremental: the object dir stays, and ccache keeps compiled objects
# across clean clones.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base

MODE=${1:-}
LINUX=$BUILD/linux
[ -d "$LINUX/.git" ] || die "$BUILD_REL/linux is missing; run 'make base' first."
case "$MODE" in
debug)
	TREE=$LINUX
	OBJ=$BUILD/debug-kernel
	FRAGMENT=$TOP/harness/base/debug-kernel.config
	LOG=$BUILD/debug-kernel.log
	TARGETS="bzImage"
	# defconfig, KVM's guest options, ours
	BASECONFIG=defconfig
	FRAGMENTS="kernel/configs/kvm_guest.config"
	WHAT="the debug kernel" ;;
vm)
	resolve_kver
	check_versions
	TREE=$BUILD/pristine
	DEST=$BUILD/vmkernel
	OBJ=$DEST/obj
	FRAGMENT=$TOP/harness/base/vm-kernel.config
	LOG=$BUILD/vmkernel.log
	TARGETS="bzImage modules"
	BASECONFIG=tinyconfig
	FRAGMENTS=
	WHAT="the VM's $KVER kernel (stock KVM modules)"
	# The pristine source, as a worktree of build/<base>/linux.
	if [ "$(git -C "$TREE" rev-parse HEAD 2>/dev/null)" != "$(git -C "$LINUX" rev-parse pristine)" ]; then
		step "checking out the pristine $BASE source into $BUILD_REL/pristine"
		git -C "$LINUX" worktree remove --force "$TREE" >/dev/null 2>&1 || rm -rf "$TREE"
		git -C "$LINUX" worktree prune
		git -C "$LINUX" worktree add -q --detach "$TREE" pristine ||
			die "cannot add a worktree of $BUILD_REL/linux at $TREE (git's message above); remove $TREE and run 'git -C $BUILD_REL/linux worktree prune'."
	fi ;;
*)
	die "usage: kernel-build.sh debug|vm (run it through 'make check-debug' or 'make vmkernel')." ;;
esac
mkdir -p "$OBJ"

cc=gcc
command -v ccache >/dev/null && cc="ccache gcc"
# Paths relative to the checkout in ccache's hashes: a clean clone
# elsewhere hits what this one compiled.
export CCACHE_BASEDIR=$TOP
# LOCALVERSION= (empty, not unset): no "+" for a source tree in git.
kmake() {
	make -C "$TREE" O="$OBJ" ARCH=x86_64 CC="$cc" LOCALVERSION= "$@"
}

# Configure again only when the fragment changed (or on the first build).
if ! [ -f "$OBJ/.config" ] || [ "$FRAGMENT" -nt "$OBJ/.config" ]; then
	step "configuring: $BASECONFIG ${FRAGMENTS:++ $FRAGMENTS }+ ${FRAGMENT#"$TOP"/}"
	kmake -s "$BASECONFIG" >"$LOG" 2>&1 ||
		{ tail -20 "$LOG" >&2; die "$BASECONFIG failed in ${TREE#"$TOP"/} (its output above, all of it in ${LOG#"$TOP"/}); fix what it names."; }
	# shellcheck disable=SC2046
	(cd "$OBJ" && "$TREE/scripts/kconfig/merge_config.sh" -m -O "$OBJ" \
		"$OBJ/.config" $(for f in $FRAGMENTS; do echo "$TREE/$f"; done) \
		"$FRAGMENT") >>"$LOG" 2>&1 ||
		die "merging the config fragments failed (see ${LOG#"$TOP"/}); fix ${FRAGMENT#"$TOP"/}."
	kmake -s olddefconfig >>"$LOG" 2>&1 ||
		die "olddefconfig failed (see ${LOG#"$TOP"/}); fix ${FRAGMENT#"$TOP"/}."
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
	[ -z "$bad" ] || die "Kconfig dropped or changed$bad; fix their dependencies in ${FRAGMENT#"$TOP"/}."
fi

# A base older than our code (BASE_COMPAT, bases/<base>.conf): its compat
# header goes into the engine's objects only, as modules.sh does for the
# out-of-tree build. arch/x86/kvm builds them as $(KVM)/coalesced_*.o,
# KVM being ../../../virt/kvm (virt/kvm/Makefile.kvm), and Kbuild looks
# their flags up under those names.
compat=()
if [ "$MODE" = debug ] && [ -n "${BASE_COMPAT:-}" ]; then
	for o in coalesced_mmio.o coalesced_ring.o; do
		compat+=("CFLAGS_../../../virt/kvm/$o=-include $TOP/bases/$BASE_COMPAT")
	done
fi

step "building $WHAT in ${OBJ#"$TOP"/} (log: ${LOG#"$TOP"/}; 10 to 20 min the first time)"
ticker=$(compile_ticker "$LOG" "$OBJ/.files-compiled")
trap 'kill $ticker 2>/dev/null' EXIT
start=$SECONDS
# shellcheck disable=SC2086
kmake -j"$(nproc)" "${compat[@]}" $TARGETS >>"$LOG" 2>&1 ||
	{ grep -B2 -A8 -E 'error|Error' "$LOG" | tail -40 >&2
	  die "$WHAT failed to build (errors above, full log ${LOG#"$TOP"/}); fix the code or ${FRAGMENT#"$TOP"/}."; }
ticker_done "$ticker" "$LOG" "$OBJ/.files-compiled"
release=$(kmake -s kernelrelease)
echo "$WHAT: $release built in $((SECONDS - start)) s"
[ "$MODE" = vm ] || exit 0

[ "$release" = "$KVER" ] ||
	die "the kernel built as $release, not KVER=$KVER; fix CONFIG_LOCALVERSION in ${FRAGMENT#"$TOP"/} or BASE_KVER_RE in bases/$BASE.conf."
rm -rf "$DEST/lib" "$DEST/boot"
kmake -s INSTALL_MOD_PATH="$DEST" INSTALL_MOD_STRIP=1 modules_install >>"$LOG" 2>&1 ||
	die "modules_install failed (see ${LOG#"$TOP"/})."
mkdir -p "$DEST/boot"
cp "$OBJ/arch/x86/boot/bzImage" "$DEST/boot/vmlinuz-$KVER"
echo "$KVER $DEB_VERSION" >"$DEST/.version"
