#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Make build/<base>/linux: a git repo whose first commit is Debian's
# pristine linux-source of the base, then one commit for our overlay and
# one per patch.
# Files whose content does not change keep their mtime, so rebuilds stay
# incremental.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver
check_versions

LINUX=$BUILD/linux
step "$BUILD_REL/linux: pristine base + overlay + patches/"
OVERLAY_DIRS="virt include arch tools Documentation"
export GIT_AUTHOR_NAME="coalesced-io overlay" GIT_AUTHOR_EMAIL="overlay@localhost"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"

git_linux() {
	git -C "$LINUX" "$@"
}

unpack_pristine() {
	local tarball tmp=$BUILD/linux.unpack
	tarball=$(source_tarball)
	step "unpacking Debian linux-source-$BASE_SERIES $DEB_VERSION into $BUILD_REL/linux (one-time, about 1 min)"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	# The tree and its git objects: about 2.5 GiB.
	need_disk 3 "unpacking linux-source-$BASE_SERIES into $BUILD_REL/linux"
	tar -C "$tmp" --strip-components=1 -xf "$tarball" ||
		die "cannot unpack $tarball into $BUILD_REL (tar's message above); fix what tar names, then run 'make' again."
	git -C "$tmp" init -q
	git -C "$tmp" config core.autocrlf false
	git -C "$tmp" config gc.auto 0
	git -C "$tmp" add -A -f .
	git -C "$tmp" commit -q -m "Debian linux-source-$BASE_SERIES $DEB_VERSION (pristine base)"
	git -C "$tmp" tag pristine
	echo "$DEB_VERSION" >"$tmp/.git/debian-version"
	rm -rf "$LINUX"
	mv "$tmp" "$LINUX"
}

# An older base starts from mainline's file where the series changes it:
# fetch those files beside the unpacking of the base (a minute each on a
# fresh machine).
MAINLINE=$BUILD/mainline
mainline_pid=
if [ -n "$BASE_TAKES_FROM_MAINLINE" ]; then
	# shellcheck disable=SC2086
	env -u KVER BASE="$MAINLINE_BASE" "$TOP/harness/base/mainline-files.sh" "$MAINLINE" \
		$BASE_TAKES_FROM_MAINLINE include/uapi/linux/kvm.h &
	mainline_pid=$!
fi

if [ ! -f "$LINUX/.git/debian-version" ] ||
   [ "$(cat "$LINUX/.git/debian-version")" != "$DEB_VERSION" ]; then
	unpack_pristine
fi

# Build the commits in a private index, never touching the work tree.
export GIT_INDEX_FILE=$BUILD/linux-overlay.index
rm -f "$GIT_INDEX_FILE"
git_linux read-tree pristine
head=pristine

# commit: one commit of the index on $head, its message on stdin (not
# from a pipe: a function at the end of one runs in a subshell).
commit() {
	head=$(git_linux commit-tree "$(git_linux write-tree)" -p "$head" -F -)
}

# add_overlay PATH...: our files under PATHs, each at its place in this
# base (overlay_path), into the index; "git add <dir>" would also stage
# the deletion of every base file we do not carry.
add_overlay() {
	local f mode
	(cd "$TOP" && env -u GIT_INDEX_FILE git ls-files -co --exclude-standard -- "$@") |
		while read -r f; do
			mode=100644
			[ -x "$TOP/$f" ] && mode=100755
			printf '%s %s\t%s\n' "$mode" \
				"$(git_linux hash-object -w -- "$TOP/$f")" "$(overlay_path "$f")"
		done | git_linux update-index --add --index-info
}

if [ -n "$mainline_pid" ]; then
	wait "$mainline_pid" ||
		die "mainline's files for BASE=$BASE could not be fetched (the message above); fix what it names, then run 'make' again."
	for f in $BASE_TAKES_FROM_MAINLINE; do
		printf '100644 %s\t%s\n' "$(git_linux hash-object -w -- "$MAINLINE/$f")" "$f"
	done | git_linux update-index --add --index-info
	commit <<<"$BASE_TAKES_FROM_MAINLINE from mainline $(cut -d' ' -f1 "$MAINLINE/.version"), where the series applies"
fi

# One commit per patch of patches/series, with the new files it adds.
while read -r patch new; do
	[ -f "$TOP/patches/$patch" ] || die "patches/series lists $patch but patches/$patch does not exist; fix patches/series."
	file=$TOP/patches/$patch
	if [ -z "$BASE_TAKES_FROM_MAINLINE" ]; then
		out=$(git_linux apply --cached --allow-empty --whitespace=nowarn "$file" 2>&1) || {
			echo "$out" >&2
			die "${file#"$TOP"/} does not apply to mainline BASE=$BASE (git's message above); refresh it against $BUILD_REL/linux."; }
	else
		# The kernel's Documentation is not built for an older base.
		# shellcheck disable=SC2086
		SELFTEST_ARCH=$BASE_SELFTEST_ARCH python3 "$TOP/harness/base/apply-hunks.py" \
			"$MAINLINE" "$LINUX" "$file" 'Documentation/*' $BASE_SKIP_FILES ||
			die "${file#"$TOP"/} does not apply to BASE=$BASE (the hunk is named above); replace it for this base in bases/$BASE.conf."
	fi
	# shellcheck disable=SC2086
	[ -z "$new" ] || add_overlay $new
	# The patch's own subject and body become the commit message.
	subject=$(git mailinfo "$BUILD/patch.msg" /dev/null <"$file" |
		sed -n 's/^Subject: //p')
	commit < <(echo "${subject:-$patch}"; echo; cat "$BUILD/patch.msg")
done < <(series_patches)

series_head=$head

# What the base's own patch does after the series (bases/<base>.conf).
if [ -n "${BASE_AFTER_SERIES:-}" ]; then
	out=$(git_linux apply --cached --whitespace=nowarn "$TOP/bases/$BASE_AFTER_SERIES" 2>&1) || {
		echo "$out" >&2
		die "bases/$BASE_AFTER_SERIES does not apply after the series on BASE=$BASE (git's message above); refresh it against $BUILD_REL/linux."; }
	commit < <(sed '/^diff --git /,$d' "$TOP/bases/$BASE_AFTER_SERIES")
fi

# Our files that are not part of the series (the project's own tools and
# notes), last.  The series' new files stay as its patches left them: a
# later patch may change one (a selftest that the next series extends).
dirs=
for d in $OVERLAY_DIRS; do
	[ -d "$TOP/$d" ] && dirs="$dirs $d"
done
mapfile -t not_series < <(series_patches | awk '{ for (i = 2; i <= NF; i++) print ":(exclude)" $i }')
# shellcheck disable=SC2086
add_overlay $dirs "${not_series[@]}"
commit <<<"coalesced I/O project files (not part of the series)"
unset GIT_INDEX_FILE
rm -f "$BUILD/linux-overlay.index" "$BUILD/patch.msg"

if [ "$(git_linux rev-parse -q --verify HEAD^{tree} || true)" != \
     "$(git_linux rev-parse "$head^{tree}")" ] ||
   ! git_linux diff --quiet HEAD; then
	git_linux reset -q --hard "$head"
fi
git_linux update-ref refs/heads/overlay "$head"
# The series alone, for make series and make series-export.
git_linux update-ref refs/heads/series "$series_head"
echo "$BUILD_REL/linux: $(git_linux rev-list --count pristine..HEAD) commits on the pristine base"
