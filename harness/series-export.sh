#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make series-export: write the series as build/<mainline>/linux has it
# back to patches/ and to the new files at their kernel path. Edit the
# series there with git (commit --amend, rebase -i on branch "series"),
# one commit per line of patches/series, then run this: each stored patch
# becomes its commit's format-patch, without author or date; nothing else
# in patches/ changes.
source "$(dirname "$0")/lib.sh"

LINUX=$BUILD/linux
[ "$BASE" = "$MAINLINE_BASE" ] ||
	die "the series is written against BASE=$MAINLINE_BASE; run 'make series-export' without BASE."
git -C "$LINUX" rev-parse -q --verify series >/dev/null ||
	die "$BUILD_REL/linux has no branch 'series'; run 'make base' first."

mapfile -t entries < <(awk '!/^#/ && $1 != "topic" && NF' "$TOP/patches/series")
mapfile -t commits < <(git -C "$LINUX" rev-list --reverse pristine..series)
[ "${#commits[@]}" = "${#entries[@]}" ] ||
	die "$BUILD_REL/linux's branch series has ${#commits[@]} commits, patches/series ${#entries[@]} patches; add or drop lines in patches/series to match."

changed=0
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
	git -C "$LINUX" format-patch -1 --stdout --no-signature --no-numbered "$c" \
		-- . "${excludes[@]}" | sed '1,3{/^From /d;/^From: /d;/^Date: /d}' \
		>"$TOP/patches/$patch.new"
	if cmp -s "$TOP/patches/$patch.new" "$TOP/patches/$patch"; then
		rm "$TOP/patches/$patch.new"
	else
		mv "$TOP/patches/$patch.new" "$TOP/patches/$patch"
		echo "patches/$patch"
		changed=$((changed + 1))
	fi
	for f in "${added[@]}"; do
		ours=$f
		[ -e "$TOP/$f" ] || ours=${f/\/$BASE_SELFTEST_ARCH\//\/x86\/}
		git -C "$LINUX" show "$c:$f" >"$TOP/$ours.new"
		if cmp -s "$TOP/$ours.new" "$TOP/$ours"; then
			rm "$TOP/$ours.new"
		else
			mv "$TOP/$ours.new" "$TOP/$ours"
			echo "$ours"
			changed=$((changed + 1))
		fi
	done
done
echo "series-export: $changed files of patches/ and our new files changed"
