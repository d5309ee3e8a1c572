// Package worker runs tasks: an asynq server pulls them from the priority
// queues and dispatches them through the task-type registry, recording
// attempts, progress and results, and honouring cancellation.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/calcgrid/calcgrid/app/internal/metrics"
	"github.com/calcgrid/calcgrid/app/internal/serve"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// taskCheckInterval is how often an idle worker polls the queues; asynq
// waits between half and one and a half of it, so an idle worker picks a
// new task up within ~75 ms.
const taskCheckInterval = 50 * time.Millisecond

// delayedTaskCheckInterval is how often due retries move back to pending.
const delayedTaskCheckInterval = time.Second

// Options configure a Worker.
type Options struct {
	Store    *taskstore.Store
	Registry *tasks.Registry
	Logger   *slog.Logger
	// Listen is the address of /healthz, /readyz and /metrics ("" for none).
	Listen          string
	Concurrency     int
	Weights         map[string]int
	StrictPriority  bool
	ShutdownTimeout time.Duration
	// SweepInterval is how often the worker deletes finished tasks whose
	// retention has passed (taskstore.Store.Sweep); 0 means 30 s.
	SweepInterval time.Duration
}

// defaultSweepInterval is how often a worker sweeps by default: an expired
// task disappears at most this long (plus asynq's whole-second scores)
// after its retention.
const defaultSweepInterval = 30 * time.Second

// Worker runs tasks until its context ends.
type Worker struct {
	opts     Options
	logger   *slog.Logger
	metrics  *metrics.Tasks
	registry *prometheus.Registry

	mu      sync.Mutex
	running map[string]context.CancelCauseFunc
}

// New returns a Worker; Run starts it.
func New(opts Options) *Worker {
	reg := metrics.NewRegistry()
	reg.MustRegister(metrics.NewQueues(opts.Store.QueueInfo, opts.Logger))
	return &Worker{
		opts:     opts,
		logger:   opts.Logger,
		metrics:  metrics.NewTasks(reg),
		registry: reg,
		running:  map[string]context.CancelCauseFunc{},
	}
}

// Run processes tasks until ctx ends. Then it stops taking tasks, lets
// running ones finish within ShutdownTimeout and requeues the rest.
func (w *Worker) Run(ctx context.Context) error {
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatch()
	ready := make(chan struct{})
	watchErr := make(chan error, 1)
	go func() { watchErr <- w.opts.Store.WatchCancels(watchCtx, ready, w.cancel) }()
	select {
	case <-ready:
	case err := <-watchErr:
		return err
	}

	srv := asynq.NewServerFromRedisClient(w.opts.Store.Redis(), asynq.Config{
		Concurrency:              w.opts.Concurrency,
		Queues:                   w.opts.Weights,
		StrictPriority:           w.opts.StrictPriority,
		TaskCheckInterval:        taskCheckInterval,
		DelayedTaskCheckInterval: delayedTaskCheckInterval,
		ShutdownTimeout:          w.opts.ShutdownTimeout,
		RetryDelayFunc:           retryDelay,
		ErrorHandler:             asynq.ErrorHandlerFunc(w.failed),
		Logger:                   asynqLogger{w.logger},
		LogLevel:                 asynq.WarnLevel,
	})
	mux := asynq.NewServeMux()
	for _, def := range w.opts.Registry.All() {
		mux.Handle(def.Name, w.handler(def))
	}
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	w.logger.Info("worker started", "concurrency", w.opts.Concurrency, "queues", w.opts.Weights,
		"strict_priority", w.opts.StrictPriority, "task_types", len(w.opts.Registry.All()))

	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	swept := make(chan struct{})
	go func() { defer close(swept); w.sweep(sweepCtx) }()
	defer func() { stopSweep(); <-swept }()

	httpErr := make(chan error, 1)
	httpCtx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHTTP()
	if w.opts.Listen != "" {
		ln, err := net.Listen("tcp", w.opts.Listen)
		if err != nil {
			srv.Shutdown()
			return fmt.Errorf("listen on %s: %w", w.opts.Listen, err)
		}
		go func() { httpErr <- serve.Serve(httpCtx, ln, w.health(), w.logger) }()
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-httpErr:
	case err = <-watchErr:
	}
	w.logger.Info("worker stopping", "grace", w.opts.ShutdownTimeout.String())
	srv.Shutdown()
	stopWatch()
	stopHTTP()
	w.logger.Info("worker stopped")
	return err
}

// sweep deletes expired finished tasks every SweepInterval until ctx ends.
func (w *Worker) sweep(ctx context.Context) {
	every := w.opts.SweepInterval
	if every <= 0 {
		every = defaultSweepInterval
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			n, err := w.opts.Store.Sweep(ctx)
			if err != nil && ctx.Err() == nil {
				w.logger.Warn("could not delete expired tasks", "error", err)
			}
			if n > 0 {
				w.logger.Debug("expired tasks deleted", "tasks", n)
			}
		}
	}
}

func (w *Worker) health() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", serve.Healthz)
	mux.Handle("GET /readyz", serve.Readyz(w.opts.Store.Ping))
	mux.Handle("GET /metrics", metrics.Handler(w.registry))
	return mux
}

// errCancelled ends a task whose cancellation was requested; it wraps
// asynq.SkipRetry so that asynq archives the task instead of retrying it.
var errCancelled = fmt.Errorf("cancelled on request: %w", asynq.SkipRetry)

// cancel stops the task id if it runs here.
func (w *Worker) cancel(id string) {
	w.mu.Lock()
	stop, ok := w.running[id]
	w.mu.Unlock()
	if ok {
		stop(errCancelled)
	}
}

func (w *Worker) track(id string, stop context.CancelCauseFunc) (untrack func()) {
	w.mu.Lock()
	w.running[id] = stop
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.running, id)
		w.mu.Unlock()
	}
}

// retryDelay backs off exponentially from one second (capped at ~8.5
// minutes, with jitter); a task whose worker died runs again at once.
func retryDelay(n int, err error, _ *asynq.Task) time.Duration {
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return 0
	}
	d := time.Second << min(n, 9)
	return d + rand.N(d/4+1)
}

// asynqLogger routes asynq's own messages into slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...), "component", "asynq")
	os.Exit(1)
}
