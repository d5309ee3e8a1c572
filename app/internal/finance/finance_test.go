package finance

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

func registry(t *testing.T) *tasks.Registry {
	t.Helper()
	r := tasks.NewRegistry()
	if err := Register(r); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return r
}

func definition(t *testing.T, name string) tasks.Definition {
	t.Helper()
	d, ok := registry(t).Lookup(name)
	if !ok {
		t.Fatalf("%s not registered", name)
	}
	return d
}

const hullCall = `{"style":"european","kind":"call","spot":42,"strike":40,"rate":0.1,"volatility":0.2,"maturity_years":0.5`

// invalid is a payload and the field error it must produce.
type invalid struct {
	name    string
	payload string
	field   string
	message string
}

// checkInvalid runs each case through the type's Prepare, as the API does.
func checkInvalid(t *testing.T, typeName string, cases []invalid) {
	t.Helper()
	d := definition(t, typeName)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.Prepare(json.RawMessage(tc.payload))
			assertFieldError(t, err, tc.field, tc.message)
		})
	}
}

func TestOptionValidation(t *testing.T) {
	checkInvalid(t, "option.price", []invalid{
		{"missing spot", `{"style":"european","kind":"call","strike":40,"rate":0.1,"volatility":0.2,"maturity_years":0.5}`, "payload.spot", "is required"},
		{"zero volatility", hullCall + `,"volatility":0}`, "payload.volatility", "must be > 0 and ≤ 5"},
		{"rate too high", hullCall + `,"rate":1.5}`, "payload.rate", "must be ≥ -0.5 and ≤ 1"},
		{"maturity too long", hullCall + `,"maturity_years":51}`, "payload.maturity_years", "must be > 0 and ≤ 50"},
		{"bad style", `{"style":"bermudan","kind":"call","spot":1,"strike":1,"rate":0,"volatility":0.2,"maturity_years":1}`, "payload.style", "must be one of european, american, asian, barrier"},
		{"bad kind", `{"style":"european","kind":"straddle","spot":1,"strike":1,"rate":0,"volatility":0.2,"maturity_years":1}`, "payload.kind", "must be one of call, put"},
		{"paths too few", hullCall + `,"method":"monte_carlo","paths":10}`, "payload.paths", "must be ≥ 1000 and ≤ 50000000"},
		{"paths fractional", hullCall + `,"method":"monte_carlo","paths":1000.5}`, "payload.paths", "whole number"},
		{"steps too many", hullCall + `,"method":"binomial","steps":20000}`, "payload.steps", "must be ≥ 1 and ≤ 10000"},
		{"american analytic", `{"style":"american","kind":"put","spot":1,"strike":1,"rate":0,"volatility":0.2,"maturity_years":1,"method":"analytic"}`, "payload.method", "no closed form"},
		{"arithmetic analytic", `{"style":"asian","kind":"put","spot":1,"strike":1,"rate":0,"volatility":0.2,"maturity_years":1,"method":"analytic"}`, "payload.method", "geometric averaging only"},
		{"lsm too big", `{"style":"american","kind":"put","spot":1,"strike":1,"rate":0,"volatility":0.2,"maturity_years":1,"method":"monte_carlo","paths":1000000}`, "payload.paths", "paths × steps must be ≤ 25000000"},
		{"barrier missing", `{"style":"barrier","kind":"put","spot":1,"strike":1,"rate":0,"volatility":0.2,"maturity_years":1}`, "payload.barrier", "is required"},
		{"barrier on european", hullCall + `,"barrier":{"type":"up_and_out","level":50}}`, "payload.barrier", "style barrier only"},
		{"barrier level", `{"style":"barrier","kind":"put","spot":1,"strike":1,"rate":0,"volatility":0.2,"maturity_years":1,"barrier":{"type":"up_and_out","level":-1}}`, "payload.barrier.level", "must be ≥ 1e-06 and ≤ 1000000000000"},
		{"barrier type", `{"style":"barrier","kind":"put","spot":1,"strike":1,"rate":0,"volatility":0.2,"maturity_years":1,"barrier":{"type":"sideways","level":2}}`, "payload.barrier.type", "must be one of"},
		{"negative rebate", `{"style":"barrier","kind":"put","spot":1,"strike":1,"rate":0,"volatility":0.2,"maturity_years":1,"barrier":{"type":"up_and_out","level":2,"rebate":-1}}`, "payload.barrier.rebate", "must be ≥ 0"},
		{"averaging on european", hullCall + `,"averaging":"geometric"}`, "payload.averaging", "asian only"},
		{"unknown field", hullCall + `,"colour":"red"}`, "payload.colour", "is not a known field"},
		{"wrong type", hullCall + `,"greeks":"yes"}`, "payload.greeks", "must be a boolean"},
	})
}

