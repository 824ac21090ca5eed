#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Check "make install" and "make uninstall" on a copy of the VM kernel's
# /lib/modules (hard links, under build/install-test), never on the host.
# Prints the results of install:<check> (TAP) for check.sh.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver

ROOT=$BUILD/install-test
STOCK=$BUILD/vmkernel/lib/modules/$KVER
[ -d "$STOCK/kernel" ] || die "$STOCK is missing; run 'make' first."
rm -rf "$ROOT"
mkdir -p "$ROOT/lib/modules" "$ROOT/sys/module"
cp -al "$STOCK" "$ROOT/lib/modules/"
LOG=$ROOT/log

# try NAME WANT-RC GREP ENV... -- ARGS: run install.sh with ENV, expect
# its exit status to be WANT-RC (0 or "fail") and its output to match GREP.
try() {
	local name=$1 want=$2 pattern=$3 rc=0 vars=()
	shift 3
	while [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	shift
	env INSTALL_KVER="$KVER" DESTDIR="$ROOT" SYSFS="$ROOT/sys" "${vars[@]}" \
		"$TOP/harness/host/install.sh" "$@" >"$LOG.$name" 2>&1 || rc=$?
	if { [ "$want" = 0 ] && [ "$rc" != 0 ]; } || { [ "$want" != 0 ] && [ "$rc" = 0 ]; }; then
		result "install:$name fail exit status $rc; $(tail -n 1 "$LOG.$name")"
	elif ! grep -qF -- "$pattern" "$LOG.$name"; then
		result "install:$name fail output lacks '$pattern': $(tail -n 1 "$LOG.$name")"
	else
		result "install:$name pass"
	fi
}

ours=/lib/modules/$KVER/updates/coalesced-kvm
stock=/lib/modules/$KVER/kernel/arch/x86/kvm
try refuses-other-kernel fail "not a Debian kernel our modules are built for" INSTALL_KVER=6.18.44-generic -- install
# A kernel built here (BASE=7.2) is no Debian kernel: install refuses it.
if [ "$BASE_KERNEL" = built ]; then
	try refuses-this-base fail "not a Debian kernel our modules are built for" -- install
	exit 0
fi
mkdir -p "$ROOT/sys/module/kvm_amd"
echo 2 >"$ROOT/sys/module/kvm_amd/refcnt"
try refuses-modules-in-use fail "kvm_amd is in use" -- install
echo 0 >"$ROOT/sys/module/kvm_amd/refcnt"
try installs-into-updates 0 "loads $ROOT$ours/kvm-amd.ko" -- install
if cmp -s "$BUILD/modules/ours/kvm.ko" "$ROOT$ours/kvm.ko"; then
	result "install:installed-kvm-is-ours pass"
else
	result "install:installed-kvm-is-ours fail $ROOT$ours/kvm.ko differs from $BUILD_REL/modules/ours"
fi
try uninstall-restores-stock 0 "loads $ROOT$stock/kvm-amd.ko" -- uninstall
if [ -e "$ROOT$ours" ]; then
	result "install:uninstall-removes-files fail $ROOT$ours is still there"
else
	result "install:uninstall-removes-files pass"
fi
