#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: run every test of tests.conf in the VM with $MODULES, then
# lint what we own. Prints TAP, one line per test (one per case for tests
# that print kselftest TAP themselves), each retry (a boot or a run tried
# again) as a "# retried:" line, a table of the counts per part (our
# selftests, the regression set, e2e, vmm, host, bench, lint), then
# "N passed, N failed, N skipped, N retried".
# DEBUG_KERNEL=1 (make check-debug): the same tests on build/debug-kernel,
# KVM built in, plus its boot log and a final kmemleak scan; any kernel
# report fails the test that was running.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
load_base
resolve_kver

OUT=$BUILD/check-$MODULES
kernel_args=
if [ "$DEBUG_KERNEL" = 1 ]; then
	MODULES=none
	OUT=$BUILD/check-debug
	VM_KERNEL=$BUILD/debug-kernel/arch/x86/boot/bzImage
	[ -f "$VM_KERNEL" ] || die "$VM_KERNEL is missing; run 'make check-debug', which builds it."
	# KASAN and lockdep slow the kernel down several times over.
	export VM_KERNEL VM_MEM=4G BOOT_LIMIT=300 TIMEOUT_SCALE=${TIMEOUT_SCALE:-4}
	kernel_args=kmemleak=on
fi
rm -rf "$OUT"
mkdir -p "$OUT"
"$TOP/harness/vm/testlist.sh" plan >"$OUT/plan"
[ -s "$OUT/plan" ] || die "no test matches TESTS='$TESTS'; use names from harness/vm/tests.conf."

# Host lanes: the checks that need no VM of ours run beside the VM, at
# the lowest priority, so that the VM's emulation (one busy core) keeps
# its pace. One lane builds (install, DKMS, the series, lint); the other
# makes a brand-new Debian root (FRESH=1, or a base with a Debian 13
# flavour), which waits on the network as much as it compiles. Each check
# writes its own results file; they are read once the VM's tests are done.
host='' fresh='' deb13='' lint='' lanes=''
build_lane() {
	{ "$TOP/harness/host/install-test.sh"
	  "$TOP/harness/host/dkms.sh" test
	  # The series is written against mainline alone.
	  [ "$BASE" != "$MAINLINE_BASE" ] || "$TOP/harness/series/series.sh" check; } >"$host" ||
		result "host:checks fail a host-side check script stopped early" >>"$host"
	"$TOP/harness/lint/lint.sh" || result "lint:build fail lint.sh stopped early (its message above)" >>"$lint"
}
root_lane() {
	# FRESH=1 (CI sets it): the README's make on a brand-new minimal Debian 12.
	if [ -n "$fresh" ]; then
		step "make check-fresh: the README's make on a minimal Debian 12 ($BUILD_REL/fresh)"
		"$TOP/harness/host/check-fresh.sh" >"$fresh" || true
	fi
	# A base that Debian 13 builds too: install and DKMS for its +deb13
	# kernels, in a Debian 13 root (root only: debootstrap, chroot).
	if [ -n "$deb13" ] && [ "$(id -u)" != 0 ]; then
		result "debian13:check-install skip needs root (debootstrap, chroot): sudo make check-debian13" >"$deb13"
	elif [ -n "$deb13" ]; then
		step "make check-debian13: install and DKMS for Debian 13's 6.12 kernels, in a Debian 13 root"
		"$TOP/harness/host/check-debian13.sh" >"$deb13" || true
	fi
}
# start_lane FUNCTION: run it in the background, niced, in a process
# group of its own (set -m), so that stopping check.sh stops all of it,
# debootstrap and compilers included.
start_lane() {
	set -m
	( renice -n 19 -p "$BASHPID" >/dev/null; "$1" ) </dev/null &
	lanes="$lanes $!"
	set +m
}
stop_lanes() {
	local pid
	for pid in $lanes; do kill -TERM -- "-$pid" 2>/dev/null || true; done
}
if [ -z "$TESTS" ] && [ "$MODULES" = ours ]; then
	host=$OUT/host.results lint=$BUILD/lint/results
	[ "$FRESH" = 1 ] && fresh=$OUT/fresh.results
	[[ " ${BASE_FLAVOURS:-} " == *" deb13:"* ]] && [ "$BASE_FLAVOUR" != deb13 ] &&
		deb13=$OUT/debian13.results
	rm -f "$lint"
	trap stop_lanes EXIT
	step "beside the VM, at low priority: install, DKMS, the series, lint${fresh:+; a fresh Debian 12}${deb13:+; a Debian 13 root}"
	start_lane build_lane
	[ -z "$fresh$deb13" ] || start_lane root_lane
fi