func assertFieldError(t *testing.T, err error, field, message string) {
	t.Helper()
	var ve *tasks.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a ValidationError", err)
	}
	for _, fe := range ve.Errors {
		if fe.Field == field && strings.Contains(fe.Message, message) {
			return
		}
	}
	t.Errorf("errors %+v lack %s: …%s…", ve.Errors, field, message)
}

func TestOptionDefaults(t *testing.T) {
	d := definition(t, "option.price")
	tests := []struct {
		payload string
		method  string
		paths   float64
		steps   float64
	}{
		{hullCall + `}`, "analytic", 1_000_000, 252},
		{`{"style":"american","kind":"put","spot":1,"strike":1,"rate":0,"volatility":0.2,"maturity_years":1}`, "binomial", 1_000_000, 1001},
		{`{"style":"american","kind":"put","spot":1,"strike":1,"rate":0,"volatility":0.2,"maturity_years":1,"method":"monte_carlo"}`, "monte_carlo", 99_206, 252},
		{`{"style":"asian","kind":"put","spot":1,"strike":1,"rate":0,"volatility":0.2,"maturity_years":1}`, "monte_carlo", 1_000_000, 252},
		{`{"style":"barrier","kind":"put","spot":1,"strike":1,"rate":0,"volatility":0.2,"maturity_years":1,"barrier":{"type":"down_and_in","level":0.9}}`, "analytic", 1_000_000, 252},
	}
	for _, tc := range tests {
		raw, err := d.Prepare(json.RawMessage(tc.payload))
		if err != nil {
			t.Fatalf("Prepare(%s): %v", tc.payload, err)
		}
		var p OptionPayload
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		if p.Method != tc.method || p.Paths == nil || *p.Paths != tc.paths || p.Steps == nil || *p.Steps != tc.steps || p.Seed == nil || *p.Seed >= maxSeed {
			t.Errorf("%s → method %s paths %v steps %v seed %v", tc.payload, p.Method, deref(p.Paths), deref(p.Steps), p.Seed)
		}
	}
}

