package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// progressEvery is the most often a task's progress is written to Redis.
const progressEvery = 250 * time.Millisecond

// taskLogger tags a logger with what identifies an attempt.
func (w *Worker) taskLogger(ctx context.Context, t *asynq.Task) (*slog.Logger, string, string) {
	id, _ := asynq.GetTaskID(ctx)
	queue, _ := asynq.GetQueueName(ctx)
	retried, _ := asynq.GetRetryCount(ctx)
	return w.logger.With("task_id", id, "type", t.Type(), "queue", queue,
		"attempt", retried+1, "request_id", t.Headers()["request_id"]), id, queue
}

// handler runs one attempt of def and records how it ended (see finish)
// before asynq does.
func (w *Worker) handler(def tasks.Definition) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		log, id, queue := w.taskLogger(ctx, t)
		actx := ctx
		ctx, stop := context.WithCancelCause(ctx)
		defer stop(nil)
		defer w.track(id, stop)()

		st, err := w.opts.Store.Started(ctx, id)
		if errors.Is(err, taskstore.ErrNotFound) {
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		if err != nil {
			return err
		}
		start := time.Now()
		result, err := w.attempt(ctx, def, t, st, log, queue)
		if err := w.finish(actx, ctx, id, st.Attempt, result, err, log); err != nil {
			return err
		}
		if result != nil {
			w.metrics.Succeeded.WithLabelValues(t.Type(), queue).Inc()
			log.Info("task succeeded", "duration_ms", time.Since(start).Milliseconds())
		}
		return nil
	})
}

// attempt runs the task unless its start says otherwise, and returns its
// encoded result.
func (w *Worker) attempt(ctx context.Context, def tasks.Definition, t *asynq.Task, st taskstore.Start, log *slog.Logger, queue string) (result []byte, err error) {
	payload, err := w.prepare(t, st)
	if err != nil || payload == nil {
		if err == nil {
			log.Info("task end replayed", "state", st.Replay)
		}
		return nil, err
	}
	w.metrics.Started.WithLabelValues(t.Type(), queue).Inc()
	log.Info("task started")

	start := time.Now()
	progress := &reporter{}
	go progress.run(ctx, func(f float64) error { return w.opts.Store.SetProgress(ctx, t.ResultWriter().TaskID(), st.Attempt, f) })
	outcome := "panicked"
	defer func() {
		// A panic is the attempt's failure; recovered here so that its end
		// is recorded like any other.
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
		d := time.Since(start)
		w.metrics.Duration.WithLabelValues(t.Type()).Observe(d.Seconds())
		if outcome != "" {
			log.Warn("task attempt "+outcome, "duration_ms", d.Milliseconds(), "error", fmt.Sprint(err))
		}
	}()
	// The task's own timeout ends before asynq's deadline (TimeoutGrace).
	hctx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		hctx, cancel = context.WithDeadline(ctx, deadline.Add(-taskstore.TimeoutGrace))
		defer cancel()
	}
	out, err := def.Handle(tasks.WithAttempt(hctx, st.Attempt), payload, progress)
	if errors.Is(context.Cause(ctx), errCancelled) {
		outcome = "cancelled"
		return nil, errCancelled
	}
	if err != nil {
		outcome = "failed"
		if errors.Is(err, context.DeadlineExceeded) {
			// The same work would time out again: a timeout ends the task.
			deadline, _ := hctx.Deadline()
			err = fmt.Errorf("timed out after %s: %w: %w", deadline.Sub(start).Round(time.Second), err, asynq.SkipRetry)
		}
		if errors.Is(err, tasks.ErrPermanent) {
			err = fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		return nil, err
	}
	outcome = ""
	data, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("%w: encode result: %w", asynq.SkipRetry, err)
	}
	return data, nil
}

