#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# series.sh make: write our change against the pristine base as the
#   topic series of patches/series, each in build/<base>/series/<topic>
#   with its cover letter (git format-patch), authored and signed off by
#   whoever runs it (git config user.name and user.email); checkpatch
#   --strict every patch, build the documentation of virt/kvm (no new
#   warning), then build the modules (and the selftests,
#   where they change) after every patch, run mainline's coalesced_io_test
#   and our tests that the tree has at that patch in the VM on its
#   modules, and measure the instructions of a coalesced write after
#   every patch beside mainline's.
# series.sh docs: only the series and its documentation check.
# series.sh check: git am the posted series onto the pristine base and
#   check that the result is the series part of $BUILD_REL/linux, byte for
#   byte. Prints the results of series:<check> (TAP) for check.sh.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
# checkpatch's spdxcheck.py needs Debian's python3 (python3-ply, python3-git).
PATH=/usr/bin:$PATH
resolve_kver
check_versions

LINUX=$BUILD/linux
TREE=$BUILD/series-tree
OUT=$BUILD/series
[ -d "$LINUX/.git" ] || die "$BUILD_REL/linux is missing; run 'make base' first."

tree_git() {
	git -C "$TREE" "$@"
}

# fresh_tree: a worktree of build/linux at the pristine base (the one
# there already, if any: checking out a whole kernel tree takes a minute).
fresh_tree() {
	if [ -d "$TREE/.git" ] || [ -f "$TREE/.git" ]; then
		tree_git am --abort >/dev/null 2>&1 || true
		if tree_git checkout -q -f --detach pristine && tree_git clean -fdxq; then
			return 0
		fi
	fi
	remove_tree
	git -C "$LINUX" worktree add -q --detach "$TREE" pristine ||
		die "cannot add a worktree of $BUILD_REL/linux at $TREE (git's message above); remove $TREE and run 'git -C $BUILD_REL/linux worktree prune'."
}

# sender: the identity of whoever runs make series, from git config;
# never a made-up one.
sender() {
	local name email
	name=$(git -C "$TOP" config user.name || true)
	email=$(git -C "$TOP" config user.email || true)
	case "$name <$email>" in
	" <"* | *"<>" | "Your Name"* | *@example.com\> | *@example.org\> | \
	*@example.net\> | *@localhost\> | *"<root@"*)
		die "git config user.name and user.email are '$name <$email>', not a person who can sign off a patch; set yours with git config." ;;
	esac
	export GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email
	export GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$email
}

