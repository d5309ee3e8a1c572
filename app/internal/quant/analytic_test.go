package quant

import (
	"context"
	"math"
	"testing"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.6f, want %.6f ± %g", name, got, want, tol)
	}
}

func mustPrice(t *testing.T, o Option, s Settings) Result {
	t.Helper()
	r, err := Price(context.Background(), o, s, nil)
	if err != nil {
		t.Fatalf("Price(%+v, %+v): %v", o, s, err)
	}
	return r
}

func TestBlackScholesTextbook(t *testing.T) {
	tests := []struct {
		name string
		o    Option
		want float64
		tol  float64
	}{
		// Hull, Options, Futures and Other Derivatives, Example 15.6.
		{"hull 15.6 call", Option{Style: European, Kind: Call, Spot: 42, Strike: 40, Rate: 0.1, Vol: 0.2, Maturity: 0.5}, 4.76, 0.005},
		{"hull 15.6 put", Option{Style: European, Kind: Put, Spot: 42, Strike: 40, Rate: 0.1, Vol: 0.2, Maturity: 0.5}, 0.81, 0.005},
		// Hull Example 17.1: European call on an index paying a 3% yield.
		{"hull 17.1 index call", Option{Style: European, Kind: Call, Spot: 930, Strike: 900, Rate: 0.08, Dividend: 0.03, Vol: 0.2, Maturity: 2.0 / 12}, 51.83, 0.005},
		// Haug (2007) §1.1.6: generalised BSM put with dividend yield.
		{"haug 1.1.6 put", Option{Style: European, Kind: Put, Spot: 100, Strike: 95, Rate: 0.1, Dividend: 0.05, Vol: 0.2, Maturity: 0.5}, 2.4648, 0.00005},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			near(t, "price", mustPrice(t, tc.o, Settings{Method: Analytic}).Price, tc.want, tc.tol)
		})
	}
}

func TestPutCallParity(t *testing.T) {
	methods := []Settings{
		{Method: Analytic},
		{Method: Binomial, Steps: 1001},
	}
	for _, o := range []Option{
		{Style: European, Spot: 42, Strike: 40, Rate: 0.1, Vol: 0.2, Maturity: 0.5},
		{Style: European, Spot: 100, Strike: 130, Rate: -0.02, Dividend: 0.04, Vol: 0.6, Maturity: 3},
		{Style: European, Spot: 5, Strike: 1, Rate: 0.3, Dividend: 0.1, Vol: 1.5, Maturity: 20},
	} {
		for _, s := range methods {
			call, put := o, o
			call.Kind, put.Kind = Call, Put
			c, p := mustPrice(t, call, s).Price, mustPrice(t, put, s).Price
			parity := o.Spot*math.Exp(-o.Dividend*o.Maturity) - o.Strike*math.Exp(-o.Rate*o.Maturity)
			near(t, string(s.Method)+" C−P", c-p, parity, 1e-9*o.Spot+1e-12)
		}
	}
}

func TestAnalyticGreeksMatchFiniteDifferences(t *testing.T) {
	for _, o := range []Option{
		{Style: European, Kind: Call, Spot: 42, Strike: 40, Rate: 0.1, Vol: 0.2, Maturity: 0.5},
		{Style: European, Kind: Put, Spot: 100, Strike: 120, Rate: 0.03, Dividend: 0.02, Vol: 0.35, Maturity: 2},
		{Style: European, Kind: Call, Spot: 80, Strike: 100, Rate: -0.01, Dividend: 0.05, Vol: 0.9, Maturity: 7},
	} {
		g := *mustPrice(t, o, Settings{Method: Analytic, Greeks: true}).Greeks
		p := func(f func(*Option)) float64 {
			x := o
			f(&x)
			v, _ := bsm(x.phi(), x.Spot, x.Strike, x.Rate, x.Dividend, x.Vol, x.Maturity)
			return v
		}
		const h = 1e-5
		base := p(func(*Option) {})
		up, down := p(func(x *Option) { x.Spot *= 1 + h }), p(func(x *Option) { x.Spot *= 1 - h })
		hs := o.Spot * h
		near(t, "delta", g.Delta, (up-down)/(2*hs), 1e-6)
		near(t, "gamma", g.Gamma, (up-2*base+down)/(hs*hs), 1e-4)
		near(t, "vega", g.Vega, (p(func(x *Option) { x.Vol += h })-p(func(x *Option) { x.Vol -= h }))/(2*h), 1e-5)
		near(t, "rho", g.Rho, (p(func(x *Option) { x.Rate += h })-p(func(x *Option) { x.Rate -= h }))/(2*h), 1e-5)
		near(t, "theta", g.Theta, -(p(func(x *Option) { x.Maturity += h })-p(func(x *Option) { x.Maturity -= h }))/(2*h), 1e-5)
	}
}

