#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make qemu: our qemu-system-x86_64, built from Debian 13's QEMU source
# package (QEMU 10.0, the version of Debian 13's binary that the
# end-to-end checks run beside it), with qemu/patches/ applied in the
# order of qemu/patches/series, into build/qemu/bin. x86_64 system
# emulation with KVM and little else. The source and the meson it needs
# (Debian 12's is too old) come through Debian 13's private lists in
# build/qemu/debian13/apt (harness/e2e/qemu-debian13.sh; the host's apt
# configuration is never touched, nothing is installed). Rebuilt only
# when the Debian version, our patches or the configure line change;
# ccache keeps objects. Debian's binary (/usr/bin/qemu-system-x86_64)
# stays as it is.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

Q=$TOP/build/qemu
PATCHES=$TOP/qemu/patches
SRC=$Q/src
OBJ=$Q/obj
BIN=$Q/bin/qemu-system-x86_64
MESON=$Q/meson
# The devices the tests use (q35, pc, e1000, VGA, RTC, user networking)
# are all in the default x86_64 device set; everything else is off. It
# only ever runs on KVM (-accel kvm), so no TCG; and no debug info: the
# two cut the compiling by a quarter (411 to 301 CPU seconds, 2026-12-06),
# which is most of a cold 'make'.
CONFIGURE="--target-list=x86_64-softmmu --without-default-features
--enable-kvm --disable-tcg --enable-slirp --enable-fdt=system --disable-werror
--disable-docs --disable-debug-info --disable-install-blobs"

need_cmd dpkg-source dpkg-dev
need_cmd ninja ninja-build
need_cmd pkg-config pkg-config
python3 -c 'import venv, ensurepip' 2>/dev/null ||
	die "QEMU's configure needs Python's venv module; run 'make deps' as root (it installs python3-venv)."
for pc in glib-2.0 pixman-1 slirp libfdt; do
	# libfdt has no pkg-config file in Debian 12: its header, then.
	if [ "$pc" = libfdt ]; then [ -f /usr/include/libfdt.h ]; else pkg-config --exists "$pc"; fi ||
		die "the development files of $pc are missing; run 'make deps' as root (it installs libglib2.0-dev, libpixman-1-dev, libslirp-dev and libfdt-dev)."
done

# Debian 13's lists (and its QEMU binary, which the checks run too).
"$TOP/harness/e2e/qemu-debian13.sh"
# shellcheck disable=SC2034 # lib.sh's apt_base uses it
APT_DIR=$Q/debian13/apt
srcver=$(apt_base apt-cache showsrc qemu 2>/dev/null | awk '/^Version:/ && !v { v = $2 } END { print v }')
[ -n "$srcver" ] || die "Debian 13's source lists have no qemu; check the host's Debian mirror (build/qemu/debian13/apt/update.log)."

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
	step "downloading and unpacking Debian's QEMU source $srcver into build/qemu/src"
	rm -rf "$Q/dl" "$SRC"
	mkdir -p "$Q/dl"
	(cd "$Q/dl" && apt_base apt-get source -q --download-only "qemu=$srcver") >"$Q/dl/source.log" 2>&1 ||
		{ tail -5 "$Q/dl/source.log" >&2
		  die "apt could not fetch Debian 13's QEMU source $srcver (output above); check the host's Debian mirror, then run 'make qemu' again."; }
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

# QEMU 10.0 needs meson 1.5 or later: Debian 13's (Python, any
# architecture), unpacked, not installed.
mesonver=$(apt_base apt-cache policy meson 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" { print $2 }')
[ -n "$mesonver" ] || die "Debian 13's lists have no meson; check the host's Debian mirror (build/qemu/debian13/apt/update.log)."
if [ "$(cat "$MESON/.version" 2>/dev/null)" != "$mesonver" ]; then
	step "downloading Debian 13's meson $mesonver into build/qemu/meson (not installed)"
	rm -rf "$MESON" "$Q/dl"
	mkdir -p "$Q/dl"
	(cd "$Q/dl" && apt_base apt-get download -q "meson=$mesonver") >"$Q/dl/meson.log" 2>&1 ||
		{ tail -5 "$Q/dl/meson.log" >&2; die "apt could not fetch Debian 13's meson $mesonver (output above); check the host's Debian mirror."; }
	dpkg-deb -x "$Q"/dl/meson_*.deb "$MESON"
	rm -rf "$Q/dl"
	echo "$mesonver" >"$MESON/.version"
fi
export PATH=$MESON/usr/bin:$PATH PYTHONPATH=$MESON/usr/lib/python3/dist-packages

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
step "building qemu-system-x86_64 in build/qemu/obj (log build/qemu/build.log; about 4 minutes the first time)"
mkdir -p "$OBJ" "$(dirname "$BIN")"
# shellcheck disable=SC2086
if [ ! -f "$OBJ/build.ninja" ] || [ "$(cat "$OBJ/.configure" 2>/dev/null)" != "$srcver $CONFIGURE" ]; then
	rm -rf "$OBJ" && mkdir -p "$OBJ"
	(cd "$OBJ" && "$SRC/configure" --cc="ccache gcc" $CONFIGURE) >"$Q/build.log" 2>&1 ||
		{ tail -20 "$Q/build.log" >&2
		  die "QEMU's configure failed (output above, all of it in build/qemu/build.log); 'make deps' installs what it needs."; }
	echo "$srcver $CONFIGURE" >"$OBJ/.configure"
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
