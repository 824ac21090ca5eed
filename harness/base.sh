#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Make build/linux: a git repo whose first commit is Debian's pristine
# linux-source-6.1, then one commit for our overlay and one per patch.
# Files whose content does not change keep their mtime, so rebuilds stay
# incremental.
source "$(dirname "$0")/lib.sh"
resolve_kver
check_versions

LINUX=$BUILD/linux
OVERLAY_DIRS="virt include arch tools Documentation"
export GIT_AUTHOR_NAME="coalesced-io overlay" GIT_AUTHOR_EMAIL="overlay@localhost"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"

git_linux() {
	git -C "$LINUX" "$@"
}

# source_tarball: print the path of linux-source-6.1's tarball at
# $DEB_VERSION: the host's if it is that version, else one fetched with
# apt-get download into build/dl (no root needed, nothing installed).
source_tarball() {
	local deb dir=$BUILD/dl/linux-source-$DEB_VERSION
	if [ "$(installed_version linux-source-6.1)" = "$DEB_VERSION" ]; then
		echo /usr/src/linux-source-6.1.tar.xz
		return
	fi
	if [ ! -f "$dir/usr/src/linux-source-6.1.tar.xz" ]; then
		step "downloading linux-source-6.1 $DEB_VERSION to match linux-headers-$KVER" >&2
		mkdir -p "$BUILD/dl"
		rm -f "$BUILD"/dl/linux-source-6.1_*.deb
		(cd "$BUILD/dl" && apt-get download -q "linux-source-6.1=$DEB_VERSION" >/dev/null 2>&1) ||
			die "apt-get download linux-source-6.1=$DEB_VERSION failed; Debian no longer ships the source of linux-headers-$KVER, so run 'apt-get update && make deps' and leave KVER unset."
		deb=$(ls "$BUILD"/dl/linux-source-6.1_*.deb)
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg-deb -x "$deb" "$dir"
		rm -f "$deb"
	fi
	echo "$dir/usr/src/linux-source-6.1.tar.xz"
}

unpack_pristine() {
	local tarball tmp=$BUILD/linux.unpack
	tarball=$(source_tarball)
	step "unpacking Debian linux-source-6.1 $DEB_VERSION into build/linux (one-time, about 1 min)"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	tar -C "$tmp" --strip-components=1 -xf "$tarball" ||
		die "cannot unpack $tarball; check free space in $BUILD."
	git -C "$tmp" init -q
	git -C "$tmp" config core.autocrlf false
	git -C "$tmp" config gc.auto 0
	git -C "$tmp" add -A -f .
	git -C "$tmp" commit -q -m "Debian linux-source-6.1 $DEB_VERSION (pristine base)"
	git -C "$tmp" tag pristine
	echo "$DEB_VERSION" >"$tmp/.git/debian-version"
	rm -rf "$LINUX"
	mv "$tmp" "$LINUX"
}

if [ ! -f "$LINUX/.git/debian-version" ] ||
   [ "$(cat "$LINUX/.git/debian-version")" != "$DEB_VERSION" ]; then
	unpack_pristine
fi

# Build the commits in a private index, never touching the work tree.
export GIT_INDEX_FILE=$BUILD/linux-overlay.index
rm -f "$GIT_INDEX_FILE"
git_linux read-tree pristine
dirs=
for d in $OVERLAY_DIRS; do
	[ -d "$TOP/$d" ] && dirs="$dirs $d"
done
# Our files only (tracked or new, not ignored): "git add <dir>" would also
# stage the deletion of every base file we do not carry.
# shellcheck disable=SC2086
(cd "$TOP" && env -u GIT_INDEX_FILE git ls-files -z -co --exclude-standard -- $dirs |
	xargs -0 -r git --git-dir="$LINUX/.git" --work-tree="$TOP" add -f --)
head=$(git_linux commit-tree "$(git_linux write-tree)" -p pristine \
	-m "coalesced I/O overlay: files we own (virt/kvm, selftests, docs)")

while read -r patch; do
	case "$patch" in ''|'#'*) continue ;; esac
	file=$TOP/patches/$patch
	[ -f "$file" ] || die "patches/series lists $patch but patches/$patch does not exist; fix patches/series."
	if ! out=$(git_linux apply --cached --whitespace=nowarn "$file" 2>&1); then
		echo "$out" >&2
		die "patch patches/$patch does not apply to the base (see the file named above); refresh it against build/linux."
	fi
	# The patch's own subject and body become the commit message.
	subject=$(git mailinfo "$BUILD/patch.msg" /dev/null <"$file" |
		sed -n 's/^Subject: //p')
	head=$( (echo "${subject:-$patch}"; echo; cat "$BUILD/patch.msg") |
		git_linux commit-tree "$(git_linux write-tree)" -p "$head")
done <"$TOP/patches/series"
unset GIT_INDEX_FILE
rm -f "$BUILD/linux-overlay.index" "$BUILD/patch.msg"

if [ "$(git_linux rev-parse -q --verify HEAD^{tree} || true)" != \
     "$(git_linux rev-parse "$head^{tree}")" ] ||
   ! git_linux diff --quiet HEAD; then
	git_linux reset -q --hard "$head"
fi
git_linux update-ref refs/heads/overlay "$head"
echo "build/linux: $(git_linux rev-list --count pristine..HEAD) commits on the pristine base"
