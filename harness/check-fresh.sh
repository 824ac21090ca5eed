#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check-fresh: try the README as a new user on a minimal Debian 12.
# debootstrap --variant=minbase bookworm into build/fresh/root (apt
# sources and network settings as the host's), install git and make only,
# clone this repository's HEAD into it and run 'make' there. Passes when
# the demo comes out. Everything it mounts is unmounted on every exit.
# Prints "fresh:<check> pass|fail [reason]" lines for check.sh; the full
# log is build/fresh/make.log. The root is removed afterwards (KEEP_FRESH=1
# keeps it).
source "$(dirname "$0")/lib.sh"
# Progress to stderr, results ("fresh:...") to stdout.
exec 3>&1 1>&2

FRESH=$BUILD/fresh
ROOT=$FRESH/root
LOG=$FRESH/make.log
REPO=/root/coalesced-io

[ "$(id -u)" = 0 ] || die "check-fresh needs root (debootstrap, chroot, mounts); run 'sudo make check-fresh'."
[ -d "$TOP/.git" ] || die "$TOP is not a git checkout; check-fresh clones its HEAD."

# The host's Debian mirror: the first URI that serves bookworm.
mirror() {
	local uri
	uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ && u { print u; exit }')
	[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
		/etc/apt/sources.list 2>/dev/null)
	[ -n "$uri" ] || die "no apt source serves bookworm on this host; add one to /etc/apt/sources.list.d, then run 'make check-fresh' again."
	echo "$uri"
}

mounted=
unmount_all() {
	local m
	for m in $mounted; do
		umount -R "$ROOT/$m" 2>/dev/null || umount -R -l "$ROOT/$m" 2>/dev/null || true
	done
	mounted=
}

# The root and the build inside it take 5.4 GiB; only the logs are kept,
# unless KEEP_FRESH=1. Nothing is removed while anything is mounted in it.
remove_root() {
	unmount_all
	[ "${KEEP_FRESH:-0}" = 1 ] && return 0
	mounted_under "$ROOT" && return 0
	rm -rf "$ROOT"
}
trap remove_root EXIT
trap 'remove_root; exit 130' INT TERM

# bind NAME: the host's /NAME in the chroot, unmounted without touching
# the host's own mounts (rslave: nothing propagates back).
bind() {
	mkdir -p "$ROOT/$1"
	mount --rbind "/$1" "$ROOT/$1"
	mount --make-rslave "$ROOT/$1"
	mounted="$1 $mounted"
}

in_root() {
	chroot "$ROOT" env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

if ! command -v debootstrap >/dev/null; then
	step "apt-get install debootstrap (on the host: it builds the fresh root)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null ||
		die "apt-get install debootstrap failed; run 'apt-get update' as root, then 'make check-fresh' again."
fi

start=$(date +%s)
# Stale mounts from a killed run would make rm -rf reach the host's /dev.
for m in proc sys dev; do
	mountpoint -q "$ROOT/$m" && umount -R -l "$ROOT/$m"
done
rm -rf "$FRESH"
need_disk "$FRESH_DISK_GB" "make check-fresh (a minimal Debian 12 and the README's make in it)"
mkdir -p "$FRESH"
URI=$(mirror)
step "debootstrap --variant=minbase bookworm into build/$BASE/fresh/root ($URI)"
debootstrap --variant=minbase bookworm "$ROOT" "$URI" >"$FRESH/debootstrap.log" 2>&1 ||
	{ tail -20 "$FRESH/debootstrap.log" >&2
	  die "debootstrap failed (its output above, all of it in build/$BASE/fresh/debootstrap.log); check the network and the mirror $URI."; }

# apt as the host's: sources (updates and security too) and network settings.
rm -f "$ROOT/etc/apt/sources.list"
cp /etc/apt/sources.list.d/*.sources "$ROOT/etc/apt/sources.list.d/" 2>/dev/null || true
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$ROOT/etc/apt/"
grep -l '^Acquire::' /etc/apt/apt.conf.d/* 2>/dev/null | xargs -r cp -t "$ROOT/etc/apt/apt.conf.d/"
cp /etc/resolv.conf "$ROOT/etc/"

mount -t proc proc "$ROOT/proc"
mounted="proc"
bind sys
bind dev

step "apt-get install git make (nothing else: the README's promise)"
in_root sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q git make' \
	>"$FRESH/apt.log" 2>&1 ||
	{ tail -20 "$FRESH/apt.log" >&2
	  die "installing git and make in the fresh root failed (output above, all of it in build/$BASE/fresh/apt.log)."; }

step "git clone of this repository's HEAD ($(git -C "$TOP" rev-parse --short HEAD)) into the fresh root"
git clone -q --no-hardlinks "$TOP" "$ROOT$REPO"
echo "fresh:debootstrap pass minimal bookworm, git and make in $(($(date +%s) - start)) s" >&3

step "make in the fresh root (packages, base tree, modules, VM, demo: about 15 minutes; log build/$BASE/fresh/make.log)"
rc=0
in_root sh -c "cd $REPO && make" >"$LOG" 2>&1 || rc=$?
grep '^==> ' "$LOG" | sed 's/^/    /'
secs=$(($(date +%s) - start))
if [ "$rc" = 0 ] && grep -q '^=> the VM runs OUR kvm.ko' "$LOG"; then
	echo "fresh:make-on-minimal-debian12 pass the demo came out; $secs s in all" >&3
else
	tail -20 "$LOG" | sed 's/^/    | /'
	echo "fresh:make-on-minimal-debian12 fail make exited $rc after $secs s; see build/$BASE/fresh/make.log" >&3
	exit 1
fi
