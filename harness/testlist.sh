#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# testlist.sh selftests: every selftest binary to build (tests and demo).
# testlist.sh plan: the VM plan ("<name> <timeout> <command>") for the
# tests in tests.conf, only those matching $TESTS (names or globs) if set,
# timeouts multiplied by $TIMEOUT_SCALE (a debug kernel is slower).
source "$(dirname "$0")/lib.sh"

CONF=$TOP/harness/tests.conf
EXTRA_PROGS="x86_64/coalesced_io_demo"

# "<name> <timeout> [args...]" for each test of tests.conf.
tests() {
	awk '!/^#/ && NF >= 2' "$CONF"
}

selected() {
	local name=$1 pat
	[ -z "${TESTS:-}" ] && return 0
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
	echo "$EXTRA_PROGS" | tr ' ' '\n' ;;
plan)
	scale=${TIMEOUT_SCALE:-1} env=
	# Tests with limits of their own (coalesced_io_test) scale them too.
	[ "$scale" = 1 ] || env="TIMEOUT_SCALE=$scale "
	tests | while read -r name limit args; do
		if selected "$name"; then
			echo "$name $((limit * scale)) ${SEED:+SEED=$SEED }$env./$name${args:+ $args}"
		fi
	done ;;
*)
	die "usage: testlist.sh selftests|plan" ;;
esac
