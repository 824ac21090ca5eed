#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Every KVMIO ioctl of build/linux's patched uapi header, compiled, with
# its full number (build/lint/ioctl/numbers.txt). Prints one line per
# problem, nothing when all is well: an ioctl we add (one the pristine
# base does not define) whose number equals another ioctl's, whose nr
# another KVMIO ioctl of any architecture uses, or whose nr a pending
# upstream series is known to claim; and each ioctl our uapi patches
# define that the header does not have as one of ours (never checked).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base

LINUX=${LINUX_TREE:-$BUILD/linux}
OUT=$BUILD/lint/ioctl
UAPI=include/uapi/linux/kvm.h
[ -f "$LINUX/$UAPI" ] || die "$LINUX/$UAPI is missing; run 'make base' first."
# build/linux's headers are the ones selftests.sh installs: share them.
if [ -z "${LINUX_TREE:-}" ]; then
	HDR=$BUILD/usr HDR_OBJ=$BUILD/linux-obj
else
	HDR=$OUT/usr HDR_OBJ=$OUT/obj
fi

# nrs that series posted upstream but not merged claim: never take them.
#   0xe4        a 2026 powerpc series
# (0xd6..0xd8 of the 2024 dedicated coalesced buffers proposal, never
# merged, are the nrs of its successor, our dedicated rings.)
RESERVED_NRS="0xe4"

mkdir -p "$OUT"
install_uapi_headers "$LINUX" "$HDR_OBJ" "$HDR"

# kvmio_defines: "NAME nr" for every KVMIO ioctl in the uapi headers read
# from stdin, continuation lines joined.
kvmio_defines() {
	awk '{ while (/\\$/ && (getline more) > 0) { sub(/\\$/, ""); $0 = $0 more } print }' |
		sed -nE 's/^#define[[:space:]]+([A-Z0-9_]+)[[:space:]]+_IO[RW]*\(KVMIO,[[:space:]]*(0x[0-9a-fA-F]+).*/\1 \2/p'
}

# Names the pristine base defines; every other KVMIO ioctl is ours.
git -C "$LINUX" show "pristine:$UAPI" | kvmio_defines | awk '{ print $1 }' | sort -u >"$OUT/base-names"

# The KVMIO ioctls our patches (as this base applies them) add to the
# uapi header: every one must be found below, or nothing was checked.
series_patches | while read -r patch _; do
	file=$TOP/patches/$patch
	awk -v uapi="b/$UAPI" '
		/^\+\+\+ / { in_uapi = ($2 == uapi); next }
		/^diff --git / { in_uapi = 0 }
		in_uapi && /^\+/ { print substr($0, 2) }' "$file"
done | kvmio_defines | awk '{ print $1 }' | sort -u >"$OUT/patch-names"
[ -s "$OUT/patch-names" ] ||
	die "no KVMIO ioctl found in the uapi parts of patches/; the check would check nothing: fix the extraction in ${BASH_SOURCE[0]#"$TOP"/}."

# Compile every KVMIO macro of the installed header; print its number.
{
	echo '#include <stdio.h>'
	echo '#include <linux/kvm.h>'
	echo 'int main(void) {'
	gcc -E -dM -I"$HDR/include" -include linux/kvm.h -x c /dev/null |
		sed -nE 's/^#define ([A-Z0-9_]+) _IO[RW]*\(KVMIO,.*/\1/p' | sort -u |
		while read -r name; do
			echo "printf(\"%s 0x%08x 0x%02x\\n\", \"$name\", (unsigned int)$name, (unsigned int)_IOC_NR($name));"
		done
	echo 'return 0; }'
} >"$OUT/numbers.c"
# Other architectures' ioctls name structs x86 does not define: drop the
# lines that do not compile here (the source scan below has their nrs).
bad=$(gcc -fsyntax-only -I"$HDR/include" "$OUT/numbers.c" 2>&1 |
	sed -nE 's/^[^ ]*numbers\.c:([0-9]+):[0-9]+: .*/\1d;/p' | sort -u | tr -d '\n' || true)
[ -z "$bad" ] || sed -i "$bad" "$OUT/numbers.c"
gcc -o "$OUT/numbers" -I"$HDR/include" "$OUT/numbers.c" ||
	die "the ioctl numbers program did not compile ($BUILD_REL/lint/ioctl/numbers.c); the patched uapi header is broken."
"$OUT/numbers" >"$OUT/numbers.txt"

# Other architectures' KVMIO ioctls: their nrs, from the source.
cat "$LINUX"/arch/*/include/uapi/asm/kvm.h "$LINUX/$UAPI" | kvmio_defines |
	while read -r name nr; do printf '%s 0x%02x\n' "$name" "$((nr))"; done >"$OUT/all-arch-nrs"

awk -v reserved="$RESERVED_NRS" '
	BEGIN { n = 0; m = 0 }
	FILENAME == ARGV[1] { base[$1] = 1; next }
	FILENAME == ARGV[2] { archname[++m] = $1; archnr[m] = $2; next }
	{ name[n] = $1; num[n] = $2; nr[n] = $3; compiled[$1] = 1; n++ }
	END {
		split(reserved, r, " ")
		for (k in r)
			res[r[k]] = 1
		for (i = 0; i < n; i++) {
			if (name[i] in base)
				continue
			printf "%-36s %s nr %s (ours)\n", name[i], num[i], nr[i] > "/dev/stderr"
			if (nr[i] in res)
				printf "%s (%s): nr %s is claimed by a pending upstream series\n", name[i], num[i], nr[i]
			for (j = 0; j < n; j++) {
				if (j == i)
					continue
				if (num[j] == num[i])
					printf "%s (%s): the same number as %s\n", name[i], num[i], name[j]
				else if (nr[j] == nr[i])
					printf "%s (%s): shares nr %s with %s (%s)\n", name[i], num[i], nr[i], name[j], num[j]
			}
			for (k = 1; k <= m; k++)
				if (archnr[k] == nr[i] && !(archname[k] in compiled) && !(archname[k] in told)) {
					printf "%s (%s): shares nr %s with %s (another architecture)\n", name[i], num[i], nr[i], archname[k]
					told[archname[k]] = 1
				}
		}
	}' "$OUT/base-names" "$OUT/all-arch-nrs" "$OUT/numbers.txt" 2>"$OUT/ours.txt" >"$OUT/problems.txt"
# Fewer of ours than the patches define: those were never checked.
awk '{ print $1 }' "$OUT/ours.txt" | sort -u | comm -23 "$OUT/patch-names" - |
	sed "s|\$| is defined by patches/ but not one of ours in $LINUX/$UAPI|" >>"$OUT/problems.txt"
cat "$OUT/problems.txt"
[ ! -s "$OUT/problems.txt" ]