# Every run starts with the boot's kernel log, module loading included:
# a report there fails it. The debug kernel ends with a kmemleak scan.
{ echo "kernel/boot_log 60 kernel-reports boot"
  cat "$OUT/plan"
  [ "$MODULES" != none ] || echo "kernel/kmemleak 300 kernel-reports kmemleak"; } >"$OUT/plan.full"
mv "$OUT/plan.full" "$OUT/plan"
if [ "$MODULES" = none ]; then
	step "running $(wc -l <"$OUT/plan") tests in the VM on the debug kernel (KVM built in)"
else
	step "running $(wc -l <"$OUT/plan") tests in the VM with the $MODULES modules"
fi
"$TOP/harness/vm/vm-run.sh" "$MODULES" "$OUT/plan" "$OUT" "$kernel_args"

split_test_logs "$OUT"

# The ring protocol's races (an entry read before KVM wrote it, a lost
# eventfd signal) need the consumer thread to run while the writing vCPU
# is inside a window of a few hundred instructions, which the VM's
# single-threaded TCG, switching CPUs a few times a second, never does:
# the dedicated-ring selftest once more, on two CPUs of multi-threaded
# TCG, where the two threads really run at once.
races=
mkdir -p "$OUT/races"
race_plan "$OUT/plan" >"$OUT/races/plan"
if [ "$MODULES" = ours ] && [ -s "$OUT/races/plan" ]; then
	races=$OUT/races
	step "$RACE_TEST again on multi-threaded TCG, two CPUs (its races)"
	VM_TCG_THREAD=multi "$TOP/harness/vm/vm-run.sh" "$MODULES" "$races/plan" "$races"
	split_test_logs "$races"
fi

e2e=
if [ "$MODULES" != none ] && { [ -z "$TESTS" ] || [[ " $TESTS " == *" seabios"* ]]; }; then
	step "SeaBIOS in QEMU inside the VM, with and without coalesced PIO"
	"$TOP/harness/e2e/e2e.sh" check >"$OUT/e2e.results"
	e2e=$OUT/e2e.results
fi

# QEMU on dedicated rings (vmm.sh): 6 nested boots whose guest is the
# test VM's own kernel, whose workloads need /dev/mem, the RTC class
# (hwclock), networking and the e1000 driver: Debian's kernels have
# them, a base's kernel built here from tinyconfig (BASE_KERNEL=built)
# does not.
vmm=
if [ "$MODULES" = ours ] && { [ -z "$TESTS" ] || [[ " $TESTS " == *" vmm"* ]]; }; then
	vmm=$OUT/vmm.results
	if [ "$BASE_KERNEL" = debian ]; then
		step "a Linux guest in our QEMU: coalescing off, legacy ring, dedicated ring"
		"$TOP/harness/e2e/vmm.sh" check >"$vmm"
	else
		result "vmm skip the nested guest's workloads need CONFIG_DEVMEM, CONFIG_RTC_CLASS, CONFIG_INET and CONFIG_E1000, which BASE=$BASE's VM kernel, built here from tinyconfig, lacks" >"$vmm"
	fi
fi

bench=
if [ -n "$lanes" ]; then
	step "the bench twice: its instruction counts repeat"
	bench=$OUT/bench.results
	"$TOP/harness/bench/bench.sh" check >"$bench" ||
		result "bench:check fail bench.sh stopped early (its message above)" >>"$bench"
	step "waiting for the host lanes"
	for pid in $lanes; do wait "$pid" || true; done
	lanes=''
	# A lane's check that died before it wrote its verdict still counts.
	[ -z "$fresh" ] || grep -q '^\(not \)\?ok - fresh:make' "$fresh" 2>/dev/null ||
		result "fresh:make-on-minimal-debian12 fail check-fresh.sh stopped early (its message above)" >>"$fresh"
	[ -z "$deb13" ] || grep -q '^\(not \)\?ok - debian13:\(install\|check-install\)' "$deb13" 2>/dev/null ||
		result "debian13:check-install fail check-debian13.sh stopped early (its message above)" >>"$deb13"
	[ -s "$lint" ] || result "lint:build fail lint.sh wrote no result" >>"$lint"
fi

