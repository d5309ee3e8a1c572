package quant

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// within3SE checks a Monte Carlo estimate against an exact value; bias is
// the known discretisation allowance of the method (0 for unbiased ones).
func within3SE(t *testing.T, name string, r Result, exact, bias float64) {
	t.Helper()
	if r.StdError <= 0 || math.Abs(r.Price-exact) > 3*r.StdError+bias {
		t.Errorf("%s: MC %.5f ± %.5f, exact %.5f (%.1f SE)", name, r.Price, r.StdError, exact, (r.Price-exact)/r.StdError)
	}
}

func TestMonteCarloMatchesAnalytic(t *testing.T) {
	hull := Option{Spot: 42, Strike: 40, Rate: 0.1, Dividend: 0.02, Vol: 0.2, Maturity: 0.5}
	for _, kind := range []Kind{Call, Put} {
		o := hull
		o.Style, o.Kind = European, kind
		exact := mustPrice(t, o, Settings{Method: Analytic}).Price
		within3SE(t, "european "+string(kind), mustPrice(t, o, Settings{Method: MonteCarlo, Paths: 200_000, Seed: 1}), exact, 0)

		o.Style, o.Averaging = Asian, Geometric
		exact = mustPrice(t, o, Settings{Method: Analytic, Steps: 24}).Price
		within3SE(t, "geometric asian "+string(kind), mustPrice(t, o, Settings{Method: MonteCarlo, Paths: 50_000, Steps: 24, Seed: 2}), exact, 0)
	}
	// Barriers, all eight, on Haug's parameters with a rebate. The bridge
	// makes the estimator unbiased for continuous monitoring, up to the
	// knock-out rebate being discounted from mid-step (≤ r·Δt/2·rebate).
	for _, typ := range []BarrierType{DownAndOut, DownAndIn, UpAndOut, UpAndIn} {
		for _, kind := range []Kind{Call, Put} {
			h := 95.0
			if typ.up() {
				h = 105
			}
			o := Option{Style: Barrier, Kind: kind, Spot: 100, Strike: 100, Rate: 0.08, Dividend: 0.04, Vol: 0.25,
				Maturity: 0.5, Barrier: BarrierSpec{Type: typ, Level: h, Rebate: 3}}
			exact := mustPrice(t, o, Settings{Method: Analytic}).Price
			within3SE(t, string(typ)+" "+string(kind), mustPrice(t, o, Settings{Method: MonteCarlo, Paths: 40_000, Steps: 50, Seed: 3}), exact, 3*0.08*0.01/2)
		}
	}
}

func TestArithmeticAsianControlVariate(t *testing.T) {
	o := Option{Style: Asian, Averaging: Arithmetic, Kind: Call, Spot: 100, Strike: 100, Rate: 0.05, Vol: 0.3, Maturity: 1}
	s := Settings{Method: MonteCarlo, Paths: 20_000, Steps: 12, Seed: 4}
	cv := mustPrice(t, o, s)
	// A plain estimate on independent paths must agree within the noise of both.
	g := o
	g.Averaging = Geometric
	plainArith := plainAsian(t, o, 200_000, 12, 5)
	if d := math.Abs(cv.Price - plainArith.Price); d > 3*math.Hypot(cv.StdError, plainArith.StdError) {
		t.Errorf("control variate %.5f ± %.5f vs plain %.5f ± %.5f", cv.Price, cv.StdError, plainArith.Price, plainArith.StdError)
	}
	if cv.StdError > plainArith.StdError {
		t.Errorf("control variate SE %.5f on 20k paths not below plain %.5f on 200k", cv.StdError, plainArith.StdError)
	}
	// Arithmetic ≥ geometric average, path by path.
	if geo := mustPrice(t, g, Settings{Method: Analytic, Steps: 12}).Price; cv.Price < geo {
		t.Errorf("arithmetic %.5f below geometric %.5f", cv.Price, geo)
	}
}

// plainAsian is the arithmetic Asian estimate without the control variate.
func plainAsian(t *testing.T, o Option, paths, steps int, seed uint64) Result {
	t.Helper()
	acc := make([]sums, 1)
	g := newNormals(seed, 0)
	dt := o.Maturity / float64(steps)
	z := make([]float64, steps)
	for range paths {
		g.fill(z)
		x, sum := math.Log(o.Spot), 0.0
		for _, e := range z {
			x += (o.Rate-o.Dividend-0.5*o.Vol*o.Vol)*dt + o.Vol*math.Sqrt(dt)*e
			sum += math.Exp(x)
		}
		acc[0].add(math.Exp(-o.Rate*o.Maturity) * max(o.phi()*(sum/float64(steps)-o.Strike), 0))
	}
	p, se := mergeAll(acc).estimate()
	return Result{Price: p, StdError: se}
}

