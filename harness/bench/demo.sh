#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The end of `make`: boot the VM with $MODULES, show which kvm.ko is
# loaded, its coalesced-I/O capabilities, and the RTC pattern (out 0x70;
# in 0x71) with and without a coalesced PIO zone on port 0x70; then the
# SeaBIOS and Linux guests of e2e.sh's table, whose VM boots beside the
# demo's (each VM keeps one CPU busy; the table counts instructions).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver
check_versions

ITERATIONS=${ITERATIONS:-2000}
OUT=$BUILD/demo
mkdir -p "$OUT"
# A module's identity: its GNU build ID, in the .ko and in /sys/module.
ours_src=$(module_build_id "$BUILD/modules/ours/kvm.ko")
stock_src=$(module_build_id "$BUILD/initramfs/root/modules/stock/kvm.ko")

# In a process group of its own, so that a demo that stops early stops
# the guests' VM too.
setsid "$TOP/harness/e2e/e2e.sh" table >"$OUT/e2e-table.txt" 2>&1 &
e2e_pid=$!
trap 'kill -- -"$e2e_pid" 2>/dev/null || true' EXIT

cat >"$OUT/plan" <<PLAN
identity 30 echo "kvm.ko in the VM: build ID \$(od -An -v -tx1 /sys/module/kvm/notes/.note.gnu.build-id | tr -d ' \\n' | tail -c 40), taint '\$(cat /sys/module/kvm/taint)'"
demo 120 ./$(selftest_path x86/coalesced_io_demo) $ITERATIONS
PLAN
VERBOSE=0 "$TOP/harness/vm/vm-run.sh" "$MODULES" "$OUT/plan" "$OUT" >"$OUT/progress.log" ||
	{ cat "$OUT/progress.log"; die "the demo VM failed (console: $BUILD_REL/demo/console.log); run 'make check' to find the broken part."; }
grep -q '^demo 0 ' "$OUT/results" ||
	{ cat "$OUT/progress.log"; tail -n 20 "$OUT/console.log"; die "the demo did not finish (console: $BUILD_REL/demo/console.log)."; }

echo
echo "Built for Debian $DEB_VERSION ($KVER): kvm.ko build ID $ours_src (ours), $stock_src (stock)"
sed -n '/^@@START 1 /,/^@@END 1 /p' "$OUT/console.log" | grep -v '^@@' | tr -d '\r'
case "$(sed -n '/^@@START 1 /,/^@@END 1 /p' "$OUT/console.log")" in
*"build ID $ours_src"*) echo "=> the VM runs OUR kvm.ko" ;;
*"build ID $stock_src"*) echo "=> the VM runs Debian's STOCK kvm.ko" ;;
*) echo "=> the VM runs an unknown kvm.ko" ;;
esac
sed -n '/^@@START 2 /,/^@@END 2 /p' "$OUT/console.log" | grep -v '^@@' | tr -d '\r'

echo
wait "$e2e_pid" || { cat "$OUT/e2e-table.txt"; die "the SeaBIOS and Linux guests failed (their output above)."; }
cat "$OUT/e2e-table.txt"
