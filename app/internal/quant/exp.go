package quant

import "math"

// exp is e^x within two ulp of math.Exp, several times faster than
// math.Exp on amd64 (whose assembly is an older, slower design). Monte Carlo
// inner loops take one exponential per step, so this decides their speed.
// Method (as in glibc and ARM's optimized-routines): x = (k + j/128)·ln 2 + r
// with |r| ≤ ln2/256, e^x = 2^k · 2^{j/128} · e^r, the middle factor from a
// table and e^r from its degree-5 Taylor polynomial (error < 1e-18).
func exp(x float64) float64 {
	if !(x > -708 && x < 709) { // out of the fast path's range, or NaN
		return math.Exp(x)
	}
	const (
		shift   = 0x1.8p52 // adding it rounds to an integer in the low mantissa bits
		invStep = 128 / math.Ln2
		// ln2/128 split so that kf·stepHi is exact.
		stepHi = 0x1.62e42fe000000p-8
		stepLo = 0x1.f473de6af278fp-37
	)
	t := x*invStep + shift
	kf := t - shift
	n := int64(math.Float64bits(t)&(1<<52-1)) - 1<<51
	r := x - kf*stepHi - kf*stepLo
	p := 1 + r*(1+r*(0.5+r*(1.0/6+r*(1.0/24+r*(1.0/120)))))
	scale := math.Float64frombits(expTable[n&127] + uint64(n>>7)<<52)
	return scale * p
}

// expTable holds the bits of 2^{j/128}, computed once at start-up.
var expTable = func() (t [128]uint64) {
	for j := range t {
		t[j] = math.Float64bits(math.Exp2(float64(j) / 128))
	}
	return t
}()