func TestLongstaffSchwartzMatchesTree(t *testing.T) {
	for _, o := range []Option{
		{Style: American, Kind: Put, Spot: 36, Strike: 40, Rate: 0.06, Vol: 0.2, Maturity: 1},
		{Style: American, Kind: Put, Spot: 44, Strike: 40, Rate: 0.06, Vol: 0.4, Maturity: 2},
		{Style: American, Kind: Call, Spot: 100, Strike: 100, Rate: 0.03, Dividend: 0.07, Vol: 0.3, Maturity: 1},
	} {
		tree := mustPrice(t, o, Settings{Method: Binomial, Steps: 1001}).Price
		lsm := mustPrice(t, o, Settings{Method: MonteCarlo, Paths: 40_000, Steps: 50, Seed: 6})
		// 50 exercise dates value a Bermudan slightly below the American;
		// the regression's suboptimal rule biases low too (≈0.5%).
		within3SE(t, "lsm "+string(o.Kind), lsm, tree, 0.006*tree)
		eu := o
		eu.Style = European
		if e := mustPrice(t, eu, Settings{Method: Analytic}).Price; lsm.Price < e-3*lsm.StdError {
			t.Errorf("LSM %.4f below European %.4f", lsm.Price, e)
		}
	}
}

func TestMonteCarloErrorShrinksAsRootN(t *testing.T) {
	o := Option{Style: European, Kind: Call, Spot: 100, Strike: 110, Rate: 0.03, Vol: 0.25, Maturity: 1}
	exact := mustPrice(t, o, Settings{Method: Analytic}).Price
	small := mustPrice(t, o, Settings{Method: MonteCarlo, Paths: 10_000, Seed: 8})
	large := mustPrice(t, o, Settings{Method: MonteCarlo, Paths: 1_000_000, Seed: 8})
	if ratio := small.StdError / large.StdError; math.Abs(ratio-10) > 0.5 {
		t.Errorf("SE ratio for 100× paths = %.3f, want 10", ratio)
	}
	// The realised error over independent seeds follows the same law.
	rms := func(paths int) float64 {
		sum := 0.0
		for seed := range uint64(20) {
			d := mustPrice(t, o, Settings{Method: MonteCarlo, Paths: paths, Seed: 100 + seed}).Price - exact
			sum += d * d
		}
		return math.Sqrt(sum / 20)
	}
	if ratio := rms(4_000) / rms(400_000); ratio < 5 || ratio > 20 {
		t.Errorf("RMS error ratio for 100× paths = %.2f, want ≈ 10", ratio)
	}
}

