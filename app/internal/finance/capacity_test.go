package finance_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/calcgrid/calcgrid/app/internal/finance"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// BenchmarkDefaultPayloads times one task of each type and method with the
// defaults a client gets when it names only the option (or, for
// portfolio.var, 20 positions): the per-task CPU that docs/scale-out.md's
// capacity arithmetic divides a worker's CPUs by. Run it on one core:
//
//	go test -run '^$' -bench DefaultPayloads -benchtime 3x -cpu 1 ./app/internal/finance
func BenchmarkDefaultPayloads(b *testing.B) {
	reg := tasks.NewRegistry()
	if err := finance.Register(reg); err != nil {
		b.Fatal(err)
	}
	option := `"kind":"call","spot":100,"strike":100,"rate":0.05,"volatility":0.2,"maturity_years":1,"seed":7`
	barrier := `"barrier":{"type":"up_and_out","level":120},`
	for _, c := range []struct{ name, typ, payload string }{
		{"european_analytic", "option.price", `{"style":"european",` + option + `}`},
		{"european_monte_carlo", "option.price", `{"style":"european","method":"monte_carlo",` + option + `}`},
		{"european_monte_carlo_greeks", "option.price", `{"style":"european","method":"monte_carlo","greeks":true,` + option + `}`},
		{"american_binomial", "option.price", `{"style":"american",` + option + `}`},
		{"american_monte_carlo", "option.price", `{"style":"american","method":"monte_carlo",` + option + `}`},
		{"asian_monte_carlo", "option.price", `{"style":"asian",` + option + `}`},
		{"barrier_analytic", "option.price", `{"style":"barrier",` + barrier + option + `}`},
		{"barrier_monte_carlo", "option.price", `{"style":"barrier","method":"monte_carlo",` + barrier + option + `}`},
		{"var_20_positions", "portfolio.var", portfolio(20)},
	} {
		b.Run(c.name, func(b *testing.B) {
			d, _ := reg.Lookup(c.typ)
			p, err := d.Prepare(json.RawMessage(c.payload))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := d.Handle(context.Background(), p, tasks.ReporterFunc(func(float64) {})); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// portfolio is a portfolio.var payload of n positions, pairwise correlated
// 0.3, with the default simulations.
func portfolio(n int) string {
	pos := make([]string, n)
	rows := make([]string, n)
	for i := range n {
		pos[i] = `{"value":1000000,"volatility":0.2,"drift":0.05}`
		row := make([]string, n)
		for j := range n {
			row[j] = "0.3"
			if i == j {
				row[j] = "1"
			}
		}
		rows[i] = "[" + strings.Join(row, ",") + "]"
	}
	return `{"horizon_days":10,"confidence":0.99,"seed":7,"positions":[` + strings.Join(pos, ",") + `],"correlation":[` + strings.Join(rows, ",") + `]}`
}
