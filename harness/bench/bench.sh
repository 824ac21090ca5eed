#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: run coalesced_io_bench in the VM on our modules and on
# Debian's stock ones (same binary, same image, same mode), then print the
# figures side by side with their ratios, and write
# $BUILD_REL/bench/results.csv, summary.csv and bench.png.
#
# BENCH_MODE=icount (the default): QEMU counts instructions (vm-run.sh's
#   VM_ICOUNT), so the guest's TSC counts instructions and every figure is
#   exact: repetitions agree to 0.01%, whatever the host's load. Cycles
#   per write are instructions of the whole machine (guest, KVM, the VMM)
#   per write. vCPUs and threads take turns on one emulated CPU, in an
#   order fixed by the instruction count: with 2 or 4 vCPUs, a burst's
#   cycles include the other vCPUs' turns, and a drainer thread never runs
#   beside the vCPU.
# BENCH_MODE=wallclock: multi-threaded TCG (one host thread per emulated
#   CPU, so drainer threads really run beside the vCPU); the guest's TSC
#   then follows the host's clock. Noisy (medians move by up to 30% between runs): compare
#   ratios from one run only.
# bench.sh report: print the tables and plot again from the last run
#   (BENCH_MODE as that run's).
# bench.sh check: run a small configuration twice (two boots) in icount
#   mode and compare; prints the result (TAP) of rig:bench-icount-repeatable.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
load_base
resolve_kver

MODE=$BENCH_MODE
OUT=$BUILD/bench
mkdir -p "$OUT"

# run_bench MODULES DIR ARGS...: coalesced_io_bench ARGS in the VM; its
# CSV lines, prefixed with MODULES, on stdout.
run_bench() {
	local m=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	echo "bench 3600 ./$(selftest_path x86/coalesced_io_bench) $*" >"$dir/plan"
	vm_run_shown "$m" "$dir/plan" "$dir/vm"
	grep -q '^bench 0 ' "$dir/vm/results" ||
		die "the benchmark failed on the $m modules (console: ${dir#"$TOP"/}/vm/console.log)."
	tr -d '\r' <"$dir/vm/console.log" | sed -n "s/^@@CSV /$m,/p"
}

case "$MODE" in
icount) export VM_ICOUNT=1 ;;
wallclock)
	# Multi-threaded TCG breaks a guest now and then (README, Known
	# issues): if the bench fails, run it again.
	export VM_TCG_THREAD=multi ;;
*) die "BENCH_MODE=$MODE: use icount (deterministic, the default) or wallclock." ;;
esac

if [ "${1:-}" = check ]; then
	# A check of the rig, not of the module: instruction counting makes
	# the bench repeat. Two boots, an exit, the legacy ring and the floor,
	# six bursts of 64 writes each: the cheapest burst's cycles per write
	# must agree to 0.5% (they do to 0.01%).
	export VM_ICOUNT=1
	for i in 1 2; do
		run_bench ours "$OUT/check-$i" -s 0.2 -r 1 -c a_exit,b_coalesced,d_ioeventfd \
			>"$OUT/check-$i.csv" || { result "rig:bench-icount-repeatable fail run $i failed"; exit 0; }
	done
	paste -d, "$OUT/check-1.csv" "$OUT/check-2.csv" | awk -F, '
		{ n++; d = ($10 - $20) / $10; if (d < 0) d = -d; if (d > worst) { worst = d; which = $2 } }
		END {
			if (n < 3) print "rig:bench-icount-repeatable fail " n " figures, not 3"
			else if (worst > 0.005) printf "rig:bench-icount-repeatable fail %s differs by %.3f%% between two boots\n", which, worst * 100
			else printf "rig:bench-icount-repeatable pass %d figures, largest difference %.4f%%\n", n, worst * 100
		}' | result_lines
	exit 0
fi

REPS=${REPS:-$([ "$MODE" = icount ] && echo 3 || echo 5)}
if [ "${1:-}" = report ]; then
	# The tables and the plot again, from the last run's results.csv.
	[ -s "$OUT/results.csv" ] || die "$BUILD_REL/bench/results.csv is missing; run 'make bench' first."
	REPS=$(awk -F, 'NR > 1 && $5 + 1 > n { n = $5 + 1 } END { print n }' "$OUT/results.csv")
else
	echo "modules,case,burst,vcpus,rep,writes,exits,cycles_per_write,ns_per_write,best_cycles_per_write" \
		>"$OUT/results.csv"
	for m in ours stock; do
		step "benchmark on the $m modules ($MODE mode, scale $SCALE, $REPS repetitions; about $([ "$MODE" = icount ] && echo 5 || echo 1) min)"
		run_bench "$m" "$OUT/$m" -s "$SCALE" -r "$REPS" >>"$OUT/results.csv"
	done
fi

