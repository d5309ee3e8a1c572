package quant

import (
	"context"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

func mustVaR(t *testing.T, pf Portfolio) VaRResult {
	t.Helper()
	r, err := ValueAtRisk(context.Background(), pf, nil)
	if err != nil {
		t.Fatalf("ValueAtRisk: %v", err)
	}
	return r
}

// One lognormal position has exact VaR, shortfall and median.
func TestVaROnePositionMatchesLognormal(t *testing.T) {
	const sims = 200_000
	for _, c := range []struct {
		name  string
		value float64
		conf  float64
		days  int
	}{
		{"long 99% 10d", 1e6, 0.99, 10},
		{"short 99% 10d", -1e6, 0.99, 10},
		{"long 95% 1y", 5e5, 0.95, 252},
	} {
		t.Run(c.name, func(t *testing.T) {
			mu, vol := 0.08, 0.3
			pf := Portfolio{
				Positions:   []Position{{Name: "x", Value: c.value, Drift: mu, Vol: vol}},
				Correlation: [][]float64{{1}}, HorizonDays: c.days, Confidence: c.conf, Simulations: sims, Seed: 12,
			}
			r := mustVaR(t, pf)
			T := float64(c.days) / TradingDays
			m, s := (mu-0.5*vol*vol)*T, vol*math.Sqrt(T)
			// The loss tail is the low quantile of X for a long, the high one for a short.
			p := 1 - c.conf
			z := distuv.UnitNormal.Quantile(p)
			if c.value < 0 {
				z = -z
			}
			want := -c.value * math.Expm1(m+s*z)
			// Standard error of an empirical quantile: √(p(1−p)/N)/density.
			density := distuv.UnitNormal.Prob(z) / (math.Abs(c.value) * s * math.Exp(m+s*z))
			tol := 4 * math.Sqrt(p*(1-p)/sims) / density
			near(t, "var", r.VaR, want, tol)

			// E[e^X | X ≤ m + s·z] = e^{m+s²/2}·Φ(z − s)/p, mirrored for a short.
			tailMean := math.Exp(m+0.5*s*s) * distuv.UnitNormal.CDF(z-s) / p
			if c.value < 0 {
				tailMean = math.Exp(m+0.5*s*s) * distuv.UnitNormal.CDF(-z+s) / p
			}
			near(t, "expected shortfall", r.ExpectedShortfall, -c.value*(tailMean-1), 3*tol)
			near(t, "median", r.Percentiles["50"], c.value*math.Expm1(m), 4*math.Sqrt(0.25/sims)/(distuv.UnitNormal.Prob(0)/(math.Abs(c.value)*s*math.Exp(m))))
			near(t, "mean", r.MeanPnL, c.value*math.Expm1(mu*T), 4*r.StdPnL/math.Sqrt(sims))
			near(t, "parametric", r.ParametricVaR, -(c.value*mu*T + math.Abs(c.value)*vol*math.Sqrt(T)*distuv.UnitNormal.Quantile(p)), 1e-6*math.Abs(c.value))
			if r.ExpectedShortfall < r.VaR {
				t.Errorf("shortfall %v below VaR %v", r.ExpectedShortfall, r.VaR)
			}
			prev := math.Inf(-1)
			for _, key := range []string{"0.1", "1", "5", "50", "95", "99", "99.9"} {
				v, ok := r.Percentiles[key]
				if !ok || v < prev {
					t.Errorf("percentile %q = %v (present %v) after %v", key, v, ok, prev)
				}
				prev = v
			}
		})
	}
}

// Perfectly correlated positions (a singular but valid correlation) behave
// as one position of their combined value.
func TestVaRSingularCorrelation(t *testing.T) {
	pf := Portfolio{
		Positions: []Position{
			{Value: 3e5, Drift: 0.05, Vol: 0.2}, {Value: 7e5, Drift: 0.05, Vol: 0.2}, {Value: 1e5, Drift: 0, Vol: 0},
		},
		Correlation: [][]float64{{1, 1, 0}, {1, 1, 0}, {0, 0, 1}},
		HorizonDays: 5, Confidence: 0.99, Simulations: 100_000, Seed: 13,
	}
	r := mustVaR(t, pf)
	T := 5.0 / TradingDays
	s := 0.2 * math.Sqrt(T)
	z := distuv.UnitNormal.Quantile(0.01)
	m := (0.05 - 0.02) * T
	want := -1e6 * math.Expm1(m+s*z)
	tol := 4 * math.Sqrt(0.01*0.99/1e5) / (distuv.UnitNormal.Prob(z) / (1e6 * s * math.Exp(m+s*z)))
	near(t, "var", r.VaR, want, tol)
}

func TestCorrelationMustBePSD(t *testing.T) {
	_, err := CorrelationFactor([][]float64{{1, 0.9, -0.9}, {0.9, 1, 0.9}, {-0.9, 0.9, 1}})
	if !errors.Is(err, ErrNotPSD) || !strings.Contains(err.Error(), "smallest eigenvalue -0.") {
		t.Errorf("err = %v, want not positive semi-definite with the smallest eigenvalue", err)
	}
	if _, err := CorrelationFactor([][]float64{{1, 1}, {1, 1}}); err != nil {
		t.Errorf("singular PSD matrix rejected: %v", err)
	}
}

func TestVaRDeterministicAcrossCoreCounts(t *testing.T) {
	pf := Portfolio{
		Positions:   []Position{{Value: 1e6, Drift: 0.05, Vol: 0.2}, {Value: -4e5, Drift: 0.02, Vol: 0.4}, {Value: 2e5, Drift: 0.1, Vol: 0.6}},
		Correlation: [][]float64{{1, 0.3, 0.1}, {0.3, 1, -0.2}, {0.1, -0.2, 1}},
		HorizonDays: 10, Confidence: 0.975, Simulations: 300_001, Seed: 14,
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(1)
	one := mustVaR(t, pf)
	runtime.GOMAXPROCS(4)
	if four := mustVaR(t, pf); !reflect.DeepEqual(one, four) {
		t.Errorf("1 core %+v\n4 cores %+v", one, four)
	}
}

func TestVaRCancel(t *testing.T) {
	pf := equicorrelated(200, 0.2, Position{Value: 1e4, Drift: 0.05, Vol: 0.3})
	pf.HorizonDays, pf.Confidence, pf.Simulations, pf.Seed = 1, 0.99, 10_000_000, 15
	cancelDuring(t, func(ctx context.Context, p Progress) error {
		_, err := ValueAtRisk(ctx, pf, p)
		return err
	})
}

// equicorrelated is n copies of p with pairwise correlation rho.
func equicorrelated(n int, rho float64, p Position) Portfolio {
	var pf Portfolio
	for i := range n {
		pf.Positions = append(pf.Positions, p)
		row := make([]float64, n)
		for j := range row {
			row[j] = rho
		}
		row[i] = 1
		pf.Correlation = append(pf.Correlation, row)
	}
	return pf
}