func TestDeterministicAcrossCoreCounts(t *testing.T) {
	cases := []struct {
		name string
		o    Option
		s    Settings
	}{
		{"european", Option{Style: European, Kind: Call, Spot: 100, Strike: 100, Rate: 0.05, Vol: 0.2, Maturity: 1}, Settings{Method: MonteCarlo, Paths: 3_000_001, Seed: 9}},
		{"asian", Option{Style: Asian, Averaging: Arithmetic, Kind: Put, Spot: 100, Strike: 100, Rate: 0.05, Vol: 0.2, Maturity: 1}, Settings{Method: MonteCarlo, Paths: 30_000, Steps: 252, Seed: 9, Greeks: true}},
		{"barrier", Option{Style: Barrier, Kind: Call, Spot: 100, Strike: 100, Rate: 0.05, Vol: 0.2, Maturity: 1, Barrier: BarrierSpec{Type: UpAndOut, Level: 130, Rebate: 1}}, Settings{Method: MonteCarlo, Paths: 30_000, Steps: 100, Seed: 9}},
		{"american", Option{Style: American, Kind: Put, Spot: 100, Strike: 100, Rate: 0.05, Vol: 0.2, Maturity: 1}, Settings{Method: MonteCarlo, Paths: 30_000, Steps: 50, Seed: 9}},
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, tc := range cases {
		runtime.GOMAXPROCS(1)
		one := mustPrice(t, tc.o, tc.s)
		runtime.GOMAXPROCS(4)
		four := mustPrice(t, tc.o, tc.s)
		if one.Price != four.Price || one.StdError != four.StdError || (one.Greeks != nil && *one.Greeks != *four.Greeks) {
			t.Errorf("%s: 1 core %v ± %v %v, 4 cores %v ± %v %v", tc.name, one.Price, one.StdError, one.Greeks, four.Price, four.StdError, four.Greeks)
		}
	}
}

func TestMonteCarloGreeksMatchClosedForm(t *testing.T) {
	o := Option{Style: European, Kind: Call, Spot: 100, Strike: 100, Rate: 0.05, Dividend: 0.01, Vol: 0.25, Maturity: 1}
	want := *mustPrice(t, o, Settings{Method: Analytic, Greeks: true}).Greeks
	got := *mustPrice(t, o, Settings{Method: MonteCarlo, Paths: 400_000, Seed: 10, Greeks: true}).Greeks
	near(t, "delta", got.Delta, want.Delta, 0.01)
	near(t, "gamma", got.Gamma, want.Gamma, 0.002)
	near(t, "vega", got.Vega, want.Vega, 0.5)
	near(t, "theta", got.Theta, want.Theta, 0.2)
	near(t, "rho", got.Rho, want.Rho, 0.5)
}

// Extreme but valid inputs must price to finite, non-negative numbers, and
// where the answer is known in the limit, to that answer.
func TestExtremeInputsStayFinite(t *testing.T) {
	type tc struct {
		name string
		o    Option
		want float64 // NaN: only finiteness is checked
	}
	nan := math.NaN()
	deepCall := func(o Option) float64 {
		return o.Spot*math.Exp(-o.Dividend*o.Maturity) - o.Strike*math.Exp(-o.Rate*o.Maturity)
	}
	var cases []tc
	for _, v := range []struct {
		style Style
		avg   Averaging
	}{{European, ""}, {American, ""}, {Asian, Arithmetic}, {Asian, Geometric}, {Barrier, ""}} {
		base := Option{Style: v.style, Kind: Call, Spot: 100, Strike: 100, Rate: 0.05, Vol: 0.2, Maturity: 1,
			Averaging: v.avg, Barrier: BarrierSpec{Type: DownAndOut, Level: 99.999999, Rebate: 1}}
		mod := func(name string, f func(*Option), want float64) {
			o := base
			f(&o)
			cases = append(cases, tc{string(v.style) + " " + string(v.avg) + " " + name, o, want})
		}
		mod("vol 1e-4", func(o *Option) { o.Vol = 1e-4 }, nan)
		mod("vol 5, 50y", func(o *Option) { o.Vol, o.Maturity = 5, 50 }, nan)
		mod("deep ITM", func(o *Option) { o.Strike = 1e-6; o.Barrier.Level = 1e-7 }, nan)
		mod("deep OTM put", func(o *Option) { o.Kind, o.Strike = Put, 1e-6; o.Barrier.Level = 1e-7 }, 0)
		mod("tiny maturity", func(o *Option) { o.Maturity = 1e-9 }, nan)
		mod("vanishing maturity, vol 1e-4", func(o *Option) { o.Maturity, o.Vol = 1e-300, 1e-4 }, nan)
		mod("smallest maturity", func(o *Option) { o.Maturity = 5e-324 }, nan)
		mod("rate -0.5, q 1", func(o *Option) { o.Rate, o.Dividend, o.Maturity = -0.5, 1, 50 }, nan)
		mod("huge spot", func(o *Option) { o.Spot, o.Strike = 1e12, 1e-12; o.Barrier.Level = 1e-13 }, nan)
		mod("barrier at spot, in", func(o *Option) { o.Barrier.Type = DownAndIn; o.Barrier.Level = 100 }, nan)
	}
	cases = append(cases, tc{"european deep ITM limit", Option{Style: European, Kind: Call, Spot: 100, Strike: 1e-6, Rate: 0.05, Vol: 0.2, Maturity: 1}, deepCall(Option{Spot: 100, Strike: 1e-6, Rate: 0.05, Maturity: 1})})
	cases = append(cases, tc{"european vol 1e-4 forward", Option{Style: European, Kind: Call, Spot: 100, Strike: 90, Rate: 0.05, Vol: 1e-4, Maturity: 1}, deepCall(Option{Spot: 100, Strike: 90, Rate: 0.05, Maturity: 1})})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, s := range settingsFor(c.o) {
				s.Greeks = true
				r := mustPrice(t, c.o, s)
				g := *r.Greeks
				for _, v := range []float64{r.Price, r.StdError, g.Delta, g.Gamma, g.Vega, g.Theta, g.Rho} {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Fatalf("%s: non-finite result %+v %+v", s.Method, r, g)
					}
				}
				if r.Price < 0 {
					t.Errorf("%s: negative price %v", s.Method, r.Price)
				}
				if !math.IsNaN(c.want) && math.Abs(r.Price-c.want) > 1e-6*max(1, c.want)+3*r.StdError {
					t.Errorf("%s: price %v, want %v", s.Method, r.Price, c.want)
				}
			}
		})
	}
}

