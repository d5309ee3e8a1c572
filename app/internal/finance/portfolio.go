package finance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/quant"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// Bounds of portfolio.var inputs.
var (
	valueLo, valueHi = tasks.Incl(-1e12), tasks.Incl(1e12)
	driftLo, driftHi = tasks.Incl(-5), tasks.Incl(5)
	pvolLo, pvolHi   = tasks.Incl(0), tasks.Incl(5)
	confLo, confHi   = tasks.Incl(0.5), tasks.Incl(0.9999)
)

const (
	maxPositions           = 200
	minHorizon, maxHorizon = 1, quant.TradingDays
	minSims, maxSims       = 1_000, 10_000_000
	defaultSims            = 1_000_000
	defaultConfidence      = 0.99
	defaultHorizon         = 1
	symmetryTolerance      = 1e-12
)

// PositionPayload is one holding of a portfolio.var payload.
type PositionPayload struct {
	Name       *string  `json:"name,omitempty"`
	Value      *float64 `json:"value"`
	Drift      float64  `json:"drift"`
	Volatility *float64 `json:"volatility"`
}

// PortfolioPayload is the payload of portfolio.var. Numbers with a default
// are pointers: only an absent field gets the default.
type PortfolioPayload struct {
	Positions   []PositionPayload `json:"positions"`
	Correlation [][]float64       `json:"correlation"`
	HorizonDays *float64          `json:"horizon_days,omitempty"`
	Confidence  *float64          `json:"confidence,omitempty"`
	Simulations *float64          `json:"simulations,omitempty"`
	Seed        *uint64           `json:"seed"`

	// rank and products size the correlation factor (quant factor.Size),
	// set by Normalize for the cost.
	rank, products int
}

// PortfolioResult is the result of portfolio.var.
type PortfolioResult struct {
	VaR               float64            `json:"var"`
	ExpectedShortfall float64            `json:"expected_shortfall"`
	MeanPnL           float64            `json:"mean_pnl"`
	StdPnL            float64            `json:"std_pnl"`
	ParametricVaR     float64            `json:"parametric_var"`
	Percentiles       map[string]float64 `json:"percentiles"`
	Simulations       int                `json:"simulations"`
	Seed              uint64             `json:"seed"`
	ElapsedMS         int64              `json:"elapsed_ms"`
}

// Normalize fills defaults and validates every field, including that the
// correlation matrix is positive semi-definite.
func (p *PortfolioPayload) Normalize() []tasks.FieldError {
	var c tasks.Checks
	n := len(p.Positions)
	if n < 1 || n > maxPositions {
		// The collection is wrong as a whole: its elements are not checked,
		// so a huge body gets one error, not one per element.
		c.Add("positions", "must hold 1 to %d positions (got %d)", maxPositions, n)
		n = 0
	}
	for i := range p.Positions[:n] {
		pos := &p.Positions[i]
		field := fmt.Sprintf("positions[%d]", i)
		switch {
		case pos.Name == nil:
			name := fmt.Sprintf("position %d", i+1)
			pos.Name = &name
		case *pos.Name == "":
			c.Add(field+".name", "must not be empty (omit it to get %q)", fmt.Sprintf("position %d", i+1))
		}
		if v, ok := required(&c, field+".value", pos.Value); ok {
			c.Range(field+".value", v, valueLo, valueHi)
		}
		c.Range(field+".drift", pos.Drift, driftLo, driftHi)
		if v, ok := required(&c, field+".volatility", pos.Volatility); ok {
			c.Range(field+".volatility", v, pvolLo, pvolHi)
		}
	}
	wholeRange(&c, "horizon_days", orDefault(&p.HorizonDays, defaultHorizon), minHorizon, maxHorizon)
	c.Range("confidence", orDefault(&p.Confidence, defaultConfidence), confLo, confHi)
	wholeRange(&c, "simulations", orDefault(&p.Simulations, defaultSims), minSims, maxSims)
	if n >= 1 {
		p.checkCorrelation(&c)
	}
	defaultSeed(&p.Seed)
	return c.Errors()
}

func (p *PortfolioPayload) checkCorrelation(c *tasks.Checks) {
	n := len(p.Positions)
	if p.Correlation == nil && n == 1 {
		p.Correlation = [][]float64{{1}}
	}
	if len(p.Correlation) != n {
		c.Add("correlation", "must be a %d×%d matrix, one row per position (got %d rows)", n, n, len(p.Correlation))
		return
	}
	ok := true
	for i, row := range p.Correlation {
		if len(row) != n {
			c.Add(fmt.Sprintf("correlation[%d]", i), "must have %d entries, one per position (got %d)", n, len(row))
			ok = false
			continue
		}
		for j, v := range row {
			field := fmt.Sprintf("correlation[%d][%d]", i, j)
			switch {
			case i == j && v != 1:
				c.Add(field, "must be 1 on the diagonal (got %g)", v)
				ok = false
			case !c.Range(field, v, tasks.Incl(-1), tasks.Incl(1)):
				ok = false
			case j < i && math.Abs(v-p.Correlation[j][i]) > symmetryTolerance:
				c.Add(field, "must equal correlation[%d][%d] = %g: the matrix must be symmetric", j, i, p.Correlation[j][i])
				ok = false
			}
		}
	}
	if !ok {
		return
	}
	f, err := quant.CorrelationFactor(p.Correlation)
	if errors.Is(err, quant.ErrNotPSD) {
		c.Add("correlation", "%s", err)
	}
	p.rank, p.products = f.Size()
}