# commit_patch ENTRY NEWFILE...: one commit of a stored patch and the new
# files it adds, its message the patch's own, signed off by the sender.
commit_patch() {
	local file=$TOP/patches/$1 t subject
	shift
	tree_git apply --index --allow-empty "$file" ||
		die "patches/${file#"$TOP"/patches/} does not apply at its place in patches/series; refresh it."
	[ $# = 0 ] || (cd "$TOP" && git ls-files -co --exclude-standard -- "$@") | while read -r f; do
		t=$(overlay_path "$f")
		mkdir -p "$TREE/$(dirname "$t")"
		cp -p "$TOP/$f" "$TREE/$t"
		tree_git add -f -- "$t"
	done
	subject=$(git mailinfo "$BUILD/series.msg" /dev/null <"$file" | sed -n 's/^Subject: //p')
	(echo "$subject"; echo; cat "$BUILD/series.msg") | tree_git commit -q -s -F -
}

# cover_letter TOPIC: fill in the cover letter git wrote for TOPIC from
# patches/TOPIC/cover-letter (its first line is the subject).
cover_letter() {
	local text=$TOP/patches/$1/cover-letter cover
	cover=$(ls "$OUT/$1"/0000-cover-letter.patch)
	[ -f "$text" ] || die "patches/$1 has no cover-letter; write one (its first line is the subject)."
	awk -v subject="$(head -n 1 "$text")" -v text="$text" '
		/\*\*\* SUBJECT HERE \*\*\*/ { sub(/\*\*\* SUBJECT HERE \*\*\*/, subject) }
		/\*\*\* BLURB HERE \*\*\*/ {
			while ((getline line < text) > 0) if (n++ > 1) print line
			next
		}
		{ print }' "$cover" >"$cover.new"
	mv "$cover.new" "$cover"
}

make_series() {
	local kind rest topic='' from=pristine
	sender
	step "committing the series in $BUILD_REL/series-tree as $GIT_AUTHOR_NAME <$GIT_AUTHOR_EMAIL>"
	fresh_tree
	rm -rf "$OUT"
	mkdir -p "$OUT"
	while read -r kind rest; do
		case "$kind" in
		''|'#'*) continue ;;
		topic)	[ -z "$topic" ] || { format_topic "$topic" "$from"; from=$(tree_git rev-parse HEAD); }
			topic=$rest ;;
		*)	# shellcheck disable=SC2086
			commit_patch "$kind" $rest ;;
		esac
	done <"$TOP/patches/series"
	format_topic "$topic" "$from"
	[ "$(tree_git rev-parse HEAD^{tree})" = "$(git -C "$LINUX" rev-parse series^{tree})" ] ||
		die "the series does not add up to the series part of $BUILD_REL/linux; run 'make base' and then 'make series' again."
	git -C "$LINUX" rev-parse series^{tree} >"$OUT/.made-from"
	echo "series: $(ls "$OUT"/*/*.patch | wc -l) files in $BUILD_REL/series:"
	for topic in "$OUT"/*/; do
		grep -h '^Subject:' "$topic"*.patch | sed 's/^Subject: /  /'
	done
}

# format_topic TOPIC FROM: TOPIC's patches, FROM..HEAD, with its cover
# letter; the dedicated rings are an RFC.
format_topic() {
	local prefix=PATCH
	case $1 in 3-* | 4-*) prefix="RFC PATCH" ;; esac
	tree_git format-patch -q --cover-letter --thread --subject-prefix="$prefix" \
		-o "$OUT/$1" "$2..HEAD"
	cover_letter "$1"
}

# covered FILE: is FILE listed in MAINTAINERS of the series tree?
covered() {
	(cd "$TREE" && scripts/get_maintainer.pl --no-git --no-rolestats -f "$1" 2>/dev/null) |
		grep -q 'kvm@vger.kernel.org'
}

# run_checkpatch PATCH [OPTIONS]: checkpatch --strict's findings, if any.
run_checkpatch() {
	local patch=$1
	shift
	(cd "$TREE" && scripts/checkpatch.pl --strict --quiet --no-summary "$@" "$patch" || true)
}

checkpatch_series() {
	local p out added f bad=0
	step "checkpatch --strict on every patch"
	for p in "$OUT"/*/0*.patch; do
		[[ $p == */0000-cover-letter.patch ]] && continue
		out=$(run_checkpatch "$p" --show-types)
		# "Does MAINTAINERS need updating?" answered: every new file is listed.
		if grep -q FILE_PATH_CHANGES <<<"$out"; then
			added=$(sed -n 's|^+++ b/||p' "$p")
			for f in $added; do
				covered "$f" || { echo "  $(basename "$p"): $f is in no MAINTAINERS entry"; bad=1; }
			done
			out=$(run_checkpatch "$p" --show-types --ignore FILE_PATH_CHANGES)
		fi
		if [ -n "$out" ]; then
			echo "  $(basename "$p"):"
			echo "$out" | sed 's/^/    | /' | head -20
			bad=1
		else
			echo "  ${p#"$OUT"/}: clean"
		fi
	done
	[ "$bad" = 0 ] || die "checkpatch found problems in $BUILD_REL/series (above); fix them in the overlay or patches/."
}

# keep_modules N SUBJECT: the modules built after patch N, for the VM
# (an overlay image that puts them where ours go), and its subject.
keep_modules() {
	local dir=$BUILD/series-build/patch-$1
	rm -rf "$dir"
	modules_overlay "$BUILD/series-build/kvm-mod/arch/x86/kvm" "$dir"
	echo "$2" >"$dir/subject"
}