func settingsFor(o Option) []Settings {
	mc := Settings{Method: MonteCarlo, Paths: 2_000, Steps: 20, Seed: 11}
	switch {
	case o.Averaging == Arithmetic:
		return []Settings{mc}
	case o.Style == European:
		return []Settings{{Method: Analytic}, {Method: Binomial, Steps: 201}, mc}
	case o.Style == American:
		return []Settings{{Method: Binomial, Steps: 201}, mc}
	default:
		return []Settings{{Method: Analytic, Steps: 20}, mc}
	}
}

// processCPU is the user+system CPU time of the test process. Timing checks
// count CPU time — the work done — rather than wall time, which on a shared
// machine also counts time spent waiting for a core.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// progressLog records progress calls with the CPU time spent so far.
type progressLog struct {
	tb   testing.TB
	mu   sync.Mutex
	cpu  []time.Duration
	vals []float64
	// quarter is closed at the first report of 25% or more.
	quarter     chan struct{}
	quarterOnce sync.Once
}

func (l *progressLog) report(f float64) {
	at := processCPU(l.tb)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cpu = append(l.cpu, at)
	l.vals = append(l.vals, f)
	if f >= 0.25 {
		l.quarterOnce.Do(func() { close(l.quarter) })
	}
}

// check requires rising fractions in [0, 1] and at most maxGap of CPU work
// (over all cores) between start, each report and end.
func (l *progressLog) check(t *testing.T, start, end time.Duration) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	maxGap := time.Duration(runtime.GOMAXPROCS(0)) * 150 * time.Millisecond
	prev, last := start, 0.0
	for i, at := range append(l.cpu, end) {
		if gap := at - prev; gap > maxGap {
			t.Errorf("%v of CPU work without progress before report %d of %d", gap, i, len(l.cpu))
		}
		if i < len(l.vals) {
			if l.vals[i] < last || l.vals[i] > 1 {
				t.Errorf("progress %v after %v", l.vals[i], last)
			}
			last = l.vals[i]
		}
		prev = at
	}
}

// cancelDuring runs f, cancels its context once it reports 25% done (or
// after 600 ms) and requires that f returns context.Canceled within 100 ms of
// CPU work (per core) after the cancel, reporting progress at the required
// cadence until then. Cancelling on progress rather than on a timer keeps the
// cancel mid-run on a fast idle machine as well as on a loaded one.
func cancelDuring(t *testing.T, f func(ctx context.Context, progress Progress) error) {
	t.Helper()
	log := progressLog{tb: t, quarter: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := processCPU(t)
	go func() { done <- f(ctx, log.report) }()
	select {
	case <-log.quarter:
	case <-time.After(600 * time.Millisecond):
	}
	cancel()
	cancelled, wall := processCPU(t), time.Now()
	err := <-done
	end := processCPU(t)
	t.Logf("returned %v (wall) after cancel, %v of CPU", time.Since(wall).Round(time.Millisecond), (end - cancelled).Round(time.Millisecond))
	if work := (end - cancelled) / time.Duration(runtime.GOMAXPROCS(0)); work > 100*time.Millisecond {
		t.Errorf("%v of CPU per core after cancel, want ≤ 100ms", work)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	log.check(t, start, cancelled)
}

func TestCancelAndProgress(t *testing.T) {
	cases := []struct {
		name string
		o    Option
		s    Settings
	}{
		{"asian mc", Option{Style: Asian, Averaging: Arithmetic, Kind: Call, Spot: 100, Strike: 100, Rate: 0.05, Vol: 0.2, Maturity: 1}, Settings{Method: MonteCarlo, Paths: 10_000_000, Steps: 252, Seed: 1}},
		{"barrier mc, 10k steps", Option{Style: Barrier, Kind: Call, Spot: 100, Strike: 100, Rate: 0.05, Vol: 0.2, Maturity: 1, Barrier: BarrierSpec{Type: UpAndOut, Level: 150}}, Settings{Method: MonteCarlo, Paths: 1_000_000, Steps: 10_000, Seed: 1}},
		{"american lsm", Option{Style: American, Kind: Put, Spot: 100, Strike: 100, Rate: 0.05, Vol: 0.2, Maturity: 1}, Settings{Method: MonteCarlo, Paths: 200_000, Steps: 100, Seed: 1}},
		{"binomial 10k", Option{Style: American, Kind: Put, Spot: 100, Strike: 100, Rate: 0.05, Vol: 0.2, Maturity: 1}, Settings{Method: Binomial, Steps: 10_000, Greeks: true}},
		{"european greeks", Option{Style: European, Kind: Call, Spot: 100, Strike: 100, Rate: 0.05, Vol: 0.2, Maturity: 1}, Settings{Method: MonteCarlo, Paths: 50_000_000, Seed: 1, Greeks: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cancelDuring(t, func(ctx context.Context, p Progress) error {
				_, err := Price(ctx, tc.o, tc.s, p)
				return err
			})
		})
	}
}
