#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernel the test VM boots, and its stock KVM modules (mainline's
# implementation, our "MODULES=stock"): Debian's linux-image-$KVER unpacked
# under build/<base>/vmkernel (never installed on the host), or, for a base
# whose kernel is built here, harness/base/kernel-build.sh's.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver
check_versions

DEST=$BUILD/vmkernel
if [ "$BASE_KERNEL" = built ]; then
	exec "$TOP/harness/base/kernel-build.sh" vm
fi
if [ -f "$DEST/.version" ] && [ "$(cat "$DEST/.version")" = "$KVER $DEB_VERSION" ]; then
	exit 0
fi
step "downloading linux-image-$KVER $DEB_VERSION (for the VM only, not installed)"
rm -rf "$DEST"
fetch_debs "$DEST" "linux-image-$KVER=$DEB_VERSION"
# Debian 13's packages keep modules in /usr/lib/modules (merged /usr):
# lib/modules is where everything here looks, as on a merged-/usr host.
if [ ! -e "$DEST/lib" ] && [ -d "$DEST/usr/lib/modules" ]; then
	ln -s usr/lib "$DEST/lib"
fi
[ -f "$DEST/boot/vmlinuz-$KVER" ] || die "linux-image-$KVER has no boot/vmlinuz-$KVER; the package layout changed, report it."
echo "$KVER $DEB_VERSION" >"$DEST/.version"
