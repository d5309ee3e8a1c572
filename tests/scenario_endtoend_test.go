package tests

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// scenarioEndToEnd: each kind of task submitted through nginx completes with
// a correct result.
func (s *stack) scenarioEndToEnd(t *testing.T) {
	t.Run("diagnostic.noop", s.testNoop)

	c := s.client(t, s.vars(t))
	// Hull's textbook case: S=42, K=40, r=10%, σ=20%, T=6 months → call 4.759.
	option := func(method string) map[string]any {
		p := map[string]any{"style": "european", "kind": "call", "spot": 42, "strike": 40,
			"rate": 0.1, "volatility": 0.2, "maturity_years": 0.5, "method": method}
		if method == "monte_carlo" {
			p["paths"], p["steps"], p["seed"] = 20_000, 1, 7
		}
		return p
	}
	type optionResult struct {
		Price    float64  `json:"price"`
		StdError *float64 `json:"std_error"`
	}
	run := func(t *testing.T, sub submission, out any) {
		t.Helper()
		tk, _ := c.submit(t, sub)
		done := c.waitCompleted(t, []string{tk.ID}, time.Minute)
		if err := json.Unmarshal(done[tk.ID].Result, out); err != nil {
			t.Fatalf("%s result %s: %v", sub.Type, done[tk.ID].Result, err)
		}
	}

	const analytic = 4.7594
	t.Run("option.price/analytic", func(t *testing.T) {
		var r optionResult
		run(t, submission{Type: "option.price", Payload: option("analytic")}, &r)
		if math.Abs(r.Price-analytic) > 5e-4 {
			t.Errorf("analytic call price %.5f, want %.4f ± 0.0005", r.Price, analytic)
		}
	})
	t.Run("option.price/monte_carlo", func(t *testing.T) {
		var r optionResult
		run(t, submission{Type: "option.price", Payload: option("monte_carlo")}, &r)
		if r.StdError == nil || *r.StdError <= 0 {
			t.Fatalf("monte carlo result without a positive std_error: %+v", r)
		}
		if diff := math.Abs(r.Price - analytic); diff > 3**r.StdError {
			t.Errorf("monte carlo price %.4f is %.4f from the analytic %.4f, more than 3 standard errors (%.4f)",
				r.Price, diff, analytic, 3**r.StdError)
		}
	})
	t.Run("portfolio.var", func(t *testing.T) {
		var r struct {
			VaR               float64 `json:"var"`
			ExpectedShortfall float64 `json:"expected_shortfall"`
			ParametricVaR     float64 `json:"parametric_var"`
		}
		run(t, submission{Type: "portfolio.var", Payload: map[string]any{
			"positions":    []map[string]any{{"name": "equity", "value": 1e6, "volatility": 0.2}},
			"horizon_days": 10, "confidence": 0.99, "simulations": 20_000, "seed": 7,
		}}, &r)
		// Delta-normal: z(99%) · σ · √(10/252) · value.
		want := 2.326348 * 0.2 * math.Sqrt(10.0/252) * 1e6
		if math.Abs(r.ParametricVaR-want)/want > 0.005 {
			t.Errorf("parametric VaR %.0f, want %.0f ± 0.5%%", r.ParametricVaR, want)
		}
		if math.Abs(r.VaR-want)/want > 0.1 {
			t.Errorf("simulated VaR %.0f, want within 10%% of %.0f", r.VaR, want)
		}
		if r.ExpectedShortfall < r.VaR {
			t.Errorf("expected shortfall %.0f is below VaR %.0f", r.ExpectedShortfall, r.VaR)
		}
	})
}
