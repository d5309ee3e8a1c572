package taskstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/calcgrid/calcgrid/app/internal/api"
	"github.com/calcgrid/calcgrid/app/internal/config"
	"github.com/calcgrid/calcgrid/app/internal/diagnostic"
	"github.com/calcgrid/calcgrid/app/internal/redistest"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
	"github.com/calcgrid/calcgrid/app/internal/worker"
)

// env is a store on a private redis-server, with the diagnostic types.
type env struct {
	t     *testing.T
	srv   *redistest.Server
	rdb   *redis.Client
	store *taskstore.Store
	reg   *tasks.Registry
	// retention is the store's, for the stores of as.
	retention taskstore.Retention
	// requests numbers the submissions' request ids.
	requests atomic.Int64
}

func newEnv(t *testing.T, r taskstore.Retention) *env {
	t.Helper()
	return newEnvOn(t, redistest.StartACL(t), r)
}

// newEnvOn is newEnv on the StartACL server srv.
func newEnvOn(t *testing.T, srv *redistest.Server, r taskstore.Retention) *env {
	t.Helper()
	rdb := login(t, srv, "admin")
	reg := tasks.NewRegistry()
	if err := diagnostic.Register(reg); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, rdb: rdb, store: taskstore.New(rdb, r), reg: reg, retention: r}
}

// as is the store logged in as user (the worker sweeps and recovers, the
// API submits and cancels), with production client settings.
func (e *env) as(user string) *taskstore.Store {
	return taskstore.New(login(e.t, e.srv, user), e.retention)
}

// loginConfig is the app's Redis setting for user.
func (e *env) loginConfig(user string) config.Redis { return loginConfig(e.srv, user) }

func loginConfig(srv *redistest.Server, user string) config.Redis {
	o := srv.Login(user)
	return config.Redis{Addr: o.Addr, Username: o.Username, Password: o.Password}
}

func login(t *testing.T, srv *redistest.Server, user string) *redis.Client {
	t.Helper()
	rdb, err := loginConfig(srv, user).Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// sub decodes a POST /v1/tasks body as the API does, under key with a
// request id of its own. Goroutines may call it.
func (e *env) sub(body, key string) taskstore.Submission {
	s, err := api.DecodeSubmission([]byte(body), e.reg)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", body, err))
	}
	s.Key, s.RequestID = key, fmt.Sprintf("req-%d", e.requests.Add(1))
	return s
}

func (e *env) submit(body, key string) taskstore.Task {
	e.t.Helper()
	task, created, err := e.store.Submit(e.t.Context(), e.sub(body, key), 10000)
	if err != nil || !created {
		e.t.Fatalf("submit %s: %v (created %v)", body, err, created)
	}
	return task
}

// startWorker runs a worker (sweeping every 100 ms) until the test ends.
func (e *env) startWorker(concurrency int) {
	e.t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("CALCGRID_TEST_LOG") != "" {
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w := worker.New(worker.Options{
		Store: e.store, Registry: e.reg, Logger: logger, Concurrency: concurrency,
		Weights: config.DefaultWeights(), ShutdownTimeout: 5 * time.Second, SweepInterval: 100 * time.Millisecond,
		IdleWait: time.Second, NewRedis: e.loginConfig("admin").Client,
	})
	go func() { done <- w.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("worker: %v", err)
		}
	})
}

// await polls task id until until holds.
func (e *env) await(id string, timeout time.Duration, until func(taskstore.Task, error) bool) taskstore.Task {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		task, err := e.store.Get(e.t.Context(), id)
		if until(task, err) {
			return task
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("task %s after %s: %+v, %v", id, timeout, task, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) awaitState(id string, timeout time.Duration, state taskstore.State) taskstore.Task {
	e.t.Helper()
	return e.await(id, timeout, func(t taskstore.Task, err error) bool { return err == nil && t.State == state })
}

func (e *env) exists(key string) bool {
	e.t.Helper()
	n, err := e.rdb.Exists(e.t.Context(), key).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return n == 1
}
