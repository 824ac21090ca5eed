#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Lint what we own: checkpatch --strict (the base tree's) on our C files
# and patches, then sparse (C=2) and W=1 on a build of the modules; only
# warnings in our files count. Writes $BUILD_REL/lint/results (TAP, as
# every step writes its results) and prints one line per check.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver

LINUX=$BUILD/linux
OUT=$BUILD/lint
CHECKPATCH="$LINUX/scripts/checkpatch.pl --strict --quiet --no-summary --root=$LINUX"
[ -x "$LINUX/scripts/checkpatch.pl" ] || die "$BUILD_REL/linux is missing; run 'make base' first."
command -v sparse >/dev/null || die "sparse is missing; run 'make deps' as root."
mkdir -p "$OUT"
: >"$OUT/results"

# record NAME LOG: pass if LOG is empty, else show it.
record() {
	local name=$1 log=$2
	if [ -s "$log" ]; then
		echo "  $name: FAIL"
		# head stops reading early: sed's SIGPIPE is not a failure here.
		sed 's/^/    | /' "$log" | head -40 || true
		result "$name fail $(grep -c '' "$log") lines in ${log#"$TOP"/}" >>"$OUT/results"
	else
		echo "  $name: ok"
		result "$name pass" >>"$OUT/results"
	fi
}

mapfile -t sources < <(cd "$TOP" && git ls-files -co --exclude-standard -- \
	'harness/*.c' \
	'virt/*.[ch]' 'include/*.h' 'tools/*.[ch]' 'bases/compat/*.h')
mapfile -t patches < <(series_patches | cut -d' ' -f1)
step "checkpatch --strict on ${#sources[@]} files and ${#patches[@]} patches"
(cd "$TOP" && $CHECKPATCH --no-tree -f "${sources[@]}") >"$OUT/checkpatch-files.log" 2>&1 || true
record lint:checkpatch-files "$OUT/checkpatch-files.log"
: >"$OUT/checkpatch-patches.log"
# The stored patches carry no sign-off: make series adds the sender's.
# A patch that only adds files is stored as its message (its files are
# checked above, and make series checks it whole).
for patch in "${patches[@]}"; do
	grep -q '^diff --git ' "$TOP/patches/$patch" || continue
	(cd "$LINUX" && $CHECKPATCH --ignore MISSING_SIGN_OFF,NO_AUTHOR_SIGN_OFF \
		"$TOP/patches/$patch") >>"$OUT/checkpatch-patches.log" 2>&1 || true
done
record lint:checkpatch-patches "$OUT/checkpatch-patches.log"

# The compatibility table and the test that asserts it name the same rows:
# the test as the whole series leaves it (later patches add rows).
step "compatibility table: coalesced_pio_test's rows against coalesced-io.rst"
test_rows=$(grep -o '"\(reg\|unreg\)-[a-z0-9-]*"' \
	"$LINUX/$(overlay_path tools/testing/selftests/kvm/x86/coalesced_pio_test.c)" | tr -d '"' | sort)
doc_rows=$(grep -oE '^(reg|unreg)-[a-z0-9-]+ ' "$TOP/docs/coalesced-io.rst" |
	tr -d ' ' | sort)
diff <(echo "$test_rows") <(echo "$doc_rows") | sed -n 's/^</only in the test:/p; s/^>/only in the table:/p' \
	>"$OUT/compat-table.log" || true
record lint:compat-table "$OUT/compat-table.log"

step "KVMIO ioctl numbers: ours against every other ($BUILD_REL/lint/ioctl)"
"$TOP/harness/lint/ioctl-check.sh" >"$OUT/ioctl.log" 2>&1 || true
record lint:ioctl-numbers "$OUT/ioctl.log"

# The README and docs/*.md against the code: make targets, paths, links
# and counts of selftest cases (harness/lint/docs-check.sh says how).
step "docs: README.md and docs/*.md against the Makefile, the tree and the selftests"
"$TOP/harness/lint/docs-check.sh" "$LINUX" >"$OUT/docs.log" 2>&1 || true
record lint:docs "$OUT/docs.log"

step "sparse (C=2) and W=1 on the modules (a build of its own under $BUILD_REL/lint)"
KVM_MOD_DIR=$OUT/kvm-mod "$TOP/harness/base/modules.sh" C=2 W=1 >"$OUT/build.log" 2>&1 ||
	{ tail -20 "$OUT/build.log" >&2; die "the lint build failed (log: $BUILD_REL/lint/build.log); fix the error above."; }
# Our files, by the names they have in the build directory: the engine
# and the tracepoint header it adds to (include/trace/events/kvm.h, under
# override/ there).
grep -E '(coalesced_(mmio|ring)\.[ch]|trace/events/kvm\.h):[0-9]+' "$OUT/build.log" >"$OUT/ours.log" || true
grep -E 'warning|error' "$OUT/ours.log" >"$OUT/sparse-w1.log" || true
record lint:sparse-and-W=1 "$OUT/sparse-w1.log"