// The prepared payload is what runs: its seed is fixed at submission, so
// running it twice (a retry) gives the same result.
func TestOptionHandleEchoesAndRepeats(t *testing.T) {
	d := definition(t, "option.price")
	raw, err := d.Prepare(json.RawMessage(`{"style":"asian","kind":"call","spot":100,"strike":100,"rate":0.05,"volatility":0.2,"maturity_years":1,"paths":2000,"steps":12,"greeks":true}`))
	if err != nil {
		t.Fatal(err)
	}
	run := func() map[string]any {
		var reports []float64
		out, err := d.Handle(context.Background(), raw, tasks.ReporterFunc(func(f float64) { reports = append(reports, f) }))
		if err != nil {
			t.Fatal(err)
		}
		if len(reports) == 0 || reports[len(reports)-1] != 1 {
			t.Errorf("progress reports %v, want ending at 1", reports)
		}
		b, _ := json.Marshal(out)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		delete(m, "elapsed_ms")
		return m
	}
	first, second := run(), run()
	for _, key := range []string{"price", "std_error", "ci95", "greeks", "method", "paths", "steps", "seed"} {
		if _, ok := first[key]; !ok {
			t.Errorf("result lacks %q: %v", key, first)
		}
	}
	g := first["greeks"].(map[string]any)
	for _, key := range []string{"delta", "gamma", "vega", "theta", "rho"} {
		if _, ok := g[key]; !ok {
			t.Errorf("greeks lack %q", key)
		}
	}
	if b1, b2 := mustJSON(first), mustJSON(second); b1 != b2 {
		t.Errorf("re-run differs:\n%s\n%s", b1, b2)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestPortfolioValidation(t *testing.T) {
	two := `"positions":[{"value":100,"volatility":0.2},{"value":-50,"volatility":0.3}]`
	checkInvalid(t, "portfolio.var", []invalid{
		{"no positions", `{"positions":[]}`, "payload.positions", "must hold 1 to 200 positions"},
		{"missing value", `{"positions":[{"volatility":0.2}]}`, "payload.positions[0].value", "is required"},
		{"negative vol", `{"positions":[{"value":1,"volatility":-0.2}]}`, "payload.positions[0].volatility", "must be ≥ 0 and ≤ 5"},
		{"missing correlation", `{` + two + `}`, "payload.correlation", "must be a 2×2 matrix"},
		{"short row", `{` + two + `,"correlation":[[1,0.5],[0.5]]}`, "payload.correlation[1]", "must have 2 entries"},
		{"diagonal", `{` + two + `,"correlation":[[1,0.5],[0.5,0.9]]}`, "payload.correlation[1][1]", "must be 1 on the diagonal"},
		{"asymmetric", `{` + two + `,"correlation":[[1,0.5],[0.4,1]]}`, "payload.correlation[1][0]", "symmetric"},
		{"out of range", `{` + two + `,"correlation":[[1,1.5],[1.5,1]]}`, "payload.correlation[0][1]", "must be ≥ -1 and ≤ 1"},
		{"not PSD", `{"positions":[{"value":1,"volatility":0.1},{"value":1,"volatility":0.1},{"value":1,"volatility":0.1}],"correlation":[[1,0.9,-0.9],[0.9,1,0.9],[-0.9,0.9,1]]}`, "payload.correlation", "not positive semi-definite: smallest eigenvalue -0."},
		{"confidence", `{"positions":[{"value":1,"volatility":0.1}],"confidence":0.3}`, "payload.confidence", "must be ≥ 0.5 and ≤ 0.9999"},
		{"horizon", `{"positions":[{"value":1,"volatility":0.1}],"horizon_days":300}`, "payload.horizon_days", "must be ≥ 1 and ≤ 252"},
		{"simulations", `{"positions":[{"value":1,"volatility":0.1}],"simulations":1e8}`, "payload.simulations", "must be ≥ 1000 and ≤ 10000000"},
	})
}

func TestPortfolioHandle(t *testing.T) {
	d := definition(t, "portfolio.var")
	raw, err := d.Prepare(json.RawMessage(`{"positions":[{"name":"equity","value":1e6,"drift":0.07,"volatility":0.2},{"value":-3e5,"volatility":0.1}],"correlation":[[1,1],[1,1]],"horizon_days":10,"simulations":5000,"seed":7}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.Handle(context.Background(), raw, tasks.Discard{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal([]byte(mustJSON(out)), &m)
	for _, key := range []string{"var", "expected_shortfall", "mean_pnl", "std_pnl", "parametric_var", "percentiles", "simulations", "seed", "elapsed_ms"} {
		if _, ok := m[key]; !ok {
			t.Errorf("result lacks %q: %v", key, m)
		}
	}
	var keys []string
	for k := range m["percentiles"].(map[string]any) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"0.1", "1", "5", "50", "95", "99", "99.9"}; !slices.Equal(keys, want) {
		t.Errorf("percentile keys %v, want %v", keys, want)
	}
	if m["seed"].(float64) != 7 || m["simulations"].(float64) != 5000 {
		t.Errorf("seed/simulations not echoed: %v", m)
	}
}

func TestSchemasListEveryField(t *testing.T) {
	for _, c := range []struct {
		name    string
		payload any
	}{{"option.price", OptionPayload{}}, {"portfolio.var", PortfolioPayload{}}} {
		props := definition(t, c.name).Schema["properties"].(map[string]any)
		var fields map[string]any
		_ = json.Unmarshal([]byte(mustJSON(c.payload)), &fields)
		for f := range fields {
			if _, ok := props[f]; !ok {
				t.Errorf("%s schema lacks %q", c.name, f)
			}
		}
	}
}

func deref(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}
