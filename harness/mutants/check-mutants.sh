#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check-mutants: do our tests catch a broken engine? Each mutant,
# harness/mutants/NN-name.patch, is one small fault in our
# virt/kvm/coalesced_mmio.c (or .h), a diff against build/<base>/linux.
# For each: a copy of the module build dir (build/<base>/kvm-mod) with the
# patch applied is built into kvm.ko and kvm-amd.ko, which an overlay cpio
# puts in place of ours in the VM, and our tests run on them with a fixed
# SEED. A mutant is killed when a test exits non-zero or prints "not ok"
# (the run stops there), or, if every test passed, when RACE_TEST fails
# in make check's second run of it, on multi-threaded TCG; it survives
# when that passes too. One line per mutant, then
# "mutants: N killed of N"; build/<base>/mutants/results.txt has the
# verdicts. MUTANTS="name ..." (with or without the NN-, or NN alone;
# globs too) runs only those.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver

MUT=$BUILD/mutants
SRC=$BUILD/kvm-mod
WORK=$MUT/kvm-mod	# one build dir for all, so ccache hits across mutants
OUR_TESTS="coalesced_pio_test coalesced_io_fuzz coalesced_ring_test coalesced_io_probe"
export SEED
for f in "$SRC/Makefile" "$BUILD/initramfs/base.cpio.gz"; do
	[ -f "$f" ] || die "$f is missing; run 'make initramfs' (make check-mutants does), which builds it."
done
need_cmd patch patch
cc=gcc
command -v ccache >/dev/null && cc="ccache gcc"
export CCACHE_BASEDIR=$TOP

# The mutants to run: all, or those MUTANTS names.
mutants=() all=()
read -ra pats <<<"$MUTANTS"	# not globbed against the current dir
for p in "$TOP"/harness/mutants/*.patch; do
	name=$(basename "$p" .patch)
	all+=("$name")
	for pat in "${pats[@]}"; do
		# shellcheck disable=SC2053
		if [[ $name == $pat || ${name#*-} == $pat || ${name%%-*} == $pat ]]; then
			mutants+=("$name")
			break
		fi
	done
done
[ "${#mutants[@]}" -gt 0 ] ||
	die "no mutant matches MUTANTS='$MUTANTS'; use names from harness/mutants/: ${all[*]}."

# Every patch must still apply to the engine as build/<base>/linux has it,
# before an hour of VM time is spent on the others.
for name in "${mutants[@]}"; do
	patch -s -p1 -F0 --dry-run -d "$BUILD/linux" <"$TOP/harness/mutants/$name.patch" >/dev/null ||
		die "harness/mutants/$name.patch no longer applies to $BUILD_REL/linux's engine; redo it against the engine as it is now."
done

mkdir -p "$MUT"
TESTS=$OUR_TESTS "$TOP/harness/vm/testlist.sh" plan >"$MUT/plan"
race_plan "$MUT/plan" >"$MUT/races-plan"
[ "$(wc -l <"$MUT/plan")" = 4 ] ||
	die "harness/vm/tests.conf no longer lists our four tests ($OUR_TESTS); update OUR_TESTS in harness/mutants/check-mutants.sh."

# build NAME: the mutant's kvm.ko and kvm-amd.ko in $MUT/NAME/root/modules/ours
# and, packed, in $MUT/NAME/overlay.cpio.gz.
build() {
	local out=$MUT/$1
	rm -rf "$WORK" "$out"
	mkdir -p "$out"
	cp -a "$SRC" "$WORK"
	patch -s -p1 -F0 -d "$WORK" <"$TOP/harness/mutants/$1.patch" >"$out/build.log" 2>&1 ||
		die "harness/mutants/$1.patch does not apply to $BUILD_REL/kvm-mod (see $out/build.log); run 'make modules' or redo the patch."
	nice -n 10 make -s -C "$WORK" KDIR="$(headers_dir)" CC="$cc" -j"$(nproc)" >>"$out/build.log" 2>&1 ||
		{ tail -20 "$out/build.log" >&2
		  die "mutant $1 does not build (compiler output above); fix harness/mutants/$1.patch."; }
	modules_overlay "$WORK/arch/x86/kvm" "$out"
}

# caught_by RUN PLAN: "test:case" of the first verdict that failed in RUN
# (a vm-run.sh output dir of PLAN), a case its TAP says "not ok" or else
# its exit status ("test:exit-RC"); nothing if every test passed.
caught_by() {
	! grep -q ' noboot ' "$1/results" ||
		die "the VM did not boot for a mutant (see $1/console.log); run 'make check TESTS=coalesced_pio_test' to see whether it boots at all."
	local status name what
	while IFS=$'\037' read -r status name what; do
		[ "$status" = fail ] || continue
		echo "$name:${what/#exit /exit-}"
		return
	done < <(run_verdicts "$1")
	[ "$(wc -l <"$1/results")" = "$(wc -l <"$2")" ] ||
		die "the VM ran only part of the plan, with no test failing (see $1/console.log); run it again, and if that repeats, look for what stopped it there."
}

killed=0 t_start=$SECONDS
: >"$MUT/results.txt"
for name in "${mutants[@]}"; do
	step "mutant $name: building"
	build "$name"
	step "mutant $name: $(wc -l <"$MUT/plan") tests in the VM (SEED=$SEED)"
	t0=$SECONDS
	STOP_AT_FAILURE=1 OURS_MODULES=$MUT/$name/root/modules/ours EXTRA_IMAGES=$MUT/$name/overlay.cpio.gz \
		"$TOP/harness/vm/vm-run.sh" ours "$MUT/plan" "$MUT/$name/run" >"$MUT/$name/vm.log"
	by=$(caught_by "$MUT/$name/run" "$MUT/plan")
	if [ -z "$by" ]; then
		# make check's second run of $RACE_TEST, on multi-threaded TCG.
		step "mutant $name: $RACE_TEST again on multi-threaded TCG"
		VM_TCG_THREAD=multi OURS_MODULES=$MUT/$name/root/modules/ours EXTRA_IMAGES=$MUT/$name/overlay.cpio.gz \
			"$TOP/harness/vm/vm-run.sh" ours "$MUT/races-plan" "$MUT/$name/races" >"$MUT/$name/races.log"
		by=$(caught_by "$MUT/$name/races" "$MUT/races-plan")
		[ -z "$by" ] || by="$by (multi-threaded TCG)"
	fi
	if [ -n "$by" ]; then
		killed=$((killed + 1))
		line="$name killed by $by"
	else
		line="$name SURVIVED"
	fi
	echo "$line" >>"$MUT/results.txt"
	echo "mutant $line ($((SECONDS - t0))s)"
done
echo "mutants: $killed killed of ${#mutants[@]}" | tee -a "$MUT/results.txt"
step "the mutants took $(((SECONDS - t_start) / 60))m$(((SECONDS - t_start) % 60))s"
[ "$killed" = "${#mutants[@]}" ] ||
	die "$((${#mutants[@]} - killed)) mutants survived (SURVIVED in $BUILD_REL/mutants/results.txt): strengthen our tests until they fail on each."