# keep_tests N: the tests to run after patch N, as the tree has them
# there: mainline's coalesced_io_test and those of our tests.conf that
# the tree holds by then (each series adds its own), built from it, in
# the overlay beside the modules and in its plan.
keep_tests() {
	local dir=$BUILD/series-build/patch-$1 name limit args
	echo "coalesced_io_test 120 ./coalesced_io_test" >"$dir/tests.plan"
	awk '!/^#/ && $1 ~ /^x86\/coalesced_/ && $1 !~ /_bench$/' "$TOP/harness/vm/tests.conf" |
		while read -r name limit args; do
			[ -f "$TREE/tools/testing/selftests/kvm/$name.c" ] || continue
			echo "$name $limit SEED=1 ./$name${args:+ $args}"
		done >>"$dir/tests.plan"
	mkdir -p "$dir/root/tests/x86"
	while read -r name _; do
		cp "$BUILD/series-build/selftests/$name" "$dir/root/tests/$name"
	done <"$dir/tests.plan"
	(cd "$dir/root" && find . -print0 | cpio -0 -o -H newc --quiet | gzip -1) >"$dir/overlay.cpio.gz"
}

build_each() {
	local commits c i=0 n targets t
	commits=$(tree_git rev-list --reverse pristine..HEAD)
	n=$(echo "$commits" | wc -l)
	mkdir -p "$BUILD/series-build"
	for c in $commits; do
		i=$((i + 1))
		tree_git checkout -q "$c"
		step "[$i/$n] building after: $(tree_git log -1 --format=%s)"
		# W=1 on top of CONFIG_KVM_WERROR's -Werror: no patch adds a warning.
		LINUX_TREE=$TREE KVM_MOD_DIR=$BUILD/series-build/kvm-mod \
			"$TOP/harness/base/modules.sh" W=1 >"$BUILD/series-build/build.log" 2>&1 ||
			{ tail -20 "$BUILD/series-build/build.log" >&2
			  die "the modules do not build after '$(tree_git log -1 --format=%s)'; every patch must build on its own."; }
		keep_modules "$i" "$(tree_git log -1 --format=%s)"
		# Mainline's coalesced_io_test first, then ours where they change.
		if [ "$i" = 1 ] || ! tree_git diff --quiet "$c^" "$c" -- tools include/uapi; then
			targets=$BUILD/series-build/selftests/coalesced_io_test
			for t in $(cd "$TREE/tools/testing/selftests/kvm" && ls "$BASE_SELFTEST_ARCH"/coalesced_*.c 2>/dev/null); do
				targets="$targets $BUILD/series-build/selftests/${t%.c}"
			done
			build_selftests "$targets"
		fi
		keep_tests "$i"
	done
	tree_git checkout -q --detach "$(echo "$commits" | tail -n 1)"
	echo "series: every one of the $n patches builds"
}

# build_selftests TARGETS: these selftests, from the tree as it is.
build_selftests() {
	local hdr=$BUILD/series-build/usr
	echo "    and the coalesced selftests"
	# shellcheck disable=SC2086
	{ make -s -C "$TREE" O="$BUILD/series-build/obj" ARCH=x86_64 \
		INSTALL_HDR_PATH="$hdr" headers_install &&
	  rm -f $1 &&
	  make -s -C "$TREE/tools/testing/selftests/kvm" -j"$(nproc)" \
		LINUX_HDR_PATH="$hdr/include/" EXTRA_CFLAGS=-static \
		OUTPUT="$BUILD/series-build/selftests" $1; } \
		>"$BUILD/series-build/selftests.log" 2>&1 ||
		{ grep -A5 error "$BUILD/series-build/selftests.log" | tail -20 >&2
		  die "the selftests do not build after '$(tree_git log -1 --format=%s)'; every patch must build on its own."; }
}

