#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Download Debian's stock linux-image-$KVER and unpack it under build/
# (never installed on the host): the VM boots its vmlinuz, and its kvm
# modules are the "stock" (mainline implementation) set.
source "$(dirname "$0")/lib.sh"
resolve_kver
check_versions

DEST=$BUILD/vmkernel
if [ -f "$DEST/.version" ] && [ "$(cat "$DEST/.version")" = "$KVER $DEB_VERSION" ]; then
	exit 0
fi
step "downloading linux-image-$KVER $DEB_VERSION (for the VM only, not installed)"
mkdir -p "$BUILD/dl"
rm -f "$BUILD"/dl/linux-image-"$KVER"_*.deb
(cd "$BUILD/dl" && apt-get download -q "linux-image-$KVER=$DEB_VERSION" >/dev/null 2>&1) ||
	die "apt-get download linux-image-$KVER=$DEB_VERSION failed; Debian no longer ships that version, so run 'apt-get update && make deps' and leave KVER unset."
deb=$(ls "$BUILD"/dl/linux-image-"$KVER"_*.deb)
rm -rf "$DEST"
mkdir -p "$DEST"
dpkg-deb -x "$deb" "$DEST"
[ -f "$DEST/boot/vmlinuz-$KVER" ] || die "$deb has no boot/vmlinuz-$KVER; the package layout changed, report it."
echo "$KVER $DEB_VERSION" >"$DEST/.version"
