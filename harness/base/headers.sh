#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Unpack Debian's linux-headers-$KVER (with its -common and linux-kbuild
# packages) into build/<base>/pkgs, never installing them: modules.sh builds
# against that tree. A base whose kernel we build has no headers packages.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver
check_versions

[ "$BASE_KERNEL" = built ] && exit 0
DEST=$BUILD/pkgs
HDRS=$(headers_dir)
if [ -f "$DEST/.version" ] && [ "$(cat "$DEST/.version")" = "$KVER $DEB_VERSION" ]; then
	exit 0
fi
step "fetching linux-headers-$KVER $DEB_VERSION into $BUILD_REL/pkgs (not installed)"
# The headers package and what it depends on of the same source: -common
# and linux-kbuild-* (not gcc, not the image).
pkgs=$(apt_base apt-cache depends "linux-headers-$KVER=$DEB_VERSION" 2>/dev/null |
	awk '/Depends: linux-(headers|kbuild)-/ { print $2 }' | sort -u)
rm -rf "$DEST"
# shellcheck disable=SC2046
fetch_debs "$DEST" "linux-headers-$KVER=$DEB_VERSION" \
	$(for p in $pkgs; do echo "$p=$DEB_VERSION"; done)
# Its Makefile includes the -common tree by absolute path: point it here.
sed -i "s|/usr/src/|$DEST/usr/src/|" "$HDRS/Makefile"
[ -x "$HDRS/scripts/basic/fixdep" ] ||
	die "$HDRS/scripts/basic/fixdep is missing: the headers of $KVER need linux-kbuild, which apt did not name; report it."
echo "$KVER $DEB_VERSION" >"$DEST/.version"
echo "headers: $BUILD_REL/pkgs/usr/src/linux-headers-$KVER"
