#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build, statically, the KVM selftests we run (ours and the regression set)
# from build/linux's tools/testing/selftests/kvm into build/selftests.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base

LINUX=$BUILD/linux
OUT=$BUILD/selftests
HDR=$BUILD/usr
mkdir -p "$OUT/tools" "$BUILD/linux-obj"

step "installing uapi headers from $BUILD_REL/linux"
install_uapi_headers "$LINUX" "$BUILD/linux-obj" "$HDR"

tests=$("$TOP/harness/vm/testlist.sh" selftests)
targets=
for t in $tests; do
	targets="$targets $OUT/$t"
done
step "building $(echo "$tests" | wc -w) selftests"
# The selftest Makefile has no header dependencies: rebuild ours whenever
# the uapi header changed.
for t in $tests; do
	[ "$HDR/include/linux/kvm.h" -nt "$OUT/$t" ] && rm -f "$OUT/$t"
done
# Old selftest libraries warn a lot about their own headers: keep that in a log
# and show it only when the build fails.
log=$BUILD/selftests.log
compat=
[ -n "${BASE_SELFTEST_COMPAT:-}" ] && compat=$TOP/bases/$BASE_SELFTEST_COMPAT
# shellcheck disable=SC2086
make -s -C "$LINUX/tools/testing/selftests/kvm" -j"$(nproc)" \
	LINUX_HDR_PATH="$HDR/include/" EXTRA_CFLAGS=-static OUTPUT="$OUT" \
	COALESCED_SELFTEST_COMPAT="$compat" \
	$targets >"$log" 2>&1 ||
	{ grep -B2 -A6 -e 'error' "$log" | tail -60 >&2;
	  die "a selftest failed to build (compiler output above); fix it in tools/testing/selftests/kvm (full log: $BUILD_REL/selftests.log)."; }

step "building tools/kvm/coalesced_io's probe"
make -s -C "$LINUX/tools/kvm/coalesced_io" OUTPUT="$OUT/tools" \
	UAPI_INCLUDE="$HDR/include" LDFLAGS=-static >>"$log" 2>&1 ||
	{ tail -30 "$log" >&2;
	  die "coalesced_io_probe failed to build (output above); fix it in tools/kvm/coalesced_io."; }

step "building tools/kvm/coalesced_io's 32- and 64-bit ioctl comparison"
make -s -C "$LINUX/tools/kvm/coalesced_io" OUTPUT="$OUT/tools" \
	UAPI_INCLUDE="$HDR/include" LDFLAGS=-static compat >>"$log" 2>&1 ||
	{ tail -30 "$log" >&2;
	  die "coalesced_io_compat32 failed to build (output above); 'make deps'" \
	      "installs gcc-multilib, or fix tools/kvm/coalesced_io."; }
