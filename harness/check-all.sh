#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check-all: make check on every base (bases/*.conf), the default
# first (with FRESH as given), each after building what it needs, and on
# the default base also on Debian's stock modules (MODULES=stock), then
# one line with the totals: "N passed, N failed, N skipped", the retries
# counted on the line above it. A base whose build stops before its tests
# counts as one failure. The failures are repeated just above the totals,
# so that a log's tail names them.
# PRUNE=1 (CI sets it): remove build/<base> once its check is done, so
# that the disk holds one base at a time (see BASE_DISK_GB in bases/).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
load_base

# prune BASE: remove build/BASE, unless something is still mounted in it.
prune() {
	if mounted_under "$TOP/build/$1"; then
		echo "# PRUNE: build/$1 keeps a mount ($(grep -m1 -o " $TOP/build/$1/[^ ]*" /proc/mounts)); not removed"
		return 0
	fi
	rm -rf "${TOP:?}/build/$1"
}

total_pass=0 total_fail=0 total_skip=0 total_retry=0 summary='' failures=''
# run_check LABEL ARGS...: make check with ARGS, its TAP shown as it
# comes, its counts added to the totals and its failures kept.
run_check() {
	local label=$1 log=$TOP/build/check-all.$1.log counts p f s r start=$SECONDS failed_here
	shift
	env -u KVER make -C "$TOP" --no-print-directory check "$@" 2>&1 |
		tee "$log" | grep --line-buffered -E '^(ok|not ok|# retried:|==>|error|    \.\.\.)' || true
	counts=$(tail -n 5 "$log" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1) || true
	if [ -z "$counts" ]; then
		echo "not ok check-all:$label # the build stopped before the tests; see build/check-all.$label.log"
		tail -n 5 "$log" | sed 's/^/#   /'
		counts="0 passed, 1 failed, 0 skipped, 0 retried"
	fi
	read -r p _ f _ s _ r _ <<<"${counts//,/}"
	failed_here=$(grep -E '^not ok ' "$log" | sed "s/^not ok [0-9]* /# $label: not ok /") || true
	[ -z "$failed_here" ] || failures="$failures
$failed_here"
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
	total_skip=$((total_skip + ${s:-0})) total_retry=$((total_retry + ${r:-0}))
	summary="$summary
# $label: $counts in $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s"
}

for base in $(known_bases); do
	mkdir -p "$TOP/build"
	step "check-all: BASE=$base (log build/check-all.$base.log)"
	fresh=$FRESH
	[ "$base" = "$DEFAULT_BASE" ] || fresh=0	# the fresh root builds the default only
	what="make check BASE=$base" need=0
	if [ ! -d "$TOP/build/$base/linux" ]; then
		need=$(source "$TOP/bases/$base.conf" && echo "$BASE_DISK_GB")
		[ "$fresh" = 1 ] && need=$((need + FRESH_DISK_GB)) what="$what FRESH=1"
	fi
	if ! why=$( (need_disk "$need" "$what") 2>&1); then
		echo "not ok check-all:$base # ${why#error: }"
		total_fail=$((total_fail + 1))
		summary="$summary
# BASE=$base: not run, too little disk"
		continue
	fi
	run_check "$base" BASE="$base" FRESH="$fresh"
	# The mainline column, measured on every run: the same tests on
	# Debian's stock modules, on the default base.
	if [ "$base" = "$DEFAULT_BASE" ]; then
		step "check-all: BASE=$base on Debian's stock modules (log build/check-all.$base-stock.log)"
		run_check "$base-stock" BASE="$base" MODULES=stock
	fi
	[ "$PRUNE" = 1 ] && prune "$base"
done
[ -z "$failures" ] || echo "# check-all failures:$failures"
echo "# check-all:$summary"
# The last line keeps CI's form; the retries are counted just above it.
echo "# check-all: $total_retry retried (each a '# retried:' line above)"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" = 0 ]