# Median, min and max per configuration, over the repetitions.
awk -F, 'NR > 1 { key = $1 "," $2 "," $3 "," $4; c[key] = c[key] " " $8; n[key] = n[key] " " $9; x[key] = x[key] " " $7 / $6; b[key] = b[key] " " $10 }
function stats(list,   v, k, i, j, t) {
	k = split(list, v, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
	return v[int((k + 1) / 2)] "," v[1] "," v[k]
}
END {
	print "modules,case,burst,vcpus,cycles_median,cycles_min,cycles_max,ns_median,ns_min,ns_max,exits_per_write,best_median,best_min,best_max"
	for (key in c) {
		exits = stats(x[key])
		sub(/,.*/, "", exits)	# the median only
		print key "," stats(c[key]) "," stats(n[key]) "," exits "," stats(b[key])
	}
}' "$OUT/results.csv" | sort >"$OUT/summary.csv"

# The figure: the guest's TSC around each burst, which counts
# instructions (icount) or follows the host's clock (wallclock). Under
# icount, the cheapest burst (no timer interrupt in it, the same in every
# run); on the clock, the mean over all bursts.
col=12 unit="guest TSC cycles (= instructions) per write, cheapest burst"
[ "$MODE" = wallclock ] && col=5 unit="guest TSC cycles (host time under TCG) per write, mean"
# summary_field MODULES CASE BURST VCPUS COLUMN: that column of
# summary.csv's row for the configuration, or nothing.
summary_field() {
	awk -F, -v k="$1,$2,$3,$4" -v c="$5" 'index($0, k ",") == 1 { print $c }' "$OUT/summary.csv"
}
# get MODULES CASE BURST VCPUS: the median of this mode's figure.
get() {
	summary_field "$@" "$col"
}
# ratio A B, minus A B: A/B and A-B, or n/a when a figure is missing.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b + 0 == 0) print "n/a"; else printf "%.3f", a / b }'
}
minus() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "n/a"; else printf "%.1f", a - b }'
}
row() {
	printf '  %-34s %12s %12s\n' "$@"
}

a=$(get ours a_exit 64 1) b=$(get ours b_coalesced 64 1) d=$(get ours d_ioeventfd 64 1)
sa=$(get stock a_exit 64 1) sb=$(get stock b_coalesced 64 1) sd=$(get stock d_ioeventfd 64 1)
bd=$(get ours b_dedicated 64 1)
echo
echo "$MODE mode: $unit, median of $REPS; 64-write bursts, one vCPU"
row "" ours mainline
row "a: exit to userspace" "$a" "$sa"
row "b: coalesced, legacy ring" "$b" "$sb"
row "b': coalesced, dedicated ring" "${bd:-n/a}" "(none)"
row "d: ioeventfd, the in-kernel floor" "$d" "$sd"
row "b/a (published: 0.15 for 0x70)" "$(ratio "$b" "$a")" "$(ratio "$sb" "$sa")"
row "b/d (goal <= 1.10)" "$(ratio "$b" "$d")" "$(ratio "$sb" "$sd")"
row "b - d: cost above the floor" "$(minus "$b" "$d")" "$(minus "$sb" "$sd")"
echo "  ours vs mainline, legacy ring     b/c: $(ratio "$b" "$sb")  (goal <= 1.00)"
[ -n "$bd" ] && echo "  dedicated ring vs mainline legacy b'/c: $(ratio "$bd" "$sb")  (goal <= 1.00)"
echo "  RTC pattern (out 0x70; in 0x71), zone vs none: $(ratio "$(get ours e_rtc_exit 64 1)" "$(get ours e_rtc_coalesced 64 1)")x faster per iteration"
# The dedicated ring's eventfd at 1 entry (what bounds a write's wait):
# a signal at every write into an empty ring, drained at exits.
n1=$(get ours i_notify1 1 1) d1=$(get ours i_dedicated 1 1)
n64=$(get ours i_notify1 64 1) d64=$(get ours i_dedicated 64 1)
[ -z "$n1" ] || echo "  dedicated ring, eventfd at 1 entry: bursts of 1 (a signal per write) $n1 per write" \
	"against $d1 without (+$(minus "$n1" "$d1")); bursts of 64 $n64 against $d64 (+$(minus "$n64" "$d64"))"

# The 10,000-write burst: exits per burst (median).
hx() { awk -v e="$(summary_field ours "$1" 10000 1 11)" \
	'BEGIN { if (e == "") print "n/a"; else printf "%.0f", e * 10000 }'; }
echo "  10,000-write burst, exits to userspace: legacy ring drained at exits $(hx h_legacy_at_exits)," \
	"legacy + spinning thread $(hx h_legacy_spinning), dedicated ring + spinning thread" \
	"$(hx h_dedicated_spinning), dedicated ring + thread in poll() on its eventfd $(hx h_dedicated_poll)"
[ "$MODE" = icount ] &&
	echo "    (icount: the drainer threads take turns with the vCPU on one CPU; BENCH_MODE=wallclock runs them beside it)"

