#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# docs-check.sh TREE: README.md and docs/*.md against the code, for
# make lint (lint:docs). TREE is a kernel tree with the whole series
# applied (build/<base>/linux). Prints one line per problem, nothing when
# all is well:
#  - every "make <target>" in backquotes or in a code block names a
#    target of the top-level Makefile;
#  - every path in backquotes that starts with one of the repository's
#    top-level directories exists, here or (a kernel file we do not keep,
#    e.g. virt/kvm/coalesced_mmio.c) in TREE; paths with <placeholders>
#    or $variables are skipped, globs must match; so must every relative
#    link;
#  - every count of cases, written as "`<selftest>` (N cases", is the
#    number of TEST_F and TEST_F_TIMEOUT in that selftest in TREE.
set -euo pipefail
shopt -s inherit_errexit
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TREE=${1:?usage: docs-check.sh TREE (a kernel tree with the series, build/<base>/linux)}
cd "$TOP"
docs=(README.md docs/*.md)
targets=" $(sed -nE 's/^([a-z][a-z0-9-]*):([^=].*)?$/\1/p' Makefile | tr '\n' ' ') "
topdirs=" $(git ls-files | sed -n 's|/.*||p' | sort -u | tr '\n' ' ') "

# make<TAB>FILE:LINE<TAB>target for each "make <target>" in a code block
# or in backquotes, path<TAB>FILE:LINE<TAB>word for each word with a slash
# in backquotes (a span may go on to the next line), link<TAB>FILE:LINE<TAB>
# path for each relative link of prose.
refs() {
	awk '
	function scan(where, text, span,    t, f, n, k) {
		t = " " text
		while (match(t, /[^A-Za-z0-9_.\/-]make( +[A-Z_]+=[^ ]*)* +[a-z][a-z0-9-]*/)) {
			n = split(substr(t, RSTART, RLENGTH), f, / +/)
			print "make\t" where "\t" f[n]
			t = substr(t, RSTART + RLENGTH)
		}
		if (!span)
			return
		n = split(text, f, /[ \t]+/)
		for (k = 1; k <= n; k++)
			if (f[k] ~ /\//)
				print "path\t" where "\t" f[k]
	}
	FNR == 1 { fence = 0; carry = ""; dir = FILENAME; sub(/[^\/]*$/, "", dir) }
	/^```/ { fence = !fence; next }
	fence || /^    / { scan(FILENAME ":" FNR, $0, 0); next }
	/^[ \t]*$/ { carry = ""; next }
	{
		t = $0
		while (match(t, /\]\([^)#]+[)#]/)) {
			l = substr(t, RSTART + 2, RLENGTH - 3)
			if (l !~ /^[a-z]+:/)
				print "link\t" FILENAME ":" FNR "\t" dir l
			t = substr(t, RSTART + RLENGTH)
		}
		if (carry == "") start = FNR
		line = carry == "" ? $0 : carry " " $0
		carry = ""
		while ((i = index(line, "`")) > 0) {
			rest = substr(line, i + 1)
			if ((j = index(rest, "`")) == 0) { carry = substr(line, i); break }
			scan(FILENAME ":" start, substr(rest, 1, j - 1), 1)
			line = substr(rest, j + 1)
			start = FNR
		}
	}' "${docs[@]}"
}

check() {
	while IFS=$'\t' read -r kind where w; do
		if [ "$kind" = make ]; then
			[[ $targets == *" $w "* ]] ||
				echo "$where: 'make $w' names no target of the Makefile; use one the Makefile defines, or add the target."
			continue
		fi
		if [ "$kind" = link ]; then
			[ -e "$w" ] || echo "$where: the link to $w leads nowhere; correct the link or drop it."
			continue
		fi
		w=${w%[,;:.)]}
		top=${w%%/*}
		[[ -n $top && $topdirs == *" $top "* ]] || continue
		[[ $w == *'<'* || $w == *'$'* ]] && continue
		if [[ $w == *[*?]* ]]; then
			compgen -G "$w" >/dev/null ||
				echo "$where: \`$w\` matches no file; correct the path or drop it."
		elif [ ! -e "$w" ] && [ ! -e "$TREE/$w" ]; then
			echo "$where: \`$w\` does not exist in the repository or in $TREE; correct the path or drop it."
		fi
	done < <(refs)

	# "`name` (N cases": one paragraph a line, so that a count may follow
	# the name across a line break.
	# shellcheck disable=SC2016 # the backquotes are Markdown's
	for f in "${docs[@]}"; do
		awk 'BEGIN { RS = "" } { gsub(/\n/, " "); print }' "$f" |
			{ grep -oE '`[a-z0-9_]+` \([0-9]+ cases' || true; } | tr -d '`(' |
			while read -r name n _; do
				src=
				for d in x86 x86_64 .; do
					p=$TREE/tools/testing/selftests/kvm/$d/$name.c
					[ -f "$p" ] && src=$p && break
				done
				if [ -z "$src" ]; then
					echo "$f: \`$name\` ($n cases) names no selftest under $TREE/tools/testing/selftests/kvm; name an existing selftest."
					continue
				fi
				have=$(grep -cE '^[[:space:]]*TEST_F(_TIMEOUT)?\(' "$src" || true)
				[ "$have" = "$n" ] ||
					echo "$f: \`$name\` ($n cases), but ${src#"$TREE"/} has $have TEST_F/TEST_F_TIMEOUT cases; write $have."
			done
	done
}

problems=$(check)
[ -z "$problems" ] || { echo "$problems"; exit 1; }
