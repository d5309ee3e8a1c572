package quant

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Progress receives the fraction of work done (0..1). Kernels call it from
// one goroutine at a time, at least every progressEvery while they run.
type Progress func(fraction float64)

const progressEvery = 50 * time.Millisecond

// span maps a sub-computation's progress onto [lo, lo+width) of p, so a
// kernel made of several runs (greeks) still reports one rising fraction.
func (p Progress) span(lo, width float64) Progress {
	if p == nil {
		return nil
	}
	return func(f float64) { p(lo + width*f) }
}

func (p Progress) report(f float64) {
	if p != nil {
		p(f)
	}
}

// chunkWork is the units of work (paths × steps) that one chunk should hold:
// a few milliseconds on one core, so cancellation and progress are prompt.
const chunkWork = 1 << 20

// chunkSize is the number of items (paths, simulations) per chunk for items
// that cost perItem units each. It depends only on the inputs, never on the
// machine, so chunk boundaries — and hence random streams — are fixed.
func chunkSize(perItem int) int {
	return max(chunkWork/max(perItem, 1), 16)
}

// ErrPanic is a panic inside a kernel's goroutine, returned as an error so
// that it fails one attempt instead of the whole worker process.
var ErrPanic = errors.New("kernel panic")

// forChunks runs work(c) for every chunk c in [0, n) on all cores. Each call
// must write only its own chunk's slot; callers combine the slots in index
// order afterwards, which keeps floating-point sums identical on any core
// count. It returns ctx.Err() if ctx ends first (within one chunk's time),
// and an ErrPanic error if a chunk panics (the other chunks stop).
func forChunks(ctx context.Context, n int, progress Progress, work func(c int)) error {
	if n <= 0 {
		return ctx.Err()
	}
	var next, done atomic.Int64
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), n)
	stop := make(chan struct{})
	var panicked atomic.Pointer[error]
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	for range workers {
		wg.Go(func() {
			// A panic here would end the process: it becomes this call's error.
			defer func() {
				if v := recover(); v != nil {
					err := fmt.Errorf("%w: %v\n%s", ErrPanic, v, debug.Stack())
					panicked.CompareAndSwap(nil, &err)
					halt()
				}
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := int(next.Add(1) - 1)
				if c >= n {
					return
				}
				work(c)
				done.Add(1)
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case <-finished:
			if err := panicked.Load(); err != nil {
				return *err
			}
			progress.report(1)
			return nil
		case <-ctx.Done():
			halt()
			<-finished
			return ctx.Err()
		case <-tick.C:
			progress.report(float64(done.Load()) / float64(n))
		}
	}
}

// sums accumulates one chunk's samples of x (and optionally a control y)
// around shifts taken from the first sample, so that the variance of prices
// far from zero does not cancel catastrophically.
type sums struct {
	n                int
	sx, sy           float64 // shifts
	x, y, xx, yy, xy float64 // sums of shifted values and products
	started          bool
}

func (s *sums) add(x float64) {
	if !s.started {
		s.started, s.sx = true, x
	}
	x -= s.sx
	s.n++
	s.x += x
	s.xx += x * x
}

func (s *sums) add2(x, y float64) {
	if !s.started {
		s.started, s.sx, s.sy = true, x, y
	}
	x -= s.sx
	y -= s.sy
	s.n++
	s.x += x
	s.y += y
	s.xx += x * x
	s.yy += y * y
	s.xy += x * y
}

// moments are central moments of (x, y): means and co-moment sums.
type moments struct {
	n             float64
	mx, my        float64
	cxx, cyy, cxy float64
}

func (s sums) moments() moments {
	if s.n == 0 {
		return moments{}
	}
	n := float64(s.n)
	dx, dy := s.x/n, s.y/n
	return moments{
		n: n, mx: s.sx + dx, my: s.sy + dy,
		cxx: max(s.xx-n*dx*dx, 0), cyy: max(s.yy-n*dy*dy, 0), cxy: s.xy - n*dx*dy,
	}
}

// merge combines two sets of central moments (Chan et al.); callers merge
// chunks in index order so the result does not depend on scheduling.
func (a moments) merge(b moments) moments {
	if a.n == 0 {
		return b
	}
	if b.n == 0 {
		return a
	}
	n := a.n + b.n
	dx, dy := b.mx-a.mx, b.my-a.my
	f := a.n * b.n / n
	return moments{
		n: n, mx: a.mx + dx*b.n/n, my: a.my + dy*b.n/n,
		cxx: a.cxx + b.cxx + dx*dx*f, cyy: a.cyy + b.cyy + dy*dy*f, cxy: a.cxy + b.cxy + dx*dy*f,
	}
}

func mergeAll(chunks []sums) moments {
	var m moments
	for _, c := range chunks {
		m = m.merge(c.moments())
	}
	return m
}

// estimate is the plain Monte Carlo mean of x and its standard error.
func (m moments) estimate() (mean, stdErr float64) {
	if m.n < 2 {
		return m.mx, 0
	}
	return m.mx, math.Sqrt(m.cxx / (m.n - 1) / m.n)
}

// controlled is the mean of x with y as a control variate whose exact mean
// is ey, using the optimal coefficient cov(x,y)/var(y).
func (m moments) controlled(ey float64) (mean, stdErr float64) {
	if m.n < 3 || m.cyy == 0 {
		return m.estimate()
	}
	beta := m.cxy / m.cyy
	resid := max(m.cxx-beta*m.cxy, 0)
	return m.mx - beta*(m.my-ey), math.Sqrt(resid / (m.n - 2) / m.n)
}
