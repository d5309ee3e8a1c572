// Package finance registers calcgrid's finance task types, option.price and
// portfolio.var: their payloads, defaults, bounds and schemas, and handlers
// that run the kernels of package quant.
package finance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/quant"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// Register adds option.price and portfolio.var to r.
func Register(r *tasks.Registry) error {
	return r.Register(optionDefinition(), portfolioDefinition())
}

// maxSeed keeps generated seeds exact in every JSON client (doubles hold
// integers up to 2^53), so an echoed seed can always be resubmitted.
const maxSeed = 1 << 53

func seedSchema() map[string]any {
	return map[string]any{
		"type": "integer", "minimum": 0, "maximum": uint64(math.MaxUint64),
		"description": "Random seed; the same payload and seed give a bit-identical result on any worker. " +
			"Default: chosen at submission (below 2^53) and echoed in the result.",
	}
}

// defaultSeed fills a missing seed at submission, so a retried or re-run
// task repeats the same computation.
func defaultSeed(seed **uint64) {
	if *seed == nil {
		s := rand.Uint64N(maxSeed)
		*seed = &s
	}
}

// wholeRange checks that v is a whole number in [lo, hi]. Counts are decoded
// as numbers so that clients may write 1e6.
func wholeRange(c *tasks.Checks, field string, v float64, lo, hi int64) bool {
	if v != math.Trunc(v) || math.IsInf(v, 0) {
		c.Add(field, "must be a whole number ≥ %d and ≤ %d", lo, hi)
		return false
	}
	return c.IntRange(field, int64(v), lo, hi)
}

// orDefault gives an absent number its default and returns the value; a
// number the client sent, 0 included, is kept as sent.
func orDefault(v **float64, def float64) float64 {
	if *v == nil {
		*v = &def
	}
	return **v
}

// required reports a missing field and returns its value (0 if missing).
func required(c *tasks.Checks, field string, v *float64) (float64, bool) {
	if v == nil {
		c.Add(field, "is required")
		return 0, false
	}
	return *v, true
}

// kernelError maps a kernel failure: cancellation passes through for the
// worker to handle, and a panic fails the attempt like a panic in the
// handler itself (retried); anything else cannot be fixed by retrying.
func kernelError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, quant.ErrPanic) {
		return err
	}
	return fmt.Errorf("%w: %w", tasks.ErrPermanent, err)
}

// checkFinite is the last guard that no NaN or Inf reaches a stored result.
func checkFinite(values ...float64) error {
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: the computation produced a non-finite number", tasks.ErrPermanent)
		}
	}
	return nil
}

func elapsedMS(start time.Time) int64 { return time.Since(start).Milliseconds() }

// progressOf adapts a task Reporter to the kernels' progress callback.
func progressOf(r tasks.Reporter) quant.Progress {
	if r == nil {
		return nil
	}
	return r.Progress
}
