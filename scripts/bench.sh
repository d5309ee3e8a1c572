#!/usr/bin/env bash
# Kernel benchmarks on one core: the Go kernels of app/internal/quant against
# straightforward C versions of the same European and Asian Monte Carlo
# algorithms (bench/c, gcc -O3), same contracts, same generator (PCG-DXSM +
# ziggurat), same seed. Rates are per CPU-second of the process, so other
# load on the machine does not skew the Go/C ratio; each side runs RUNS times
# and the best rate counts.
#   RUNS=3 BENCHTIME=3x BENCH_CPU=0 scripts/bench.sh   (make bench-kernels)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/.cache/bench
runs=${RUNS:-3}
mkdir -p "$out"
cd "$root"

for src in bench/c/*.c; do
	gcc -O3 -o "$out/$(basename "$src" .c)" "$src" -lm
done
go test -c -o "$out/quant.test" ./app/internal/quant

pin=()
if command -v taskset >/dev/null; then
	pin=(taskset -c "${BENCH_CPU:-0}")
fi

echo "Go benchmarks (GOMAXPROCS=1${pin:+, ${pin[*]}}):"
go_out=$(GOMAXPROCS=1 "${pin[@]}" "$out/quant.test" -test.run '^$' -test.bench . \
	-test.benchtime "${BENCHTIME:-3x}" -test.count "$runs")
grep '^Benchmark' <<<"$go_out"

# best NAME UNIT: the highest UNIT rate of Go benchmark NAME.
best() {
	awk -v name="$1" -v unit="$2" '
		$1 ~ "^Benchmark" name "(-[0-9]+)?$" {
			for (i = 2; i < NF; i++) if ($(i + 1) == unit && $i > max) max = $i
		}
		END { printf "%.0f", max }' <<<"$go_out"
}

# c_best PROGRAM ARGS...: the highest paths/s of RUNS runs, and its price.
c_best() {
	local max=0 price="" line
	for _ in $(seq "$runs"); do
		line=$("${pin[@]}" "$out/$1" "${@:2}")
		read -r _ rate p _ <<<"$line"
		if awk -v a="$rate" -v b="$max" 'BEGIN { exit !(a > b) }'; then max=$rate price=$p; fi
	done
	echo "$max $price"
}

echo
echo "C (gcc -O3), same contracts and seed:"
read -r c_eu c_eu_price < <(c_best european 4000000 1)
read -r c_as c_as_price < <(c_best asian 40000 252 1)
echo "european 4e6 paths: price $c_eu_price; asian 4e4 paths × 252 fixings: price $c_as_price"

echo
printf '%-26s %16s %16s %8s\n' kernel "Go per CPU-s" "C per CPU-s" "Go/C"
row() { # name go c unit
	local ratio="-"
	if [[ $3 != "-" ]]; then ratio=$(awk -v g="$2" -v c="$3" 'BEGIN { printf "%.2f", g / c }'); fi
	printf '%-26s %16s %16s %8s\n' "$1 ($4)" "$2" "$3" "$ratio"
}
row european_mc "$(best EuropeanMC paths/s)" "$c_eu" paths
row asian_mc_252 "$(best AsianMC paths/s)" "$c_as" paths
row barrier_mc_252 "$(best BarrierMC paths/s)" - paths
row american_lsm_50 "$(best AmericanLSM paths/s)" - paths
row american_lr_1001 "$(best AmericanBinomial trees/s)" - trees
row portfolio_var_20 "$(best PortfolioVaR sims/s)" - sims