// finish records how the attempt ended before asynq does: a final state
// (with the result), or, for an attempt asynq will retry, that no later
// attempt started. An attempt superseded by a later one (its worker was
// presumed dead while it ran) records nothing and never returns: asynq
// would move the task on under the later attempt, so the worker stops
// (see Run). Until Redis answers, finish keeps trying, as long as asynq
// still holds the attempt (actx).
func (w *Worker) finish(actx, ctx context.Context, id string, attempt int, result []byte, err error, log *slog.Logger) error {
	final := finalState(ctx, err)
	record := func(ctx context.Context) error {
		if final == "" {
			superseded, rerr := w.opts.Store.Superseded(ctx, id, attempt)
			if rerr == nil && superseded {
				return taskstore.ErrSuperseded
			}
			return rerr
		}
		return w.opts.Store.Ended(ctx, id, taskstore.End{Attempt: attempt, Outcome: final, Result: result})
	}
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		// The attempt's own context may be cancelled already (a cancel
		// request, a timeout); the write must still happen.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		rerr := record(wctx)
		cancel()
		switch {
		case rerr == nil:
			return err
		case errors.Is(rerr, taskstore.ErrSuperseded):
			w.supersede(log, rerr)
			<-make(chan struct{}) // the process ends; see supersede
		case actx.Err() != nil:
			log.Warn("could not record the end of the attempt; asynq gave it up", "error", rerr)
			return errors.Join(err, rerr)
		}
		log.Warn("could not record the end of the attempt; trying again", "error", rerr, "wait_ms", wait.Milliseconds())
		select {
		case <-actx.Done():
		case <-time.After(wait):
		}
	}
}

// finalState is the state an attempt that ended with err leaves its task
// in, or "" when asynq will run it again.
func finalState(ctx context.Context, err error) taskstore.State {
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	switch {
	case err == nil:
		return taskstore.StateCompleted
	case errors.Is(err, errCancelled):
		return taskstore.StateCancelled
	case retried >= maxRetry || errors.Is(err, asynq.SkipRetry):
		return taskstore.StateFailed
	}
	return ""
}

// failed sees every failed attempt (errors, timeouts, cancels), whose end
// finish has recorded, and logs and counts it.
func (w *Worker) failed(ctx context.Context, t *asynq.Task, err error) {
	log, _, queue := w.taskLogger(ctx, t)
	switch finalState(ctx, err) {
	case taskstore.StateCancelled:
		w.metrics.Cancelled.WithLabelValues(t.Type(), queue).Inc()
		log.Info("task cancelled")
	case taskstore.StateFailed:
		w.metrics.Failed.WithLabelValues(t.Type(), queue).Inc()
		log.Error("task failed", "error", err.Error())
	default:
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		w.metrics.Retried.WithLabelValues(t.Type(), queue).Inc()
		log.Warn("task attempt failed, will retry", "error", err.Error(), "max_retry", maxRetry)
	}
}

// prepare returns the payload an attempt runs, or a nil payload and the
// error that ends the attempt at once: the task was cancelled before it
// started, an earlier attempt recorded its final state before its worker
// stopped (replayed, so the attempt ends that way again; a completed one's
// result is stored already), or the payload is gone.
func (w *Worker) prepare(t *asynq.Task, st taskstore.Start) ([]byte, error) {
	switch st.Replay {
	case taskstore.StateCompleted:
		return nil, nil
	case taskstore.StateCancelled:
		return nil, errCancelled
	case taskstore.StateFailed:
		// Also a failed task run again from the dashboard: its payload
		// went when it failed.
		return nil, fmt.Errorf("the task had already failed, and its payload is dropped when a task ends (submit it again to rerun it): %w", asynq.SkipRetry)
	}
	switch {
	case st.Cancelled:
		return nil, errCancelled
	case st.Payload != nil:
		return st.Payload, nil
	case len(t.Payload()) > 0:
		return t.Payload(), nil // enqueued while payloads lived in asynq's message
	}
	return nil, fmt.Errorf("task %s has no payload (its record was dropped): %w", t.ResultWriter().TaskID(), asynq.SkipRetry)
}

// reporter is the tasks.Reporter given to handlers: Progress only records
// the latest fraction; run writes it to Redis at most every progressEvery.
type reporter struct {
	latest atomic.Uint64 // math.Float64bits of the fraction
	last   float64
}

// Progress implements tasks.Reporter.
func (r *reporter) Progress(f float64) {
	if math.IsNaN(f) {
		return
	}
	r.latest.Store(math.Float64bits(min(max(f, 0), 1)))
}

func (r *reporter) run(ctx context.Context, store func(float64) error) {
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if f := math.Float64frombits(r.latest.Load()); f != r.last {
				if store(f) == nil {
					r.last = f
				}
			}
		}
	}
}