passed=0 failed=0 skipped=0 retried=0 n=0
# The part of make check each line belongs to, for the summary table:
# set before each part's lines; for the host-side lines, their prefix.
part='' parts=''
declare -A part_pass part_fail part_skip part_retry
# tap STATUS NAME [REASON]: one TAP line and the totals; a retry (a boot
# or a run tried again) is no test of its own: a diagnostic line, counted.
tap() {
	local p=${part:-${2%%:*}}
	[[ " $parts " == *" $p "* ]] || parts="$parts $p"
	if [ "$1" = retry ]; then
		retried=$((retried + 1)) part_retry[$p]=$((${part_retry[$p]:-0} + 1))
		echo "# retried: $2${3:+: $3}"
		return
	fi
	n=$((n + 1))
	case "$1" in
	pass) passed=$((passed + 1)) part_pass[$p]=$((${part_pass[$p]:-0} + 1))
	      echo "ok $n $2${3:+ # $3}" ;;
	skip) skipped=$((skipped + 1)) part_skip[$p]=$((${part_skip[$p]:-0} + 1))
	      echo "ok $n $2 # SKIP ${3:-}" ;;
	*) failed=$((failed + 1)) part_fail[$p]=$((${part_fail[$p]:-0} + 1))
	   echo "not ok $n $2${3:+ # $3}" ;;
	esac
}

# summary: one line per part, as TAP diagnostics, before the totals.
summary() {
	local p
	printf '# %-14s %7s %7s %7s %7s\n' part passed failed skipped retried
	for p in $parts; do
		printf '# %-14s %7d %7d %7d %7d\n' "$p" "${part_pass[$p]:-0}" \
			"${part_fail[$p]:-0}" "${part_skip[$p]:-0}" "${part_retry[$p]:-0}"
	done
}

# Our tests (tests.conf), named as the plan names them (selftest_path).
our_tests=" $(awk '!/^#/ && NF >= 2 { print $1 }' "$TOP/harness/vm/tests.conf" |
	while read -r t; do selftest_path "$t"; done | tr '\n' ' ') "

# test_part NAME: "kernel" for the VM kernel's own checks (boot log,
# kmemleak), "selftests" for a test of ours (the races' run of one
# included), else the base's regression set of stock selftests.
test_part() {
	if [[ $1 == kernel/* ]]; then
		echo kernel
	elif [[ $our_tests == *" ${1%-mttcg} "* ]]; then
		echo selftests
	else
		echo regression
	fi
}

# show_tail LOG: the end of a failed test's output, as TAP diagnostics.
show_tail() {
	[ -f "$1" ] && tail -n 25 "$1" | tr -d '\r' | sed 's/^/#   /'
}

echo "TAP version 13"
# The VM runs' results: the tests, then their races' run, if any.
for run in "$OUT" $races; do
	while read -r name reason; do
		part=$(test_part "$name")
		tap retry "$name" "$reason"
	done <"$run/retries"
	while read -r name rc secs; do
		part=$(test_part "$name")
		log=$(test_log "$run" "$name")
		short=${name##*/}
		cases=0 cases_failed=0
		if [ -f "$log" ]; then
			# kselftest result lines of the test itself: one TAP line each.
			while IFS=$'\037' read -r status text reason; do
				[ "$status" != retry ] || continue
				cases=$((cases + 1))
				tap "$status" "$short${text:+: $text}" "$reason"
				[ "$status" != fail ] || { cases_failed=$((cases_failed + 1)); show_tail "$log"; }
			done < <(tap_results "$log")
		fi
		case "$rc" in
		0) [ "$cases" = 0 ] && tap pass "$short" ;;
		4) [ "$cases" = 0 ] && tap skip "$short" "$(grep -m1 -i skip "$log" 2>/dev/null |
			sed 's/.*# SKIP //' || echo 'skipped')" ;;
		crashed) tap fail "$short" "the VM died while it ran (crash or hang)"; show_tail "$log" ;;
		noboot) tap fail "$short" "the VM did not boot"; tail -n 25 "$run"/console.*.log | sed 's/^/#   /' ;;
		137) tap fail "$short" "killed by its watchdog after ${secs}s"; show_tail "$log" ;;
		250) tap fail "$short" "the kernel reported a problem while it ran"
		     sed -n '/^# kernel report:/,$p' "$log" | head -n 80 ;;
		# A failing exit no case of the test accounts for fails the test itself.
		*) [ "$cases_failed" = 0 ] && { tap fail "$short" "exit status $rc"; show_tail "$log"; } ;;
		esac
	done <"$run/results"
done
# part=results-file pairs; a part that did not run has no file.
for pair in "e2e=$e2e" "vmm=$vmm" "host=$host" "bench=$bench" "fresh=$fresh" \
	"debian13=$deb13" "lint=$lint"; do
	part=${pair%%=*} results=${pair#*=}
	[ -n "$results" ] || continue
	while IFS=$'\037' read -r status name reason; do
		tap "$status" "$name" "$reason"
	done < <(tap_results "$results")
done
echo "1..$n"
summary
echo "$passed passed, $failed failed, $skipped skipped, $retried retried"
[ "$failed" = 0 ]
