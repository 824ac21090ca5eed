#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make hang-rate [BOOTS=25]: how often a boot of the nested Linux guest
# hangs, split four ways: our modules and Debian's stock ones, each with
# coalescing and with QEMU's coalesced-io=off. BOOTS boots of each, one
# attempt per boot (linux-guest on q35, reset through 0xcf9 by reboot=pci),
# the test VM counting instructions as e2e.sh and vmm.sh run it. Prints
# the table and each hung guest's registers; the console of each module
# set is in build/<base>/hang-rate/<modules>/console.log.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver

OUT=$BUILD/hang-rate
export VM_ICOUNT=1
# REPORT_ONLY=1: the table of the last run, without booting again.
if [ "$REPORT_ONLY" != 1 ]; then
	"$TOP/harness/e2e/qemu-image.sh" >&2
	for modules in ours stock; do
		dir=$OUT/$modules
		mkdir -p "$dir"
		for i in $(seq "$BOOTS"); do
			for mode in with without; do
				echo "boot-$i-$mode 150 GUEST_ATTEMPTS=1 linux-guest q35 $mode pci"
			done
		done >"$dir/plan"
		step "hang rate: $((2 * BOOTS)) nested boots on the $modules modules (about $((BOOTS * 2 / 3)) min)"
		vm_run_nested "$modules" "$dir" "hang-rate ($modules modules)"
	done
fi

echo "nested Linux guest ($KVER) in our QEMU on q35, test VM under -icount, one attempt per boot"
echo "(test VM stalled: the test VM itself stopped making progress during the boot and was restarted)"
printf '%-7s %-22s %6s %6s %12s %17s %10s\n' modules coalescing boots hung "QEMU ended" "test VM stalled" "hung rate"
for modules in ours stock; do
	for mode in with without; do
		stalled=$(awk -v mode="$mode" '$1 ~ "-" mode "$" && $2 != 0' "$OUT/$modules/results" | wc -l)
		tr -d '\r' <"$OUT/$modules/console.log" | awk -v m="$modules" -v mode="$mode" -v stalled="$stalled" '
			$1 == "@@GUEST" && $3 == mode { n++ }
			$1 == "@@GUEST-FAILED" && $3 == mode && / hung/ { hung++ }
			$1 == "@@GUEST-FAILED" && $3 == mode && /QEMU ended/ { ended++ }
			END { n += stalled
				printf "%-7s %-22s %6d %6d %12d %17d %9.1f%%\n", m,
				mode == "with" ? "with" : "off (coalesced-io=off)", n, hung, ended, stalled,
				n ? 100 * (hung + ended + stalled) / n : 0 }'
	done
done
echo "where the hung guests were:"
for modules in ours stock; do
	tr -d '\r' <"$OUT/$modules/console.log" |
		sed -n "s/^@@GUEST-FAILED \([^ ]* [^ ]*\) [^ ]* .*guest registers: \([^;]*\);.*/  $modules \1: \2/p"
done
