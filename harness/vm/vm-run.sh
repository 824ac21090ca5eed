#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run.sh MODULES PLAN OUTDIR [extra kernel args]
# Boot the test VM with a module set (ours|stock), run every line of PLAN
# in it, and write OUTDIR/results ("<name> <rc> <seconds>" per plan line)
# and OUTDIR/console.log. A test that hangs is killed by its own timeout;
# a test that takes the VM down is recorded as crashed and the VM is booted
# again for the rest of the plan (with STOP_AT_FAILURE=1, the run stops
# at the first test that fails or crashes: make check-mutants needs no
# more; RETRY_AFTER_VM_DEATH=1, for the nested boots (e2e, vmm): a step
# during which the VM died runs once more, written to OUTDIR/retries,
# and fails only if the VM dies again).
# EXTRA_IMAGES names more cpio.gz files to append to the initramfs
# (the QEMU image). VM_KERNEL and VM_MEM boot another kernel (the debug
# one) with more memory.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver

MODULES=$1 PLAN=$2 OUT=$3 EXTRA=${4:-}
KERNEL=${VM_KERNEL:-$BUILD/vmkernel/boot/vmlinuz-$KVER}
MEM=${VM_MEM:-2G}
# TCG's threading: "single" (both vCPUs in one host thread) or "multi"
# (one host thread each). Multi-threaded TCG with nested SVM breaks L2
# guests and the VM's kernel at random, on the stock modules as on ours:
# 20 runs each of coalesced_io_fuzz and xapic_ipi_test on 2026-11-28,
# multi: stock 5 failed (2 KVM_EXIT_SHUTDOWN, 2 VM kernel panics
# "corrupted stack end detected inside scheduler", 1 xapic_ipi_test
# assertion), ours 5 failed (4 SHUTDOWN, 1 xapic_ipi_test); single:
# 0 of 40 failed. Single costs about 2x in time on the tests that use
# both vCPUs.
TCG_THREAD=${VM_TCG_THREAD:-single}
# VM_ICOUNT=1: instruction counting (-icount shift=0,sleep=off): the
# guest's clock, TSC included, advances by one nanosecond per executed
# instruction, whatever the host's load, so a guest that measures itself
# with rdtsc counts instructions, reproducibly. Needs single-threaded TCG
# and one CPU: with two, the kernel hangs bringing up the second (seen
# with QEMU 7.2, 2026-11-30), so the L2 vCPUs take turns on one L1 CPU.
icount=() smp=2
if [ "${VM_ICOUNT:-0}" = 1 ]; then
	# shellcheck disable=SC2054 # one QEMU option, commas and all
	icount=(-icount shift=0,sleep=off)
	TCG_THREAD=single smp=1
fi
BASE=$BUILD/initramfs/base.cpio.gz
[ -f "$KERNEL" ] || die "$KERNEL is missing; run 'make' first."
[ -f "$BASE" ] || die "$BASE is missing; run 'make' first."
command -v qemu-system-x86_64 >/dev/null ||
	die "qemu-system-x86_64 is missing; run 'make deps' as root."

