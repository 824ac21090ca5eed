#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The end of `make`, in two parts, so that the first needs no QEMU of
# ours and comes out while it still builds:
#   demo.sh kernel  boot the VM with $MODULES, show which kvm.ko is
#                   loaded, its coalesced-I/O capabilities, and the RTC
#                   pattern (out 0x70; in 0x71) with and without a
#                   coalesced PIO zone on port 0x70;
#   demo.sh guests  the SeaBIOS and Linux guests of e2e.sh's table, in
#                   Debian's QEMU and ours (the table counts instructions).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver
check_versions

ITERATIONS=${ITERATIONS:-2000}
OUT=$BUILD/demo
mkdir -p "$OUT"

demo_kernel() {
	local ours_src stock_src
	# A module's identity: its GNU build ID, in the .ko and in /sys/module.
	ours_src=$(module_build_id "$BUILD/modules/ours/kvm.ko")
	stock_src=$(module_build_id "$BUILD/initramfs/root/modules/stock/kvm.ko")
	cat >"$OUT/plan" <<PLAN
identity 30 echo "kvm.ko in the VM: build ID \$(od -An -v -tx1 /sys/module/kvm/notes/.note.gnu.build-id | tr -d ' \\n' | tail -c 40), taint '\$(cat /sys/module/kvm/taint)'"
demo 120 ./$(selftest_path x86/coalesced_io_demo) $ITERATIONS
PLAN
	VERBOSE=0 vm_run_shown "$MODULES" "$OUT/plan" "$OUT" ||
		die "the demo VM failed (console: $BUILD_REL/demo/console.log); run 'make check' to find the broken part."
	grep -q '^demo 0 ' "$OUT/results" ||
		{ tail -n 20 "$OUT/console.log"; die "the demo did not finish (console: $BUILD_REL/demo/console.log)."; }

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
	# When the kernel part came out (epoch seconds): check-fresh's figure.
	date +%s >"$OUT/kernel-part.done"
	step "the demo's guests next: SeaBIOS and Linux in Debian's QEMU and in ours, once ours is built"
}

demo_guests() {
	step "SeaBIOS and Linux guests in QEMU inside the VM (about 2 minutes)"
	"$TOP/harness/e2e/e2e.sh" table >"$OUT/e2e-table.txt" ||
		{ cat "$OUT/e2e-table.txt"; die "the SeaBIOS and Linux guests failed (their output above)."; }
	echo
	cat "$OUT/e2e-table.txt"
}

case "${1:-}" in
kernel) demo_kernel ;;
guests) demo_guests ;;
*) die "usage: demo.sh kernel|guests (run it through 'make' or 'make demo')." ;;
esac
