#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make series-export: write the series as build/<mainline>/linux has it
# back to patches/ and to the new files at their kernel path. Edit the
# series there with git (commit --amend, rebase -i on branch "series"),
# one commit per line of patches/series, then run this: each stored patch
# becomes its commit's format-patch, without author or date; nothing else
# in patches/ changes.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base

LINUX=$BUILD/linux
[ "$BASE" = "$MAINLINE_BASE" ] ||
	die "the series is written against BASE=$MAINLINE_BASE; run 'make series-export' without BASE."
git -C "$LINUX" rev-parse -q --verify series >/dev/null ||
	die "$BUILD_REL/linux has no branch 'series'; run 'make base' first."

mapfile -t entries < <(series_patches)
mapfile -t commits < <(git -C "$LINUX" rev-list --reverse pristine..series)
[ "${#commits[@]}" = "${#entries[@]}" ] ||
	die "$BUILD_REL/linux's branch series has ${#commits[@]} commits, patches/series ${#entries[@]} patches; add or drop lines in patches/series to match."

changed=0
# write_back FILE: FILE.new over FILE, named, unless they are equal.
write_back() {
	if cmp -s "$1.new" "$1"; then
		rm "$1.new"
	else
		mv "$1.new" "$1"
		echo "${1#"$TOP"/}"
		changed=$((changed + 1))
	fi
}

for i in "${!entries[@]}"; do
	read -r patch new <<<"${entries[$i]}"
	c=${commits[$i]}
	# The files this commit adds under the entry's paths are ours, at
	# their kernel path; the patch holds the rest of the commit.
	added=()
	if [ -n "$new" ]; then
		# shellcheck disable=SC2086
		mapfile -t added < <(git -C "$LINUX" diff --name-only --diff-filter=A "$c^" "$c" -- $new)
	fi
	excludes=()
	for f in "${added[@]}"; do
		excludes+=(":!$f")
	done
	if git -C "$LINUX" diff --quiet "$c^" "$c" -- . "${excludes[@]}"; then
		# Nothing but new files: the message alone (format-patch would
		# pick an older commit that the paths do match).
		git -C "$LINUX" log -1 --format='Subject: [PATCH] %s%n%n%b%n---' "$c" |
			cat -s >"$TOP/patches/$patch.new"
	else
		git -C "$LINUX" format-patch -1 --stdout --no-signature --no-numbered "$c" \
			-- . "${excludes[@]}" | sed '1,3{/^From /d;/^From: /d;/^Date: /d}' \
			>"$TOP/patches/$patch.new"
	fi
	write_back "$TOP/patches/$patch"
	for f in "${added[@]}"; do
		ours=$f
		[ -e "$TOP/$f" ] || ours=${f/\/$BASE_SELFTEST_ARCH\//\/x86\/}
		git -C "$LINUX" show "$c:$f" >"$TOP/$ours.new"
		write_back "$TOP/$ours"
	done
done
echo "series-export: $changed files of patches/ and our new files changed"
