#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# BASE=7.2 mainline-files.sh DEST FILE...: mainline's own FILEs, as Debian's
# pristine linux-source of BASE=7.2 has them, under DEST, for an older base
# to start from where the series applies.  Taken from build/7.2/linux when
# that tree is at the same version, else from the source package (fetched
# once into build/7.2/dl).  Nothing of it is stored in this repository.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver
check_versions

dest=$1
shift
want="$DEB_VERSION $*"
[ "$(cat "$dest/.version" 2>/dev/null)" = "$want" ] && exit 0
rm -rf "$dest"
mkdir -p "$dest"
if [ "$(cat "$BUILD/linux/.git/debian-version" 2>/dev/null)" = "$DEB_VERSION" ]; then
	for f in "$@"; do
		mkdir -p "$dest/$(dirname "$f")"
		git -C "$BUILD/linux" show "pristine:$f" >"$dest/$f"
	done
else
	tarball=$(source_tarball)
	step "extracting $# files of mainline $DEB_VERSION from $(basename "$tarball") (about 1 min)"
	tar -C "$dest" -xJf "$tarball" --strip-components=1 --wildcards --no-wildcards-match-slash \
		"${@/#/*/}" ||
		die "cannot extract $* from $tarball (tar's message above); remove $BUILD_REL/dl and run 'make' again."
fi
echo "$want" >"$dest/.version"
