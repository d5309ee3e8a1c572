package quant

import (
	"context"
	"math"
)

// black is Black's formula on a lognormal underlying with forward f and
// log standard deviation sd, discounted by df.
func black(phi, f, k, sd, df float64) float64 {
	if sd < 1e-12 {
		return df * max(phi*(f-k), 0)
	}
	d1 := (math.Log(f/k) + 0.5*sd*sd) / sd
	d2 := d1 - sd
	return max(df*phi*(f*cdf(phi*d1)-k*cdf(phi*d2)), 0)
}

// geometricAsian is the exact price of an option on the geometric average of
// the n fixings S(i·T/n), i = 1..n. ln G is normal with
//
//	mean     ln S + (r − q − σ²/2)·T·(n+1)/(2n)
//	variance σ²·T·(n+1)(2n+1)/(6n²)
//
// (Kemna–Vorst's continuous-average formula is the n → ∞ limit and is off by
// several percent for daily fixings over short maturities.)
func geometricAsian(o Option, n int) float64 {
	fn := float64(n)
	t := o.Maturity
	m := math.Log(o.Spot) + (o.Rate-o.Dividend-0.5*o.Vol*o.Vol)*t*(fn+1)/(2*fn)
	v := o.Vol * o.Vol * t * (fn + 1) * (2*fn + 1) / (6 * fn * fn)
	return black(o.phi(), math.Exp(m+0.5*v), o.Strike, math.Sqrt(v), math.Exp(-o.Rate*t))
}

// mcAsian simulates the n fixings of each path in log space. For the
// arithmetic average the geometric-average payoff, whose price is known
// exactly, is the control variate.
func mcAsian(ctx context.Context, o Option, s Settings, progress Progress) (Result, error) {
	n := s.Steps
	dt := o.Maturity / float64(n)
	drift := (o.Rate - o.Dividend - 0.5*o.Vol*o.Vol) * dt
	diff := o.Vol * math.Sqrt(dt)
	x0 := math.Log(o.Spot)
	df := math.Exp(-o.Rate * o.Maturity)
	phi, k, inv := o.phi(), o.Strike, 1/float64(n)

	size := chunkSize(n)
	chunks := (s.Paths + size - 1) / size
	acc := make([]sums, chunks)
	err := forChunks(ctx, chunks, progress, func(c int) {
		g := newNormals(s.Seed, c)
		m := min(size, s.Paths-c*size)
		a := &acc[c]
		z := make([]float64, n)
		for range m {
			g.fill(z)
			x, sum, sumLog := x0, 0.0, 0.0
			for _, e := range z {
				x += drift + diff*e
				sum += exp(x)
				sumLog += x
			}
			arith := df * max(phi*(sum*inv-k), 0)
			geo := df * max(phi*(exp(sumLog*inv)-k), 0)
			a.add2(arith, geo)
		}
	})
	if err != nil {
		return Result{}, err
	}
	m := mergeAll(acc)
	var p, se float64
	if o.Averaging == Geometric {
		p, se = m.my, math.Sqrt(m.cyy/(m.n-1)/m.n)
	} else {
		p, se = m.controlled(geometricAsian(o, n))
	}
	return Result{Price: max(p, 0), StdError: se, Paths: s.Paths, Steps: n}, nil
}
