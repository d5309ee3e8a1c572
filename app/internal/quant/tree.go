package quant

import (
	"context"
	"math"
	"time"
)

// leisenReimer prices European and American options on a Leisen–Reimer
// binomial tree (Peizer–Pratt method 2 inversion), which is centred on the
// strike and converges like 1/n², with odd step counts. Even counts are
// rounded up. When the inversion degenerates (probabilities within 1e-9 of 0
// or 1, e.g. volatility 1e-4 far from the money) the tree falls back to
// equal-probability Jarrow–Rudd steps, which stay valid for any volatility.
func leisenReimer(ctx context.Context, o Option, steps int, progress Progress) (Result, error) {
	n := steps | 1
	t, vol := o.Maturity, o.Vol
	dt := t / float64(n)
	carry := o.Rate - o.Dividend
	sd := vol * math.Sqrt(t)
	d1 := (math.Log(o.Spot/o.Strike) + (carry+0.5*vol*vol)*t) / sd
	d2 := d1 - sd
	p, p1 := peizerPratt(d2, n), peizerPratt(d1, n)
	g := math.Exp(carry * dt)
	lnU := math.Log(g * p1 / p)
	lnD := math.Log((g - p*math.Exp(lnU)) / (1 - p))
	if !(p > 1e-9 && p < 1-1e-9) || math.IsNaN(lnD) || math.IsInf(lnD, 0) || lnD >= lnU {
		m, s := (carry-0.5*vol*vol)*dt, vol*math.Sqrt(dt)
		lnU, lnD = m+s, m-s
		// p = (g − d)/(u − d) with the common factor e^m cancelled; with no
		// diffusion left in a step (maturity near 0) the tree is a line.
		p = 0.5
		if s > 0 {
			p = (math.Expm1(0.5*vol*vol*dt) - math.Expm1(-s)) / (math.Expm1(s) - math.Expm1(-s))
		}
	}
	disc := math.Exp(-o.Rate * dt)
	pu, pd := disc*p, disc*(1-p)
	phi, k, lnS := o.phi(), o.Strike, math.Log(o.Spot)
	node := func(i, j int) float64 {
		x := lnS + float64(j)*lnU + float64(i-j)*lnD
		return math.Exp(min(max(x, -745), 700)) // beyond: no probability mass
	}

	v := make([]float64, n+1)
	for j := range v {
		v[j] = max(phi*(node(n, j)-k), 0)
	}
	american := o.Style == American
	last := time.Now()
	for i := n - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		if time.Since(last) >= progressEvery {
			last = time.Now()
			progress.report(1 - float64(i)*float64(i)/(float64(n)*float64(n)))
		}
		for j := 0; j <= i; j++ {
			v[j] = pu*v[j+1] + pd*v[j]
		}
		if american {
			for j := 0; j <= i; j++ {
				v[j] = max(v[j], phi*(node(i, j)-k))
			}
		}
	}
	progress.report(1)
	return Result{Price: v[0], Steps: n}, nil
}

// peizerPratt is the Peizer–Pratt method-2 inversion h(z; n) that gives a
// binomial probability matching Φ(z) on n steps.
func peizerPratt(z float64, n int) float64 {
	fn := float64(n)
	a := z / (fn + 1.0/3 + 0.1/(fn+1))
	r := 0.5 * math.Sqrt(-math.Expm1(-a*a*(fn+1.0/6)))
	if z < 0 {
		return 0.5 - r
	}
	return 0.5 + r
}
