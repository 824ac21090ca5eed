# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the harness scripts; source it, do not run it.
# Sourcing it defines functions and constants and does nothing else: a
# script sets its shell options itself and calls load_base.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The selftest whose races only show on multi-threaded TCG: make check
# and make check-mutants run it a second time there (race_plan).
RACE_TEST=coalesced_ring_test

# race_plan PLAN: the plan of that second run, from a vm-run.sh PLAN that
# has RACE_TEST (nothing if it has not): the boot's kernel log, then
# RACE_TEST's line with "-mttcg" after its name.
race_plan() {
	grep -q "^[^ ]*/$RACE_TEST " "$1" || return 0
	echo "kernel/boot_log-mttcg 60 kernel-reports boot"
	sed -n "s|^\([^ ]*/$RACE_TEST\) |\1-mttcg |p" "$1"
}

# die MESSAGE: stop with one sentence that names the problem and the fix.
die() {
	echo "error: $*" >&2
	exit 1
}

# step MESSAGE: tell the user what is happening now, and when (the
# clock time lets a log show where the minutes of a long run went).
step() {
	printf '==> %s [%(%H:%M:%S)T]\n' "$*" -1
}

# compile_ticker LOG COUNT_FILE: in the background, every 20 s, how many
# files a kbuild LOG shows compiled so far, of about how many the last
# complete build compiled (COUNT_FILE; unknown the first time).  Prints
# the ticker's pid for ticker_done.
compile_ticker() {
	local log=$1 count_file=$2 total
	total=$(cat "$count_file" 2>/dev/null || true)
	(
		while sleep 20; do
			echo "    ... $(grep -c '^  CC' "$log" 2>/dev/null || echo 0)${total:+ of about $total} files compiled [$(date +%H:%M:%S)]"
		done
	) >&2 &
	echo $!
}

# ticker_done PID LOG COUNT_FILE: stop the ticker; remember how many files
# this build compiled, if it compiled any (a build with nothing to do
# says nothing of the next one).
ticker_done() {
	local n
	kill "$1" 2>/dev/null || true
	n=$(grep -c '^  CC' "$2" 2>/dev/null || true)
	[ "${n:-0}" -gt 0 ] && echo "$n" >"$3"
	return 0
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
		-j"$(nproc)" headers_install >"$obj/headers.log" 2>&1 ||
		{ tail -20 "$obj/headers.log" >&2
		  die "headers_install failed in $tree (its output above, all of it in $obj/headers.log); fix what it names, then run 'make' again."; }
}

# module_build_id KO: the GNU build ID of a module file, as the VM shows
# it for the loaded module (/sys/module/<name>/notes).
module_build_id() {
	readelf -n "$1" | awk '/Build ID/ { print $3 }'
}

# modules_overlay KVM_DIR OUT: the kvm.ko and kvm-amd.ko of a module build
# (KVM_DIR: its arch/x86/kvm) in OUT/root/modules/ours and, packed, in
# OUT/overlay.cpio.gz, which vm-run.sh appends (EXTRA_IMAGES) so that they
# take the place of ours; OURS_MODULES=OUT/root/modules/ours proves them.
modules_overlay() {
	rm -rf "$2/root"
	mkdir -p "$2/root/modules/ours"
	cp "$1"/{kvm,kvm-amd}.ko "$2/root/modules/ours/"
	(cd "$2/root" && find . -print0 | cpio -0 -o -H newc --quiet | gzip -1) >"$2/overlay.cpio.gz"
}

# vm_run_shown MODULES PLAN OUT [KERNEL ARGS]: vm-run.sh, its progress (a
# line a step: "[i/N] name ... ok (secs)") on stderr as it comes, and in
# OUT/progress.log; vm-run.sh's status. Stdout stays the caller's.
vm_run_shown() {
	mkdir -p "$3"
	"$TOP/harness/vm/vm-run.sh" "$@" 2>&1 | tee "$3/progress.log" >&2
	return "${PIPESTATUS[0]}"
}

# vm_run_nested MODULES OUT WHAT: vm_run_shown of OUT/plan with the QEMU
# image (the three QEMUs, SeaBIOS, the nested guest); stops with one
# sentence naming WHAT if the VM did not run.
vm_run_nested() {
	EXTRA_IMAGES=$BUILD/initramfs/qemu.cpio.gz VERBOSE=0 \
		vm_run_shown "$1" "$2/plan" "$2" ||
		die "the $3 VM did not run (its output above)."
}

