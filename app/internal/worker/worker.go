// Package worker runs tasks: an asynq server pulls them from the priority
// queues and dispatches them through the task-type registry, recording
// attempts, progress and results, and honouring cancellation.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/calcgrid/calcgrid/app/internal/metrics"
	"github.com/calcgrid/calcgrid/app/internal/serve"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// defaultPollInterval is Options.PollInterval's default: short, since the
// wake-up (Options.IdleWait), not the interval, bounds an idle worker's
// polling.
const defaultPollInterval = time.Millisecond

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
	// Pprof serves net/http/pprof under /debug/pprof/ on Listen
	// (serve.Pprof).
	Pprof bool
	// NewRedis opens a client as the Store's was opened (config.Redis.Client),
	// for the wake-up's own client; nil turns the wake-up off, as IdleWait 0
	// does.
	NewRedis func() (*redis.Client, error)
	// PollInterval is asynq's TaskCheckInterval: after a round that found
	// every queue empty it polls again in half to one and a half of it
	// (0 means 1 ms).
	PollInterval time.Duration
	// IdleWait is the longest an idle worker waits, after a round that
	// found every queue empty, for a wake-up (taskstore.WakeChannel) before
	// it polls again (wake.go); 0 turns the wake-up off: it polls every
	// PollInterval.
	IdleWait time.Duration
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

	// presumedDead is closed when a later attempt of a task this worker
	// runs has started elsewhere (see supersede).
	presumedDead chan struct{}
	deadOnce     sync.Once

	// reachableSince is when Redis last began answering this worker's
	// recoverer without a break (zero: it does not); see recoverTasks.
	reachableSince time.Time
}

// ErrPresumedDead ends Run when this worker finds that another worker runs
// one of its tasks again: it was presumed dead (cut off from Redis, or
// stalled) and its tasks recovered (taskstore.Recover).
var ErrPresumedDead = errors.New("this worker was presumed dead and its tasks run elsewhere")

// recoverEvery is how often a worker requeues the tasks of dead workers
// (taskstore.Recover): a task runs again at most StaleLease plus this
// after its worker's last heartbeat.
const recoverEvery = time.Second

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

		presumedDead: make(chan struct{}),
	}
}

// Run processes tasks until ctx ends. Then it stops taking tasks, lets
// running ones finish within ShutdownTimeout and requeues the rest.
func (w *Worker) Run(ctx context.Context) error {
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatch()
	ready := make(chan struct{})
	watchErr := make(chan error, 1)
	wake := newWake()
	handlers := map[string]func(string){taskstore.CancelChannel: w.cancel}
	if w.opts.IdleWait > 0 {
		// Any queue: every worker takes every queue.
		handlers[taskstore.WakeChannel] = func(string) { wake.bump() }
	}
	go func() { watchErr <- w.opts.Store.Watch(watchCtx, ready, handlers) }()
	select {
	case <-ready:
	case err := <-watchErr:
		return err
	}

	weights := w.weights(ctx)
	// endIdle ends an idle wait at once, and the waits after it: asynq's
	// Shutdown waits for its processor, which may be waiting in idleHook.
	idleCtx, endIdle := context.WithCancel(context.Background())
	defer endIdle()
	rdb, closeRdb := w.asynqRedis(len(weights), wake, idleCtx.Done())
	defer closeRdb()
	pollInterval := w.opts.PollInterval
	if pollInterval <= 0 {
		pollInterval = defaultPollInterval
	}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:              w.opts.Concurrency,
		Queues:                   weights,
		StrictPriority:           w.opts.StrictPriority,
		TaskCheckInterval:        pollInterval,
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
	w.logger.Info("worker started", "concurrency", w.opts.Concurrency, "queues", weights,
		"strict_priority", w.opts.StrictPriority, "task_types", len(w.opts.Registry.All()),
		"poll_interval", pollInterval.String(), "idle_wait", w.opts.IdleWait.String())

	sweepEvery := w.opts.SweepInterval
	if sweepEvery <= 0 {
		sweepEvery = defaultSweepInterval
	}
	upkeepCtx, stopUpkeep := context.WithCancel(context.WithoutCancel(ctx))
	var upkeep sync.WaitGroup
	upkeep.Go(func() { every(upkeepCtx, sweepEvery, w.sweep) })
	upkeep.Go(func() { every(upkeepCtx, recoverEvery, w.recoverTasks) })
	upkeep.Go(func() { every(upkeepCtx, weightsCheckEvery, w.weightsDrift(weights)) })
	defer func() { stopUpkeep(); upkeep.Wait() }()

	httpErr := make(chan error, 1)
	httpCtx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHTTP()
	if w.opts.Listen != "" {
		ln, err := net.Listen("tcp", w.opts.Listen)
		if err != nil {
			endIdle()
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
	case <-w.presumedDead:
		// No shutdown: asynq would requeue the tasks still running here,
		// under the later attempts that already run them elsewhere. The
		// process ends; asynq's records are as the other workers left them.
		return ErrPresumedDead
	}
	w.logger.Info("worker stopping", "grace", w.opts.ShutdownTimeout.String())
	endIdle()
	srv.Shutdown()
	stopWatch()
	stopHTTP()
	w.logger.Info("worker stopped")
	return err
}

// asynqRedis is the client the worker's asynq server uses, and how to close
// it after the server has shut down. With the wake-up on it is a client of
// its own carrying idleHook: several workers in one process (tests) share
// the store's client, and a hook there would hold every worker's rounds.
// It is opened by NewRedis, where the store's client was, so it logs in
// alike and, behind Sentinels, follows the primary as that one does
// (copying the store client's options would share its Sentinel dialer but
// not the failover's dropping of connections to a demoted primary).
func (w *Worker) asynqRedis(queues int, wake *wake, stop <-chan struct{}) (redis.UniversalClient, func()) {
	shared := w.opts.Store.Redis()
	if w.opts.IdleWait <= 0 {
		return shared, func() {}
	}
	if w.opts.NewRedis == nil {
		w.logger.Warn("no way to open the wake-up's own Redis client (Options.NewRedis); polling instead")
		return shared, func() {}
	}
	own, err := w.opts.NewRedis()
	if err != nil {
		w.logger.Warn("could not open the wake-up's own Redis client; polling instead", "error", err)
		return shared, func() {}
	}
	own.AddHook(&idleHook{wake: wake, queues: queues, idleWait: w.opts.IdleWait, stop: stop})
	return own, func() { _ = own.Close() }
}

// weightsTimeout bounds reading the queue weights an admin set.
const weightsTimeout = 2 * time.Second

// weights are the queue weights this worker runs with: those an admin set
// through the API (PATCH /v1/admin/queues/{name}, kept in Redis) over the
// configured ones. They are read once, at start: asynq cannot change a
// running server's weights, and restarting it would requeue or wait out
// the tasks it runs, so a new weight applies as workers restart (a rolling
// restart applies it everywhere). The configured weights are used when
// Redis cannot be read.
func (w *Worker) weights(ctx context.Context) map[string]int {
	ctx, cancel := context.WithTimeout(ctx, weightsTimeout)
	defer cancel()
	weights, err := w.opts.Store.QueueWeights(ctx, w.opts.Weights)
	if err != nil {
		w.logger.Warn("could not read the queue weights set through the API; using the configured ones", "error", err)
		return w.opts.Weights
	}
	return weights
}

// weightsCheckEvery is how often a worker compares the queue weights set
// through the API with those it runs.
const weightsCheckEvery = 10 * time.Second

// weightsDrift returns a check that warns, once per change, when the
// weights set through the API differ from running, the ones this worker
// took at start: it applies them when restarted.
func (w *Worker) weightsDrift(running map[string]int) func(context.Context) {
	var warned map[string]int
	return func(ctx context.Context) {
		set, err := w.opts.Store.QueueWeights(ctx, w.opts.Weights)
		if err != nil || maps.Equal(set, running) || maps.Equal(set, warned) {
			return
		}
		warned = set
		w.logger.Warn("the queue weights set through the API differ from the ones this worker runs; they apply when it restarts",
			"running", running, "set", set)
	}
}

// every runs fn every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fn(ctx)
		}
	}
}

