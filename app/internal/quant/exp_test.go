package quant

import (
	"math"
	"testing"
)

func TestExpMatchesMath(t *testing.T) {
	g := newNormals(1, 0)
	worst := 0.0
	for i := range 2_000_000 {
		x := (g.uniform() - 0.5) * 1420 // −710..710
		if i%2 == 0 {
			x /= 1000 // dense near 0, where MC steps live
		}
		want := math.Exp(x)
		if rel := math.Abs(exp(x)-want) / want; rel > worst {
			worst = rel
		}
	}
	if worst > 6e-16 { // two ulp: both functions round
		t.Errorf("worst relative error %g, want ≤ 6e-16", worst)
	}
	for _, x := range []float64{0, 1, -1, 708.9, -707.9, 709.5, -745, -800, 800, math.Inf(1), math.Inf(-1)} {
		if got, want := exp(x), math.Exp(x); got != want && math.Abs(got-want)/want > 6e-16 {
			t.Errorf("exp(%v) = %v, want %v", x, got, want)
		}
	}
	if !math.IsNaN(exp(math.NaN())) {
		t.Error("exp(NaN) is not NaN")
	}
}
