// Package quant holds the pricing and risk kernels behind calcgrid's finance
// task types: Black–Scholes–Merton and barrier closed forms, a Leisen–Reimer
// tree, Monte Carlo (European, Asian, barrier, Longstaff–Schwartz American)
// and portfolio value-at-risk. Kernels do no I/O, honour context
// cancellation, report progress, and return bit-identical results for the
// same inputs and seed on any number of cores.
package quant

import (
	"context"
	"errors"
	"fmt"
)

// Style is the exercise or payoff style of an option.
type Style string

// Option styles.
const (
	European Style = "european"
	American Style = "american"
	Asian    Style = "asian"
	Barrier  Style = "barrier"
)

// Kind is call or put.
type Kind string

// Option kinds.
const (
	Call Kind = "call"
	Put  Kind = "put"
)

// Method is a pricing method.
type Method string

// Pricing methods.
const (
	Analytic   Method = "analytic"
	Binomial   Method = "binomial"
	MonteCarlo Method = "monte_carlo"
)

// Averaging is the Asian average.
type Averaging string

// Asian averages.
const (
	Arithmetic Averaging = "arithmetic"
	Geometric  Averaging = "geometric"
)

// BarrierType says which way the barrier is crossed and what it does.
type BarrierType string

// Barrier types.
const (
	UpAndOut   BarrierType = "up_and_out"
	UpAndIn    BarrierType = "up_and_in"
	DownAndOut BarrierType = "down_and_out"
	DownAndIn  BarrierType = "down_and_in"
)

func (b BarrierType) up() bool  { return b == UpAndOut || b == UpAndIn }
func (b BarrierType) out() bool { return b == UpAndOut || b == DownAndOut }

// BarrierSpec is a continuously monitored barrier. A knock-out rebate is
// paid when the barrier is hit, a knock-in rebate at expiry if it never is.
type BarrierSpec struct {
	Type   BarrierType
	Level  float64
	Rebate float64
}

// hit reports whether spot s is on or beyond the barrier. A barrier already
// hit at the start is valid: a knock-out is then worth its rebate at once
// and a knock-in is a vanilla option (Haug's convention for S = H).
func (b BarrierSpec) hit(s float64) bool {
	if b.Type.up() {
		return s >= b.Level
	}
	return s <= b.Level
}

// Option is the contract and market: spot, strike, continuously compounded
// rate and dividend yield, volatility and maturity in years.
type Option struct {
	Style     Style
	Kind      Kind
	Spot      float64
	Strike    float64
	Rate      float64
	Dividend  float64
	Vol       float64
	Maturity  float64
	Averaging Averaging   // Asian only
	Barrier   BarrierSpec // Barrier only
}

func (o Option) phi() float64 {
	if o.Kind == Put {
		return -1
	}
	return 1
}

// Settings choose and tune the method.
type Settings struct {
	Method Method
	Paths  int // Monte Carlo paths
	Steps  int // time steps, tree steps or Asian fixings
	Seed   uint64
	Greeks bool
}

// Greeks are derivatives with respect to the raw inputs: vega = ∂V/∂σ,
// rho = ∂V/∂r, theta = −∂V/∂T, all per unit (per year for theta).
type Greeks struct {
	Delta float64 `json:"delta"`
	Gamma float64 `json:"gamma"`
	Vega  float64 `json:"vega"`
	Theta float64 `json:"theta"`
	Rho   float64 `json:"rho"`
}

// Result is a price with, for Monte Carlo, its standard error.
type Result struct {
	Price    float64
	StdError float64 // 0 unless Monte Carlo
	Greeks   *Greeks
	Paths    int // paths actually simulated (0 unless Monte Carlo)
	Steps    int // steps actually used (0 if none)
}

// ErrUnsupported is returned for a style/method pair with no implementation.
var ErrUnsupported = errors.New("unsupported style and method")

