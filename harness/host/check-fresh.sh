#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check-fresh: try the README as a new user on a minimal Debian 12.
# debootstrap --variant=minbase bookworm into build/<base>/fresh/root (apt
# sources and network settings as the host's), install git and make only,
# clone this repository's HEAD into it and run 'make' there. Passes when
# the demo comes out. Prints the results of fresh:<check> (TAP) for
# check.sh; the full log is build/<base>/fresh/make.log. The root (5.4 GiB
# at the end) is removed afterwards (KEEP_ROOT=1 keeps it).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
ROOT_NAME=fresh ROOT_MAKE="make check-fresh"
# shellcheck source=debian-root.sh
source "$TOP/harness/host/debian-root.sh"

LOG=$ROOT_DIR/make.log
start=$(date +%s)
need_disk "$FRESH_DISK_GB" "make check-fresh (a minimal Debian 12 and the README's make in it)"
root_create bookworm
result "fresh:debootstrap pass minimal bookworm, git and make in $(($(date +%s) - start)) s" >&3

# The host's compile cache, hard-linked into the root: the QEMU that make
# builds there is the one the host has just built (make check builds it
# first), so its objects come from the cache instead of about 9 minutes
# of compiling. Configure, the preprocessing of every miss and every link
# still run in the root, with its own packages: one that the README's
# make fails to install still fails the check.
# FRESH_CCACHE=0: none, as on a new machine.
cache=$(ccache -k cache_dir 2>/dev/null) || cache=
[ "$FRESH_CCACHE" = 1 ] || cache=
if [ -d "$cache" ] && mkdir -p "$ROOT/root/.cache" &&
   cp -al "$cache" "$ROOT/root/.cache/ccache" 2>/dev/null; then
	echo "    compile cache: the host's $cache, hard-linked into the root"
fi

step "make in the fresh root (packages, base tree, modules, VM, the demo's kernel part, QEMU, its guests: about 8 minutes alone on 2 cores, more beside other work; log $BUILD_REL/fresh/make.log)"
rc=0 make_start=$(date +%s)
in_root sh -c "cd /root/coalesced-io && make" >"$LOG" 2>&1 || rc=$?
make_secs=$(($(date +%s) - make_start))
grep '^==> ' "$LOG" | sed 's/^/    /'
secs=$(($(date +%s) - start))
# When the demo's kernel part came out: demo.sh writes it down.
kernel_done=$ROOT/root/coalesced-io/$BUILD_REL/demo/kernel-part.done
kernel_secs=?
[ ! -s "$kernel_done" ] || kernel_secs=$(($(cat "$kernel_done") - make_start))
if [ "$rc" = 0 ] && grep -q '^=> the VM runs OUR kvm.ko' "$LOG"; then
	result "fresh:make-on-minimal-debian12 pass the demo came out: its kernel part $kernel_secs s into make, its guests at the end, $make_secs s; $secs s in all" >&3
else
	tail -20 "$LOG" | sed 's/^/    | /'
	# The step that failed and its first error, in the verdict itself: a
	# CI run's log holds the verdicts, not this build's make.log.
	last_step=$(grep '^==> ' "$LOG" | tail -n 1 | sed 's/^==> //; s/ \[[0-9:]*\]$//')
	first_error=$(grep -m1 -e '^error: ' -e '^make.*Error [0-9]' -e '^not ok ' "$LOG" | cut -c1-300)
	result "fresh:make-on-minimal-debian12 fail make exited $rc after $secs s in '${last_step:-before its first step}'${first_error:+: $first_error}; see $BUILD_REL/fresh/make.log" >&3
	exit 1
fi
