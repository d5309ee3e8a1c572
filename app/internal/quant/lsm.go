package quant

import (
	"context"
	"math"

	"gonum.org/v1/gonum/mat"
)

// lsmBasis is the size of the regression basis 1, x, x², x³ in the
// log-moneyness x = ln(S/K), which stays bounded for extreme paths.
const lsmBasis = 4

// MaxLSMCells bounds paths × steps for Longstaff–Schwartz, which must keep
// every path in memory for the backward regression (8 bytes a cell).
const MaxLSMCells = 25_000_000

// longstaffSchwartz prices an American option as a Bermudan one exercisable
// at the s.Steps dates, regressing discounted continuation values of
// in-the-money paths on a cubic in moneyness (Longstaff & Schwartz 2001).
// The estimate uses the same paths as the regression, so it carries the
// method's small in-sample bias.
func longstaffSchwartz(ctx context.Context, o Option, s Settings, progress Progress) (Result, error) {
	n, paths := s.Steps, s.Paths
	dt := o.Maturity / float64(n)
	drift := (o.Rate - o.Dividend - 0.5*o.Vol*o.Vol) * dt
	diff := o.Vol * math.Sqrt(dt)
	disc := math.Exp(-o.Rate * dt)
	phi, k, x0 := o.phi(), o.Strike, math.Log(o.Spot)

	size := chunkSize(n)
	chunks := (paths + size - 1) / size
	price := make([][]float64, n) // price[i][p] is path p at t_{i+1}
	for i := range price {
		price[i] = make([]float64, paths)
	}
	cf := make([]float64, paths) // cash flow, discounted to the current date
	err := forChunks(ctx, chunks, progress.span(0, 0.3), func(c int) {
		g := newNormals(s.Seed, c)
		z := make([]float64, n)
		for p := c * size; p < min((c+1)*size, paths); p++ {
			g.fill(z)
			x := x0
			for i, e := range z {
				x += drift + diff*e
				price[i][p] = exp(x)
			}
			cf[p] = max(phi*(price[n-1][p]-k), 0)
		}
	})
	if err != nil {
		return Result{}, err
	}

	partial := make([][lsmBasis*(lsmBasis+1)/2 + lsmBasis]float64, chunks)
	for i := n - 2; i >= 0; i-- {
		row := price[i]
		err := forChunks(ctx, chunks, nil, func(c int) {
			acc := &partial[c]
			*acc = [len(partial[0])]float64{}
			for p := c * size; p < min((c+1)*size, paths); p++ {
				cf[p] *= disc
				if phi*(row[p]-k) <= 0 {
					continue
				}
				b := basis(math.Log(row[p] / k))
				m := 0
				for a := range lsmBasis {
					for bb := a; bb < lsmBasis; bb++ {
						acc[m] += b[a] * b[bb]
						m++
					}
					acc[lsmBasis*(lsmBasis+1)/2+a] += b[a] * cf[p]
				}
			}
		})
		if err != nil {
			return Result{}, err
		}
		beta, ok := regress(partial)
		if ok {
			err = forChunks(ctx, chunks, nil, func(c int) {
				for p := c * size; p < min((c+1)*size, paths); p++ {
					ex := phi * (row[p] - k)
					if ex <= 0 {
						continue
					}
					b := basis(math.Log(row[p] / k))
					cont := beta[0]*b[0] + beta[1]*b[1] + beta[2]*b[2] + beta[3]*b[3]
					if ex > cont {
						cf[p] = ex
					}
				}
			})
			if err != nil {
				return Result{}, err
			}
		}
		progress.report(0.3 + 0.7*float64(n-1-i)/float64(n))
	}
	acc := make([]sums, chunks)
	for c := range chunks {
		for p := c * size; p < min((c+1)*size, paths); p++ {
			acc[c].add(cf[p] * disc)
		}
	}
	v, se := mergeAll(acc).estimate()
	if now := phi * (o.Spot - k); now > v {
		v, se = now, 0 // exercising at once beats waiting
	}
	progress.report(1)
	return Result{Price: v, StdError: se, Paths: paths, Steps: n}, nil
}

func basis(x float64) [lsmBasis]float64 {
	return [lsmBasis]float64{1, x, x * x, x * x * x}
}

// regress sums the chunks' normal equations in index order and solves them.
// It reports false when too few paths are in the money to fit the basis.
func regress(partial [][lsmBasis*(lsmBasis+1)/2 + lsmBasis]float64) ([lsmBasis]float64, bool) {
	var tot [lsmBasis*(lsmBasis+1)/2 + lsmBasis]float64
	for _, p := range partial {
		for m := range tot {
			tot[m] += p[m]
		}
	}
	var beta [lsmBasis]float64
	if tot[0] < 2*lsmBasis { // tot[0] counts in-the-money paths
		return beta, false
	}
	a := mat.NewSymDense(lsmBasis, nil)
	m := 0
	for i := range lsmBasis {
		for j := i; j < lsmBasis; j++ {
			a.SetSym(i, j, tot[m])
			m++
		}
	}
	rhs := mat.NewVecDense(lsmBasis, tot[m:])
	var chol mat.Cholesky
	if !chol.Factorize(a) {
		return beta, false
	}
	sol := mat.NewVecDense(lsmBasis, beta[:])
	if err := chol.SolveVecTo(sol, rhs); err != nil {
		return beta, false
	}
	for i := range beta {
		if math.IsNaN(beta[i]) || math.IsInf(beta[i], 0) {
			return [lsmBasis]float64{}, false
		}
	}
	return beta, true
}
