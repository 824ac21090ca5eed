#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# testlist.sh selftests: every selftest binary to build (tests and demo).
# testlist.sh plan: the VM plan ("<name> <timeout> <command>") for our
# tests (tests.conf) and the base's regression set (bases/<base>.tests),
# only those matching $TESTS (names or globs) if set, timeouts multiplied
# by $TIMEOUT_SCALE (a debug kernel is slower).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base

EXTRA_PROGS="x86/coalesced_io_demo"

# "<name> <timeout> [args...]" for each test, x86/ named as in the base.
tests() {
	local name rest
	awk '!/^#/ && NF >= 2' "$TOP/harness/vm/tests.conf" "$TOP/bases/$BASE.tests" |
		while read -r name rest; do
			echo "$(selftest_path "$name") $rest"
		done
}

selected() {
	local name=$1 pat
	[ -z "$TESTS" ] && return 0
	for pat in $TESTS; do
		# shellcheck disable=SC2053
		[[ $name == $pat || ${name##*/} == $pat ]] && return 0
	done
	return 1
}

case "${1:-}" in
selftests)
	# tools/... are built from tools/kvm by selftests.sh, not by kselftest.
	tests | awk '$1 !~ /^tools\// { print $1 }'
	for p in $EXTRA_PROGS; do
		selftest_path "$p"
	done ;;
plan)
	scale=${TIMEOUT_SCALE:-1} env=
	# Tests with limits of their own (coalesced_pio_test) scale them too.
	[ "$scale" = 1 ] || env="TIMEOUT_SCALE=$scale "
	tests | while read -r name limit args; do
		if selected "$name"; then
			echo "$name $((limit * scale)) ${SEED:+SEED=$SEED }$env./$name${args:+ $args}"
		fi
	done ;;
*)
	die "usage: testlist.sh selftests|plan" ;;
esac
