#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make qemu: our qemu-system-x86_64, built from Debian's own QEMU source
# package at the version of the host's qemu-system-x86 (Debian 12's), with
# qemu/patches/ applied in the order of qemu/patches/series, into
# build/qemu/bin. x86_64 system emulation with KVM and little else. The
# source comes through private deb-src lists in build/qemu/apt (the host's
# apt configuration is never touched). Rebuilt only when the Debian
# version, our patches or the configure line change; ccache keeps objects.
# Debian's binary (/usr/bin/qemu-system-x86_64) stays as it is.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base

Q=$TOP/build/qemu
PATCHES=$TOP/qemu/patches
SRC=$Q/src
OBJ=$Q/obj
BIN=$Q/bin/qemu-system-x86_64
# The devices the tests use (q35, pc, e1000, VGA, RTC, user networking)
# are all in the default x86_64 device set; everything else is off.
CONFIGURE="--target-list=x86_64-softmmu --without-default-features
--enable-kvm --enable-slirp --enable-fdt=system --disable-werror --disable-docs
--disable-install-blobs"

need_cmd dpkg-source dpkg-dev
need_cmd meson meson
need_cmd ninja ninja-build
need_cmd pkg-config pkg-config
for pc in glib-2.0 pixman-1 slirp libfdt; do
	# libfdt has no pkg-config file in Debian 12: its header, then.
	if [ "$pc" = libfdt ]; then [ -f /usr/include/libfdt.h ]; else pkg-config --exists "$pc"; fi ||
		die "the development files of $pc are missing; run 'make deps' as root (it installs libglib2.0-dev, libpixman-1-dev, libslirp-dev and libfdt-dev)."
done

# The source version of the installed binary (1:7.2+dfsg-7+deb12u18+b3 is a
# rebuild of source 1:7.2+dfsg-7+deb12u18).
binver=$(installed_version qemu-system-x86)
[ -n "$binver" ] || die "qemu-system-x86 is not installed; run 'make deps' as root."
srcver=$(dpkg-query -W -f='${source:Version}' qemu-system-x86)

APT_DIR=$Q/apt

# qemu_src_sources: private deb-src lists, the host's Debian suites as source.
qemu_src_sources() {
	{
		cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
			awk 'function emit(   n, i, a) {
				if (u && s) { n = split(s, a, " "); for (i = 1; i <= n; i++)
					print "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] " u " " a[i] " " c }
				u = s = "" }
			     /^URIs:/ { u = $2 } /^Suites:/ { s = $0; sub(/^Suites: */, "", s) }
			     /^Components:/ { c = $0; sub(/^Components: */, "", c) }
			     /^$/ { emit() } END { emit() }'
		if [ -f /etc/apt/sources.list ]; then
			awk '$1 == "deb" { $1 = "deb-src"; print }' /etc/apt/sources.list
		fi
	} | sort -u
}

# What the binary is made from: when this changes, it is rebuilt.
patch_list() {
	if [ -f "$PATCHES/series" ]; then
		grep -v '^\s*\(#\|$\)' "$PATCHES/series" || true
	fi
}
stamp=$( { echo "$srcver"; echo "$CONFIGURE"; for p in $(patch_list); do
	sha256sum "$PATCHES/$p"; done; } | sha256sum | cut -d' ' -f1)
if [ -x "$BIN" ] && [ "$(cat "$Q/.made-from" 2>/dev/null)" = "$stamp" ]; then
	echo "qemu: $BIN (Debian $srcver, $(patch_list | wc -l) patches of qemu/patches; up to date)"
	exit 0
fi