# vm_run_verdicts OUT NAME: for a vm-run.sh run into OUT whose steps
# own results are judged elsewhere (e2e.sh, vmm.sh): NAME's result (TAP)
# on whether every step of the plan ran to its end with no kernel
# report (WARNING, BUG, KASAN, lockdep, RCU stall: harness/vm/init's scan),
# no watchdog kill and no death of the VM, with the report's first lines;
# then a retry of <step> for each time the VM was booted again.
vm_run_verdicts() {
	local out=$1 name=$2 planned ran bad report
	planned=$(grep -c -v -e '^#' -e '^[[:space:]]*$' "$out/plan")
	ran=$(wc -l <"$out/results")
	# A kernel report: the step's status 250 (it passed otherwise), or
	# the VM's @@DMESG line, which also names a step that failed anyway.
	bad=$({ awk '$2 == 250 { print $1 }' "$out/results"
		tr -d '\r' <"$out/console.log" | awk '$1 == "@@DMESG" { print $3 }'; } |
		sort -u | awk '{ printf "%s: a kernel report; ", $1 }')
	bad=$bad$(awk '$2 == "crashed" { printf "%s: the VM died while it ran; ", $1 }
		$2 == "noboot" { printf "%s: the VM did not boot; ", $1 }
		$2 == 137 { printf "%s: killed by its watchdog; ", $1 }' "$out/results")
	[ "$ran" = "$planned" ] || bad="$bad$ran of $planned steps ran; "
	if [ -n "$bad" ]; then
		# No report is the usual case of a death: grep's status is not ours.
		report=$(tr -d '\r' <"$out/console.log" | { grep -A6 -m1 '^# kernel report:' || true; } |
			tr -s ' \n' ' ' | cut -c1-600)
		result "$name fail $bad${report:+$report }(console: ${out#"$TOP"/}/console.log)"
	else
		result "$name pass $ran steps, no kernel report, no VM death"
	fi
	[ ! -s "$out/retries" ] || sed 's/^\([^ ]*\) /\1 retry /' "$out/retries" | result_lines
}

# result "NAME VERDICT [REASON]": a step's verdict as the one TAP line
# that check.sh passes through and counts: VERDICT pass ("ok - NAME #
# REASON"), skip ("ok - NAME # SKIP REASON"), fail ("not ok - NAME #
# REASON"), or retry (a boot or a run tried again: no test of its own, a
# "# retried: NAME: REASON" line, counted). Anything else fails.
result() {
	local name=${1%% *} rest verdict reason
	rest=${1#"$name"} rest=${rest# }
	verdict=${rest%% *} reason=${rest#"$verdict"} reason=${reason# }
	case "$verdict" in
	pass) echo "ok - $name${reason:+ # $reason}" ;;
	skip) echo "ok - $name # SKIP $reason" ;;
	fail) echo "not ok - $name${reason:+ # $reason}" ;;
	retry) echo "# retried: $name${reason:+: $reason}" ;;
	*) echo "not ok - $name # no verdict in '$1'" ;;
	esac
}

# result_lines: result for each "NAME VERDICT [REASON]" line of stdin.
result_lines() {
	local line
	while IFS= read -r line; do result "$line"; done
}

# tap_results FILE: "<pass|fail|skip|retry> <name> <reason>" (tap's
# verdicts), separated by the unit separator (\037, so that an empty
# name stays a field), for each result of FILE, TAP as every step writes
# it: a test's own kselftest lines ("ok 3 case", "ok 3 # SKIP why"), a
# step's ("ok - name # why",
# "not ok - name # why", "ok - name # SKIP why") and its retries
# ("# retried: name: why"); other lines that start with "ok" are not
# results. kselftest's "ok 2 # SKIP <case>" takes its reason from the
# "# SKIP ..." line the case printed before it.
tap_results() {
	tr -d '\r' <"$1" | awk '
		/^# retried: / {
			text = substr($0, 12)
			r = index(text, ": ")
			if (r) print "retry\037" substr(text, 1, r - 1) "\037" substr(text, r + 2)
			else print "retry\037" text "\037"
			next
		}
		/^# SKIP / { reason = substr($0, 8); next }
		/^(ok|not ok) ([0-9]+|-)( |$)/ {
			status = $1 == "ok" ? "pass" : "fail"
			text = $0
			sub(/^(ok|not ok) ([0-9]+|-) ?/, "", text)
			comment = ""
			if (text ~ /^# SKIP( |$)/) {
				# kselftest: "ok 2 # SKIP <case>", its reason on the line before
				status = "skip"
				sub(/^# SKIP ?/, "", text)
				comment = reason
			} else if (r = index(text, " # ")) {
				comment = substr(text, r + 3)
				text = substr(text, 1, r - 1)
				if (comment ~ /^SKIP( |$)/) {
					status = "skip"
					sub(/^SKIP ?/, "", comment)
					if (comment == "")
						comment = reason
				}
			}
			print status "\037" text "\037" comment
			reason = ""
		}'
}