func TestBumpGreeksOfTreeMatchClosedForm(t *testing.T) {
	o := Option{Style: European, Kind: Put, Spot: 100, Strike: 105, Rate: 0.04, Dividend: 0.01, Vol: 0.3, Maturity: 1}
	want := *mustPrice(t, o, Settings{Method: Analytic, Greeks: true}).Greeks
	got := *mustPrice(t, o, Settings{Method: Binomial, Steps: 1001, Greeks: true}).Greeks
	near(t, "delta", got.Delta, want.Delta, 1e-3)
	near(t, "gamma", got.Gamma, want.Gamma, 1e-3)
	near(t, "vega", got.Vega, want.Vega, 1e-2)
	near(t, "theta", got.Theta, want.Theta, 1e-2)
	near(t, "rho", got.Rho, want.Rho, 1e-2)
}

func TestLeisenReimer(t *testing.T) {
	tests := []struct {
		name string
		o    Option
		want float64
	}{
		// Longstaff & Schwartz (2001) Table 1's first put; 4.4866 is the
		// converged lattice value (their coarse finite-difference grid gives 4.478).
		{"LS table 1 put", Option{Style: American, Kind: Put, Spot: 36, Strike: 40, Rate: 0.06, Vol: 0.2, Maturity: 1}, 4.4866},
		// European checks against the closed form.
		{"european call", Option{Style: European, Kind: Call, Spot: 42, Strike: 40, Rate: 0.1, Vol: 0.2, Maturity: 0.5}, 4.759422},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			near(t, "price", mustPrice(t, tc.o, Settings{Method: Binomial, Steps: 1001}).Price, tc.want, 1e-3)
		})
	}
}

func TestAmericanPutConverges(t *testing.T) {
	o := Option{Style: American, Kind: Put, Spot: 50, Strike: 50, Rate: 0.1, Dividend: 0.02, Vol: 0.4, Maturity: 5.0 / 12}
	ref := mustPrice(t, o, Settings{Method: Binomial, Steps: 6001}).Price
	for _, n := range []int{501, 1001, 2001} {
		near(t, "LR price", mustPrice(t, o, Settings{Method: Binomial, Steps: n}).Price, ref, 1e-3)
	}
}

func TestAmericanAtLeastEuropean(t *testing.T) {
	for _, o := range []Option{
		{Kind: Put, Spot: 100, Strike: 100, Rate: 0.05, Vol: 0.2, Maturity: 1},
		{Kind: Call, Spot: 100, Strike: 90, Rate: 0.02, Dividend: 0.08, Vol: 0.3, Maturity: 2},
		{Kind: Put, Spot: 60, Strike: 100, Rate: 0.1, Vol: 0.25, Maturity: 3},
	} {
		eu, am := o, o
		eu.Style, am.Style = European, American
		e := mustPrice(t, eu, Settings{Method: Analytic}).Price
		a := mustPrice(t, am, Settings{Method: Binomial, Steps: 1001}).Price
		if a < e-1e-4 || a < o.phi()*(o.Spot-o.Strike) {
			t.Errorf("%+v: american %.6f below european %.6f or intrinsic", o, a, e)
		}
	}
	// Without dividends an American call is never exercised early.
	o := Option{Style: American, Kind: Call, Spot: 100, Strike: 95, Rate: 0.05, Vol: 0.3, Maturity: 1}
	eu := o
	eu.Style = European
	near(t, "american call, no dividend", mustPrice(t, o, Settings{Method: Binomial, Steps: 1001}).Price,
		mustPrice(t, eu, Settings{Method: Analytic}).Price, 1e-4)
}