echo
echo "Every configuration: $unit, median (min..max) of $REPS; exits per write; the VM's"
echo "clock over the whole run per write (setup and drains included)"
printf '  %-6s %-18s %6s %5s %30s %10s %9s\n' modules case burst vcpus "per write (min..max)" exits/wr "run/write"
tail -n +2 "$OUT/summary.csv" | while IFS=, read -r m kase burst vcpus cm cmin cmax nm _ _ ex bm bmin bmax; do
	[ "$MODE" = icount ] && cm=$bm cmin=$bmin cmax=$bmax
	printf '  %-6s %-18s %6s %5s %10s (%8s..%8s) %10.3f %9s\n' \
		"$m" "$kase" "$burst" "$vcpus" "$cm" "$cmin" "$cmax" "$ex" "$nm"
done
if [ "$MODE" = icount ]; then
	awk -F, -v c="$col" 'NR > 1 && $4 == 1 && $c > 0 { s = ($(c + 2) - $(c + 1)) / $c; if (s > w) { w = s; k = $1 " " $2 " " $3 } }
		END { printf "  largest spread between repetitions, one vCPU: %.4f%% (%s)\n", w * 100, k }' "$OUT/summary.csv"
	echo "  with 2 or 4 vCPUs the vCPUs take turns on one CPU: a burst's cycles may include the others' turns"
fi

# Scaling: bursts between drains (the figure of this mode, per write), and
# 1, 2 and 4 vCPUs. With vCPUs that take turns on one CPU (icount), a
# burst's own cycles include the others' turns, so the vCPU rows use the
# VM's clock over the whole run instead: instructions (icount) or host ns
# (wallclock) of the whole machine per write, setup and drains included.
# cell MODULES CASE BURST VCPUS COLUMN: that figure, or "-".
cell() {
	local v
	v=$(summary_field "$@")
	echo "${v:--}"
}
echo
echo "Scaling, $MODE mode"
printf '  %-40s' "writes between drains:"; printf '%9s' 1 10 100 1000 10000; echo
for m in ours stock; do
	printf '  %-40s' "$m, legacy ring (per write, as above)"
	for burst in 1 10 100 1000 10000; do printf '%9s' "$(cell "$m" f_burst "$burst" 1 "$col")"; done
	echo
done
printf '  %-40s' "vCPUs writing:"; printf '%9s' 1 2 4; echo
for row in "ours g_vcpus_one_ring" "ours g_vcpus_ring_each" "stock g_vcpus_one_ring"; do
	read -r m kase <<<"$row"
	printf '  %-40s' "$m, ${kase#g_vcpus_} (machine, per write)"
	for v in 1 2 4; do printf '%9s' "$(cell "$m" "$kase" 64 "$v" 8)"; done
	echo
done
if [ "$MODE" = icount ]; then
	echo "  (vCPU rows: the VM's clock = instructions of the whole machine over the run / writes;"
	echo "   on one emulated CPU there is no contention to measure: BENCH_MODE=wallclock runs 2 vCPUs"
	echo "   on 2 host threads, and this machine has 2 cores, so 4 vCPUs contend there only in turns)"
fi
echo "CSV: $BUILD_REL/bench/results.csv (every repetition), $BUILD_REL/bench/summary.csv"

# Plot what differs: the cost of a coalesced write above the in-kernel
# floor (ioeventfd, d), ours beside mainline, for each configuration one
# vCPU runs; a log axis of the whole cost would draw ours and mainline,
# 1% apart, on top of each other.  An exit costs far more than any bar:
# it is in the title, not drawn.
above() {
	awk -v a="$1" -v d="$2" 'BEGIN { if (a == "" || d == "") print "-"; else printf "%.1f", a - d }'
}
{
	echo "\"legacy ring\\n64\" $(above "$b" "$d") $(above "$sb" "$sd")"
	echo "\"dedicated ring\\n64\" $(above "$bd" "$d") -"
	for burst in 1 10 100 1000 10000; do
		echo "\"burst\\n$burst\" $(above "$(get ours f_burst "$burst" 1)" "$d")" \
			"$(above "$(get stock f_burst "$burst" 1)" "$sd")"
	done
} >"$OUT/above-floor.dat"
if command -v gnuplot >/dev/null; then
	gnuplot <<PLOT
set terminal png size 900,500
set output "$OUT/bench.png"
set title "Coalesced port write ($MODE mode): cost above the ioeventfd floor, each module's own\n(ours $d, mainline $sd); an exit to userspace costs $(minus "$a" "$d") above it"
set ylabel "per write above the floor ($([ "$MODE" = icount ] && echo instructions || echo guest TSC cycles))"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set datafile missing "-"
set yrange [0:*]
set grid ytics
set bmargin 4
set key top left
plot "$OUT/above-floor.dat" using 2:xtic(1) title "ours", '' using 3 title "mainline (stock)"
PLOT
	echo "plot: $BUILD_REL/bench/bench.png"
fi