# split_test_logs RUN: one log per test of a vm-run.sh run, the console
# lines between its @@START and @@END (or the end of that boot, if it
# took the VM down), at test_log RUN NAME.
split_test_logs() {
	mkdir -p "$1/logs"
	tr -d '\r' <"$1/console.log" | awk -v dir="$1/logs" '
		/^@@START / { gsub("/", "_", $3); f = dir "/" $3 ".log"; next }
		/^@@(END|MODULES|DONE)/ { if (f) close(f); f = ""; next }
		f { print > f }'
}

# test_log RUN NAME: where split_test_logs put NAME's log.
test_log() {
	echo "$1/logs/${2//\//_}.log"
}

# run_verdicts RUN: each verdict of a vm-run.sh run, in plan order, as
# "<pass|fail|skip><US>TEST<US>WHAT" (US: the unit separator, \037):
# one per TAP case of the test's own output (WHAT: the case), then one
# for the test's exit (WHAT: "exit RC"; 4 is kselftest's skip).
run_verdicts() {
	local name rc status text log
	split_test_logs "$1"
	while read -r name rc _; do
		log=$(test_log "$1" "$name")
		if [ -f "$log" ]; then
			while IFS=$'\037' read -r status text _; do
				[ "$status" = retry ] || printf '%s\037%s\037%s\n' "$status" "${name##*/}" "$text"
			done < <(tap_results "$log")
		fi
		case $rc in
		0) status=pass ;;
		4) status=skip ;;
		*) status=fail ;;
		esac
		printf '%s\037%s\037exit %s\n' "$status" "${name##*/}" "$rc"
	done <"$1/results"
}

# need_disk GB WHAT: stop when the disk that holds build/ has less than
# GB GiB free, naming WHAT needs it (a full disk stops tar or tee halfway,
# with a message that hides the cause).
need_disk() {
	local dir=$TOP/build free
	while [ ! -d "$dir" ]; do dir=$(dirname "$dir"); done
	free=$(df -P -BG "$dir" | awk 'NR == 2 { sub(/G$/, "", $4); print $4 }')
	[ "$free" -ge "$1" ] ||
		die "$2 needs about $1 GiB free on the disk of $dir, which has ${free} GiB; free some space (make clean removes build/), then run it again."
}

# GiB that make check-fresh needs: a minimal Debian 12 (1.8) and the
# README's make inside it (3.6).
FRESH_DISK_GB=7

# mounted_under DIR: is anything mounted below DIR? (Nothing may be
# removed there then: rm -rf would reach into the mount.)
mounted_under() {
	grep -q " $1/" /proc/mounts
}

# The Debian package version (e.g. 6.1.192-2) of an installed package.
installed_version() {
	dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null |
		awk '$3 == "installed" { print $4 }'
}

# --- the base: which kernel we build for (bases/$BASE.conf) -------------
# The default base (the Makefile's too): the one make check-fresh builds.
DEFAULT_BASE=6.1
# The base the series is written against (make series), mainline's newest.
MAINLINE_BASE=7.2
# known_bases: every base, in version order (the default, 6.1, first).
known_bases() {
	(cd "$TOP/bases" && ls -- *.conf | sed 's/\.conf$//' | sort -V | tr '\n' ' ')
}

# host_debian: "deb13" on Debian 13 and so on (empty elsewhere).
host_debian() {
	(
		# shellcheck disable=SC1091
		. /etc/os-release 2>/dev/null && [ "${ID:-}" = debian ] &&
			[ -n "${VERSION_ID:-}" ] && echo "deb$VERSION_ID"
	) || true
}