mkdir -p "$OUT"
: >"$OUT/results"
: >"$OUT/retries"	# "<step> <why>": each time the VM is booted again
: >"$OUT/console.log"
mapfile -t lines < <(grep -v -e '^#' -e '^[[:space:]]*$' "$PLAN")
total=${#lines[@]}

# Plan goes into a second cpio appended to the base initramfs.
mkdir -p "$OUT/plan-root"
cp "$PLAN" "$OUT/plan-root/plan"
(cd "$OUT/plan-root" && echo plan | cpio -o -H newc --quiet | gzip -1) >"$OUT/plan.cpio.gz"
# shellcheck disable=SC2086
cat "$BASE" ${EXTRA_IMAGES:-} "$OUT/plan.cpio.gz" >"$OUT/initrd.gz"

# first_unrun FROM: the index of the first plan line from FROM on that
# has no result yet (nothing if every one has).
first_unrun() {
	local i name
	for ((i = $1; i <= total; i++)); do
		read -r name _ <<<"${lines[i - 1]}"
		grep -q "^$name " "$OUT/results" || { echo "$i"; return; }
	done
}

# The module set under test, proven: the build ID of every kvm module the
# VM loads must be that of the file we mean to test (ours as built in
# build/<base>/modules/ours, Debian's as unpacked from its package), and
# ours must not be Debian's. Anything else stops the run at once.
# OURS_MODULES: another build of ours (make check-mutants).
declare -A want_id=()
if [ "$MODULES" != none ]; then
	stock_dir=$BUILD/initramfs/root/modules/stock
	set_dir=${OURS_MODULES:-$BUILD/modules/ours}
	[ "$MODULES" = stock ] && set_dir=$stock_dir
	for ko in kvm kvm-amd; do
		[ -f "$set_dir/$ko.ko" ] || die "$set_dir/$ko.ko is missing; run 'make' to build the $MODULES modules."
		want_id[${ko//-/_}]=$(module_build_id "$set_dir/$ko.ko")
	done
	[ "$MODULES" = stock ] || [ "${want_id[kvm]}" != "$(module_build_id "$stock_dir/kvm.ko")" ] ||
		die "$set_dir/kvm.ko is Debian's stock kvm.ko, not ours; run 'make clean' and 'make' to build ours."
fi
module_error=

# The VM's text symbols, for naming a stalled VM's RIP: the kernel's,
# dumped by the VM (harness/vm/init, ci.kallsyms=1) once per kernel
# into KERNEL_SYMBOLS (Debian's System.map is a placeholder), and the kvm
# modules' of each boot into OUT/ksyms (the VM runs with nokaslr).
KERNEL_SYMBOLS=$KERNEL.kallsyms
dump_kallsyms=0
[ "$KERNEL_SYMBOLS" -nt "$KERNEL" ] || dump_kallsyms=1

# save_vm_state: where a VM that made no progress is (its RIP, sampled
# three times, named from the symbols, and the code there), from
# QEMU's monitor, into OUT/stall.N.txt; its WHERE lines are shown and
# kept in stall_where for the retry's reason.
stalls=0
save_vm_state() {
	local file
	stalls=$((stalls + 1))
	file=$OUT/stall.$stalls.txt
	stall_file=$file
	"$TOP/harness/vm/vm-state.py" "$OUT/monitor.sock" "$KERNEL_SYMBOLS" "$OUT/ksyms" >"$file" 2>&1 || true
	echo "  the VM's state from QEMU's monitor (${file#"$TOP"/}):"
	grep -e '^WHERE' -e 'did not answer' "$file" | sed 's/^/    | /' || true
	stall_where=$(sed -n 's/^WHERE sample 3 \(cpu [0-9]*\): [0-9a-f]* /\1 at /p' "$file" | paste -sd ';')
}

# stop_vm: kill the VM now (the console loop then sees it gone).
stop_vm() {
	kill -KILL "$(cat "$OUT/qemu.pid")" 2>/dev/null || true
}
stopped=

BOOT_LIMIT=${BOOT_LIMIT:-120}	# seconds from qemu start to @@MODULES
STEP_SLACK=${STEP_SLACK:-60}	# seconds between tests, beyond a test's own limit
# Seconds a test may run without a console line (0: no limit). The
# nested boots (e2e, vmm) print at least every few minutes, and their
# steps' own limits are long: a stall of the VM must not wait for them.
SILENCE_LIMIT=${SILENCE_LIMIT:-0}
start=1
retried=
while [ "$start" -le "$total" ]; do
	budget=60
	for ((i = start; i <= total; i++)); do
		read -r _ limit _ <<<"${lines[i - 1]}"
		budget=$((budget + limit + 5))
	done
	current=
	done_seen=
	booted=
	stall_file='' stall_where=''
	declare -A seen_id=()
	boot_log=$OUT/console.$start.log
	rm -f "$OUT/qemu.pid" "$OUT/ksyms"
	# Progress watchdog: the VM must boot, start the next test and end
	# each test within its own limit (plus slack), and, with
	# SILENCE_LIMIT, print a line at least that often during a test, or
	# it is stopped.
	deadline=$((SECONDS + BOOT_LIMIT)) heard=$SECONDS
	partial=
	while :; do
		status=0
		IFS= read -r -t 5 line || status=$?
		if [ "$status" -gt 128 ]; then
			partial=$partial$line	# a timed-out read keeps what it got
			silent=$((SECONDS - heard))
			if { [ "$SECONDS" -gt "$deadline" ] ||
			     { [ "$SILENCE_LIMIT" -gt 0 ] && [ -n "$current" ] &&
			       [ "$silent" -gt "$SILENCE_LIMIT" ]; }; } && [ -s "$OUT/qemu.pid" ]; then
				echo " (the VM made no progress for ${silent}s: stopping it)"
				save_vm_state
				stop_vm
				deadline=$((SECONDS + 60)) heard=$((SECONDS + 60))
			fi
			continue
		fi
		[ "$status" = 0 ] || break	# end of the console: qemu is gone
		heard=$SECONDS
		line=$partial${line%$'\r'}
		partial=
		if [ "${line#@@KSYM }" != "$line" ]; then
			echo "${line#@@KSYM }" >>"$OUT/ksyms"
			continue
		fi
		echo "$line" >>"$OUT/console.log"
		[ "$VERBOSE" = 1 ] && echo "    $line"
		case "$line" in
		"@@ERROR "*)
			echo "  ${line#@@ERROR }" >&2 ;;
		*"@@MODULE-ERROR "*)	# the first may follow SeaBIOS's escape codes
			module_error="the VM could not load the $MODULES modules (${line#*@@MODULE-ERROR }); see $OUT/console.log"
			stop_vm ;;
		*"@@MODULE "*)
			read -r mod id <<<"${line#*@@MODULE }"
			seen_id[$mod]=$id
			if [ "$id" != "${want_id[$mod]:-}" ]; then
				module_error="the VM loaded $mod with build ID ${id:-none}, not the $MODULES one (${want_id[$mod]:-unknown}); run 'make' to pack the modules under test into the VM again"
				stop_vm
			fi ;;
		"@@START "*)
			read -r _ current name <<<"$line"
			read -r _ limit _ <<<"${lines[current - 1]}"
			deadline=$((SECONDS + limit + STEP_SLACK))
			printf '  [%d/%d] %s ...' "$current" "$total" "$name" ;;
		"@@END "*)
			read -r _ idx name rc secs <<<"$line"
			echo "$name $rc $secs" >>"$OUT/results"
			if [ "$rc" = 0 ]; then echo " ok (${secs}s)"; else echo " rc=$rc (${secs}s)"; fi
			if [ "$STOP_AT_FAILURE" = 1 ] && [ "$rc" != 0 ] && [ "$rc" != 4 ]; then
				stopped=1
				stop_vm
			fi
			deadline=$((SECONDS + STEP_SLACK))
			current= ;;
		*"@@MODULES "*)	# may follow SeaBIOS's escape codes on one line
			if [ "$dump_kallsyms" = 1 ] && [ -s "$OUT/ksyms" ]; then
				grep -v '\[' "$OUT/ksyms" >"$KERNEL_SYMBOLS.$$" || true
				mv "$KERNEL_SYMBOLS.$$" "$KERNEL_SYMBOLS"
				dump_kallsyms=0
			fi
			for mod in "${!want_id[@]}"; do
				[ -n "${seen_id[$mod]:-}" ] && continue
				module_error="the VM never reported the build ID of $mod (harness/vm/init's @@MODULE lines)"
				stop_vm
			done
			deadline=$((SECONDS + STEP_SLACK))
			booted=1 ;;
		"@@DONE")
			done_seen=1 ;;
		esac
	done < <(timeout -s KILL "$budget" qemu-system-x86_64 -M q35 -cpu EPYC,+svm \
		-accel tcg,thread="$TCG_THREAD" "${icount[@]}" \
		-m "$MEM" -smp "$smp" -nographic -no-reboot -nodefaults -serial stdio -pidfile "$OUT/qemu.pid" \
		-monitor unix:"$OUT/monitor.sock",server=on,wait=off \
		-kernel "$KERNEL" -initrd "$OUT/initrd.gz" \
		-append "console=ttyS0 quiet nokaslr panic=-1 no_timer_check ci.modules=$MODULES ci.start=$start ci.kallsyms=$dump_kallsyms $EXTRA" \
		2>"$OUT/qemu.stderr" | tee "$boot_log")
	[ -z "$module_error" ] || die "$module_error."
	[ -n "$done_seen$stopped" ] && break
	if [ -z "$booted" ]; then
		echo "  the VM did not boot; console tail:"
		tail -n 25 "$boot_log" | sed 's/^/    | /'
		for ((i = start; i <= total; i++)); do
			read -r name _ <<<"${lines[i - 1]}"
			echo "$name noboot 0" >>"$OUT/results"
		done
		break
	fi
	if [ -z "$current" ]; then
		next=$(first_unrun "$start")
		[ -n "$next" ] || break
		if [ "$retried" != "$start" ]; then
			# Hung before or between tests: boot again once, from the
			# first test without a result.
			start=$next
			retried=$start
			echo "  the VM stopped between tests; booting it again from test $start"
			read -r name _ <<<"${lines[start - 1]}"
			echo "$name the VM stopped before this step began; booted again from it (console: $boot_log)" >>"$OUT/retries"
			continue
		fi
		# Stopped there twice: count that test as crashed and go on.
		current=$next
	fi
	read -r name _ <<<"${lines[current - 1]}"
	echo " VM died (crash, hang or boot failure); console tail:"
	tail -n 25 "$boot_log" | sed 's/^/    | /'
	if [ "${RETRY_AFTER_VM_DEATH:-0}" = 1 ] && [ "$retried" != "r$current" ]; then
		# Shown, not judged (the demo): run that step once more.
		retried=r$current start=$current
		echo "  booting the VM again to run $name once more"
		echo "$name the VM died while it ran (console: $boot_log${stall_file:+, its state: $stall_file${stall_where:+: $stall_where}}); booted again and ran it once more" >>"$OUT/retries"
		continue
	fi
	echo "$name crashed 0" >>"$OUT/results"
	[ "$STOP_AT_FAILURE" = 1 ] && break
	start=$((current + 1))
done
rm -rf "$OUT/plan-root" "$OUT/initrd.gz"