if [ "$(cat "$Q/.src-version" 2>/dev/null)" != "$srcver" ]; then
	need_disk 2 "QEMU's source and build"
	apt_lists "QEMU's deb-src lists" qemu_src_sources
	step "downloading and unpacking Debian's QEMU source $srcver into build/qemu/src"
	rm -rf "$Q/dl" "$SRC"
	mkdir -p "$Q/dl"
	(cd "$Q/dl" && apt_base apt-get source -q --download-only "qemu=$srcver") >"$Q/dl/source.log" 2>&1 ||
		{ tail -5 "$Q/dl/source.log" >&2
		  die "Debian's archive has no QEMU source $srcver (output above); upgrade qemu-system-x86 to the current Debian 12 version, then run 'make qemu' again."; }
	dpkg-source -x "$Q"/dl/qemu_*.dsc "$SRC" >"$Q/dl/unpack.log" 2>&1 ||
		{ tail -5 "$Q/dl/unpack.log" >&2; die "dpkg-source could not unpack QEMU's source (output above)."; }
	rm -rf "$Q/dl"
	# A git repo whose first commit is Debian's source (its patches
	# applied): our patches go on top with git am, as on qemu-devel.
	git -C "$SRC" init -q
	git -C "$SRC" add -A
	git -C "$SRC" -c user.name=debian -c user.email=debian@localhost \
		commit -q -m "Debian QEMU $srcver"
	git -C "$SRC" tag debian-source
	echo "$srcver" >"$Q/.src-version"
fi

step "applying qemu/patches ($(patch_list | wc -l)) to Debian's QEMU $srcver"
git -C "$SRC" am --abort >/dev/null 2>&1 || true
git -C "$SRC" reset -q --hard refs/tags/debian-source
# The patches carry no author (whoever posts them signs them off): the
# build's commits get a local one.
for p in $(patch_list); do
	{ echo "From: qemu/patches <overlay@localhost>"; cat "$PATCHES/$p"; } |
		git -C "$SRC" -c user.name=overlay -c user.email=overlay@localhost \
		am -q ||
		die "qemu/patches/$p does not apply to Debian's QEMU $srcver; rebase it on build/qemu/src (tag debian-source)."
done

# Hashes without this checkout's path (relative paths, no working
# directory): a build in another clone, or in check-fresh's root, hits
# what this one compiled.
export CCACHE_BASEDIR=$TOP CCACHE_NOHASHDIR=1
step "building qemu-system-x86_64 in build/qemu/obj (log build/qemu/build.log; about 15 minutes the first time)"
mkdir -p "$OBJ" "$(dirname "$BIN")"
# shellcheck disable=SC2086
if [ ! -f "$OBJ/build.ninja" ] || [ "$(cat "$OBJ/.configure" 2>/dev/null)" != "$CONFIGURE" ]; then
	rm -rf "$OBJ" && mkdir -p "$OBJ"
	(cd "$OBJ" && "$SRC/configure" --cc="ccache gcc" $CONFIGURE) >"$Q/build.log" 2>&1 ||
		{ tail -20 "$Q/build.log" >&2
		  die "QEMU's configure failed (output above, all of it in build/qemu/build.log); 'make deps' installs what it needs."; }
	echo "$CONFIGURE" >"$OBJ/.configure"
fi
# At a lower priority: under 'make', the kernel side and the demo's first
# part need the CPU sooner than QEMU is needed.
nice -n 10 ninja -C "$OBJ" qemu-system-x86_64 2>&1 | tee -a "$Q/build.log" |
	awk '/^\[[0-9]+\/[0-9]+\]/ { n++; if (n % 400 == 0) { print "    ... " $1; fflush() } }'
[ "${PIPESTATUS[0]}" = 0 ] ||
	{ grep -B2 -A10 'error' "$Q/build.log" | tail -30 >&2
	  die "the QEMU build failed (compiler output above, all of it in build/qemu/build.log); fix the patch in qemu/patches that the error names."; }
cp "$OBJ/qemu-system-x86_64" "$BIN"
echo "$stamp" >"$Q/.made-from"
echo "qemu: $BIN (Debian $srcver, $(patch_list | wc -l) patches of qemu/patches)"