# --- settings -----------------------------------------------------------
# The settings that reach the harness from make's command line or the
# environment, in one place, with their defaults (harness_settings applies
# them; load_base calls it).  Scripts read them as plain $NAME.
#   MODULES=ours      the kvm.ko the VM loads: ours, stock (Debian's) or none
#   TESTS=            only these of harness/vm/tests.conf (and seabios, vmm)
#   VERBOSE=0         1: the VM's console on the terminal
#   SEED=1            the seed of the fuzz and of check-mutants' runs
#   FRESH=0           1: make check also runs make on a fresh Debian 12
#   PRUNE=0           1: make check-all removes build/<base> after its check
#   DEBUG_KERNEL=0    1: make check on the debug kernel (make check-debug)
#   BOOTS=25          make hang-rate: boots per mode
#   REPORT_ONLY=0     1: make hang-rate only reports the runs it has
#   MUTANTS='*'       make check-mutants: which mutants (name patterns)
#   BENCH_MODE=icount make bench: icount (instructions) or wallclock
#   SCALE=1           make bench: a multiplier of the number of writes
#   KEEP_ROOT=0       1: make check-fresh keeps its Debian root
#   FRESH_CCACHE=1    0: make check-fresh compiles with an empty ccache,
#                     as a new machine does, instead of the host's
#   STAGE_ONLY=0      1: modules.sh only stages the sources (DKMS)
#   STOP_AT_FAILURE=0 1: the VM stops at its first failing test
# BASE and KVER pick the kernel (load_base, resolve_kver). The scripts
# that own the rest give their defaults where they read them:
#   VMM_MODES, VMM_MACHINES, VMM_WORKS, VMM_PC_WORKS, VMM_VGA_LINES
#                     make bench-vmm's modes, machines, workloads and
#                     vga lines (harness/e2e/vmm.sh)
#   VM_ICOUNT, VM_TCG_THREAD, VM_MEM, VM_KERNEL, BOOT_LIMIT, TIMEOUT_SCALE
#                     the test VM: instruction counting, TCG threads,
#                     memory, kernel, limits (harness/vm/vm-run.sh)
harness_settings() {
	: "${MODULES:=ours}" "${TESTS:=}" "${VERBOSE:=0}" "${SEED:=1}"
	: "${FRESH:=0}" "${PRUNE:=0}" "${DEBUG_KERNEL:=0}"
	: "${BOOTS:=25}" "${REPORT_ONLY:=0}" "${MUTANTS:=*}"
	: "${BENCH_MODE:=icount}" "${SCALE:=1}" "${KEEP_ROOT:=0}" "${FRESH_CCACHE:=1}"
	: "${STAGE_ONLY:=0}" "${STOP_AT_FAILURE:=0}"
}

