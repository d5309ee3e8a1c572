package quant

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// TradingDays is the length of a year in horizon days.
const TradingDays = 252

// Position is one holding: its current value (negative when short) and the
// annualised drift and volatility of its geometric Brownian motion.
type Position struct {
	Name  string
	Value float64
	Drift float64
	Vol   float64
}

// Portfolio is the input of ValueAtRisk.
type Portfolio struct {
	Positions   []Position
	Correlation [][]float64
	HorizonDays int
	Confidence  float64
	Simulations int
	Seed        uint64
}

// VaRResult reports losses as positive numbers and P&L with its sign.
type VaRResult struct {
	VaR               float64
	ExpectedShortfall float64
	MeanPnL           float64
	StdPnL            float64
	ParametricVaR     float64
	// Percentiles of P&L keyed by percent ("0.1", "1", … "99.9").
	Percentiles map[string]float64
}

// PercentileLevels returns the P&L percentiles reported, in percent, in a
// new slice each call; the keys of VaRResult.Percentiles are their shortest
// decimal form.
func PercentileLevels() []float64 { return []float64{0.1, 1, 5, 50, 95, 99, 99.9} }

// ErrNotPSD is returned for a correlation matrix with a negative eigenvalue.
var ErrNotPSD = errors.New("not positive semi-definite")

// psdTolerance absorbs rounding in matrices that are PSD on paper, such as
// a singular correlation typed with 15 digits.
const psdTolerance = 1e-10

// factor is a matrix L with L·Lᵀ = correlation, stored by rows; row i uses
// its first cols[i] entries (lower triangular after Cholesky).
type factor struct {
	n, k int
	l    []float64
	cols []int
}

// CorrelationFactor validates c as a correlation matrix (the caller checks
// shape, symmetry and unit diagonal) and factors it: Cholesky when positive
// definite, otherwise the eigen-decomposition, which also accepts singular
// positive semi-definite matrices such as perfectly correlated positions.
func CorrelationFactor(c [][]float64) (factor, error) {
	n := len(c)
	sym := mat.NewSymDense(n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			sym.SetSym(i, j, c[i][j])
		}
	}
	var chol mat.Cholesky
	if chol.Factorize(sym) {
		var tri mat.TriDense
		chol.LTo(&tri)
		f := factor{n: n, k: n, l: make([]float64, n*n), cols: make([]int, n)}
		for i := range n {
			f.cols[i] = i + 1
			for j := 0; j <= i; j++ {
				f.l[i*n+j] = tri.At(i, j)
			}
		}
		return f, nil
	}
	var eig mat.EigenSym
	if !eig.Factorize(sym, true) {
		return factor{}, fmt.Errorf("%w: eigen-decomposition did not converge", ErrNotPSD)
	}
	vals := eig.Values(nil) // ascending
	if vals[0] < -psdTolerance {
		return factor{}, fmt.Errorf("%w: smallest eigenvalue %.3g", ErrNotPSD, vals[0])
	}
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	// Keep only the eigenvectors that carry variance.
	var keep []int
	for j, v := range vals {
		if v > psdTolerance {
			keep = append(keep, j)
		}
	}
	k := len(keep)
	f := factor{n: n, k: k, l: make([]float64, n*k), cols: make([]int, n)}
	for i := range n {
		f.cols[i] = k
		for m, j := range keep {
			f.l[i*k+m] = vecs.At(i, j) * math.Sqrt(vals[j])
		}
	}
	return f, nil
}

