#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Pack the test VM's initramfs: busybox, /init, both module sets (ours and
# Debian's stock ones) and the selftests. The plan is a second, tiny cpio
# appended at boot time by vm-run.sh.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver

ROOT=$BUILD/initramfs/root
STOCK=$BUILD/vmkernel/lib/modules/$KVER/kernel
BUSYBOX=/bin/busybox
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
	BUSYBOX=$(command -v busybox)
[ -x "$BUSYBOX" ] || die "busybox is missing; run 'make deps' as root (package busybox-static)."
need_cmd cpio cpio
need_cmd strip binutils

step "packing the VM initramfs"
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,proc,sys,dev,tmp,tests,modules/stock,modules/ours}
cp "$BUSYBOX" "$ROOT/bin/busybox"
cp "$TOP/harness/vm/init" "$ROOT/init"
cp "$TOP/harness/vm/kernel-reports" "$ROOT/bin/"
chmod +x "$ROOT/init" "$ROOT/bin/kernel-reports"
# The stock KVM modules and what kvm-amd.ko needs: ccp.ko only where
# the kernel has SEV (Debian's; not the 7.2 kernel built here).
needs_ccp=0
for m in arch/x86/kvm/kvm-amd.ko arch/x86/kvm/kvm-amd.ko.xz; do
	[ -f "$STOCK/$m" ] && modinfo -F depends "$STOCK/$m" | grep -qw ccp && needs_ccp=1
done
mods="arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko arch/x86/kvm/kvm-intel.ko virt/lib/irqbypass.ko"
[ "$needs_ccp" = 1 ] && mods="$mods drivers/crypto/ccp/ccp.ko"
for m in $mods; do
	# Debian compresses modules since 6.3 (.ko.xz): unpack them here.
	if [ -f "$STOCK/$m" ]; then
		cp "$STOCK/$m" "$ROOT/modules/stock/"
	elif [ -f "$STOCK/$m.xz" ]; then
		xz -dc "$STOCK/$m.xz" >"$ROOT/modules/stock/$(basename "$m")"
	else
		die "$STOCK/$m is missing, so the VM kernel's modules are incomplete; remove $BUILD_REL/vmkernel and run 'make' to fetch or build them again."
	fi
done
cp "$BUILD"/modules/ours/*.ko "$ROOT/modules/ours/"
gcc -O2 -static -Wall -o "$ROOT/bin/kvm-anchor" "$TOP/harness/base/kvm-anchor.c" ||
	die "cannot build harness/base/kvm-anchor.c; run 'make deps' as root (gcc, libc6-dev)."
(cd "$BUILD/selftests" && find . -type f -perm -u+x ! -name '*.o' -print0 |
	cpio -0 -pdm --quiet "$ROOT/tests")
# Debug info is a third of the image and nobody debugs inside the VM.
find "$ROOT/tests" -type f -print0 | xargs -0 strip --strip-debug
(cd "$ROOT" && find . -print0 | cpio -0 -o -H newc --quiet | gzip -1) \
	>"$BUILD/initramfs/base.cpio.gz"
echo "initramfs: $BUILD_REL/initramfs/base.cpio.gz ($(du -h "$BUILD/initramfs/base.cpio.gz" | cut -f1))"