# load_base: the base to build for, from BASE (default DEFAULT_BASE) and
# bases/$BASE.conf: its settings, BUILD (build/<base>, or
# build/<base>-<flavour>), BUILD_REL and APT_DIR.  Every script calls it
# once, right after sourcing this file, which itself only defines.
load_base() {
	local f default_flavour want
	harness_settings
	BASE=${BASE:-$DEFAULT_BASE}
	[ -f "$TOP/bases/$BASE.conf" ] ||
		die "unknown BASE=$BASE; the known bases are: $(known_bases)(one bases/<name>.conf each)."
	# shellcheck source=../bases/6.1.conf
	source "$TOP/bases/$BASE.conf"
	# Everything a base builds lives in build/<base>: bases never share state.
	BUILD=$TOP/build/$BASE

	# A base built by more than one Debian release (BASE_FLAVOURS, "name:suite"
	# each, the first the default): the release of KVER's suffix, else the
	# host's, picks the suites, the build directory (build/<base>-<name> for
	# all but the first) and the releases DKMS may build for.
	BASE_FLAVOUR=
	if [ -n "${BASE_FLAVOURS:-}" ]; then
		f=${BASE_FLAVOURS%% *}
		BASE_FLAVOUR=${f%%:*} BASE_SUITES=${f#*:}
		default_flavour=$BASE_FLAVOUR
		want=$(host_debian)
		[[ ${KVER:-} =~ \+(deb[0-9]+)-amd64$ ]] && want=${BASH_REMATCH[1]}
		for f in $BASE_FLAVOURS; do
			[ "${f%%:*}" = "$want" ] && BASE_FLAVOUR=$want BASE_SUITES=${f#*:}
		done
		[ "$BASE_FLAVOUR" = "$default_flavour" ] || BUILD=$BUILD-$BASE_FLAVOUR
		BASE_KVER_RE=${BASE_FLAVOUR_KVER_RE/@FLAVOUR@/$BASE_FLAVOUR}
		BASE_DESC="$BASE_DESC ($BASE_FLAVOUR, from $BASE_SUITES)"
	fi
	# build/<base> as messages name it.
	BUILD_REL=${BUILD#"$TOP"/}
	APT_DIR=$BUILD/apt
	export BASE BUILD
}

# debian_mirror: the host's Debian mirror (its first URI that is not the
# security archive), for suites the host does not list itself.
debian_mirror() {
	local uri
	uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }')
	[ -n "$uri" ] || uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++)
			if ($i ~ /:\/\//) { print $i; exit } }')
	echo "${uri:-http://deb.debian.org/debian}"
}

# apt_base apt-get|apt-cache ARGS...: apt with the base's private lists in
# build/<base>/apt; the host's apt configuration is never touched.
apt_base() {
	local cmd=$1
	shift
	"$cmd" -o Dir::Etc::SourceList="$APT_DIR/sources.list" \
		-o Dir::Etc::SourceParts="$APT_DIR/sources.list.d" \
		-o Dir::State::Lists="$APT_DIR/lists" -o Dir::Cache="$APT_DIR/cache" \
		-o APT::Sandbox::User=root "$@"
}

# apt_lists WHAT SOURCES: make the output of the function SOURCES the
# private sources (the lists are refetched when they changed) and fetch the
# package lists of WHAT when they are missing or older than a day (Debian
# replaces point releases). Scripts of one make run call this at the same
# time (check.sh's host lanes beside its VM): a lock on build/<base>/apt
# lets one at a time write the sources and run apt-get update, and the
# others then find the lists fresh.
apt_lists() {
	local what=$1 sources=$2 stamp=$APT_DIR/lists/.updated lock new
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" \
		"$APT_DIR/sources.list.d"
	exec {lock}>"$APT_DIR/lock"
	flock "$lock"
	# Our own file until it is complete: another caller's never shows.
	new=$(mktemp "$APT_DIR/sources.list.XXXXXX")
	"$sources" >"$new"
	[ -s "$new" ] || { rm -f "$new"
		die "the host's apt sources name no Debian suite for $what; add one to /etc/apt/sources.list.d."; }
	if cmp -s "$new" "$APT_DIR/sources.list"; then
		rm -f "$new"
	else
		mv "$new" "$APT_DIR/sources.list"
		rm -f "$stamp"
	fi
	if [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
		step "apt-get update of $what in ${APT_DIR#"$TOP"/}" >&2
		apt_base apt-get update -q >"$APT_DIR/update.log" 2>&1 ||
			{ tail -5 "$APT_DIR/update.log" >&2
			  die "apt-get update of $what failed (output above); check the network and the host's apt mirror."; }
		touch "$stamp"
	fi
	exec {lock}>&-
}

# base_sources: the base's private sources: the host's own (BASE_SUITES
# "host"; its .sources files go to build/<base>/apt/sources.list.d) or the
# suites BASE_SUITES names on the host's mirror.
base_sources() {
	local suite mirror
	if [ "$BASE_SUITES" = host ]; then
		rm -f "$APT_DIR"/sources.list.d/*
		cp /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
			"$APT_DIR/sources.list.d/" 2>/dev/null || true
		# The host's sources.list may be empty or missing (its suites
		# are in sources.list.d): the comment keeps ours from being
		# empty, which apt_lists refuses.
		cat /etc/apt/sources.list 2>/dev/null || true
		echo "# BASE=$BASE: the host's suites"
		return 0
	fi
	mirror=$(debian_mirror)
	for suite in $BASE_SUITES; do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main"
	done
}

# apt_setup: write the base's private sources and fetch its package lists.
apt_setup() {
	apt_lists "BASE=$BASE's private package lists ($BASE_SUITES)" base_sources
}

# apt_candidate PACKAGE: the version apt would fetch from the base's lists.
apt_candidate() {
	apt_base apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" { print $2 }'
}

# fetch_debs DEST PACKAGE=VERSION...: apt-get download each package into
# build/<base>/dl and unpack it into DEST (nothing is installed).
fetch_debs() {
	local dest=$1 p deb
	shift
	mkdir -p "$BUILD/dl" "$dest"
	for p in "$@"; do
		rm -f "$BUILD/dl/${p%%=*}"_*.deb
		(cd "$BUILD/dl" && apt_base apt-get download -q "$p" >"$BUILD/dl/download.log" 2>&1) ||
			die "$(missing_package_hint "$p")"
		deb=$(ls "$BUILD/dl/${p%%=*}"_*.deb)
		step "unpacking $(basename "$deb")" >&2
		dpkg-deb -x "$deb" "$dest"
		rm -f "$deb"
	done
}

# newest_kver: the kernel release the base's lists offer now: what
# linux-image-amd64 depends on, or for a kernel built here the source's
# upstream version with our local version.
# source_tarball: print the path of linux-source-$BASE_SERIES's tarball at
# $DEB_VERSION, fetched into build/<base>/dl (no root needed, nothing
# installed).
source_tarball() {
	local dir=$BUILD/dl/source tarball
	tarball=$dir/usr/src/linux-source-$BASE_SERIES.tar.xz
	if [ "$(cat "$dir/.version" 2>/dev/null)" != "$DEB_VERSION" ]; then
		step "downloading linux-source-$BASE_SERIES $DEB_VERSION" >&2
		rm -rf "$dir"
		fetch_debs "$dir" "linux-source-$BASE_SERIES=$DEB_VERSION"
		[ -f "$tarball" ] || die "linux-source-$BASE_SERIES $DEB_VERSION has no ${tarball#"$dir"/}: the package layout changed, report it."
		echo "$DEB_VERSION" >"$dir/.version"
	fi
	echo "$tarball"
}

newest_kver() {
	local v
	if [ "$BASE_KERNEL" = built ]; then
		v=$(apt_candidate "linux-source-$BASE_SERIES")
		[ -n "$v" ] && echo "${v%%-*}-coalesced"
	else
		apt_base apt-cache depends linux-image-amd64 2>/dev/null |
			awk '/Depends: linux-image-[0-9]/ {
				sub("linux-image-", "", $2); print $2; exit }'
	fi
	return 0
}

# missing_package_hint PACKAGE=VERSION: what to do when the archive lost it.
missing_package_hint() {
	echo "Debian's archive ($BASE_SUITES) no longer has ${1%%=*} at version ${1#*=} (Debian replaces point releases); leave KVER unset so that BASE=$BASE takes the current one ($(newest_kver)), or remove $APT_DIR to refresh the lists."
}

# resolve_kver: set KVER (from the environment, else the base's newest) and
# check that it belongs to the base.
resolve_kver() {
	apt_setup
	if [ -z "${KVER:-}" ]; then
		KVER=$(newest_kver)
		[ -n "$KVER" ] ||
			die "BASE=$BASE's lists ($BASE_SUITES) name no linux-image-amd64 or linux-source-$BASE_SERIES; remove $APT_DIR and run 'make' again to refetch them."
	fi
	[[ $KVER =~ $BASE_KVER_RE ]] ||
		die "KVER=$KVER is not a kernel of BASE=$BASE ($BASE_DESC, like $BASE_KVER_EXAMPLE); pass such a KVER, leave KVER unset, or pick the BASE of that kernel (known: $(known_bases))."
	export KVER
}

# check_versions: DEB_VERSION, the Debian version (e.g. 6.1.192-2) the whole
# build uses: that of linux-headers-$KVER (of linux-source for a kernel we
# build). Source, headers and VM kernel are all fetched at exactly it.
check_versions() {
	local pkg=linux-headers-$KVER
	[ "$BASE_KERNEL" = built ] && pkg=linux-source-$BASE_SERIES
	DEB_VERSION=$(apt_candidate "$pkg")
	[ -n "$DEB_VERSION" ] || die "$(missing_package_hint "$pkg=")"
	export DEB_VERSION
}

# headers_dir: the kernel build tree modules are built against (Debian's
# headers unpacked into build/<base>/pkgs, or the kernel built here).
headers_dir() {
	if [ "$BASE_KERNEL" = built ]; then
		echo "$BUILD/vmkernel/obj"
	else
		echo "$BUILD/pkgs/usr/src/linux-headers-$KVER"
	fi
}

# series_patches: the patch lines of patches/series, "PATCH [NEWFILE...]",
# without comments, blank lines and "topic" lines.
series_patches() {
	awk '!/^#/ && NF && $1 != "topic"' "$TOP/patches/series"
}

# overlay_path PATH: where a file we own goes in this base's tree (our x86
# selftests are under x86/, as since 6.14; older bases call it x86_64/).
overlay_path() {
	case $1 in
	tools/testing/selftests/kvm/x86/* | tools/testing/selftests/kvm/include/x86/*)
		echo "${1/\/x86\//\/$BASE_SELFTEST_ARCH\/}" ;;
	*)	echo "$1" ;;
	esac
}

# selftest_path NAME: a selftest path of ours (x86/...) as this base calls it.
selftest_path() {
	overlay_path "tools/testing/selftests/kvm/$1" | sed 's|^tools/testing/selftests/kvm/||'
}
