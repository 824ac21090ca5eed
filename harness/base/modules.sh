#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build kvm.ko, kvm-amd.ko and kvm-intel.ko out of tree against Debian's
# headers, from build/linux's sources (our overlay and patches included).
# Extra make arguments (C=1, W=1) are passed through. With STAGE_ONLY=1,
# only lay out the self-contained source tree (for DKMS) in KVM_MOD_DIR.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver
check_versions

LINUX=${LINUX_TREE:-$BUILD/linux}
# lint.sh builds in a directory of its own so that C=2 W=1 do not force a
# full rebuild of the modules we test.
MOD=${KVM_MOD_DIR:-$BUILD/kvm-mod}
HDRS=$(headers_dir)
[ -f "$HDRS/Makefile" ] || die "$HDRS is missing; run 'make' (or 'make headers'), which fetches it."

# Every override dir exists, empty or not: W=1 warns of missing ones.
mkdir -p "$MOD/arch/x86" "$MOD/virt" "$MOD/include/trace" \
	"$MOD/override/arch/x86/include/uapi" "$MOD/override/include/uapi"
# cp -a keeps mtimes, so only what changed in build/linux is rebuilt.
cp -a "$LINUX/arch/x86/kvm" "$MOD/arch/x86/"
cp -a "$LINUX/virt/kvm" "$MOD/virt/"

# Headers we change: the compiler sees NOSTDINC_FLAGS before the headers
# package, so copies under override/ win.
changed=$(git -C "$LINUX" diff --name-only pristine HEAD -- \
	include arch/x86/include | grep '\.h$' || true)
for h in $changed; do
	mkdir -p "$MOD/override/$(dirname "$h")"
	cp -p "$LINUX/$h" "$MOD/override/$h"
done
# Kbuild tracks the headers each object used, but not a header that newly
# shadows another: when the set of overridden headers changes, start over.
if [ "$changed" != "$(cat "$MOD/override.list" 2>/dev/null)" ]; then
	find "$MOD/arch/x86/kvm" "$MOD/virt/kvm" \( -name '*.o' -o -name '*.ko' \
		-o -name '.*.cmd' \) -delete
	echo "$changed" >"$MOD/override.list"
fi

# replace_if_changed FILE: move FILE.new over FILE unless they are equal,
# so that make sees no change when there is none.
replace_if_changed() {
	if cmp -s "$1.new" "$1"; then rm -f "$1.new"; else mv "$1.new" "$1"; fi
}

# Kbuild wins over the base Makefile: same objects, paths made relative.
# KVM's tracepoints include "../../arch/x86/kvm/trace.h" from an include
# dir: include/trace two levels below the tree's top is one.
sed -e 's|\$(srctree)/arch/x86/kvm|$(src)|' \
    -e 's|include \$(srctree)/virt/kvm/Makefile.kvm|include $(src)/../../../virt/kvm/Makefile.kvm|' \
    "$LINUX/arch/x86/kvm/Makefile" >"$MOD/arch/x86/kvm/Kbuild.new"
echo 'ccflags-y += -I$(src)/../../../include/trace' >>"$MOD/arch/x86/kvm/Kbuild.new"
# As CONFIG_KVM_WERROR=y, which Debian's configs do not set: KVM builds
# without warnings, ours included.  Not in the DKMS tree: a user's newer
# compiler may warn where ours does not.
[ "$STAGE_ONLY" = 1 ] || echo 'ccflags-y += -Werror' >>"$MOD/arch/x86/kvm/Kbuild.new"
# What an older base lacks (bases/compat), for the engine's objects only.
rm -rf "$MOD/compat"
if [ -n "${BASE_COMPAT:-}" ]; then
	mkdir -p "$MOD/compat"
	cp -p "$TOP"/bases/compat/coalesced_mmio-*.h "$MOD/compat/"	# they include each other
	for o in coalesced_mmio.o coalesced_ring.o; do
		echo "CFLAGS_\$(KVM)/$o += -include \$(src)/../../../compat/$(basename "$BASE_COMPAT")"
	done >>"$MOD/arch/x86/kvm/Kbuild.new"
fi
replace_if_changed "$MOD/arch/x86/kvm/Kbuild"

# The tree's own Makefile: "make KVER=<release>" builds it anywhere (DKMS).
cat >"$MOD/Makefile.new" <<'MAKEFILE'
# SPDX-License-Identifier: GPL-2.0
# KVM with our coalesced I/O, out of tree, for the kernel it was made for.
KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
HERE := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
# Our changed headers win over the headers package's.
OVERRIDE := $(foreach d,arch/x86/include arch/x86/include/uapi include include/uapi,-I$(HERE)/override/$(d))

all:
	$(MAKE) -C $(KDIR) M=$(HERE)/arch/x86/kvm NOSTDINC_FLAGS="$(OVERRIDE)" modules

clean:
	$(MAKE) -C $(KDIR) M=$(HERE)/arch/x86/kvm clean
MAKEFILE
replace_if_changed "$MOD/Makefile"
[ "$STAGE_ONLY" = 1 ] && exit 0

step "building kvm.ko kvm-amd.ko kvm-intel.ko for $KVER"
# kbuild's short lines go to a log, which the ticker counts; the
# compiler's warnings and errors still come here.
ticker=$(compile_ticker "$MOD/build.log" "$MOD/.files-compiled")
trap 'kill $ticker 2>/dev/null' EXIT
make -C "$MOD" KDIR="$HDRS" -j"$(nproc)" "$@" 2>&1 >"$MOD/build.log" ||
	die "the module build failed (compiler output above, kbuild's lines in ${MOD#"$TOP"/}/build.log); fix the source in the overlay or patches/."
ticker_done "$ticker" "$MOD/build.log" "$MOD/.files-compiled"
[ "$MOD" = "$BUILD/kvm-mod" ] || exit 0
mkdir -p "$BUILD/modules/ours"
for m in kvm kvm-amd kvm-intel; do
	cp -p "$MOD/arch/x86/kvm/$m.ko" "$BUILD/modules/ours/"
done
echo "modules: $BUILD_REL/modules/ours/{kvm,kvm-amd,kvm-intel}.ko ($(modinfo -F vermagic "$BUILD/modules/ours/kvm.ko"))"
