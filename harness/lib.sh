# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the harness scripts; source it, do not run it.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}

# die MESSAGE: stop with one sentence that names the problem and the fix.
die() {
	echo "error: $*" >&2
	exit 1
}

# step MESSAGE: tell the user what is happening now.
step() {
	echo "==> $*"
}

# need_cmd COMMAND PACKAGE: stop, naming the package to install, when
# COMMAND is missing (a minimal Debian lacks rsync, cpio, ...).
need_cmd() {
	command -v "$1" >/dev/null ||
		die "$1 is missing: run 'apt-get install $2' as root, or 'make deps', which installs everything the build needs."
}

# install_uapi_headers TREE OBJ DEST: headers_install of TREE (x86_64,
# objects in OBJ) into DEST; incremental, so a second caller with the same
# OBJ and DEST does almost nothing. Its output goes to OBJ/headers.log.
install_uapi_headers() {
	local tree=$1 obj=$2 dest=$3
	need_cmd rsync rsync	# headers_install copies with it
	mkdir -p "$obj"
	make -s -C "$tree" O="$obj" ARCH=x86_64 INSTALL_HDR_PATH="$dest" \
		headers_install >"$obj/headers.log" 2>&1 ||
		{ tail -20 "$obj/headers.log" >&2
		  die "headers_install failed in $tree (its output above, all of it in $obj/headers.log); fix what it names, then run 'make' again."; }
}

# need_kver: KVER must come from the Makefile.
need_kver() {
	[ -n "${KVER:-}" ] || die "KVER is not set; run this through 'make'."
}

# The Debian package version (e.g. 6.1.192-2) of an installed package.
installed_version() {
	dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null |
		awk '$3 == "installed" { print $4 }'
}

# resolve_kver: set KVER (from the environment, else what linux-image-amd64
# depends on) and check that it names a Debian 6.1 amd64 kernel.
resolve_kver() {
	if [ -z "${KVER:-}" ]; then
		KVER=$(apt-cache depends linux-image-amd64 2>/dev/null |
			awk '/Depends: linux-image-[0-9]/ {
				sub("linux-image-", "", $2); print $2; exit }')
		[ -n "$KVER" ] ||
			die "cannot tell which kernel linux-image-amd64 depends on; run 'apt-get update' as root (or 'make deps')."
	fi
	[[ $KVER =~ ^6\.1\.0-[0-9]+-amd64$ ]] ||
		die "KVER=$KVER is not a Debian 12 6.1 amd64 kernel (like 6.1.0-56-amd64); pass such a KVER or leave KVER unset."
	export KVER
}

# The Debian version (e.g. 6.1.192-2) the whole build uses: the one of
# linux-headers-$KVER. The source tarball and the VM kernel are fetched at
# exactly that version, so a newer linux-source-6.1 on the host is harmless.
check_versions() {
	local hdr
	hdr=$(installed_version "linux-headers-$KVER")
	[ -n "$hdr" ] || die "linux-headers-$KVER is not installed; run 'make deps' as root."
	DEB_VERSION=$hdr
	export DEB_VERSION
}