// Haug (2007) Table 4-13: S = 100, r = 8%, b = 4%, T = 0.5, rebate 3,
// σ = 0.25, strikes 90, 100, 110.
func TestBarrierHaugTable(t *testing.T) {
	tests := []struct {
		typ  BarrierType
		kind Kind
		h    float64
		want [3]float64
	}{
		{DownAndOut, Call, 95, [3]float64{9.0246, 6.7924, 4.8759}},
		{DownAndOut, Call, 100, [3]float64{3.0000, 3.0000, 3.0000}},
		{UpAndOut, Call, 105, [3]float64{2.6789, 2.3580, 2.3453}},
		{DownAndIn, Call, 95, [3]float64{7.7627, 4.0109, 2.0576}},
		{UpAndIn, Call, 105, [3]float64{14.1112, 8.4482, 4.5910}},
		{DownAndIn, Put, 95, [3]float64{2.9586, 6.5677, 11.9752}},
		{UpAndIn, Put, 105, [3]float64{1.4653, 3.3721, 7.0846}},
		{DownAndOut, Put, 95, [3]float64{2.2798, 2.2947, 2.6252}},
		{DownAndOut, Put, 100, [3]float64{3.0000, 3.0000, 3.0000}},
		{UpAndOut, Put, 105, [3]float64{3.7760, 5.4932, 7.5187}},
	}
	for _, tc := range tests {
		for i, k := range []float64{90, 100, 110} {
			o := Option{Style: Barrier, Kind: tc.kind, Spot: 100, Strike: k, Rate: 0.08, Dividend: 0.04, Vol: 0.25,
				Maturity: 0.5, Barrier: BarrierSpec{Type: tc.typ, Level: tc.h, Rebate: 3}}
			near(t, string(tc.typ)+" "+string(tc.kind), mustPrice(t, o, Settings{Method: Analytic}).Price, tc.want[i], 6e-5)
		}
	}
}

func TestBarrierInPlusOutIsVanilla(t *testing.T) {
	for _, kind := range []Kind{Call, Put} {
		for _, h := range []float64{70, 95, 99.9, 100, 100.1, 105, 140} {
			for _, k := range []float64{80, 100, 120} {
				o := Option{Style: Barrier, Kind: kind, Spot: 100, Strike: k, Rate: 0.05, Dividend: 0.02, Vol: 0.3, Maturity: 1}
				vanilla, _ := bsm(o.phi(), 100, k, 0.05, 0.02, 0.3, 1)
				dir := []BarrierType{DownAndIn, DownAndOut}
				if h > 100 {
					dir = []BarrierType{UpAndIn, UpAndOut}
				}
				in, out := o, o
				in.Barrier = BarrierSpec{Type: dir[0], Level: h}
				out.Barrier = BarrierSpec{Type: dir[1], Level: h}
				sum := mustPrice(t, in, Settings{Method: Analytic}).Price + mustPrice(t, out, Settings{Method: Analytic}).Price
				near(t, "in+out", sum, vanilla, 1e-9)
			}
		}
	}
}

// The quadrature used when the rate makes λ imaginary agrees with the closed
// form where both apply.
func TestRebateQuadratureMatchesClosedForm(t *testing.T) {
	for _, c := range []struct{ s, h, r, q, vol, t float64 }{
		{100, 95, 0.08, 0.04, 0.25, 0.5},
		{100, 120, 0.01, 0.0, 0.4, 3},
		{100, 99.99, 0.05, 0.02, 0.2, 1},
	} {
		nu := c.r - c.q - 0.5*c.vol*c.vol
		closed := rebateAtHit(c.s, c.h, nu, c.r, c.vol, c.t)
		// Force the quadrature by calling it with the same inputs.
		quad := rebateQuadrature(c.s, c.h, nu, c.r, c.vol, c.t)
		near(t, "rebate", quad, closed, 1e-7)
	}
	// λ imaginary: negative rate, finite and between e^{−r·0} and e^{−r·T} times P(hit).
	v := rebateAtHit(100, 90, -0.125, -0.5, 0.5, 5)
	if !(v > 0 && v < math.Exp(0.5*5)) {
		t.Errorf("rebate with imaginary λ = %v", v)
	}
}

func TestGeometricAsianDiscreteClosedForm(t *testing.T) {
	o := Option{Style: Asian, Averaging: Geometric, Kind: Call, Spot: 100, Strike: 95, Rate: 0.05, Dividend: 0.01, Vol: 0.3, Maturity: 1}
	// One fixing at T: the average is S_T, so the price is Black–Scholes.
	bs, _ := bsm(1, 100, 95, 0.05, 0.01, 0.3, 1)
	near(t, "n=1", geometricAsian(o, 1), bs, 1e-12)
	// Many fixings approach Kemna–Vorst's continuous average.
	b := 0.5 * (o.Rate - o.Dividend - o.Vol*o.Vol/6)
	va := o.Vol / math.Sqrt(3)
	kv := black(1, 100*math.Exp(b*o.Maturity), 95, va, math.Exp(-o.Rate))
	near(t, "n→∞", geometricAsian(o, 100000), kv, 1e-4)
	// Daily fixings differ from the continuous price by more than noise.
	if d := math.Abs(geometricAsian(o, 12) - kv); d < 0.05 {
		t.Errorf("12 fixings only %.4f from continuous", d)
	}
}
