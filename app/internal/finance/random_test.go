package finance

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// Any payload inside the published bounds must price to finite numbers:
// draw values log-uniformly across each range, ends included.
func TestRandomValidPayloadsStayFinite(t *testing.T) {
	d := definition(t, "option.price")
	rng := rand.New(rand.NewPCG(1, 2))
	logU := func(lo, hi float64) float64 {
		switch rng.IntN(6) {
		case 0:
			return lo
		case 1:
			return hi
		}
		return math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo)))
	}
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	for i := range 400 {
		style := pick("european", "american", "asian", "barrier")
		p := map[string]any{
			"style": style, "kind": pick("call", "put"),
			"spot": logU(1e-6, 1e12), "strike": logU(1e-6, 1e12),
			"rate": -0.5 + 1.5*rng.Float64(), "dividend_yield": -0.5 + 1.5*rng.Float64(),
			"volatility": logU(1e-9, 5), "maturity_years": logU(1e-9, 50),
			"paths": 1000, "steps": 1 + rng.IntN(30), "greeks": rng.IntN(3) == 0, "seed": i,
		}
		switch style {
		case "european":
			p["method"] = pick("analytic", "binomial", "monte_carlo")
		case "american":
			p["method"] = pick("binomial", "monte_carlo")
		case "asian":
			p["averaging"] = pick("arithmetic", "geometric")
			if p["averaging"] == "geometric" {
				p["method"] = pick("analytic", "monte_carlo")
			}
		case "barrier":
			p["method"] = pick("analytic", "monte_carlo")
			spot := p["spot"].(float64)
			p["barrier"] = map[string]any{
				"type":   pick("up_and_out", "up_and_in", "down_and_out", "down_and_in"),
				"level":  min(max(spot*logU(0.5, 2), 1e-6), 1e12),
				"rebate": logU(1e-6, 1e12) * float64(rng.IntN(2)),
			}
		}
		raw, _ := json.Marshal(p)
		prepared, err := d.Prepare(raw)
		if err != nil {
			t.Fatalf("valid payload %s rejected: %v", raw, err)
		}
		out, err := d.Handle(context.Background(), prepared, tasks.Discard{})
		if err != nil {
			t.Fatalf("payload %s: %v", raw, err)
		}
		if r := out.(OptionResult); r.Price < 0 {
			t.Errorf("payload %s: negative price %v", raw, r.Price)
		}
	}
}
