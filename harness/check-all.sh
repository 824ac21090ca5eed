#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check-all: make check on every base (bases/*.conf), the default
# first (with FRESH as given), each after building what it needs, then
# one line with the totals: "N passed, N failed, N skipped". A base whose
# build stops before its tests counts as one failure.
source "$(dirname "$0")/lib.sh"

total_pass=0 total_fail=0 total_skip=0 summary=''
for base in $(known_bases); do
	log=$TOP/build/check-all.$base.log
	mkdir -p "$TOP/build"
	step "check-all: BASE=$base (log build/check-all.$base.log)"
	start=$SECONDS
	fresh=${FRESH:-0}
	[ "$base" = "$DEFAULT_BASE" ] || fresh=0	# the fresh root builds the default only
	env -u KVER make -C "$TOP" --no-print-directory check BASE="$base" FRESH="$fresh" 2>&1 |
		tee "$log" | grep --line-buffered -E '^(ok|not ok|==>|error|    \.\.\.)' || true
	counts=$(tail -n 5 "$log" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -z "$counts" ]; then
		echo "not ok check-all:$base # the build stopped before the tests; see build/check-all.$base.log"
		tail -n 5 "$log" | sed 's/^/#   /'
		counts="0 passed, 1 failed, 0 skipped"
	fi
	read -r p _ f _ s _ <<<"${counts//,/}"
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
	total_skip=$((total_skip + ${s:-0}))
	summary="$summary
# BASE=$base: $counts in $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s"
done
echo "# check-all:$summary"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" = 0 ]
