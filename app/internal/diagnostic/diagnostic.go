// Package diagnostic registers task types that exercise the platform rather
// than compute anything: they sleep, burn CPU or fail on purpose, so tests
// and operators can observe scheduling, progress, retries and cancellation.
// They are registered only with CALCGRID_DIAGNOSTICS=1.
package diagnostic

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// maxMS bounds sleep and cpu durations (10 minutes).
const maxMS = 600_000

// Register adds the diagnostic.* types to r.
func Register(r *tasks.Registry) error {
	return r.Register(
		tasks.Define(tasks.Spec[Empty]{
			Name: "diagnostic.noop", Description: "Does nothing and succeeds.",
			Queue: tasks.QueueMedium, Timeout: 30 * time.Second, MaxRetry: 3,
			Schema: tasks.ObjectSchema(map[string]any{}), CostModel: negligible,
		}, noop),
		timed("diagnostic.sleep", "Sleeps for ms milliseconds, reporting progress.", "how long to sleep, in milliseconds",
			tasks.CostModel{Work: "none: it waits (but holds a worker slot for ms)", Memory: "none"}, nil, sleep),
		timed("diagnostic.cpu", "Keeps one CPU busy for ms milliseconds, reporting progress.", "how long to burn CPU, in milliseconds",
			tasks.CostModel{Work: "ms milliseconds of one core", Memory: "none", Fields: []string{"ms"}}, cpuCost, cpu),
		tasks.Define(tasks.Spec[Failure]{
			Name: "diagnostic.fail", Description: "Fails (error or panic) on the first `times` attempts, then succeeds.",
			Queue: tasks.QueueMedium, Timeout: 30 * time.Second, MaxRetry: 3, CostModel: negligible,
			Schema: tasks.ObjectSchema(map[string]any{
				"mode":  tasks.EnumSchema("how to fail", "error", "error", "panic"),
				"times": tasks.IntegerSchema("attempts that fail before one succeeds", 0, 100, 1),
			}),
		}, fail),
	)
}

// negligible is the cost model of types that do next to nothing.
var negligible = tasks.CostModel{Work: "none", Memory: "none"}

// timed defines a type whose payload is a duration {"ms": n}.
func timed(name, desc, msDesc string, model tasks.CostModel, cost func(Duration) tasks.Cost,
	handle func(context.Context, Duration, tasks.Reporter) (Spent, error)) tasks.Definition {
	return tasks.Define(tasks.Spec[Duration]{
		Name: name, Description: desc, Queue: tasks.QueueMedium, Timeout: 15 * time.Minute, MaxRetry: 3,
		Schema:    tasks.ObjectSchema(map[string]any{"ms": tasks.IntegerSchema(msDesc, 0, maxMS, 1000)}),
		CostModel: model, Cost: cost,
	}, handle)
}

// cpuCost: diagnostic.cpu burns exactly the time it is asked for.
func cpuCost(d Duration) tasks.Cost {
	return tasks.Cost{CPU: time.Duration(*d.MS) * time.Millisecond,
		Work: tasks.Formula{Text: fmt.Sprintf("ms = %d milliseconds", *d.MS), Fields: []string{"ms"}}}
}

// Empty is the payload of diagnostic.noop.
type Empty struct{}

// Normalize implements tasks.Payload.
func (*Empty) Normalize() []tasks.FieldError { return nil }

func noop(context.Context, Empty, tasks.Reporter) (map[string]bool, error) {
	return map[string]bool{"ok": true}, nil
}

// Duration is the payload of diagnostic.sleep and diagnostic.cpu.
type Duration struct {
	MS *int64 `json:"ms"`
}

// Normalize implements tasks.Payload.
func (d *Duration) Normalize() []tasks.FieldError {
	if d.MS == nil {
		d.MS = new(int64(1000))
	}
	var c tasks.Checks
	c.IntRange("ms", *d.MS, 0, maxMS)
	return c.Errors()
}

// Spent is the result of diagnostic.sleep and diagnostic.cpu.
type Spent struct {
	MS int64 `json:"ms"`
}

// progressEvery is how often sleep and cpu report progress.
const progressEvery = 20 * time.Millisecond

func sleep(ctx context.Context, p Duration, r tasks.Reporter) (Spent, error) {
	total := time.Duration(*p.MS) * time.Millisecond
	start := time.Now()
	done := time.NewTimer(total)
	defer done.Stop()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return Spent{}, ctx.Err()
		case <-done.C:
			r.Progress(1)
			return Spent{MS: *p.MS}, nil
		case <-tick.C:
			r.Progress(float64(time.Since(start)) / float64(total))
		}
	}
}

func cpu(ctx context.Context, p Duration, r tasks.Reporter) (Spent, error) {
	total := time.Duration(*p.MS) * time.Millisecond
	start := time.Now()
	// The loop itself is the load: it spins on the clock without yielding.
	for elapsed := time.Duration(0); elapsed < total; elapsed = time.Since(start) {
		if err := ctx.Err(); err != nil {
			return Spent{}, err
		}
		r.Progress(float64(elapsed) / float64(total))
	}
	r.Progress(1)
	return Spent{MS: *p.MS}, nil
}

// Failure is the payload of diagnostic.fail.
type Failure struct {
	Mode  string `json:"mode"`
	Times *int64 `json:"times"`
}

// Normalize implements tasks.Payload.
func (f *Failure) Normalize() []tasks.FieldError {
	if f.Mode == "" {
		f.Mode = "error"
	}
	if f.Times == nil {
		f.Times = new(int64(1))
	}
	var c tasks.Checks
	c.OneOf("mode", f.Mode, "error", "panic")
	c.IntRange("times", *f.Times, 0, 100)
	return c.Errors()
}

// Attempted is the result of diagnostic.fail once it succeeds.
type Attempted struct {
	Attempt int `json:"attempt"`
}

var errDiagnostic = errors.New("diagnostic failure")

func fail(ctx context.Context, p Failure, _ tasks.Reporter) (Attempted, error) {
	n := tasks.Attempt(ctx)
	if int64(n) <= *p.Times {
		if p.Mode == "panic" {
			panic(fmt.Sprintf("diagnostic panic on attempt %d of %d failing", n, *p.Times))
		}
		return Attempted{}, fmt.Errorf("%w on attempt %d of %d failing", errDiagnostic, n, *p.Times)
	}
	return Attempted{Attempt: n}, nil
}
