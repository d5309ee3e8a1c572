package quant

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// peakHeap runs f and returns the most heap bytes in objects (live or not
// yet swept) seen above what was in use before, sampled every 100 µs while
// the garbage collector runs at GOGC=2, so that garbage stays small
// beside what f holds.
func peakHeap(f func()) int64 {
	defer debug.SetGCPercent(debug.SetGCPercent(2))
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() int64 { metrics.Read(sample); return int64(sample[0].Value.Uint64()) }
	base := read()
	var peak int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Microsecond)
		defer tick.Stop()
		for {
			peak = max(peak, read()-base)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	f()
	close(stop)
	wg.Wait()
	return max(peak, read()-base)
}

// TestEstimateCalibration runs each kernel at sizes where its arrays
// dominate and checks the estimates against what the run took: memory is
// an upper bound of the peak heap and not far above it; CPU time is within
// a factor of the estimate (the rates are the slowest seen on the project's
// machine; -v prints the ratios, which is how the rates in cost.go were
// chosen).
func TestEstimateCalibration(t *testing.T) {
	ctx := context.Background()
	at := Option{Kind: Put, Spot: 100, Strike: 100, Rate: 0.05, Dividend: 0.01, Vol: 0.2, Maturity: 1}
	style := func(s Style) Option {
		o := at
		o.Style = s
		switch s {
		case Asian:
			o.Averaging = Arithmetic
		case Barrier:
			o.Barrier = BarrierSpec{Type: UpAndOut, Level: 130, Rebate: 1}
		}
		return o
	}
	deep := style(American)
	deep.Strike = 200
	type run struct {
		name string
		est  Estimate
		f    func() error
	}
	price := func(name string, o Option, s Settings) run {
		return run{name, EstimatePrice(o, s), func() error { _, err := Price(ctx, o, s, nil); return err }}
	}
	var runs []run
	runs = append(runs,
		price("european 4e6 paths", style(European), Settings{Method: MonteCarlo, Paths: 4_000_000, Seed: 1}),
		price("asian 4e4×252", style(Asian), Settings{Method: MonteCarlo, Paths: 40_000, Steps: 252, Seed: 1}),
		price("asian 1e3×1e4", style(Asian), Settings{Method: MonteCarlo, Paths: 1_000, Steps: 10_000, Seed: 1}),
		price("barrier 4e4×252", style(Barrier), Settings{Method: MonteCarlo, Paths: 40_000, Steps: 252, Seed: 1}),
		price("lsm 4e6×1", style(American), Settings{Method: MonteCarlo, Paths: 4_000_000, Steps: 1, Seed: 1}),
		price("lsm 4e4×100", style(American), Settings{Method: MonteCarlo, Paths: 40_000, Steps: 100, Seed: 1}),
		price("lsm deep 2e4×100", deep, Settings{Method: MonteCarlo, Paths: 20_000, Steps: 100, Seed: 1}),
		price("lsm 1e3×1e4", style(American), Settings{Method: MonteCarlo, Paths: 1_000, Steps: 10_000, Seed: 1}),
		price("tree american 5001", style(American), Settings{Method: Binomial, Steps: 5001}),
		price("tree european 10001 greeks", style(European), Settings{Method: Binomial, Steps: 10_001, Greeks: true}),
	)
	for _, c := range []struct{ n, sims int }{{1, 4_000_000}, {20, 200_000}, {200, 5_000}} {
		pf := equicorrelated(c.n, 0.3, Position{Value: 1e5, Drift: 0.05, Vol: 0.25})
		pf.HorizonDays, pf.Confidence, pf.Simulations, pf.Seed = 10, 0.99, c.sims, 1
		f, err := CorrelationFactor(pf.Correlation)
		if err != nil {
			t.Fatal(err)
		}
		rank, products := f.Size()
		runs = append(runs, run{fmt.Sprintf("var %d×%d", c.n, c.sims), EstimateVaR(c.n, rank, products, c.sims),
			func() error { _, err := ValueAtRisk(ctx, pf, nil); return err }})
	}
	for _, r := range runs {
		var err error
		var cpu time.Duration
		mem := peakHeap(func() {
			start := processCPU(t)
			err = r.f()
			cpu = processCPU(t) - start
		})
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		t.Logf("%-28s CPU %9s, estimated %9s (×%.2f); heap peak %7.1f MB, estimated %7.1f MB (×%.2f)",
			r.name, cpu.Round(time.Millisecond), r.est.CPU.Round(time.Millisecond), float64(r.est.CPU)/float64(cpu),
			float64(mem)/1e6, float64(r.est.Memory)/1e6, float64(r.est.Memory)/float64(mem))
		// Memory: an upper bound, whose counted arrays (all but
		// baseMemory) are at most a quarter above the peak.
		if mem > r.est.Memory || r.est.Memory-baseMemory > mem+mem/4+1<<18 {
			t.Errorf("%s: heap peak %d B, estimate %d B: want peak ≤ estimate ≤ peak·1.25 + 256 KiB + %d", r.name, mem, r.est.Memory, baseMemory)
		}
		// CPU: a loaded machine slows a run down by less than this.
		if cpu > 3*r.est.CPU {
			t.Errorf("%s: took %s of CPU, more than 3× the estimate %s", r.name, cpu, r.est.CPU)
		}
	}
}

// TestEstimateGrowth: work grows with every factor of the payload (paths,
// steps, pricings; simulations, positions), memory with what is kept.
func TestEstimateGrowth(t *testing.T) {
	o := Option{Style: Asian, Kind: Call, Spot: 100, Strike: 100, Rate: 0.05, Vol: 0.2, Maturity: 1, Averaging: Arithmetic}
	s := Settings{Method: MonteCarlo, Paths: 50_000_000, Steps: 10_000, Greeks: true}
	e := EstimatePrice(o, s)
	if e.Units != 4.5e12 {
		t.Errorf("asian 5e7 paths × 1e4 steps with greeks: %g units, want 4.5e12 path-steps", e.Units)
	}
	if e.CPU < 40*time.Hour {
		t.Errorf("asian 5e7 × 1e4 with greeks: %s of CPU, want days", e.CPU)
	}
	o.Style = American
	s = Settings{Method: MonteCarlo, Paths: MaxLSMCells, Steps: 1}
	if e := EstimatePrice(o, s); e.Memory < 400e6 {
		t.Errorf("longstaff–schwartz %d paths × 1 step: %d bytes, want ≥ 400 MB (the paths and their cash flows)", MaxLSMCells, e.Memory)
	}
	if e := EstimateVaR(1, 1, 1, 10_000_000); e.Memory < 160e6 {
		t.Errorf("var 1e7 simulations: %d bytes, want ≥ 160 MB (P&L and the sort's buffer)", e.Memory)
	}
	if a, b := EstimateVaR(200, 200, 20_100, 1_000_000), EstimateVaR(100, 100, 5_050, 1_000_000); a.CPU < 3*b.CPU {
		t.Errorf("var: 200 positions take %s, 100 take %s: want the products to dominate", a.CPU, b.CPU)
	}
	if g, p := EstimatePrice(Option{Style: European}, Settings{Method: Analytic, Greeks: true}), EstimatePrice(Option{Style: European}, Settings{Method: Binomial, Steps: 101, Greeks: true}); g.CPU != 0 || p.Units != 9*102*103/2 {
		t.Errorf("closed form with greeks costs %s (want 0); a 101-step tree with greeks %g nodes (want 9 × 102·103/2)", g.CPU, p.Units)
	}
}
