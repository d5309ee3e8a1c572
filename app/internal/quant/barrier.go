package quant

import "math"

// barrierPrice is the Reiner–Rubinstein closed form for continuously
// monitored single barriers as tabulated in Haug, "The Complete Guide to
// Option Pricing Formulas" (2nd ed., §4.17.1), terms A–F. Powers of H/S
// multiply normal probabilities in log space so that tiny volatilities,
// whose exponents reach millions, stay finite.
func barrierPrice(o Option) float64 {
	b := o.Barrier
	phi := o.phi()
	if b.hit(o.Spot) {
		if b.Type.out() {
			return b.Rebate
		}
		p, _ := bsm(phi, o.Spot, o.Strike, o.Rate, o.Dividend, o.Vol, o.Maturity)
		return p
	}
	s, x, h, k := o.Spot, o.Strike, b.Level, b.Rebate
	r, t, vol := o.Rate, o.Maturity, o.Vol
	carry := r - o.Dividend
	sd := vol * math.Sqrt(t)
	v2 := vol * vol
	mu := (carry - 0.5*v2) / v2
	eta := 1.0 // down barrier
	if b.Type.up() {
		eta = -1
	}
	hs := h / s
	x1 := math.Log(s/x)/sd + (1+mu)*sd
	x2 := math.Log(s/h)/sd + (1+mu)*sd
	y1 := math.Log(h*h/(s*x))/sd + (1+mu)*sd
	y2 := math.Log(h/s)/sd + (1+mu)*sd
	fwd := s * math.Exp((carry-r)*t)
	dr := math.Exp(-r * t)

	A := phi*fwd*cdf(phi*x1) - phi*x*dr*cdf(phi*x1-phi*sd)
	B := phi*fwd*cdf(phi*x2) - phi*x*dr*cdf(phi*x2-phi*sd)
	C := phi*fwd*powCDF(hs, 2*(mu+1), eta*y1) - phi*x*dr*powCDF(hs, 2*mu, eta*y1-eta*sd)
	D := phi*fwd*powCDF(hs, 2*(mu+1), eta*y2) - phi*x*dr*powCDF(hs, 2*mu, eta*y2-eta*sd)
	var E, F float64
	if k > 0 {
		E = k * dr * (cdf(eta*x2-eta*sd) - powCDF(hs, 2*mu, eta*y2-eta*sd))
		F = k * rebateAtHit(s, h, carry-0.5*v2, r, vol, t)
	}

	above := x >= h
	var v float64
	switch {
	case b.Type == DownAndIn && phi > 0:
		v = pick(above, C+E, A-B+D+E)
	case b.Type == UpAndIn && phi > 0:
		v = pick(above, A+E, B-C+D+E)
	case b.Type == DownAndIn && phi < 0:
		v = pick(above, B-C+D+E, A+E)
	case b.Type == UpAndIn && phi < 0:
		v = pick(above, A-B+D+E, C+E)
	case b.Type == DownAndOut && phi > 0:
		v = pick(above, A-C+F, B-D+F)
	case b.Type == UpAndOut && phi > 0:
		v = pick(above, F, A-B+C-D+F)
	case b.Type == DownAndOut && phi < 0:
		v = pick(above, A-B+C-D+F, F)
	case b.Type == UpAndOut && phi < 0:
		v = pick(above, B-D+F, A-C+F)
	}
	return max(v, 0)
}

func pick(cond bool, a, b float64) float64 {
	if cond {
		return a
	}
	return b
}

// rebateAtHit is E[e^{−rτ}; τ ≤ T] for the first time τ that a Brownian
// motion with drift nu and volatility vol, started at ln s, reaches ln h.
// With λ² = μ² + 2r/σ² ≥ 0 this is Haug's term F (per unit rebate); for
// rates negative enough to make λ imaginary the closed form does not exist in
// real arithmetic, so the first-passage density is integrated instead.
func rebateAtHit(s, h, nu, r, vol, t float64) float64 {
	v2 := vol * vol
	mu := nu / v2
	lam2 := mu*mu + 2*r/v2
	a := math.Log(h / s)
	if lam2 >= 0 {
		eta := 1.0
		if a > 0 {
			eta = -1
		}
		sd := vol * math.Sqrt(t)
		lam := math.Sqrt(lam2)
		z := a/sd + lam*sd
		return powCDF(h/s, mu+lam, eta*z) + powCDF(h/s, mu-lam, eta*z-2*eta*lam*sd)
	}
	return rebateQuadrature(s, h, nu, r, vol, t)
}

// rebateQuadrature integrates e^{−rτ} against the first-passage density of
// ln S to ln h, |a|/(σ√(2πτ³))·exp(−(a − ντ)²/(2σ²τ)) with a = ln(h/s).
func rebateQuadrature(s, h, nu, r, vol, t float64) float64 {
	v2 := vol * vol
	a := math.Log(h / s)
	// In u = ln τ the density τ·f(τ) is a smooth bump of width O(1), so a
	// fixed Simpson grid over 60 e-folds below T resolves it anywhere.
	const n = 4000 // even
	lo, hi := math.Log(t)-60, math.Log(t)
	du := (hi - lo) / n
	f := func(u float64) float64 {
		tau := math.Exp(u)
		e := a - nu*tau
		return math.Abs(a) / (vol * math.Sqrt(2*math.Pi*tau)) * math.Exp(-e*e/(2*v2*tau)-r*tau)
	}
	sum := f(lo) + f(hi)
	for i := 1; i < n; i++ {
		sum += float64(2+2*(i%2)) * f(lo+float64(i)*du)
	}
	return sum * du / 3
}
