package finance_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/finance"
	"github.com/calcgrid/calcgrid/app/internal/quant"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// devTypes are the finance types under dev's budget (environments/dev.tfvars).
func devTypes(t *testing.T) map[string]tasks.Definition {
	t.Helper()
	reg := tasks.NewRegistry()
	if err := finance.Register(reg); err != nil {
		t.Fatal(err)
	}
	reg.SetBudget(apptest.EnvironmentWorker(t, "dev").Budget(t))
	out := map[string]tasks.Definition{}
	for _, d := range reg.All() {
		out[d.Name] = d
	}
	return out
}

func refusal(t *testing.T, def tasks.Definition, payload map[string]any) []tasks.FieldError {
	t.Helper()
	_, err := def.Prepare(apptest.MustJSON(t, payload))
	var ve *tasks.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("%s %v: %v, want a ValidationError", def.Name, payload, err)
	}
	return ve.Errors
}

func wantRefusal(t *testing.T, errs []tasks.FieldError, field string, parts ...string) {
	t.Helper()
	for _, e := range errs {
		if e.Field != field {
			continue
		}
		missing := false
		for _, p := range parts {
			missing = missing || !strings.Contains(e.Message, p)
		}
		if !missing {
			return
		}
	}
	t.Errorf("errors %+v: none on %s with %q", errs, field, parts)
}

// TestDevRefusesTheIssuesExamples: the requests of issue 9 that would hold
// a dev worker slot for days or OOM-kill the worker are refused at
// submission, naming the fields, the estimate and the bound.
func TestDevRefusesTheIssuesExamples(t *testing.T) {
	types := devTypes(t)
	option, portfolio := types["option.price"], types["portfolio.var"]

	// Asian Monte Carlo, 5e7 paths × 1e4 steps with greeks: nine full
	// simulations, about two months of one core.
	errs := refusal(t, option, apptest.OptionPayload("asian", map[string]any{"paths": 5e7, "steps": 1e4, "greeks": true}))
	wantRefusal(t, errs, "payload.paths", "paths × steps × 9 pricings (greeks) = 5e7 × 10000 × 9 = 4.5e12 path-steps",
		"days of one core", "the work budget of this environment: 60 s of one core a task", "lower paths or steps")

	// Longstaff–Schwartz at one step and the most paths the cell cap allows:
	// 400 MB of paths and cash flows.
	errs = refusal(t, option, apptest.OptionPayload("american", map[string]any{"paths": quant.MaxLSMCells, "steps": 1}))
	wantRefusal(t, errs, "payload.paths", "8 bytes × paths × (steps + 1)", "= 8 × 2.5e7 × (1 + 1) bytes",
		"needs about 385 MiB of memory", "more than the 138 MiB per task slot", "lower paths or steps")

	// VaR, 1e7 simulations of the most positions: 160 MB of P&L and hours of
	// one core.
	errs = refusal(t, portfolio, apptest.PortfolioPayload(200, map[string]any{"simulations": 1e7}))
	wantRefusal(t, errs, "payload.simulations", "simulations × (positions + correlation products) = 1e7 × (200 + 20100)",
		"minutes of one core", "work budget", "lower simulations or positions")
	wantRefusal(t, errs, "payload.simulations", "16 bytes × simulations", "needs about 172 MiB of memory", "138 MiB per task slot")
}

// TestDevBudgetEdges: for each costly variant, the largest payload dev
// accepts is found along its driving field; one more is refused on that
// field with the bound it exceeds, unless the schema's own maximum comes
// first (then the maximum is accepted).
func TestDevBudgetEdges(t *testing.T) {
	types := devTypes(t)
	for _, c := range []struct {
		name    string
		typ     string
		payload map[string]any
		field   string
		lo, hi  int64
		bound   string // in the refusal one above the edge; "" if the schema's maximum is accepted
	}{
		{"european greeks", "option.price", apptest.OptionPayload("european", map[string]any{"greeks": true}), "paths", 1000, 50_000_000, ""},
		{"asian greeks 252 steps", "option.price", apptest.OptionPayload("asian", map[string]any{"steps": 252, "greeks": true}), "paths", 1000, 50_000_000, "work budget"},
		{"asian 10000 steps", "option.price", apptest.OptionPayload("asian", map[string]any{"paths": 1000, "greeks": true}), "steps", 1, 10_000, ""},
		{"asian 1000 paths greeks", "option.price", apptest.OptionPayload("asian", map[string]any{"steps": 10_000, "greeks": true}), "paths", 1000, 50_000_000, "work budget"},
		{"barrier greeks", "option.price", apptest.OptionPayload("barrier", map[string]any{"steps": 252, "greeks": true}), "paths", 1000, 50_000_000, "work budget"},
		{"longstaff–schwartz 1 step", "option.price", apptest.OptionPayload("american", map[string]any{"steps": 1}), "paths", 1000, 50_000_000, "memory budget"},
		{"longstaff–schwartz 50 steps", "option.price", apptest.OptionPayload("american", map[string]any{"steps": 50}), "paths", 1000, 50_000_000, "memory budget"},
		{"longstaff–schwartz greeks", "option.price", apptest.OptionPayload("american", map[string]any{"steps": 252, "greeks": true}), "paths", 1000, 50_000_000, "memory budget"},
		{"tree american greeks", "option.price", apptest.OptionPayload("american", map[string]any{"method": "binomial", "greeks": true}), "steps", 1, 10_000, ""},
		{"var max positions", "portfolio.var", apptest.PortfolioPayload(200, nil), "simulations", 1000, 10_000_000, "work budget"},
		{"var one position", "portfolio.var", apptest.PortfolioPayload(1, nil), "simulations", 1000, 10_000_000, "memory budget"},
	} {
		t.Run(c.name, func(t *testing.T) {
			def := types[c.typ]
			edge, ok := apptest.Largest(t, def, c.payload, c.field, c.lo, c.hi)
			if !ok {
				t.Fatalf("dev refuses even %s = %d", c.field, c.lo)
			}
			t.Logf("largest %s accepted: %d", c.field, edge)
			if c.bound == "" {
				if edge != c.hi {
					t.Errorf("largest %s = %d, want the schema's maximum %d", c.field, edge, c.hi)
				}
				return
			}
			if edge == c.hi {
				t.Fatalf("the schema's maximum %s = %d is accepted; want the %s to bind first", c.field, c.hi, c.bound)
			}
			errs := refusal(t, def, apptest.With(c.payload, c.field, edge+1))
			wantRefusal(t, errs, "payload."+c.field, c.bound, "lower "+c.field)
		})
	}
}

// TestVaRCostCountsTheFactor: VaR's work counts the multiply-adds of the
// correlation factor, positions·(positions + 1)/2 for a positive definite
// matrix (Cholesky) and positions × rank for a singular one.
func TestVaRCostCountsTheFactor(t *testing.T) {
	def := devTypes(t)["portfolio.var"]
	errs := refusal(t, def, apptest.PortfolioPayload(200, map[string]any{"simulations": 1e7}))
	wantRefusal(t, errs, "payload.simulations", "= 1e7 × (200 + 20100) = 2.03e11 scenario terms")
	singular := apptest.PortfolioPayload(200, map[string]any{"simulations": 1e7})
	for _, row := range singular["correlation"].([][]float64) {
		for j := range row {
			row[j] = 1 // perfectly correlated: rank 1
		}
	}
	errs = refusal(t, def, singular)
	wantRefusal(t, errs, "payload.simulations", "= 1e7 × (200 + 200) = 4e9 scenario terms")
}
