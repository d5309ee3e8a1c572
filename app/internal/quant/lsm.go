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
	// Chunk c keeps its paths step by step: block[c][i·m + j] is its path j
	// at t_{i+1}. Each chunk allocates its own block, so the memory is
	// touched in parallel, between cancellation checks.
	block := make([][]float64, chunks)
	cf := make([]float64, paths) // cash flow, discounted to the current date
	span := func(c int) (first, m int) { return c * size, min(size, paths-c*size) }
	err := forChunks(ctx, chunks, progress.span(0, 0.3), func(c int) {
		g := newNormals(s.Seed, c)
		first, m := span(c)
		b := make([]float64, n*m)
		z := make([]float64, n)
		for j := range m {
			g.fill(z)
			x := x0
			for i, e := range z {
				x += drift + diff*e
				b[i*m+j] = exp(x)
			}
			cf[first+j] = max(phi*(b[(n-1)*m+j]-k), 0)
		}
		block[c] = b
	})
	if err != nil {
		return Result{}, err
	}

	partial := make([][lsmBasis*(lsmBasis+1)/2 + lsmBasis]float64, chunks)
	for i := n - 2; i >= 0; i-- {
		err := forChunks(ctx, chunks, nil, func(c int) {
			acc := &partial[c]
			*acc = [len(partial[0])]float64{}
			first, m := span(c)
			row, flows := block[c][i*m:(i+1)*m], cf[first:first+m]
			for j, st := range row {
				flows[j] *= disc
				if phi*(st-k) <= 0 {
					continue
				}
				b := basis(math.Log(st / k))
				e := 0
				for a := range lsmBasis {
					for bb := a; bb < lsmBasis; bb++ {
						acc[e] += b[a] * b[bb]
						e++
					}
					acc[lsmBasis*(lsmBasis+1)/2+a] += b[a] * flows[j]
				}
			}
		})
		if err != nil {
			return Result{}, err
		}
		beta, ok := regress(partial)
		if ok {
			err = forChunks(ctx, chunks, nil, func(c int) {
				first, m := span(c)
				row, flows := block[c][i*m:(i+1)*m], cf[first:first+m]
				for j, st := range row {
					ex := phi * (st - k)
					if ex <= 0 {
						continue
					}
					b := basis(math.Log(st / k))
					if ex > beta[0]*b[0]+beta[1]*b[1]+beta[2]*b[2]+beta[3]*b[3] {
						flows[j] = ex
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
		first, m := span(c)
		for _, v := range cf[first : first+m] {
			acc[c].add(v * disc)
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
