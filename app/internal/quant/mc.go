package quant

import (
	"context"
	"math"
)

// mcEuropean samples the terminal price exactly, in antithetic pairs; the
// standard error is that of the pair means.
func mcEuropean(ctx context.Context, o Option, s Settings, progress Progress) (Result, error) {
	t := o.Maturity
	drift := (o.Rate - o.Dividend - 0.5*o.Vol*o.Vol) * t
	diff := o.Vol * math.Sqrt(t)
	df := math.Exp(-o.Rate * t)
	phi, k, s0 := o.phi(), o.Strike, o.Spot

	pairs := (s.Paths + 1) / 2
	size := chunkSize(2)
	chunks := (pairs + size - 1) / size
	acc := make([]sums, chunks)
	err := forChunks(ctx, chunks, progress, func(c int) {
		g := newNormals(s.Seed, c)
		a := &acc[c]
		var batch [1024]float64
		for left := min(size, pairs-c*size); left > 0; left -= len(batch) {
			zs := batch[:min(left, len(batch))]
			g.fill(zs)
			for _, z := range zs {
				z *= diff
				up := s0 * exp(drift+z)
				down := s0 * exp(drift-z)
				a.add(0.5 * df * (max(phi*(up-k), 0) + max(phi*(down-k), 0)))
			}
		}
	})
	if err != nil {
		return Result{}, err
	}
	p, se := mergeAll(acc).estimate()
	return Result{Price: p, StdError: se, Paths: 2 * pairs, Steps: 1}, nil
}

// mcBarrier simulates log prices at the step dates and, between them, uses
// the Brownian-bridge probability that the continuous path crossed the
// barrier, exp(−2·d₀·d₁/(σ²Δt)) for distances d₀, d₁ from it. Each path
// carries its probability of not having been hit rather than sampling a
// crossing, which removes the sampling noise and makes bumps smooth.
func mcBarrier(ctx context.Context, o Option, s Settings, progress Progress) (Result, error) {
	n := s.Steps
	t := o.Maturity
	dt := t / float64(n)
	drift := (o.Rate - o.Dividend - 0.5*o.Vol*o.Vol) * dt
	diff := o.Vol * math.Sqrt(dt)
	bridge := 2 / max(o.Vol*o.Vol*dt, 1e-300) // finite even for maturities near 0
	df := math.Exp(-o.Rate * t)
	phi, k := o.phi(), o.Strike
	b := o.Barrier
	sign := 1.0 // distance to the barrier is sign·(x − ln H), > 0 while alive
	if b.Type.up() {
		sign = -1
	}
	lnH, x0 := math.Log(b.Level), math.Log(o.Spot)
	// A knock-out rebate is paid at the hit; one between two dates is
	// discounted from the middle of the step.
	hitDF := make([]float64, n)
	for i := range hitDF {
		hitDF[i] = math.Exp(-o.Rate * (float64(i) + 0.5) * dt)
	}
	start := 1.0 // survival probability at t = 0
	if b.hit(o.Spot) {
		start = 0
	}

	size := chunkSize(n)
	chunks := (s.Paths + size - 1) / size
	acc := make([]sums, chunks)
	err := forChunks(ctx, chunks, progress, func(c int) {
		g := newNormals(s.Seed, c)
		a := &acc[c]
		z := make([]float64, n)
		for range min(size, s.Paths-c*size) {
			g.fill(z)
			x, alive := x0, start
			d := sign * (x - lnH)
			rebate := 0.0 // discounted knock-out rebate probability weight
			for i, e := range z {
				x += drift + diff*e
				if alive == 0 {
					continue // keep drawing: common random numbers across bumps
				}
				dNew := sign * (x - lnH)
				hit := 1.0
				if dNew > 0 {
					hit = exp(-bridge * d * dNew)
				}
				rebate += alive * hit * hitDF[i]
				alive *= 1 - hit
				d = dNew
			}
			pay := df * max(phi*(exp(x)-k), 0)
			var v float64
			if b.Type.out() {
				v = alive*pay + b.Rebate*rebate
			} else {
				v = (1-alive)*pay + alive*b.Rebate*df
			}
			a.add(v)
		}
	})
	if err != nil {
		return Result{}, err
	}
	p, se := mergeAll(acc).estimate()
	if start == 0 && b.Type.out() {
		p, se = b.Rebate, 0
	}
	return Result{Price: p, StdError: se, Paths: s.Paths, Steps: n}, nil
}
