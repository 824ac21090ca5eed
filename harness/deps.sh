#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the build and the test VM need.
source "$(dirname "$0")/lib.sh"

TOOLS="gcc make git xz-utils qemu-system-x86 busybox-static cpio kmod bc
bison flex libelf-dev libssl-dev dwarves sparse gnuplot-nox seabios ccache dkms
python3-ply python3-git rsync"

updated=
apt_update() {
	[ -n "$updated" ] && return 0
	step "apt-get update"
	apt-get update -q >/dev/null || die "apt-get update failed; check the network or the apt sources."
	updated=1
}

if [ -z "${KVER:-}" ] && ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
	[ "$(id -u)" = 0 ] || die "apt has no package lists; run 'apt-get update' as root, then 'make' again."
	apt_update
fi
resolve_kver

missing=
for pkg in $TOOLS "linux-headers-$KVER"; do
	[ -n "$(installed_version "$pkg")" ] || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "error: packages are missing; run as root:" >&2
		echo "  apt-get update && apt-get install -y$missing" >&2
		exit 1
	fi
	apt_update
	step "apt-get install$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null ||
		die "apt-get install$missing failed; KVER=$KVER may have no headers in Debian, so leave KVER unset or pick one that 'apt-cache search linux-headers-6.1' lists."
fi
check_versions
echo "deps ok: KVER=$KVER, Debian linux $DEB_VERSION"
