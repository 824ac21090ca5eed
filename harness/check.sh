#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: run every test of tests.conf in the VM with $MODULES, then
# lint what we own. Prints TAP, one line per test (one per case for tests
# that print kselftest TAP themselves), then "N passed, N failed, N skipped".
# DEBUG_KERNEL=1 (make check-debug): the same tests on build/debug-kernel,
# KVM built in, plus its boot log and a final kmemleak scan; any kernel
# report fails the test that was running.
source "$(dirname "$0")/lib.sh"
resolve_kver

MODULES=${MODULES:-ours}
OUT=$BUILD/check-$MODULES
kernel_args=
if [ "${DEBUG_KERNEL:-0}" = 1 ]; then
	MODULES=none
	OUT=$BUILD/check-debug
	VM_KERNEL=$BUILD/debug-kernel/arch/x86/boot/bzImage
	[ -f "$VM_KERNEL" ] || die "$VM_KERNEL is missing; run 'make check-debug', which builds it."
	# KASAN and lockdep slow the kernel down several times over.
	export VM_KERNEL VM_MEM=4G BOOT_LIMIT=300 TIMEOUT_SCALE=${TIMEOUT_SCALE:-4}
	kernel_args=kmemleak=on
fi
rm -rf "$OUT"
mkdir -p "$OUT/logs"
"$TOP/harness/testlist.sh" plan >"$OUT/plan"
[ -s "$OUT/plan" ] || die "no test matches TESTS='${TESTS:-}'; use names from harness/tests.conf."
if [ "$MODULES" = none ]; then
	{ echo "kernel/boot_log 60 kernel-reports boot"
	  cat "$OUT/plan"
	  echo "kernel/kmemleak 300 kernel-reports kmemleak"; } >"$OUT/plan.debug"
	mv "$OUT/plan.debug" "$OUT/plan"
	step "running $(wc -l <"$OUT/plan") tests in the VM on the debug kernel (KVM built in)"
else
	step "running $(wc -l <"$OUT/plan") tests in the VM with the $MODULES modules"
fi
"$TOP/harness/vm-run.sh" "$MODULES" "$OUT/plan" "$OUT" "$kernel_args"

# One log per test: the console lines between its @@START and @@END (or
# the end of that boot, if it took the VM down).
awk -v dir="$OUT/logs" '
	/^@@START / { gsub("/", "_", $3); f = dir "/" $3 ".log"; next }
	/^@@(END|MODULES|DONE)/ { if (f) close(f); f = ""; next }
	f { print > f }' "$OUT/console.log"

e2e=
if [ "$MODULES" != none ] && { [ -z "${TESTS:-}" ] || [[ " $TESTS " == *" seabios"* ]]; }; then
	step "SeaBIOS in QEMU inside the VM, with and without coalesced PIO"
	"$TOP/harness/e2e.sh" check >"$OUT/e2e.results"
	e2e=$OUT/e2e.results
fi

# Host-side checks of the install, DKMS and upstream series paths.
host=
if [ -z "${TESTS:-}" ] && [ "$MODULES" = ours ]; then
	step "make install/uninstall on a copy of /lib/modules, dkms build, the series with git am, the bench twice"
	host=$OUT/host.results
	{ "$TOP/harness/install-test.sh"
	  "$TOP/harness/dkms.sh" test
	  "$TOP/harness/series.sh" check
	  "$TOP/harness/bench.sh" check; } >"$host" ||
		echo "host:checks fail a host-side check script stopped early" >>"$host"
fi

# FRESH=1 (CI sets it): the README's make on a brand-new minimal Debian 12.
fresh=
if [ "${FRESH:-0}" = 1 ] && [ -z "${TESTS:-}" ] && [ "$MODULES" = ours ]; then
	step "make check-fresh: the README's make on a minimal Debian 12 ($BUILD_REL/fresh)"
	fresh=$OUT/fresh.results
	"$TOP/harness/check-fresh.sh" >"$fresh" || true
	grep -q '^fresh:make' "$fresh" ||
		echo "fresh:make-on-minimal-debian12 fail check-fresh.sh stopped early (its message above)" >>"$fresh"
fi

# A base that Debian 13 builds too (BASE_FLAVOURS): install and DKMS for
# its +deb13 kernels, in a Debian 13 root (root only: debootstrap, chroot).
deb13=
if [ -z "${TESTS:-}" ] && [ "$MODULES" = ours ] && [[ " ${BASE_FLAVOURS:-} " == *" deb13:"* ]] &&
   [ "$BASE_FLAVOUR" != deb13 ]; then
	deb13=$OUT/debian13.results
	if [ "$(id -u)" = 0 ]; then
		step "make check-debian13: install and DKMS for Debian 13's 6.12 kernels, in a Debian 13 root"
		"$TOP/harness/check-debian13.sh" >"$deb13" || true
		grep -q '^debian13:install' "$deb13" ||
			echo "debian13:check-install fail check-debian13.sh stopped early (its message above)" >>"$deb13"
	else
		echo "debian13:check-install skip needs root (debootstrap, chroot): sudo make check-debian13" >"$deb13"
	fi
