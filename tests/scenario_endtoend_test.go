package tests

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
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

	// The documented maximum: 200 positions and a dense correlation matrix
	// with every entry written at full precision (17 significant digits,
	// about 0.8 MB: over the 256 KiB that other routes accept), at the
	// default simulation count, on a dev worker.
	t.Run("portfolio.var/maximum", func(t *testing.T) {
		const n = 200
		var b strings.Builder
		b.WriteString(`{"positions":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"name":"p%d","value":1000000,"drift":0.05,"volatility":0.2}`, i)
		}
		b.WriteString(`],"correlation":[`)
		load := func(i int) float64 { return 0.1 + 0.8*float64(i)/n } // one factor: positive semi-definite
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('[')
			for j := range n {
				if j > 0 {
					b.WriteByte(',')
				}
				v := 1.0
				if i != j {
					v = load(i) * load(j) / 3
				}
				b.WriteString(strconv.FormatFloat(v, 'e', 16, 64))
			}
			b.WriteByte(']')
		}
		b.WriteString(`],"seed":7}`)
		if b.Len() <= 256<<10 {
			t.Fatalf("payload of %d bytes does not exceed 256 KiB: not the documented maximum", b.Len())
		}
		tk, _ := c.submit(t, submission{Type: "portfolio.var", Payload: json.RawMessage(b.String())})
		done := c.waitCompleted(t, []string{tk.ID}, 5*time.Minute)[tk.ID]
		var r struct {
			VaR         float64 `json:"var"`
			Simulations int     `json:"simulations"`
		}
		if err := json.Unmarshal(done.Result, &r); err != nil || r.VaR <= 0 || r.Simulations != 1_000_000 {
			t.Fatalf("result %s (%v): want a positive VaR over the default 1,000,000 simulations", done.Result, err)
		}
		t.Logf("%d-byte payload: accepted through nginx, completed in %s on a dev worker", b.Len(), done.CompletedAt.Sub(*done.StartedAt).Round(time.Second))
	})
}
