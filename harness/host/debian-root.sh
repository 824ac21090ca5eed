# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# A brand-new minimal Debian in a directory, as a user's machine starts:
# source it after lib.sh, with ROOT_NAME (build/<base>/ROOT_NAME holds
# its logs, ROOT_DIR, and the root, ROOT) and ROOT_MAKE (the make target,
# for messages) set, then call root_create SUITE. Used by check-fresh.sh
# (Debian 12) and check-debian13.sh (Debian 13), which print their
# results on fd 3; progress goes to stderr. Everything mounted in ROOT is
# unmounted, and ROOT removed, on every exit (KEEP_ROOT=1 keeps it).
ROOT_DIR=$BUILD/$ROOT_NAME
ROOT=$ROOT_DIR/root
exec 3>&1 1>&2

[ "$(id -u)" = 0 ] || die "a fresh Debian root needs root (debootstrap, chroot, mounts); run 'sudo $ROOT_MAKE'."
[ -d "$TOP/.git" ] || die "$TOP is not a git checkout; the fresh root clones its HEAD."

root_mounted=
root_unmount_all() {
	local m
	for m in $root_mounted; do
		umount -R "$ROOT/$m" 2>/dev/null || umount -R -l "$ROOT/$m" 2>/dev/null || true
	done
	root_mounted=
}

# root_remove: nothing is removed while anything is still mounted in ROOT
# (rm -rf would reach into the host's /dev).
root_remove() {
	root_unmount_all
	[ "$KEEP_ROOT" = 1 ] && return 0
	mounted_under "$ROOT" && return 0
	rm -rf "$ROOT"
}
trap root_remove EXIT
trap 'root_remove; exit 130' INT TERM

# root_bind NAME: the host's /NAME in the root, unmounted without touching
# the host's own mounts (rslave: nothing propagates back).
root_bind() {
	mkdir -p "$ROOT/$1"
	mount --rbind "/$1" "$ROOT/$1"
	mount --make-rslave "$ROOT/$1"
	root_mounted="$1 $root_mounted"
}

# in_root COMMAND...: run it in the root with a clean environment.
in_root() {
	chroot "$ROOT" env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# root_create SUITE: debootstrap --variant=minbase SUITE into ROOT
# from the host's mirror; apt as the host's for the host's own release,
# else SUITE's main from the same mirror; git and make installed, nothing
# else (the README's promise); this repository's HEAD cloned into
# /root/coalesced-io.
root_create() {
	local suite=$1 logs=$ROOT_DIR uri
	if ! command -v debootstrap >/dev/null; then
		step "apt-get install debootstrap (on the host: it builds the fresh root)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null ||
			die "apt-get install debootstrap failed; run 'apt-get update' as root, then run '$ROOT_MAKE' again."
	fi
	# Stale mounts from a killed run would make rm -rf reach the host's /dev.
	for m in proc sys dev; do
		if mountpoint -q "$ROOT/$m"; then umount -R -l "$ROOT/$m"; fi
	done
	rm -rf "$ROOT"
	mkdir -p "$logs"
	uri=$(debian_mirror)
	step "debootstrap --variant=minbase $suite into ${ROOT#"$TOP"/} ($uri)"
	debootstrap --variant=minbase "$suite" "$ROOT" "$uri" >"$logs/debootstrap.log" 2>&1 ||
		{ tail -20 "$logs/debootstrap.log" >&2
		  die "debootstrap of $suite failed (its output above, all of it in ${logs#"$TOP"/}/debootstrap.log); check the network and the mirror $uri."; }

	rm -f "$ROOT/etc/apt/sources.list"
	if [ "$suite" = "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" ]; then
		# The host's sources (updates and security too).
		cp /etc/apt/sources.list.d/*.sources "$ROOT/etc/apt/sources.list.d/" 2>/dev/null || true
		[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$ROOT/etc/apt/"
	else
		echo "deb $uri $suite main" >"$ROOT/etc/apt/sources.list"
	fi
	grep -l '^Acquire::' /etc/apt/apt.conf.d/* 2>/dev/null | xargs -r cp -t "$ROOT/etc/apt/apt.conf.d/"
	cp /etc/resolv.conf "$ROOT/etc/"

	mount -t proc proc "$ROOT/proc"
	root_mounted="proc"
	root_bind sys
	root_bind dev

	step "apt-get install git make in the $suite root"
	in_root sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q git make' \
		>"$logs/apt.log" 2>&1 ||
		{ tail -20 "$logs/apt.log" >&2
		  die "installing git and make in the $suite root failed (output above, all of it in ${logs#"$TOP"/}/apt.log)."; }

	step "git clone of this repository's HEAD ($(git -C "$TOP" rev-parse --short HEAD)) into the $suite root"
	git clone -q --no-hardlinks "$TOP" "$ROOT/root/coalesced-io"
}