// Price values o by s.Method, with greeks if s.Greeks: closed form for the
// analytic European, otherwise bump-and-revalue with common random numbers.
func Price(ctx context.Context, o Option, s Settings, progress Progress) (Result, error) {
	if !s.Greeks {
		return price(ctx, o, s, progress)
	}
	if o.Style == European && s.Method == Analytic {
		res, err := price(ctx, o, s, progress)
		if err != nil {
			return res, err
		}
		_, g := bsm(o.phi(), o.Spot, o.Strike, o.Rate, o.Dividend, o.Vol, o.Maturity)
		res.Greeks = &g
		return res, nil
	}
	return bumpGreeks(ctx, o, s, progress)
}

func price(ctx context.Context, o Option, s Settings, progress Progress) (Result, error) {
	switch {
	case s.Method == Analytic && o.Style == European:
		p, _ := bsm(o.phi(), o.Spot, o.Strike, o.Rate, o.Dividend, o.Vol, o.Maturity)
		progress.report(1)
		return Result{Price: p}, nil
	case s.Method == Analytic && o.Style == Asian && o.Averaging == Geometric:
		progress.report(1)
		return Result{Price: geometricAsian(o, s.Steps), Steps: s.Steps}, nil
	case s.Method == Analytic && o.Style == Barrier:
		progress.report(1)
		return Result{Price: barrierPrice(o)}, nil
	case s.Method == Binomial && (o.Style == European || o.Style == American):
		return leisenReimer(ctx, o, s.Steps, progress)
	case s.Method == MonteCarlo && o.Style == European:
		return mcEuropean(ctx, o, s, progress)
	case s.Method == MonteCarlo && o.Style == Asian:
		return mcAsian(ctx, o, s, progress)
	case s.Method == MonteCarlo && o.Style == Barrier:
		return mcBarrier(ctx, o, s, progress)
	case s.Method == MonteCarlo && o.Style == American:
		return longstaffSchwartz(ctx, o, s, progress)
	}
	return Result{}, fmt.Errorf("%w: %s by %s", ErrUnsupported, o.Style, s.Method)
}

// bumpGreeks revalues o under central bumps of each input. Monte Carlo runs
// reuse the seed, so the differences see the same random numbers.
func bumpGreeks(ctx context.Context, o Option, s Settings, progress Progress) (Result, error) {
	rel := 1e-4 // smooth closed forms
	if s.Method != Analytic {
		rel = 1e-2 // trees and Monte Carlo: step noise needs wider bumps
	}
	hS := rel * o.Spot
	// Volatilities too small to bump down take a forward difference.
	vUp, vDown := o.Vol*(1+rel), o.Vol*(1-rel)
	if rel*o.Vol < 1e-6 {
		vUp, vDown = o.Vol+1e-6, o.Vol
	}
	hR := 1e-4
	if s.Method != Analytic {
		hR = 1e-3
	}
	// Maturities too short to bump down take a forward difference.
	tUp, tDown := o.Maturity*(1+rel), o.Maturity*(1-rel)
	if rel*o.Maturity < 1e-12 {
		tUp, tDown = o.Maturity+1e-12, o.Maturity
	}
	bumps := []func(Option) Option{
		func(x Option) Option { return x },
		func(x Option) Option { x.Spot += hS; return x },
		func(x Option) Option { x.Spot -= hS; return x },
		func(x Option) Option { x.Vol = vUp; return x },
		func(x Option) Option { x.Vol = vDown; return x },
		func(x Option) Option { x.Rate += hR; return x },
		func(x Option) Option { x.Rate -= hR; return x },
		func(x Option) Option { x.Maturity = tUp; return x },
		func(x Option) Option { x.Maturity = tDown; return x },
	}
	s.Greeks = false
	v := make([]float64, len(bumps))
	var base Result
	for i, bump := range bumps {
		w := 1 / float64(len(bumps))
		r, err := price(ctx, bump(o), s, progress.span(float64(i)*w, w))
		if err != nil {
			return Result{}, err
		}
		if i == 0 {
			base = r
		}
		v[i] = r.Price
	}
	base.Greeks = &Greeks{
		Delta: (v[1] - v[2]) / (2 * hS),
		Gamma: (v[1] - 2*v[0] + v[2]) / (hS * hS),
		Vega:  (v[3] - v[4]) / (vUp - vDown),
		Rho:   (v[5] - v[6]) / (2 * hR),
		Theta: -(v[7] - v[8]) / (tUp - tDown),
	}
	return base, nil
}
