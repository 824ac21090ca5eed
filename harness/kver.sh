#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Print the kernel ABI name (KVER) that Debian's linux-image-amd64 depends on.
source "$(dirname "$0")/lib.sh"

kver=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '/Depends: linux-image-[0-9]/ { sub("linux-image-", "", $2); print $2; exit }')
if [ -z "$kver" ]; then
	echo "unknown-run-apt-get-update"
	exit 0
fi
echo "$kver"
