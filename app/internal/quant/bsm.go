package quant

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

func cdf(x float64) float64 { return distuv.UnitNormal.CDF(x) }
func pdf(x float64) float64 { return distuv.UnitNormal.Prob(x) }

// logCDF is ln Φ(x), finite far into the lower tail where Φ underflows;
// closed forms use it to multiply huge powers by tiny probabilities safely.
func logCDF(x float64) float64 {
	if x > -30 {
		return math.Log(cdf(x))
	}
	// Asymptotic expansion of the Mills ratio.
	x2 := x * x
	return -0.5*x2 - math.Log(-x) - 0.5*math.Log(2*math.Pi) + math.Log1p(-1/x2+3/(x2*x2))
}

// powCDF is a^p · Φ(x) computed in log space (a > 0), so that an overflowing
// power times an underflowing probability gives the finite product.
func powCDF(a, p, x float64) float64 {
	lp := p * math.Log(a)
	if p == 0 {
		lp = 0
	}
	lc := logCDF(x)
	if math.IsInf(lc, -1) {
		return 0
	}
	return math.Exp(lp + lc)
}

// bsm prices a European option on a Black–Scholes–Merton asset with
// continuous dividend yield q, with its greeks. phi is +1 for a call and −1
// for a put.
func bsm(phi, s, k, r, q, vol, t float64) (price float64, g Greeks) {
	sd := vol * math.Sqrt(t)
	dq, dr := math.Exp(-q*t), math.Exp(-r*t)
	if sd < 1e-12*max(1, math.Abs(math.Log(s/k))) || sd == 0 {
		// No diffusion left: the option is its discounted forward payoff.
		fwd := s * dq
		pv := k * dr
		if phi*(fwd-pv) > 0 {
			price = phi * (fwd - pv)
			g.Delta = phi * dq
			g.Rho = phi * k * t * dr
			g.Theta = phi * (q*fwd - r*pv)
		}
		return price, g
	}
	d1 := (math.Log(s/k) + (r-q+0.5*vol*vol)*t) / sd
	d2 := d1 - sd
	nd1, nd2 := cdf(phi*d1), cdf(phi*d2)
	price = phi * (s*dq*nd1 - k*dr*nd2)
	price = max(price, 0)
	n1 := pdf(d1)
	g.Delta = phi * dq * nd1
	g.Gamma = dq * n1 / (s * sd)
	g.Vega = s * dq * n1 * math.Sqrt(t)
	g.Rho = phi * k * t * dr * nd2
	g.Theta = -s*dq*n1*vol/(2*math.Sqrt(t)) + phi*(q*s*dq*nd1-r*k*dr*nd2)
	return price, g
}