# test_each: the tests of keep_tests after every patch, in the VM on that
# patch's modules, told they are ours (COALESCED_KVM=newer): every test
# must end with 0 or 4 (kselftest's skip), and no case may say "not ok".
test_each() {
	local n i dir verdict failed=''
	n=$(ls -d "$BUILD"/series-build/patch-* | wc -l)
	step "the tests after each of the $n patches, in the VM (about $((n * 2)) min)"
	printf '%-4s %-8s %s\n' patch tests "result  subject" | tee "$OUT/tests.txt"
	for i in $(seq "$n"); do
		dir=$BUILD/series-build/patch-$i
		rm -rf "$dir/tests"
		OURS_MODULES=$dir/root/modules/ours EXTRA_IMAGES=$dir/overlay.cpio.gz \
			"$TOP/harness/vm/vm-run.sh" ours "$dir/tests.plan" "$dir/tests" >"$dir/tests.log" 2>&1 || true
		verdict=$(run_verdicts "$dir/tests" | awk -F '\037' -v planned="$(wc -l <"$dir/tests.plan")" \
			-v ran="$(wc -l <"$dir/tests/results" 2>/dev/null || echo 0)" '
			$1 == "fail" { bad = bad " " $2 ": " $3 }
			$1 == "pass" && $3 !~ /^exit / { cases++ }
			END {
				if (ran != planned) bad = bad " " ran " of " planned " tests ran"
				if (bad != "") print "FAIL" bad; else print "pass, " cases + 0 " TAP cases"
			}')
		printf '%-4s %-8s %s  %s\n' "$i" "$(wc -l <"$dir/tests.plan")" "$verdict" "$(cat "$dir/subject")" | tee -a "$OUT/tests.txt"
		[ "${verdict#FAIL}" = "$verdict" ] || failed="$failed $i"
	done
	[ -z "$failed" ] ||
		die "the tests fail after patch(es)$failed ($BUILD_REL/series/tests.txt; each run in $BUILD_REL/series-build/patch-N/tests): every patch must keep them passing."
	echo "series: the tests pass after every patch ($BUILD_REL/series/tests.txt)"
}

# bench_best DIR MODULES [OURS_DIR]: instructions per coalesced write,
# the cheapest 64-write burst of the bench's legacy-ring case under
# -icount, on MODULES (ours from OURS_DIR's overlay, or stock).
bench_best() {
	local dir=$1 m=$2 ours=${3:-}
	mkdir -p "$dir"
	echo "bench 900 ./$(selftest_path x86/coalesced_io_bench) -s 0.2 -r 1 -c b_coalesced" >"$dir/plan"
	# Empty OURS_MODULES and EXTRA_IMAGES are vm-run.sh's defaults.
	VM_ICOUNT=1 OURS_MODULES=${ours:+$ours/root/modules/ours} \
		EXTRA_IMAGES=${ours:+$ours/overlay.cpio.gz} \
		"$TOP/harness/vm/vm-run.sh" "$m" "$dir/plan" "$dir/vm" >"$dir/vm.log" 2>&1 || true
	tr -d '\r' <"$dir/vm/console.log" 2>/dev/null |
		awk -F, '$1 == "@@CSV b_coalesced" && $2 == 64 && $3 == 1 { print $9; exit }'
}

# measure_each: the cost of a coalesced write after every patch, beside
# mainline's (Debian's build of the base, MODULES=stock), in instructions
# under -icount: exact, whatever the host's load. No patch may make the
# write dearer than mainline's by more than 0.5%, and the last one not at
# all.
measure_each() {
	local n i dir mainline best over='' pct
	n=$(ls -d "$BUILD"/series-build/patch-* | wc -l)
	step "the cost of a coalesced write after each of the $n patches, in the VM under -icount (about $((n / 2 + 1)) min)"
	mainline=$(bench_best "$BUILD/series-build/bench-mainline" stock)
	[ -n "$mainline" ] || die "the benchmark gave no figure on the stock modules (see $BUILD_REL/series-build/bench-mainline/vm/console.log)."
	printf '%-4s %10s %8s  %s\n' patch instr "vs ml" subject | tee "$OUT/cost.txt"
	printf '%-4s %10s %8s  %s\n' - "$mainline" "" "mainline $BASE (Debian's build, no patch of ours)" | tee -a "$OUT/cost.txt"
	for i in $(seq "$n"); do
		dir=$BUILD/series-build/patch-$i
		best=$(bench_best "$dir/bench" ours "$dir")
		[ -n "$best" ] || die "the benchmark gave no figure after patch $i (see ${dir#"$TOP"/}/bench/vm/console.log)."
		pct=$(awk -v a="$best" -v b="$mainline" 'BEGIN { printf "%+.2f%%", 100 * (a - b) / b }')
		printf '%-4s %10s %8s  %s\n' "$i" "$best" "$pct" "$(cat "$dir/subject")" | tee -a "$OUT/cost.txt"
		awk -v a="$best" -v b="$mainline" -v last=$((i == n)) \
			'BEGIN { exit !(a > b * (last ? 1 : 1.005)) }' && over="$over $i"
	done
	[ -z "$over" ] ||
		die "after patch(es)$over a coalesced write costs more than mainline's allows (0.5%, the last patch 0%; $BUILD_REL/series/cost.txt): make the write path cheaper there."
	echo "series: no patch makes a coalesced write dearer than allowed ($BUILD_REL/series/cost.txt)"
}

# htmldocs_series: the kernel's documentation of virt/kvm (make htmldocs
# SPHINXDIRS=virt/kvm) at the pristine base and after the series, whose
# warnings (line numbers aside) must be the base's.
htmldocs_series() {
	local tip at new
	command -v sphinx-build >/dev/null ||
		die "sphinx-build is missing; run 'make deps' as root (it installs python3-sphinx)."
	tip=$(tree_git rev-parse HEAD)
	step "make htmldocs SPHINXDIRS=virt/kvm at the base and after the series"
	for at in base series; do
		tree_git checkout -q -f --detach "$([ $at = base ] && echo pristine || echo "$tip")"
		make -s -C "$TREE" htmldocs SPHINXDIRS=virt/kvm BUILDDIR="$OUT/htmldocs-$at" \
			>"$OUT/htmldocs-$at.log" 2>&1 ||
			die "make htmldocs failed at the $at; see $BUILD_REL/series/htmldocs-$at.log."
		# dot(1) is graphviz, which no page of virt/kvm needs.
		grep -E 'WARNING|ERROR|CRITICAL' "$OUT/htmldocs-$at.log" | grep -v 'dot(1) not found' |
			sed -E 's/:[0-9]+:/:/' | sort -u >"$OUT/htmldocs-$at.warnings" || true
	done
	new=$(comm -13 "$OUT/htmldocs-base.warnings" "$OUT/htmldocs-series.warnings")
	[ -z "$new" ] || {
		echo "$new"
		die "the series adds the warnings above to make htmldocs SPHINXDIRS=virt/kvm; mend the .rst it changes."
	}
	echo "series: make htmldocs SPHINXDIRS=virt/kvm: no warning beyond the base's"
}

check_series() {
	local rc=0 patches
	# A series made from an older build/linux is made again first.
	[ "$(cat "$OUT/.made-from" 2>/dev/null)" = "$(git -C "$LINUX" rev-parse series^{tree})" ] ||
		make_series >/dev/null
	fresh_tree
	mapfile -t patches < <(ls "$OUT"/*/0*.patch | grep -v '/0000-cover-letter\.patch$')
	tree_git am -q "${patches[@]}" >"$BUILD/series-am.log" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		result "series:git-am-applies fail git am stopped; see $BUILD_REL/series-am.log"
		tree_git am --abort >/dev/null 2>&1 || true
		remove_tree
		return 0
	fi
	result "series:git-am-applies pass"
	if [ "$(tree_git rev-parse HEAD^{tree})" = "$(git -C "$LINUX" rev-parse series^{tree})" ]; then
		result "series:result-is-build-linux pass"
	else
		result "series:result-is-build-linux fail the applied series differs from $BUILD_REL/linux: run 'make series' again"
	fi
	remove_tree
}

# remove_tree: the worktree is a whole kernel checkout (1.6 GiB); 'make
# series' checks it out again when it needs it.
remove_tree() {
	git -C "$LINUX" worktree remove --force "$TREE" >/dev/null 2>&1 || rm -rf "$TREE"
	git -C "$LINUX" worktree prune
}

case "${1:-}" in
make) make_series; checkpatch_series; htmldocs_series; build_each; test_each; measure_each ;;
check) check_series ;;
docs) make_series >/dev/null; htmldocs_series ;;
*) die "usage: series.sh make|check|docs (run it through 'make series')." ;;
esac
