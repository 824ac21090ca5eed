#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check-debian13: make install and DKMS for Debian 13's own 6.12
# kernels, on a Debian 13 as a user has it. Their headers' tools need
# Debian 13's glibc, so this runs in a minimal trixie root under
# build/<base>/debian13 (debootstrap, git and make, this repository's
# HEAD), never on the host: there 'make check-install' fetches trixie's
# headers and image of the newest +deb13 kernel, builds our modules with
# Debian 13's gcc, and runs the install and DKMS checks on copies.
# Prints the results of debian13:<check> (TAP) for check.sh; the
# root is removed afterwards (KEEP_ROOT=1 keeps it).
export BASE=6.12	# the one base that Debian 13 builds
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
ROOT_NAME=debian13 ROOT_MAKE="make check-debian13"
# shellcheck source=debian-root.sh
source "$TOP/harness/host/debian-root.sh"

# GiB: the root with the build tools and build/6.12-deb13 inside: 5.2 at the end (2026-11-30).
DEBIAN13_DISK_GB=6
start=$(date +%s)
need_disk "$DEBIAN13_DISK_GB" "make check-debian13 (a minimal Debian 13 and our modules built in it)"
root_create trixie
result "debian13:debootstrap pass minimal trixie, git and make in $(($(date +%s) - start)) s" >&3

LOG=$ROOT_DIR/make.log
step "make check-install BASE=6.12 in the Debian 13 root (packages, 6.12 +deb13 tree, modules, DKMS: about 15 minutes; log $BUILD_REL/debian13/make.log)"
rc=0
in_root sh -c "cd /root/coalesced-io && make check-install BASE=6.12" >"$LOG" 2>&1 || rc=$?
grep '^==> ' "$LOG" | sed 's/^/    /'
kver=$(sed -n 's/^deps ok: .*KVER=\([^,]*\),.*/\1/p' "$LOG" | tail -n 1)
if ! grep -q '^\(not \)\?ok - install:' "$LOG"; then
	tail -20 "$LOG" | sed 's/^/    | /'
	result "debian13:check-install fail make exited $rc before the checks; see $BUILD_REL/debian13/make.log" >&3
	exit 1
fi
if [[ $kver =~ \+deb13-amd64$ ]]; then
	result "debian13:kernel-is-debian13 pass $kver" >&3
else
	result "debian13:kernel-is-debian13 fail the root built for '$kver', not a +deb13 kernel" >&3
fi
grep -E '^(not )?ok - (install|dkms):' "$LOG" | sed 's/ - / - debian13:/' >&3
echo "    $(($(date +%s) - start)) s in all" >&2
