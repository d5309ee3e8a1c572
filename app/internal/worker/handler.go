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

// handler runs one attempt of def. Failures are returned to asynq, which
// retries or archives them and reports them to failed.
func (w *Worker) handler(def tasks.Definition) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) (err error) {
		log, id, queue := w.taskLogger(ctx, t)
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
		payload, err := w.prepare(ctx, t, id, st)
		if err != nil || payload == nil {
			if err == nil {
				log.Info("task end replayed", "state", st.Replay)
			}
			return err
		}
		w.metrics.Started.WithLabelValues(t.Type(), queue).Inc()
		log.Info("task started")

		start := time.Now()
		progress := &reporter{}
		go progress.run(ctx, func(f float64) error { return w.opts.Store.SetProgress(ctx, id, f) })
		outcome := "panicked"
		defer func() {
			d := time.Since(start)
			w.metrics.Duration.WithLabelValues(t.Type()).Observe(d.Seconds())
			if outcome != "" {
				log.Warn("task attempt "+outcome, "duration_ms", d.Milliseconds(), "error", fmt.Sprint(err))
			}
		}()
		retried, _ := asynq.GetRetryCount(ctx)
		// The task's own timeout ends before asynq's deadline (TimeoutGrace).
		hctx := ctx
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			hctx, cancel = context.WithDeadline(ctx, deadline.Add(-taskstore.TimeoutGrace))
			defer cancel()
		}
		result, err := def.Handle(tasks.WithAttempt(hctx, retried+1), payload, progress)
		if errors.Is(context.Cause(ctx), errCancelled) {
			outcome = "cancelled"
			return errCancelled
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
			return err
		}
		outcome = ""
		data, err := json.Marshal(result)
		if err != nil {
			return fmt.Errorf("%w: encode result: %w", asynq.SkipRetry, err)
		}
		if _, err := t.ResultWriter().Write(data); err != nil {
			return fmt.Errorf("store result: %w", err)
		}
		// Without its end recorded the task's metadata would outlive it;
		// asynq runs it again instead.
		if err := w.end(ctx, id, taskstore.StateCompleted); err != nil {
			return err
		}
		w.metrics.Succeeded.WithLabelValues(t.Type(), queue).Inc()
		log.Info("task succeeded", "duration_ms", time.Since(start).Milliseconds())
		return nil
	})
}

// failed sees every failed attempt (errors, panics, timeouts, cancels) and
// records whether the task will be retried or has ended.
func (w *Worker) failed(ctx context.Context, t *asynq.Task, err error) {
	log, id, queue := w.taskLogger(ctx, t)
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	final := taskstore.StateFailed
	switch {
	case errors.Is(err, errCancelled):
		final = taskstore.StateCancelled
		w.metrics.Cancelled.WithLabelValues(t.Type(), queue).Inc()
		log.Info("task cancelled")
	case retried >= maxRetry || errors.Is(err, asynq.SkipRetry):
		w.metrics.Failed.WithLabelValues(t.Type(), queue).Inc()
		log.Error("task failed", "error", err.Error())
	default:
		final = ""
		w.metrics.Retried.WithLabelValues(t.Type(), queue).Inc()
		log.Warn("task attempt failed, will retry", "error", err.Error(), "max_retry", maxRetry)
	}
	if final != "" {
		if err := w.end(ctx, id, final); err != nil {
			log.Warn("could not record the end of the task", "error", err)
		}
	}
}

// prepare returns the payload an attempt runs, or a nil payload and the
// error that ends the attempt at once: the task was cancelled before it
// started, an earlier attempt recorded its final state before its worker
// stopped (replayed, so the attempt ends that way again), or the payload
// is gone.
func (w *Worker) prepare(ctx context.Context, t *asynq.Task, id string, st taskstore.Start) ([]byte, error) {
	switch st.Replay {
	case taskstore.StateCompleted:
		// The result was stored before the end was recorded.
		return nil, w.end(ctx, id, taskstore.StateCompleted)
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
	return nil, fmt.Errorf("task %s has no payload (its record was dropped): %w", id, asynq.SkipRetry)
}

// end records that task id reached the final state outcome. The attempt's
// context may be cancelled already; this write must still happen.
func (w *Worker) end(ctx context.Context, id string, outcome taskstore.State) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	return w.opts.Store.Ended(ctx, id, outcome)
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
