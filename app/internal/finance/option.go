package finance

import (
	"context"
	"fmt"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/quant"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// Bounds of option.price inputs; the schema and the checks share them.
var (
	// Prices from 1e-6 to 1e12: any currency unit, while bump-and-revalue
	// greeks (steps of 1e-4 of spot) stay far above rounding noise.
	priceLo, priceHi = tasks.Incl(1e-6), tasks.Incl(1e12)
	rateLo, rateHi   = tasks.Incl(-0.5), tasks.Incl(1)
	volLo, volHi     = tasks.Excl(0), tasks.Incl(5)
	matLo, matHi     = tasks.Excl(0), tasks.Incl(50)
	rebateLo         = tasks.Incl(0)
)

const (
	minPaths, maxPaths = 1_000, 50_000_000
	minSteps, maxSteps = 1, 10_000

	defaultPaths         = 1_000_000
	defaultSteps         = 252
	defaultBinomialSteps = 1001
)

// OptionPayload is the payload of option.price. Required numbers, and
// numbers with a default, are pointers: a missing field is told apart from
// an explicit 0, which is validated as sent, never replaced by the default.
type OptionPayload struct {
	Style         string          `json:"style"`
	Kind          string          `json:"kind"`
	Spot          *float64        `json:"spot"`
	Strike        *float64        `json:"strike"`
	Rate          *float64        `json:"rate"`
	DividendYield float64         `json:"dividend_yield"`
	Volatility    *float64        `json:"volatility"`
	MaturityYears *float64        `json:"maturity_years"`
	Method        string          `json:"method"`
	Paths         *float64        `json:"paths,omitempty"`
	Steps         *float64        `json:"steps,omitempty"`
	Seed          *uint64         `json:"seed"`
	Greeks        bool            `json:"greeks"`
	Averaging     string          `json:"averaging,omitempty"`
	Barrier       *BarrierPayload `json:"barrier,omitempty"`
}

// BarrierPayload is the barrier of a barrier option.
type BarrierPayload struct {
	Type   string   `json:"type"`
	Level  *float64 `json:"level"`
	Rebate float64  `json:"rebate"`
}

// OptionResult is the result of option.price.
type OptionResult struct {
	Price     float64       `json:"price"`
	StdError  *float64      `json:"std_error,omitempty"`
	CI95      *[2]float64   `json:"ci95,omitempty"`
	Greeks    *quant.Greeks `json:"greeks,omitempty"`
	Method    string        `json:"method"`
	Paths     int           `json:"paths,omitempty"`
	Steps     int           `json:"steps,omitempty"`
	Seed      uint64        `json:"seed"`
	ElapsedMS int64         `json:"elapsed_ms"`
}

var (
	styles       = []string{string(quant.European), string(quant.American), string(quant.Asian), string(quant.Barrier)}
	kinds        = []string{string(quant.Call), string(quant.Put)}
	methods      = []string{string(quant.Analytic), string(quant.Binomial), string(quant.MonteCarlo)}
	averagings   = []string{string(quant.Arithmetic), string(quant.Geometric)}
	barrierTypes = []string{string(quant.UpAndOut), string(quant.UpAndIn), string(quant.DownAndOut), string(quant.DownAndIn)}
	// defaultMethod is each style's method when none is given.
	defaultMethod = map[string]string{
		string(quant.European): string(quant.Analytic),
		string(quant.American): string(quant.Binomial),
		string(quant.Asian):    string(quant.MonteCarlo),
		string(quant.Barrier):  string(quant.Analytic),
	}
)

// Normalize fills defaults and validates every field.
func (p *OptionPayload) Normalize() []tasks.FieldError {
	var c tasks.Checks
	styleOK := c.OneOf("style", p.Style, styles...)
	c.OneOf("kind", p.Kind, kinds...)
	if v, ok := required(&c, "spot", p.Spot); ok {
		c.Range("spot", v, priceLo, priceHi)
	}
	if v, ok := required(&c, "strike", p.Strike); ok {
		c.Range("strike", v, priceLo, priceHi)
	}
	if v, ok := required(&c, "rate", p.Rate); ok {
		c.Range("rate", v, rateLo, rateHi)
	}
	c.Range("dividend_yield", p.DividendYield, rateLo, rateHi)
	if v, ok := required(&c, "volatility", p.Volatility); ok {
		c.Range("volatility", v, volLo, volHi)
	}
	if v, ok := required(&c, "maturity_years", p.MaturityYears); ok {
		c.Range("maturity_years", v, matLo, matHi)
	}
	if !styleOK {
		return c.Errors()
	}
	if p.Method == "" {
		p.Method = defaultMethod[p.Style]
	}
	if p.Style == string(quant.Asian) && p.Averaging == "" {
		p.Averaging = string(quant.Arithmetic)
	}
	if c.OneOf("method", p.Method, methods...) {
		p.checkMethod(&c)
	}
	p.checkCounts(&c)
	p.checkStyleFields(&c)
	defaultSeed(&p.Seed)
	return c.Errors()
}

func (p *OptionPayload) checkMethod(c *tasks.Checks) {
	switch {
	case p.Style == string(quant.American) && p.Method == string(quant.Analytic):
		c.Add("method", "american options have no closed form: use binomial or monte_carlo")
	case p.Style == string(quant.Asian) && p.Method == string(quant.Binomial),
		p.Style == string(quant.Barrier) && p.Method == string(quant.Binomial):
		c.Add("method", "%s options are priced by analytic or monte_carlo, not binomial", p.Style)
	case p.Style == string(quant.Asian) && p.Method == string(quant.Analytic) && p.Averaging == string(quant.Arithmetic):
		c.Add("method", "analytic applies to geometric averaging only: use monte_carlo for arithmetic")
	}
}

func (p *OptionPayload) checkCounts(c *tasks.Checks) {
	american := p.Style == string(quant.American) && p.Method == string(quant.MonteCarlo)
	if p.Steps == nil {
		steps := float64(defaultSteps)
		if p.Method == string(quant.Binomial) {
			steps = defaultBinomialSteps
		}
		p.Steps = &steps
	}
	steps := *p.Steps
	stepsOK := wholeRange(c, "steps", steps, minSteps, maxSteps)
	if p.Paths == nil {
		paths := float64(defaultPaths)
		if american && stepsOK {
			paths = float64(max(minPaths, quant.MaxLSMCells/int(steps)) &^ 1)
		}
		p.Paths = &paths
	}
	if wholeRange(c, "paths", *p.Paths, minPaths, maxPaths) && stepsOK && american &&
		*p.Paths*steps > quant.MaxLSMCells {
		c.Add("paths", "american monte_carlo keeps every path in memory: paths × steps must be ≤ %d (at most %d paths with %d steps)",
			quant.MaxLSMCells, quant.MaxLSMCells/int(steps), int(steps))
	}
}

func (p *OptionPayload) checkStyleFields(c *tasks.Checks) {
	if p.Averaging != "" {
		if p.Style != string(quant.Asian) {
			c.Add("averaging", "applies to style asian only")
		} else {
			c.OneOf("averaging", p.Averaging, averagings...)
		}
	}
	switch {
	case p.Style == string(quant.Barrier) && p.Barrier == nil:
		c.Add("barrier", "is required for style barrier")
	case p.Style != string(quant.Barrier) && p.Barrier != nil:
		c.Add("barrier", "applies to style barrier only")
	case p.Barrier != nil:
		c.OneOf("barrier.type", p.Barrier.Type, barrierTypes...)
		if v, ok := required(c, "barrier.level", p.Barrier.Level); ok {
			c.Range("barrier.level", v, priceLo, priceHi)
		}
		c.Range("barrier.rebate", p.Barrier.Rebate, rebateLo, priceHi)
	}
}

func (p OptionPayload) option() quant.Option {
	o := quant.Option{
		Style: quant.Style(p.Style), Kind: quant.Kind(p.Kind),
		Spot: *p.Spot, Strike: *p.Strike, Rate: *p.Rate, Dividend: p.DividendYield,
		Vol: *p.Volatility, Maturity: *p.MaturityYears, Averaging: quant.Averaging(p.Averaging),
	}
	if p.Barrier != nil {
		o.Barrier = quant.BarrierSpec{Type: quant.BarrierType(p.Barrier.Type), Level: *p.Barrier.Level, Rebate: p.Barrier.Rebate}
	}
	return o
}

func (p OptionPayload) settings() quant.Settings {
	return quant.Settings{
		Method: quant.Method(p.Method), Paths: int(*p.Paths), Steps: int(*p.Steps),
		Seed: *p.Seed, Greeks: p.Greeks,
	}
}

// optionCost is what pricing p takes (quant.EstimatePrice), worded with the
// payload's fields.
func optionCost(p OptionPayload) tasks.Cost {
	o, s := p.option(), p.settings()
	e := quant.EstimatePrice(o, s)
	c := tasks.Cost{CPU: e.CPU, Memory: e.Memory,
		Work:  tasks.Formula{Text: "a closed form"},
		Space: tasks.Formula{Text: "a fixed allowance"},
	}
	paths, steps := tasks.Count(float64(s.Paths)), tasks.Count(float64(s.Steps))
	k := quant.Pricings(o, s)
	times, pricings := "", ""
	if k > 1 {
		times, pricings = fmt.Sprintf(" × %d", k), fmt.Sprintf(" × %d pricings (greeks)", k)
	}
	units := tasks.Count(e.Units)
	switch {
	case s.Method == quant.Binomial:
		n := tasks.Count(float64(s.Steps | 1))
		c.Work = tasks.Formula{Text: fmt.Sprintf("(steps + 1)(steps + 2)/2 tree nodes%s = (%s + 1)(%s + 2)/2%s = %s nodes", pricings, n, n, times, units),
			Fields: []string{"steps"}}
	case s.Method != quant.MonteCarlo:
	case o.Style == quant.European:
		c.Work = tasks.Formula{Text: fmt.Sprintf("paths%s = %s%s = %s paths", pricings, paths, times, units), Fields: []string{"paths"}}
	default:
		c.Work = tasks.Formula{Text: fmt.Sprintf("paths × steps%s = %s × %s%s = %s path-steps", pricings, paths, steps, times, units),
			Fields: []string{"paths", "steps"}}
		c.Space = tasks.Formula{Text: fmt.Sprintf("72 bytes a chunk of 2^20 path-steps = 72 × %s × %s / 2^20 bytes", paths, steps),
			Fields: []string{"paths", "steps"}}
		if o.Style == quant.American {
			c.Space.Text = fmt.Sprintf("8 bytes × paths × (steps + 1) (Longstaff–Schwartz keeps every path at every date, and its cash flow) = 8 × %s × (%s + 1) bytes", paths, steps)
		}
	}
	return c
}

func priceOption(ctx context.Context, p OptionPayload, r tasks.Reporter) (OptionResult, error) {
	start := time.Now()
	s := p.settings()
	res, err := quant.Price(ctx, p.option(), s, progressOf(r))
	if err != nil {
		return OptionResult{}, kernelError(err)
	}
	out := OptionResult{
		Price: res.Price, Greeks: res.Greeks, Method: p.Method,
		Paths: res.Paths, Steps: res.Steps, Seed: *p.Seed,
	}
	check := []float64{res.Price}
	if s.Method == quant.MonteCarlo {
		se := res.StdError
		out.StdError = &se
		out.CI95 = &[2]float64{res.Price - 1.96*se, res.Price + 1.96*se}
		check = append(check, se)
	}
	if g := res.Greeks; g != nil {
		check = append(check, g.Delta, g.Gamma, g.Vega, g.Theta, g.Rho)
	}
	if err := checkFinite(check...); err != nil {
		return OptionResult{}, err
	}
	out.ElapsedMS = elapsedMS(start)
	return out, nil
}

func optionDefinition() tasks.Definition {
	num := tasks.NumberSchema
	return tasks.Define(tasks.Spec[OptionPayload]{
		Name: "option.price",
		Description: "Price a European, American, Asian or barrier option (Black–Scholes–Merton, " +
			"Leisen–Reimer binomial or Monte Carlo), optionally with greeks.",
		Queue:    tasks.QueueMedium,
		Timeout:  30 * time.Minute,
		MaxRetry: 2,
		CostModel: tasks.CostModel{
			Work: "Per pricing: monte_carlo paths × steps path-steps (european: paths), binomial (steps + 1)(steps + 2)/2 " +
				"tree nodes, analytic nothing; greeks take 9 pricings (bump-and-revalue) except analytic european. " +
				"CPU time is that count at the kernel's measured rate.",
			Memory: "american monte_carlo (Longstaff–Schwartz) keeps every path: 8 bytes × paths × (steps + 1); " +
				"other methods 72 bytes a chunk of 2^20 path-steps; plus 4 MiB for any run.",
			Fields: []string{"paths", "steps", "greeks", "method", "style"},
		},
		Cost: optionCost,
		Schema: tasks.ObjectSchema(map[string]any{
			"style":          tasks.EnumSchema("Exercise or payoff style.", "", styles...),
			"kind":           tasks.EnumSchema("Call or put.", "", kinds...),
			"spot":           num("Current price of the underlying.", priceLo, priceHi, nil),
			"strike":         num("Strike price.", priceLo, priceHi, nil),
			"rate":           num("Risk-free rate, continuously compounded, per year.", rateLo, rateHi, nil),
			"dividend_yield": num("Continuous dividend yield per year.", rateLo, rateHi, 0),
			"volatility":     num("Volatility per √year.", volLo, volHi, nil),
			"maturity_years": num("Time to expiry in years.", matLo, matHi, nil),
			"method": tasks.EnumSchema("Pricing method. Default by style: european→analytic, american→binomial, "+
				"asian→monte_carlo, barrier→analytic. analytic covers european, geometric asian (exact for the "+
				"discrete average) and barrier; binomial (Leisen–Reimer) covers european and american.", "", methods...),
			"paths": tasks.IntegerSchema(fmt.Sprintf("Monte Carlo paths (european: antithetic pairs, rounded up to even). "+
				"Default %d; american monte_carlo (Longstaff–Schwartz) keeps all paths in memory, so there "+
				"paths × steps ≤ %d and the default is the most that allows.", defaultPaths, quant.MaxLSMCells),
				minPaths, maxPaths, defaultPaths),
			"steps": tasks.IntegerSchema("Time steps: Monte Carlo dates, Asian fixings t_i = i·T/steps, or binomial "+
				"steps (default 1001; even counts are rounded up to odd).", minSteps, maxSteps, defaultSteps),
			"seed":   seedSchema(),
			"greeks": map[string]any{"type": "boolean", "default": false, "description": "Also compute delta, gamma, vega (∂V/∂σ), theta (−∂V/∂T per year) and rho (∂V/∂r): closed form for analytic european, otherwise central bump-and-revalue with the same seed."},
			"averaging": tasks.EnumSchema("Asian only: average of the prices at the steps fixings.",
				string(quant.Arithmetic), averagings...),
			"barrier": tasks.ObjectSchema(map[string]any{
				"type":  tasks.EnumSchema("Direction and effect of the continuously monitored barrier.", "", barrierTypes...),
				"level": num("Barrier level. A spot already at or beyond it is valid: a knock-out is then worth its rebate and a knock-in is the vanilla option.", priceLo, priceHi, nil),
				"rebate": num("Paid at the hit for knock-outs, at expiry if never hit for knock-ins (Haug's convention). "+
					"Monte Carlo discounts a knock-out rebate from the middle of the step in which the barrier is crossed "+
					"(a bias of at most |rate|·Δt/2 of the rebate).",
					rebateLo, priceHi, 0),
			}, "type", "level"),
		}, "style", "kind", "spot", "strike", "rate", "volatility", "maturity_years"),
	}, priceOption)
}
