package quant

import (
	"context"
	"testing"
)

// The benchmarks report paths per CPU-second (or the kernel's unit per
// CPU-second) so that scripts/bench.sh can set them against bench/c, which
// prices the same European and Asian contracts with the same algorithms and
// counts time the same way. CPU time rather than wall time keeps the ratio
// honest on a machine that other jobs share. Run with GOMAXPROCS=1 for the
// one-core comparison.

// perCPUSecond runs f under b.Loop and reports units/CPU-second.
func perCPUSecond(b *testing.B, unit string, perRun float64, f func()) {
	b.Helper()
	f() // warm up: first-touch page faults are not the kernel's cost
	start := processCPU(b)
	for b.Loop() {
		f()
	}
	b.ReportMetric(perRun*float64(b.N)/(processCPU(b)-start).Seconds(), unit)
}

var benchOption = Option{Kind: Call, Spot: 100, Strike: 100, Rate: 0.05, Dividend: 0.01, Vol: 0.2, Maturity: 1}

func benchPrice(b *testing.B, o Option, s Settings, unit string, perRun float64) {
	b.Helper()
	var r Result
	perCPUSecond(b, unit, perRun, func() {
		var err error
		if r, err = Price(context.Background(), o, s, nil); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(r.Price, "price")
}

func BenchmarkEuropeanMC(b *testing.B) {
	o := benchOption
	o.Style = European
	benchPrice(b, o, Settings{Method: MonteCarlo, Paths: 4_000_000, Seed: 1}, "paths/s", 4_000_000)
}

func BenchmarkAsianMC(b *testing.B) {
	o := benchOption
	o.Style, o.Averaging = Asian, Arithmetic
	benchPrice(b, o, Settings{Method: MonteCarlo, Paths: 40_000, Steps: 252, Seed: 1}, "paths/s", 40_000)
}

func BenchmarkBarrierMC(b *testing.B) {
	o := benchOption
	o.Style, o.Barrier = Barrier, BarrierSpec{Type: UpAndOut, Level: 130, Rebate: 1}
	benchPrice(b, o, Settings{Method: MonteCarlo, Paths: 40_000, Steps: 252, Seed: 1}, "paths/s", 40_000)
}

func BenchmarkAmericanLSM(b *testing.B) {
	o := benchOption
	o.Style, o.Kind = American, Put
	benchPrice(b, o, Settings{Method: MonteCarlo, Paths: 40_000, Steps: 50, Seed: 1}, "paths/s", 40_000)
}

func BenchmarkAmericanBinomial(b *testing.B) {
	o := benchOption
	o.Style, o.Kind = American, Put
	benchPrice(b, o, Settings{Method: Binomial, Steps: 1001}, "trees/s", 1)
}

func BenchmarkPortfolioVaR(b *testing.B) {
	const sims = 100_000
	pf := equicorrelated(20, 0.3, Position{Value: 1e5, Drift: 0.05, Vol: 0.25})
	pf.HorizonDays, pf.Confidence, pf.Simulations, pf.Seed = 10, 0.99, sims, 1
	perCPUSecond(b, "sims/s", sims, func() {
		if _, err := ValueAtRisk(context.Background(), pf, nil); err != nil {
			b.Fatal(err)
		}
	})
}
