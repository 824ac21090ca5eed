#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# series.sh make: write our change against the pristine base as a patch
#   series in build/series (git format-patch, cover letter included),
#   one commit per line of harness/series/series.conf; checkpatch
#   --strict every patch, then build the modules (and our selftests,
#   where they change) after every patch.
# series.sh check: git am build/series onto the pristine base and check
#   that the result is $BUILD_REL/linux, byte for byte. Prints
#   "series:<check> pass|fail [reason]" lines for check.sh.
source "$(dirname "$0")/lib.sh"
# checkpatch's spdxcheck.py needs Debian's python3 (python3-ply, python3-git).
PATH=/usr/bin:$PATH
resolve_kver
check_versions

LINUX=$BUILD/linux
TREE=$BUILD/series-tree
OUT=$BUILD/series
CONF=$TOP/harness/series/series.conf
export GIT_AUTHOR_NAME="Coalesced IO Team" GIT_AUTHOR_EMAIL="kvm-coalesced@example.org"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
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

# commit_files MSG ITEM...: one commit of overlay files and folded patches.
commit_files() {
	local msg=$TOP/harness/series/$1 item p t
	shift
	[ -f "$msg" ] || die "harness/series/series.conf names $msg, which does not exist; add it."
	for item in "$@"; do
		if [[ $item == +* ]]; then
			p=$(base_patch "${item#+}")
			[ -n "$p" ] || continue	# this base skips it
			tree_git apply --index "$p" ||
				die "${p#"$TOP"/} does not apply in series step '$msg'; reorder harness/series/series.conf."
			continue
		fi
		(cd "$TOP" && git ls-files -co --exclude-standard -- "$item") | while read -r f; do
			t=$(overlay_path "$f")
			mkdir -p "$TREE/$(dirname "$t")"
			cp -p "$TOP/$f" "$TREE/$t"
			tree_git add -f -- "$t"
		done
	done
	tree_git commit -q -F "$msg"
}

make_series() {
	local kind a rest p
	step "committing the series in $BUILD_REL/series-tree"
	fresh_tree
	while read -r kind a rest; do
		case "$kind" in
		''|'#'*) continue ;;
		patch) p=$(base_patch "$a")
			[ -n "$p" ] || continue	# this base skips it
			tree_git am -q "$p" ||
				die "${p#"$TOP"/} does not apply at its place in harness/series/series.conf; reorder it or refresh the patch." ;;
		files) # shellcheck disable=SC2086
			commit_files "$a" $rest ;;
		*) die "harness/series/series.conf: unknown kind '$kind'; use 'patch' or 'files'." ;;
		esac
	done <"$CONF"
	[ "$(tree_git rev-parse HEAD^{tree})" = "$(git -C "$LINUX" rev-parse HEAD^{tree})" ] ||
		die "the series does not add up to $BUILD_REL/linux (a file we own is in no step, or patches/series and series.conf disagree); fix harness/series/series.conf."

	rm -rf "$OUT"
	tree_git format-patch -q --cover-letter --thread -o "$OUT" pristine..HEAD
	# The cover letter: subject and text from harness/series/cover.txt.
	local cover=$OUT/0000-cover-letter.patch subject
	subject=$(head -n 1 "$TOP/harness/series/cover.txt")
	awk -v subject="$subject" -v text="$TOP/harness/series/cover.txt" '
		/\*\*\* SUBJECT HERE \*\*\*/ { sub(/\*\*\* SUBJECT HERE \*\*\*/, subject) }
		/\*\*\* BLURB HERE \*\*\*/ {
			while ((getline line < text) > 0) if (n++ > 1) print line
			next
		}
		{ print }' "$cover" >"$cover.new"
	mv "$cover.new" "$cover"
	git -C "$LINUX" rev-parse HEAD^{tree} >"$OUT/.made-from"
	echo "series: $(ls "$OUT" | wc -l) files in $BUILD_REL/series:"
	grep -h '^Subject:' "$OUT"/*.patch | sed 's/^Subject: /  /'
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
	for p in "$OUT"/0*.patch; do
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
			echo "  $(basename "$p"): clean"
		fi
	done
	[ "$bad" = 0 ] || die "checkpatch found problems in $BUILD_REL/series (above); fix them in the overlay or patches/."
}

build_each() {
	local commits c i=0 n hdr=$BUILD/series-build/usr targets t
	commits=$(tree_git rev-list --reverse pristine..HEAD)
	n=$(echo "$commits" | wc -l)
	mkdir -p "$BUILD/series-build"
	for c in $commits; do
		i=$((i + 1))
		tree_git checkout -q "$c"
		step "[$i/$n] building after: $(tree_git log -1 --format=%s)"
		LINUX_TREE=$TREE KVM_MOD_DIR=$BUILD/series-build/kvm-mod \
			"$TOP/harness/modules.sh" >"$BUILD/series-build/build.log" 2>&1 ||
			{ tail -20 "$BUILD/series-build/build.log" >&2
			  die "the modules do not build after '$(tree_git log -1 --format=%s)'; every patch must build on its own."; }
		tree_git diff --quiet "$c^" "$c" -- tools include/uapi && continue
		targets=
		for t in $(cd "$TREE/tools/testing/selftests/kvm" && ls "$BASE_SELFTEST_ARCH"/coalesced_*.c 2>/dev/null); do
			targets="$targets $BUILD/series-build/selftests/${t%.c}"
		done
		[ -n "$targets" ] || continue
		echo "    and the coalesced selftests"
		# shellcheck disable=SC2086
		{ make -s -C "$TREE" O="$BUILD/series-build/obj" ARCH=x86_64 \
			INSTALL_HDR_PATH="$hdr" headers_install &&
		  rm -f $targets &&
		  make -s -C "$TREE/tools/testing/selftests/kvm" -j"$(nproc)" \
			LINUX_HDR_PATH="$hdr/include/" EXTRA_CFLAGS=-static \
			OUTPUT="$BUILD/series-build/selftests" $targets; } \
			>"$BUILD/series-build/selftests.log" 2>&1 ||
			{ grep -A5 error "$BUILD/series-build/selftests.log" | tail -20 >&2
			  die "the selftests do not build after '$(tree_git log -1 --format=%s)'; every patch must build on its own."; }
	done
	tree_git checkout -q --detach "$(echo "$commits" | tail -n 1)"
	echo "series: every one of the $n patches builds"
}

check_series() {
	local rc=0 patches
	# A series made from an older build/linux is made again first.
	[ "$(cat "$OUT/.made-from" 2>/dev/null)" = "$(git -C "$LINUX" rev-parse HEAD^{tree})" ] ||
		make_series >/dev/null
	fresh_tree
	mapfile -t patches < <(ls "$OUT"/0*.patch | grep -v '/0000-cover-letter\.patch$')
	tree_git am -q "${patches[@]}" >"$BUILD/series-am.log" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		echo "series:git-am-applies fail git am stopped; see $BUILD_REL/series-am.log"
		tree_git am --abort >/dev/null 2>&1 || true
		remove_tree
		return 0
	fi
	echo "series:git-am-applies pass"
	if [ "$(tree_git rev-parse HEAD^{tree})" = "$(git -C "$LINUX" rev-parse HEAD^{tree})" ]; then
		echo "series:result-is-build-linux pass"
	else
		echo "series:result-is-build-linux fail the applied series differs from $BUILD_REL/linux: run 'make series' again"
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
make) make_series; checkpatch_series; build_each ;;
check) check_series ;;
*) die "usage: series.sh make|check (run it through 'make series')." ;;
esac
