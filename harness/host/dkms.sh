#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# dkms.sh package: lay out build/dkms/coalesced-kvm-<version>/, a tree
#   ready for "dkms add", with dkms.conf and our KVM sources.
# dkms.sh test: "dkms add" and "dkms build" it for $KVER in private DKMS
#   trees under build/dkms (nothing on the host changes), and check the
#   modules it built. Prints the results of dkms:<check> (TAP)
#   (none for a base whose kernel is built here: DKMS serves Debian's).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver
check_versions

NAME=coalesced-kvm
VERSION=1.0.$(git -C "$TOP" rev-list --count HEAD 2>/dev/null || echo 0)
PKG=$BUILD/dkms/$NAME-$VERSION

package() {
	step "DKMS tree: $BUILD_REL/dkms/$NAME-$VERSION (kvm sources of Debian linux $DEB_VERSION)"
	rm -rf "$BUILD/dkms"
	mkdir -p "$BUILD/dkms"
	STAGE_ONLY=1 KVM_MOD_DIR=$PKG "$TOP/harness/base/modules.sh"
	sed -e "s/@NAME@/$NAME/" -e "s/@VERSION@/$VERSION/" \
	    -e "s/@DEB_VERSION@/$DEB_VERSION/" -e "s|@KVER_RE@|${BASE_KVER_RE//\\/\\\\}|" \
	    "$TOP/harness/host/dkms.conf.in" >"$PKG/dkms.conf"
	echo "dkms: sudo dkms install $PKG   (or: dkms add $PKG; dkms build/install -m $NAME -v $VERSION)"
}

# dkms_result CHECK STATUS REASON: CHECK's result, passed when STATUS is 0.
dkms_result() {
	if [ "$2" = 0 ]; then result "dkms:$1 pass"; else result "dkms:$1 fail $3"; fi
}

dkms_test() {
	local trees=$BUILD/dkms/trees log=$BUILD/dkms/test.log ko rc
	# DKMS serves Debian's kernels only, not one built here (BASE=7.2).
	[ "$BASE_KERNEL" = built ] && return 0
	command -v dkms >/dev/null || die "dkms is missing; run 'make deps' as root."
	package >/dev/null
	rm -rf "$trees"
	mkdir -p "$trees/dkms" "$trees/src" "$trees/install"
	local dk=(dkms --dkmstree "$trees/dkms" --sourcetree "$trees/src"
		  --installtree "$trees/install")
	step "dkms add + dkms build -k $KVER (private trees in $BUILD_REL/dkms/trees, log $BUILD_REL/dkms/test.log)" >&2
	rc=0
	{ "${dk[@]}" add "$PKG" && "${dk[@]}" build -m "$NAME" -v "$VERSION" -k "$KVER" \
		--kernelsourcedir "$(headers_dir)"; } \
		>"$log" 2>&1 || rc=$?
	dkms_result build "$rc" "dkms build failed; see $BUILD_REL/dkms/test.log"
	[ "$rc" = 0 ] || return 0
	ko=$trees/dkms/$NAME/$VERSION/$KVER/x86_64/module
	rc=0
	for m in kvm kvm-amd kvm-intel; do
		[ -f "$ko/$m.ko" ] || rc=1
	done
	dkms_result modules-built "$rc" "dkms did not produce kvm, kvm-amd and kvm-intel.ko"
	rc=1
	[ "$(modinfo -F vermagic "$ko/kvm.ko" 2>/dev/null | cut -d' ' -f1)" = "$KVER" ] && rc=0
	dkms_result vermagic-matches "$rc" "the DKMS kvm.ko is not built for $KVER"
	# Ours, not stock: the dedicated rings' code is there.
	rc=1
	# grep reads all of nm's output: with -q it would stop early, and pipefail
	# would count nm's SIGPIPE as a failure.
	nm "$ko/kvm.ko" 2>/dev/null | grep ' kvm_vm_ioctl_create_coalesced_ring$' >/dev/null && rc=0
	dkms_result is-ours "$rc" "the DKMS kvm.ko has no kvm_vm_ioctl_create_coalesced_ring: it is not ours"
	rc=0
	"${dk[@]}" remove -m "$NAME" -v "$VERSION" --all >>"$log" 2>&1 || rc=$?
	dkms_result remove "$rc" "dkms remove failed; see $BUILD_REL/dkms/test.log"
}

case "${1:-}" in
package) package ;;
test) dkms_test ;;
*) die "usage: dkms.sh package|test (run it through 'make dkms')." ;;
esac
