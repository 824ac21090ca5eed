#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Pack build/initramfs/qemu.cpio.gz: Debian's qemu-system-x86_64 with every
# library ldd lists, SeaBIOS and the x86 option ROMs, and seabios-boot.
# vm-run.sh appends it to the base image for the end-to-end test only.
source "$(dirname "$0")/lib.sh"

QEMU=/usr/bin/qemu-system-x86_64
ROOT=$BUILD/initramfs/qemu-root
OUT=$BUILD/initramfs/qemu.cpio.gz
[ -x "$QEMU" ] || die "$QEMU is missing; run 'make deps' as root (package qemu-system-x86)."
[ -f /usr/share/seabios/bios-256k.bin ] ||
	die "SeaBIOS is missing; run 'make deps' as root (package seabios)."
if [ -f "$OUT" ] && [ "$OUT" -nt "$QEMU" ] && [ "$OUT" -nt "$TOP/harness/seabios-boot" ]; then
	exit 0
fi

step "packing QEMU and SeaBIOS for the VM ($BUILD_REL/initramfs/qemu.cpio.gz)"
rm -rf "$ROOT"
mkdir -p "$ROOT/usr/bin" "$ROOT/usr/share/qemu" "$ROOT/bin"
cp "$QEMU" "$ROOT/usr/bin/"
libs=$(ldd "$QEMU" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }')
for lib in $libs; do
	[ -f "$lib" ] || die "ldd lists $lib for $QEMU but it is missing; reinstall qemu-system-x86."
	mkdir -p "$ROOT$(dirname "$lib")"
	cp -L "$lib" "$ROOT$lib"
done
# The dynamic loader under both names the binaries may ask for.
mkdir -p "$ROOT/lib64"
cp -L /lib64/ld-linux-x86-64.so.2 "$ROOT/lib64/"
cp -rL /usr/share/seabios "$ROOT/usr/share/"
for rom in kvmvapic.bin linuxboot.bin linuxboot_dma.bin multiboot.bin \
	   multiboot_dma.bin pvh.bin; do
	cp -L "/usr/share/qemu/$rom" "$ROOT/usr/share/qemu/"
done
cp "$TOP/harness/seabios-boot" "$ROOT/bin/seabios-boot"
(cd "$ROOT" && find . -print0 | cpio -0 -o -H newc --quiet | gzip -1) >"$OUT"
echo "qemu image: $BUILD_REL/initramfs/qemu.cpio.gz ($(du -h "$OUT" | cut -f1), $(echo "$libs" | wc -w) libraries)"