func (p PortfolioPayload) portfolio() quant.Portfolio {
	pf := quant.Portfolio{
		Correlation: p.Correlation, HorizonDays: int(*p.HorizonDays), Confidence: *p.Confidence,
		Simulations: int(*p.Simulations), Seed: *p.Seed,
	}
	for _, pos := range p.Positions {
		pf.Positions = append(pf.Positions, quant.Position{Name: *pos.Name, Value: *pos.Value, Drift: pos.Drift, Vol: *pos.Volatility})
	}
	return pf
}

// portfolioCost is what p's simulation takes (quant.EstimateVaR).
func portfolioCost(p PortfolioPayload) tasks.Cost {
	n, sims := len(p.Positions), int(*p.Simulations)
	e := quant.EstimateVaR(n, p.rank, p.products, sims)
	return tasks.Cost{CPU: e.CPU, Memory: e.Memory,
		Work: tasks.Formula{Text: fmt.Sprintf("simulations × (positions + correlation products) = %s × (%d + %s) = %s scenario terms",
			tasks.Count(float64(sims)), n, tasks.Count(float64(p.products)), tasks.Count(e.Units)),
			Fields: []string{"simulations", "positions"}},
		Space: tasks.Formula{Text: fmt.Sprintf("16 bytes × simulations (every scenario's P&L and the sort's buffer) = 16 × %s bytes", tasks.Count(float64(sims))),
			Fields: []string{"simulations"}},
	}
}

func valueAtRisk(ctx context.Context, p PortfolioPayload, r tasks.Reporter) (PortfolioResult, error) {
	start := time.Now()
	res, err := quant.ValueAtRisk(ctx, p.portfolio(), progressOf(r))
	if err != nil {
		return PortfolioResult{}, kernelError(err)
	}
	check := []float64{res.VaR, res.ExpectedShortfall, res.MeanPnL, res.StdPnL, res.ParametricVaR}
	for _, v := range res.Percentiles {
		check = append(check, v)
	}
	if err := checkFinite(check...); err != nil {
		return PortfolioResult{}, err
	}
	return PortfolioResult{
		VaR: res.VaR, ExpectedShortfall: res.ExpectedShortfall, MeanPnL: res.MeanPnL, StdPnL: res.StdPnL,
		ParametricVaR: res.ParametricVaR, Percentiles: res.Percentiles,
		Simulations: int(*p.Simulations), Seed: *p.Seed, ElapsedMS: elapsedMS(start),
	}, nil
}

func portfolioDefinition() tasks.Definition {
	num := tasks.NumberSchema
	position := tasks.ObjectSchema(map[string]any{
		"name":       map[string]any{"type": "string", "description": "Label (default \"position N\")."},
		"value":      num("Current value; negative for a short position.", valueLo, valueHi, nil),
		"drift":      num("Annualised drift μ of the position's value.", driftLo, driftHi, 0),
		"volatility": num("Annualised volatility σ of the position's value.", pvolLo, pvolHi, nil),
	}, "value", "volatility")
	return tasks.Define(tasks.Spec[PortfolioPayload]{
		Name: "portfolio.var",
		Description: "Monte Carlo value-at-risk and expected shortfall of a portfolio of correlated " +
			"geometric-Brownian positions, with the delta-normal VaR for comparison.",
		Queue:    tasks.QueueMedium,
		Timeout:  30 * time.Minute,
		MaxRetry: 2,
		CostModel: tasks.CostModel{
			Work: "simulations × (positions + correlation products) scenario terms, where the products are " +
				"positions·(positions + 1)/2 for a positive definite correlation and positions × rank otherwise; " +
				"CPU time is that count at the kernel's measured rate.",
			Memory: "16 bytes × simulations (every scenario's P&L and the sort's buffer) + 40 bytes × positions² " +
				"(the correlation's factorization) + 4 MiB for any run.",
			Fields: []string{"simulations", "positions"},
		},
		Cost: portfolioCost,
		Schema: tasks.ObjectSchema(map[string]any{
			"positions": map[string]any{
				"type": "array", "minItems": 1, "maxItems": maxPositions, "items": position,
				"description": "Holdings; V_i(T) = V_i·exp((μ_i − σ_i²/2)T + σ_i√T·Z_i).",
			},
			"correlation": map[string]any{
				"type":        "array",
				"items":       map[string]any{"type": "array", "items": map[string]any{"type": "number", "minimum": -1, "maximum": 1}},
				"description": "n×n correlation of the Z_i: symmetric, unit diagonal, positive semi-definite (singular is fine). Optional for one position.",
			},
			"horizon_days": tasks.IntegerSchema("Horizon in trading days (252 a year).", minHorizon, maxHorizon, defaultHorizon),
			"confidence":   num("VaR confidence level.", confLo, confHi, defaultConfidence),
			"simulations":  tasks.IntegerSchema("Monte Carlo scenarios.", minSims, maxSims, defaultSims),
			"seed":         seedSchema(),
		}, "positions"),
	}, valueAtRisk)
}
