package worker_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/config"
	"github.com/calcgrid/calcgrid/app/internal/diagnostic"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
	"github.com/calcgrid/calcgrid/app/internal/worker"
)

// idleStack is an API on a fresh redis-server with the diagnostic types.
func idleStack(t *testing.T) *apptest.Stack {
	t.Helper()
	reg := tasks.NewRegistry()
	if err := diagnostic.Register(reg); err != nil {
		t.Fatal(err)
	}
	return apptest.Start(t, reg, apptest.Options{})
}

// runIdleWorker runs a worker polling every poll and waiting idleWait for
// wake-ups; stop stops it and returns how long Run took to return.
func runIdleWorker(t *testing.T, e *apptest.Stack, poll, idleWait time.Duration) (stop func() time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := worker.New(worker.Options{
		Store: e.WorkerStore, Registry: e.Registry, Logger: e.Logger.With("role", "worker"),
		Concurrency: 2, Weights: config.DefaultWeights(), ShutdownTimeout: 5 * time.Second,
		PollInterval: poll, IdleWait: idleWait, NewRedis: e.WorkerRedis.Client,
	})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var took time.Duration
	stopped := false
	stop = func() time.Duration {
		if !stopped {
			stopped = true
			start := time.Now()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker: %v", err)
			}
			took = time.Since(start)
		}
		return took
	}
	t.Cleanup(func() { stop() })
	return stop
}

// TestWakeUpStartsIdleWorker: a worker idle for longer than a second, which
// would poll only every 10 s, starts a submitted task within 50 ms: the
// submission woke it. Submitted to each queue in turn, since the round
// that the wake-up ends may have asked that queue first.
func TestWakeUpStartsIdleWorker(t *testing.T) {
	e := idleStack(t)
	runIdleWorker(t, e, time.Millisecond, 10*time.Second)
	time.Sleep(1200 * time.Millisecond) // idle: waiting in the hook
	for _, q := range tasks.Queues() {
		task := e.Submit(`{"type":"diagnostic.noop","priority":"` + q + `"}`)
		done := e.Await(task.ID, 5*time.Second, taskstore.StateCompleted)
		if done.StartedAt == nil {
			t.Fatalf("%s: task %s completed without a start", q, task.ID)
		}
		// Both times are Redis's clock.
		if d := done.StartedAt.Sub(done.CreatedAt); d > 50*time.Millisecond {
			t.Errorf("%s: started %s after its submission, want ≤ 50ms", q, d)
		}
		t.Logf("%s: started %s after its submission", q, done.StartedAt.Sub(done.CreatedAt))
		time.Sleep(300 * time.Millisecond) // idle again
	}
}

// TestIdlePolling: an idle worker waiting for wake-ups runs asynq's dequeue
// script about once per queue per IdleWait; polling without them, every
// millisecond or so. Counted by Redis: RPOPLPUSH runs only in that script.
func TestIdlePolling(t *testing.T) {
	const window = 2 * time.Second
	queues := float64(len(tasks.Queues()))
	for _, c := range []struct {
		name                     string
		poll, idleWait           time.Duration
		minPerQueue, maxPerQueue float64 // dequeue calls per queue per second
	}{
		{"wake-up", time.Millisecond, time.Second, 0.5, 10},
		{"polling only", time.Millisecond, 0, 50, 1e6},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := idleStack(t)
			runIdleWorker(t, e, c.poll, c.idleWait)
			time.Sleep(500 * time.Millisecond) // started
			before := dequeues(t, e)
			time.Sleep(window)
			rate := float64(dequeues(t, e)-before) / queues / window.Seconds()
			if rate < c.minPerQueue || rate > c.maxPerQueue {
				t.Errorf("%.1f dequeue calls per queue per second, want %g to %g", rate, c.minPerQueue, c.maxPerQueue)
			}
			t.Logf("%.1f dequeue calls per queue per second", rate)
		})
	}
}

// dequeues is how many times Redis ran RPOPLPUSH, the dequeue script's pop.
func dequeues(t *testing.T, e *apptest.Stack) int {
	t.Helper()
	admin := e.Redis.Client()
	defer admin.Close()
	info, err := admin.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		stats, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_rpoplpush:calls=")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(stats[:strings.IndexByte(stats, ',')])
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return n
	}
	return 0
}

// TestStopWhileIdle: a worker waiting for a wake-up (up to 10 s) stops
// promptly: asynq's shutdown waits for its processor, which the wait
// holds.
func TestStopWhileIdle(t *testing.T) {
	e := idleStack(t)
	stop := runIdleWorker(t, e, time.Millisecond, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	if took := stop(); took > time.Second {
		t.Errorf("the worker stopped %s after it was told to, want < 1s", took)
	}
}
