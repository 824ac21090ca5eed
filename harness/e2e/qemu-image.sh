#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Pack build/initramfs/qemu.cpio.gz: Debian's qemu-system-x86_64, ours
# (make qemu: Debian's source with qemu/patches) as
# /opt/qemu-patched/bin/qemu-system-x86_64, every library ldd lists for
# either, SeaBIOS and the x86 option ROMs, seabios-boot, linux-guest and
# vmm-run, and the nested Linux guest: the test VM's own kernel as
# /guest/vmlinuz and /guest/initrd.cpio.gz (busybox, guest-init,
# guest-work, e1000.ko). vm-run.sh appends
# it to the base image for the end-to-end tests only.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver

QEMU=/usr/bin/qemu-system-x86_64
OUR_QEMU=$TOP/build/qemu/bin/qemu-system-x86_64
GUEST_KERNEL=$BUILD/vmkernel/boot/vmlinuz-$KVER
BUSYBOX=$(command -v busybox || echo /bin/busybox)
ROOT=$BUILD/initramfs/qemu-root
OUT=$BUILD/initramfs/qemu.cpio.gz
[ -x "$QEMU" ] || die "$QEMU is missing; run 'make deps' as root (package qemu-system-x86)."
[ -f /usr/share/seabios/bios-256k.bin ] ||
	die "SeaBIOS is missing; run 'make deps' as root (package seabios)."
[ -x "$OUR_QEMU" ] || die "build/qemu/bin/qemu-system-x86_64 is missing; run 'make qemu', which builds it."
[ -f "$GUEST_KERNEL" ] || die "$GUEST_KERNEL is missing; run 'make vmkernel', which provides it."
DEBIAN13=$TOP/build/qemu/debian13/root
DEBIAN13_QEMU=$DEBIAN13/usr/bin/qemu-system-x86_64
[ -x "$DEBIAN13_QEMU" ] || die "build/qemu/debian13 has no Debian 13 QEMU; run 'make qemu', which fetches it (harness/e2e/qemu-debian13.sh)."
newer=1
for f in "$QEMU" "$OUR_QEMU" "$DEBIAN13_QEMU" "$GUEST_KERNEL" "$TOP"/harness/e2e/{seabios-boot,linux-guest,nested-qemu,guest-init,guest-work,vmm-run}; do
	[ -f "$OUT" ] && [ "$OUT" -nt "$f" ] || newer=0
done
[ "$newer" = 1 ] && exit 0

step "packing QEMU and SeaBIOS for the VM ($BUILD_REL/initramfs/qemu.cpio.gz)"
rm -rf "$ROOT"
mkdir -p "$ROOT/usr/bin" "$ROOT/usr/share/qemu" "$ROOT/bin" "$ROOT/opt/qemu-patched/bin"
cp "$QEMU" "$ROOT/usr/bin/"
cp "$OUR_QEMU" "$ROOT/opt/qemu-patched/bin/"
libs=$(ldd "$QEMU" "$OUR_QEMU" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }' | sort -u)
for lib in $libs; do
	[ -f "$lib" ] || die "ldd lists $lib for QEMU but it is missing; run 'make deps' as root, then 'make qemu'."
	mkdir -p "$ROOT$(dirname "$lib")"
	cp -L "$lib" "$ROOT$lib"
done
# The dynamic loader under both names the binaries may ask for.
mkdir -p "$ROOT/lib64"
cp -L /lib64/ld-linux-x86-64.so.2 "$ROOT/lib64/"
# Debian 13's QEMU with its own libraries and loader, started through a
# wrapper (the VM's libraries are Debian 12's).
d13=$ROOT/opt/qemu-debian13
d13lib=$DEBIAN13/usr/lib/x86_64-linux-gnu
mkdir -p "$d13/bin" "$d13/lib" "$d13/libexec"
cp "$DEBIAN13_QEMU" "$d13/libexec/"
"$d13lib/ld-linux-x86-64.so.2" --library-path "$d13lib" --list "$DEBIAN13_QEMU" |
	awk '/=> \// { print $3 }' | xargs -r cp -L -t "$d13/lib/"
cp -L "$d13lib/ld-linux-x86-64.so.2" "$d13/lib/"
cat >"$d13/bin/qemu-system-x86_64" <<'WRAPPER'
#!/bin/sh
exec /opt/qemu-debian13/lib/ld-linux-x86-64.so.2 --library-path /opt/qemu-debian13/lib \
	/opt/qemu-debian13/libexec/qemu-system-x86_64 "$@"
WRAPPER
chmod +x "$d13/bin/qemu-system-x86_64"
cp -rL /usr/share/seabios "$ROOT/usr/share/"
for rom in kvmvapic.bin linuxboot.bin linuxboot_dma.bin multiboot.bin \
	   multiboot_dma.bin pvh.bin; do
	cp -L "/usr/share/qemu/$rom" "$ROOT/usr/share/qemu/"
done
cp "$TOP/harness/e2e/seabios-boot" "$TOP/harness/e2e/linux-guest" "$TOP/harness/e2e/vmm-run" "$TOP/harness/e2e/nested-qemu" "$ROOT/bin/"
# The nested guest: the test VM's kernel, busybox, guest-init and
# guest-work, and the kernel's e1000 module where it has one as a module
# (Debian's kernels; vmm-run's net workload skips without it).
mkdir -p "$ROOT/guest" "$ROOT/guest-root/bin" "$ROOT/guest-root/lib"
cp "$GUEST_KERNEL" "$ROOT/guest/vmlinuz"
cp "$BUSYBOX" "$ROOT/guest-root/bin/busybox"
cp "$TOP/harness/e2e/guest-init" "$ROOT/guest-root/init"
cp "$TOP/harness/e2e/guest-work" "$ROOT/guest-root/bin/"
e1000=$BUILD/vmkernel/lib/modules/$KVER/kernel/drivers/net/ethernet/intel/e1000/e1000.ko
if [ -f "$e1000" ]; then
	cp "$e1000" "$ROOT/guest-root/lib/"
elif [ -f "$e1000.xz" ]; then
	need_cmd xz xz-utils
	xz -dc "$e1000.xz" >"$ROOT/guest-root/lib/e1000.ko"
fi
(cd "$ROOT/guest-root" && find . -print0 | cpio -0 -o -H newc --quiet | gzip -1) >"$ROOT/guest/initrd.cpio.gz"
rm -rf "$ROOT/guest-root"
(cd "$ROOT" && find . -print0 | cpio -0 -o -H newc --quiet | gzip -1) >"$OUT"
echo "qemu image: $BUILD_REL/initramfs/qemu.cpio.gz ($(du -h "$OUT" | cut -f1), $(echo "$libs" | wc -w) libraries)"