// ValueAtRisk simulates the joint GBM of the positions to the horizon and
// reads VaR, expected shortfall and percentiles off the sorted P&L.
func ValueAtRisk(ctx context.Context, pf Portfolio, progress Progress) (VaRResult, error) {
	f, err := CorrelationFactor(pf.Correlation)
	if err != nil {
		return VaRResult{}, err
	}
	n := len(pf.Positions)
	t := float64(pf.HorizonDays) / TradingDays
	a, b, v := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, p := range pf.Positions {
		a[i] = (p.Drift - 0.5*p.Vol*p.Vol) * t
		b[i] = p.Vol * math.Sqrt(t)
		v[i] = p.Value
	}
	sims := pf.Simulations
	size := chunkSize(n*f.k/2 + 4*n)
	chunks := (sims + size - 1) / size
	pnl := make([]float64, sims)
	acc := make([]sums, chunks)
	err = forChunks(ctx, chunks, progress.span(0, 0.8), func(c int) {
		g := newNormals(pf.Seed, c)
		z := make([]float64, f.k)
		for s := c * size; s < min((c+1)*size, sims); s++ {
			g.fill(z)
			total := 0.0
			for i := range n {
				row := f.l[i*f.k : i*f.k+f.cols[i]]
				w := 0.0
				for j, lij := range row {
					w += lij * z[j]
				}
				total += v[i] * math.Expm1(a[i]+b[i]*w)
			}
			pnl[s] = total
			acc[c].add(total)
		}
	})
	if err != nil {
		return VaRResult{}, err
	}
	if err := sortChunks(ctx, pnl, size, progress.span(0.8, 0.2)); err != nil {
		return VaRResult{}, err
	}
	m := mergeAll(acc)
	levels := PercentileLevels()
	res := VaRResult{
		MeanPnL:       m.mx,
		StdPnL:        math.Sqrt(m.cxx / max(m.n-1, 1)),
		ParametricVaR: parametricVaR(pf, t),
		Percentiles:   make(map[string]float64, len(levels)),
	}
	q, tail := quantileIndex(pnl, 1-pf.Confidence)
	res.VaR = -pnl[q]
	es := 0.0
	for _, x := range pnl[:tail] {
		es += x
	}
	res.ExpectedShortfall = -es / float64(tail)
	for _, lvl := range levels {
		i, _ := quantileIndex(pnl, lvl/100)
		res.Percentiles[strconv.FormatFloat(lvl, 'f', -1, 64)] = pnl[i]
	}
	progress.report(1)
	return res, nil
}

// quantileIndex is the index of the lower empirical p-quantile of sorted x,
// and the length of the tail x[:tail] of values at or below it.
func quantileIndex(x []float64, p float64) (q, tail int) {
	// The nudge keeps 1 − 0.99 (= 0.010000000000000009) and 0.01 on the
	// same order statistic.
	q = int(math.Ceil(p*float64(len(x))-1e-9)) - 1
	q = min(max(q, 0), len(x)-1)
	tail = q + 1
	for tail < len(x) && x[tail] <= x[q] {
		tail++
	}
	return q, tail
}

// parametricVaR is the delta-normal VaR: P&L ≈ Σ Vᵢ(μᵢT + σᵢ√T·Zᵢ).
func parametricVaR(pf Portfolio, t float64) float64 {
	mean, variance := 0.0, 0.0
	for i, p := range pf.Positions {
		mean += p.Value * p.Drift * t
		for j, o := range pf.Positions {
			variance += p.Value * p.Vol * o.Value * o.Vol * pf.Correlation[i][j]
		}
	}
	sd := math.Sqrt(max(variance*t, 0))
	return -(mean + sd*distuv.UnitNormal.Quantile(1-pf.Confidence))
}

// sortChunks sorts x by sorting blocks of size in parallel and merging them
// pairwise, so that a cancel is seen between blocks rather than after one
// long sort.
func sortChunks(ctx context.Context, x []float64, size int, progress Progress) error {
	blocks := (len(x) + size - 1) / size
	if err := forChunks(ctx, blocks, progress.span(0, 0.5), func(c int) {
		slices.Sort(x[c*size : min((c+1)*size, len(x))])
	}); err != nil {
		return err
	}
	out, buf := x, make([]float64, len(x))
	levels := max(math.Ceil(math.Log2(float64(blocks))), 1)
	for width, level := size, 1.0; width < len(x); width, level = 2*width, level+1 {
		pairs := (len(x) + 2*width - 1) / (2 * width)
		err := forChunks(ctx, pairs, nil, func(c int) {
			lo := c * 2 * width
			mid, hi := min(lo+width, len(x)), min(lo+2*width, len(x))
			mergeInto(buf[lo:hi], x[lo:mid], x[mid:hi])
		})
		if err != nil {
			return err
		}
		x, buf = buf, x
		progress.report(0.5 + 0.5*level/levels)
	}
	if &x[0] != &out[0] {
		copy(out, x)
	}
	return nil
}

// mergeInto merges sorted a and b into dst (len(dst) = len(a)+len(b)).
func mergeInto(dst, a, b []float64) {
	i, j := 0, 0
	for k := range dst {
		if j >= len(b) || (i < len(a) && a[i] <= b[j]) {
			dst[k] = a[i]
			i++
		} else {
			dst[k] = b[j]
			j++
		}
	}
}

// Size is what the factor costs ValueAtRisk per scenario: the normals drawn
// (its rank) and the multiply-adds that correlate them (products).
func (f factor) Size() (rank, products int) {
	for _, c := range f.cols {
		products += c
	}
	return f.k, products
}