// sweep deletes expired finished tasks.
func (w *Worker) sweep(ctx context.Context) {
	n, err := w.opts.Store.Sweep(ctx)
	if err != nil && ctx.Err() == nil {
		w.logger.Warn("could not delete expired tasks", "error", err)
	}
	if n > 0 {
		w.logger.Debug("expired tasks deleted", "tasks", n)
	}
}

// recoverTasks requeues the tasks of workers that stopped heart-beating.
// While Redis is unreachable every worker's heartbeat fails too, and every
// lease goes stale alike: leases are judged only once this worker has
// reached Redis for StaleLease without a break, time for the live workers'
// heartbeats (every 5 s) to extend theirs again.
func (w *Worker) recoverTasks(ctx context.Context) {
	if err := w.opts.Store.Ping(ctx); err != nil {
		w.reachableSince = time.Time{}
		return
	}
	if w.reachableSince.IsZero() {
		w.reachableSince = time.Now()
	}
	if time.Since(w.reachableSince) < taskstore.StaleLease {
		return
	}
	recovered, err := w.opts.Store.Recover(ctx)
	if err != nil && ctx.Err() == nil {
		w.logger.Warn("could not recover the tasks of dead workers", "error", err)
	}
	for _, r := range recovered {
		w.metrics.Recovered.WithLabelValues(r.Queue).Inc()
		w.logger.Warn("task recovered: its worker stopped heart-beating", "task_id", r.ID, "queue", r.Queue,
			"stale_after", taskstore.StaleLease.String())
	}
}

// supersede stops this worker: a later attempt of one of its tasks runs
// elsewhere, so it was presumed dead, and whatever it still runs may run
// elsewhere too. Run returns ErrPresumedDead (the process exits and its
// container restarts it, afresh).
func (w *Worker) supersede(log *slog.Logger, err error) {
	w.deadOnce.Do(func() {
		log.Error("this worker was presumed dead while it ran the task, which now runs elsewhere: "+
			"it records nothing more and stops", "error", err)
		close(w.presumedDead)
	})
}

func (w *Worker) health() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", serve.Healthz)
	mux.Handle("GET /readyz", serve.Readyz(w.opts.Store.Ping))
	mux.Handle("GET /metrics", metrics.Handler(w.registry))
	if w.opts.Pprof {
		mux.Handle("/debug/pprof/", serve.Pprof())
	}
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
