#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Debian 13's own qemu-system-x86 (QEMU 10.0), the binary a Debian 13 host
# runs, for the end-to-end checks (the variants q35-debian13 and
# pc-debian13): the package and every package it depends on, from trixie
# through private lists in build/qemu/debian13/apt, unpacked into
# build/qemu/debian13/root. Nothing is installed and the host's apt
# configuration is never touched; the binary runs through its own loader
# (ld-linux-x86-64.so.2 --library-path), so Debian 13's glibc never meets
# the host's. Fetched again only when Debian 13 updates the package.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

D=$TOP/build/qemu/debian13
ROOT=$D/root
# shellcheck disable=SC2034 # lib.sh's apt_lists and apt_base use it
APT_DIR=$D/apt

# The binaries, and the sources that make qemu builds ours from.
trixie_sources() {
	local kind
	for kind in deb deb-src; do
		echo "$kind [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) trixie main"
	done
}

apt_lists "Debian 13's package lists" trixie_sources
ver=$(apt_base apt-cache policy qemu-system-x86 2>/dev/null |
	awk '/Candidate:/ && $2 != "(none)" { print $2 }')
[ -n "$ver" ] || die "Debian 13's lists have no qemu-system-x86; check the host's Debian mirror (build/qemu/debian13/apt/update.log)."
if [ "$(cat "$ROOT/.version" 2>/dev/null)" = "$ver" ]; then
	echo "qemu (Debian 13): build/qemu/debian13/root, qemu-system-x86 $ver (up to date)"
	exit 0
fi

need_disk 1 "Debian 13's QEMU and its libraries"
step "downloading Debian 13's qemu-system-x86 $ver and the packages it needs (not installed)"
rm -rf "$D/archives" "$ROOT"
mkdir -p "$D/archives/partial" "$ROOT"
# An empty package status: apt fetches the whole dependency closure, as
# for an empty Debian 13 root.
: >"$D/status"
apt_base apt-get -q -y -o Dir::State::status="$D/status" \
	-o Dir::Cache::archives="$D/archives" -o APT::Install-Recommends=false \
	-o Debug::NoLocking=1 install --download-only "qemu-system-x86=$ver" \
	>"$D/download.log" 2>&1 ||
	{ tail -5 "$D/download.log" >&2
	  die "apt could not fetch Debian 13's qemu-system-x86 $ver (output above); check the host's Debian mirror."; }
debs=("$D"/archives/*.deb)
step "unpacking ${#debs[@]} packages into build/qemu/debian13/root"
for deb in "${debs[@]}"; do
	dpkg-deb -x "$deb" "$ROOT"
done
rm -rf "$D/archives"
lib=$ROOT/usr/lib/x86_64-linux-gnu
"$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$ROOT/usr/bin/qemu-system-x86_64" --version |
	grep -q "QEMU emulator version" ||
	die "Debian 13's qemu-system-x86_64 does not run through its own loader; report it with build/qemu/debian13/download.log."
echo "$ver" >"$ROOT/.version"
echo "qemu (Debian 13): build/qemu/debian13/root, qemu-system-x86 $ver"