fi

lint=
if [ -z "${TESTS:-}" ] && [ "$MODULES" = ours ]; then
	"$TOP/harness/lint.sh" || echo "lint:build 1" >>"$BUILD/lint/results"
	lint=$BUILD/lint/results
fi

passed=0 failed=0 skipped=0 n=0
# tap STATUS NAME [REASON]: one TAP line and the totals.
tap() {
	n=$((n + 1))
	case "$1" in
	pass) passed=$((passed + 1)); echo "ok $n $2${3:+ # $3}" ;;
	skip) skipped=$((skipped + 1)); echo "ok $n $2 # SKIP ${3:-}" ;;
	*) failed=$((failed + 1)); echo "not ok $n $2${3:+ # $3}" ;;
	esac
}

# ksft_results LOG: "<ok|notok|skip>\t<case>\t<skip reason>" for each
# kselftest result line of LOG; the reason of a skip is the "# SKIP ..."
# line the case printed before its result, else what the result line says.
ksft_results() {
	tr -d '\r' <"$1" | awk '
		/^# SKIP / { reason = substr($0, 8); next }
		/^(ok|not ok) [0-9]+ / {
			status = $1 == "ok" ? "ok" : "notok"
			text = $0
			sub(/^(ok|not ok) [0-9]+ /, "", text)
			if (text ~ /^# SKIP /) {
				status = "skip"
				sub(/^# SKIP /, "", text)
			} else if (text ~ / # SKIP/) {
				status = "skip"
				r = text
				sub(/.* # SKIP ?/, "", r)
				if (r != "")
					reason = r
				sub(/ # SKIP.*/, "", text)
			}
			print status "\t" text "\t" (status == "skip" ? reason : "")
			reason = ""
		}'
}

# show_tail LOG: the end of a failed test's output, as TAP diagnostics.
show_tail() {
	[ -f "$1" ] && tail -n 25 "$1" | tr -d '\r' | sed 's/^/#   /'
}

echo "TAP version 13"
while read -r name rc secs; do
	log=$OUT/logs/${name//\//_}.log
	short=${name##*/}
	cases=0 cases_failed=0
	if [ -f "$log" ]; then
		# kselftest result lines of the test itself: one TAP line each.
		while IFS=$'\t' read -r status text reason; do
			cases=$((cases + 1))
			case "$status" in
			skip) tap skip "$short: $text" "$reason" ;;
			ok) tap pass "$short: $text" ;;
			*) tap fail "$short: $text"; cases_failed=$((cases_failed + 1))
			   show_tail "$log" ;;
			esac
		done < <(ksft_results "$log")
	fi
	case "$rc" in
	0) [ "$cases" = 0 ] && tap pass "$short" ;;
	4) [ "$cases" = 0 ] && tap skip "$short" "$(grep -m1 -i skip "$log" 2>/dev/null |
		sed 's/.*# SKIP //' || echo 'skipped')" ;;
	crashed) tap fail "$short" "the VM died while it ran (crash or hang)"; show_tail "$log" ;;
	noboot) tap fail "$short" "the VM did not boot"; tail -n 25 "$OUT"/console.*.log | sed 's/^/#   /' ;;
	137) tap fail "$short" "killed by its watchdog after ${secs}s"; show_tail "$log" ;;
	250) tap fail "$short" "the kernel reported a problem while it ran"
	     sed -n '/^# kernel report:/,$p' "$log" | head -n 80 ;;
	# A failing exit no case of the test accounts for fails the test itself.
	*) [ "$cases_failed" = 0 ] && { tap fail "$short" "exit status $rc"; show_tail "$log"; } ;;
	esac
done <"$OUT/results"
if [ -n "$e2e" ]; then
	while read -r name verdict reason; do
		tap "$verdict" "$name" "$reason"
	done <"$e2e"
fi
for results in $host $fresh $deb13; do
	while read -r name verdict reason; do
		tap "$verdict" "$name" "$reason"
	done <"$results"
done
if [ -n "$lint" ]; then
	while read -r name rc; do
		if [ "$rc" = 0 ]; then tap pass "$name"; else tap fail "$name" "see build/lint/"; fi
	done <"$lint"
fi
echo "1..$n"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
