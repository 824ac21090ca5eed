#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# install.sh check|install|uninstall: put our kvm.ko, kvm-amd.ko and kvm-intel.ko
# for the running kernel under /lib/modules/<release>/updates/, where
# depmod prefers them over the stock ones, or take them away again;
# "check" only says whether install would be refused.
# INSTALL_KVER, DESTDIR and SYSFS change the kernel release, the root and
# /sys (used by harness/host/install-test.sh; leave them unset on a real host).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base

ACTION=${1:-}
REL=${INSTALL_KVER:-$(uname -r)}
DESTDIR=${DESTDIR:-}
SYSFS=${SYSFS:-/sys}
MODDIR=$DESTDIR/lib/modules/$REL
OURS=$MODDIR/updates/coalesced-kvm
MODS="kvm kvm-amd kvm-intel"

# release_base RELEASE: the base (bases/*.conf) whose Debian kernels have
# that release, or nothing.
release_base() {
	local conf
	for conf in "$TOP"/bases/*.conf; do
		(
			# shellcheck disable=SC1090
			source "$conf"
			[ "$BASE_KERNEL" = debian ] && [[ $1 =~ $BASE_KVER_RE ]] &&
				basename "$conf" .conf
		) || true
	done
}

case "$ACTION" in
check|install|uninstall|base) ;;
*) die "usage: install.sh check|install|uninstall|base (run it through 'make install' or 'make uninstall')." ;;
esac

rel_base=$(release_base "$REL")
[ -n "$rel_base" ] ||
	die "the running kernel is $REL, not a Debian kernel our modules are built for (Debian 12's 6.1, like 6.1.0-57-amd64, Debian 12 backports' 6.12, like 6.12.95+deb12-amd64, or Debian 13's 6.12, like 6.12.117+deb13-amd64); boot one of those first."
if [ "$ACTION" = base ]; then
	echo "$rel_base"
	exit 0
fi
[ "$rel_base" = "$BASE" ] ||
	die "the kernel $REL belongs to BASE=$rel_base, not BASE=$BASE; run 'make install' without BASE, which picks it."
[ -d "$MODDIR/kernel" ] ||
	die "$MODDIR/kernel does not exist; this kernel's modules are not installed where Debian puts them."
[ -n "$DESTDIR" ] || [ "$(id -u)" = 0 ] ||
	die "installing kernel modules needs root; run 'sudo make $ACTION'."

# The vendor module holds a reference for every open /dev/kvm and every VM.
for m in kvm_amd kvm_intel; do
	refs=$(cat "$SYSFS/module/$m/refcnt" 2>/dev/null || echo 0)
	[ "$refs" = 0 ] ||
		die "$m is in use ($refs users: running VMs or programs with /dev/kvm open); stop them, then run 'make $ACTION' again."
done
[ "$ACTION" = check ] && exit 0

depmod_and_show() {
	depmod ${DESTDIR:+-b "$DESTDIR"} "$REL" ||
		die "depmod failed for $REL; check $MODDIR."
	modprobe ${DESTDIR:+-d "$DESTDIR"} -S "$REL" --show-depends kvm_amd 2>/dev/null |
		sed 's/^insmod //'
}

if [ "$ACTION" = install ]; then
	for m in $MODS; do
		[ -f "$BUILD/modules/ours/$m.ko" ] ||
			die "$BUILD_REL/modules/ours/$m.ko is missing; run 'make modules KVER=$REL' first."
	done
	vermagic=$(modinfo -F vermagic "$BUILD/modules/ours/kvm.ko")
	[ "${vermagic%% *}" = "$REL" ] ||
		die "$BUILD_REL/modules/ours was built for ${vermagic%% *}, not $REL; run 'make modules KVER=$REL' first."
	step "installing our kvm modules into $OURS"
	mkdir -p "$OURS"
	for m in $MODS; do
		install -m 644 "$BUILD/modules/ours/$m.ko" "$OURS/"
	done
	deps=$(depmod_and_show)
	echo "$deps" | sed 's/^/    modprobe kvm_amd loads /'
	grep -q "^$OURS/kvm.ko" <<<"$deps" && grep -q "^$OURS/kvm-amd.ko" <<<"$deps" ||
		die "depmod still resolves kvm_amd to the stock modules; check /etc/depmod.d for a 'search' line without 'updates'."
	if [ -d "$SYSFS/module/kvm" ]; then
		echo "kvm is loaded: run 'modprobe -r kvm_amd kvm_intel kvm && modprobe kvm_amd' (or reboot) to switch to ours."
	fi
else
	step "removing $OURS"
	rm -rf "$OURS"
	rmdir "$MODDIR/updates" 2>/dev/null || true
	deps=$(depmod_and_show)
	echo "$deps" | sed 's/^/    modprobe kvm_amd loads /'
	grep -q "^$OURS/" <<<"$deps" &&
		die "depmod still resolves kvm_amd to $OURS; remove it by hand and run depmod."
	if [ -d "$SYSFS/module/kvm" ]; then
		echo "kvm is loaded: run 'modprobe -r kvm_amd kvm_intel kvm && modprobe kvm_amd' (or reboot) to go back to the stock modules."
	fi
fi
