#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the build and the test VM need (tools only:
# the kernel packages of the base are fetched into build/<base>, not installed).
# Without their recommends: QEMU's would bring a desktop's GTK, OVMF and
# Ceph, dkms's the running kernel's headers; what we use of them (libc6-dev
# for gcc, patch for the mutants) is named.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base

TOOLS="gcc libc6-dev make git patch xz-utils qemu-system-x86 busybox-static cpio kmod bc
bison flex libelf-dev libssl-dev dwarves sparse gnuplot-nox seabios ccache dkms
python3-ply python3-git python3-sphinx rsync gcc-multilib
dpkg-dev python3-venv ninja-build pkg-config libglib2.0-dev libpixman-1-dev libslirp-dev libfdt-dev"

# apt_progress: apt-get install's output on stdin; how many packages,
# then every 20 fetched and every 20 set up, as they come (a shell loop:
# Debian's awk, mawk, reads a pipe a few kilobytes at a time).
apt_progress() {
	local line up new got=0 set=0
	while IFS= read -r line; do
		case $line in
		*" newly installed"*)
			read -r up _ new _ <<<"$line"
			echo "    $((up + new)) packages to install or upgrade" ;;
		Get:*)
			got=$((got + 1))
			((got % 20)) || echo "    ... fetched $got" ;;
		"Setting up "*)
			set=$((set + 1))
			((set % 20)) || echo "    ... set up $set" ;;
		esac
	done
}

updated=
apt_update() {
	[ -n "$updated" ] && return 0
	step "apt-get update"
	apt-get update -q >/dev/null || die "apt-get update failed; check the network or the apt sources."
	updated=1
}

if ! apt-cache show busybox-static >/dev/null 2>&1; then
	[ "$(id -u)" = 0 ] || die "apt has no package lists; run 'apt-get update' as root, then 'make' again."
	apt_update
fi

missing=
for pkg in $TOOLS; do
	[ -n "$(installed_version "$pkg")" ] || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "error: packages are missing; run as root:" >&2
		echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
		exit 1
	fi
	apt_update
	step "apt-get install$missing"
	# Its progress, every 20 packages fetched or set up; all of its
	# output in build/deps-apt.log.
	mkdir -p "$TOP/build"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing 2>&1 |
		tee "$TOP/build/deps-apt.log" |
		apt_progress; then
		tail -n 5 "$TOP/build/deps-apt.log" >&2
		die "apt-get install$missing failed (its last lines above, all of them in build/deps-apt.log); check the network and the host's apt sources."
	fi
fi
# The base's kernel packages come from private lists, never installed.
resolve_kver
check_versions
echo "deps ok: BASE=$BASE ($BASE_DESC), KVER=$KVER, Debian linux $DEB_VERSION"
