// Package apptest runs calcgrid in-process for tests: the HTTP API on an
// httptest server and workers, on a private redis-server.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/api"
	"github.com/calcgrid/calcgrid/app/internal/auth"
	"github.com/calcgrid/calcgrid/app/internal/config"
	"github.com/calcgrid/calcgrid/app/internal/redistest"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
	"github.com/calcgrid/calcgrid/app/internal/worker"
)

// Stack is an API (and any workers started on it) on its own redis-server,
// each logged in as its role's user of the stack's Redis ACL
// (redistest.StartACL): work a user may not do fails here as in the stack.
type Stack struct {
	t testing.TB
	// Redis is the redis-server (the primary, with Options.Replicas).
	Redis *redistest.Server
	// HA is the primary, replicas and Sentinel with Options.Replicas.
	HA *redistest.HA
	// Store is the API's, logged in as api.
	Store *taskstore.Store
	// WorkerStore is the workers', logged in as worker.
	WorkerStore *taskstore.Store
	// WorkerRedis is the workers' Redis setting (worker.Options.NewRedis is
	// its Client).
	WorkerRedis config.Redis
	Registry    *tasks.Registry
	Server      *httptest.Server
	Logger      *slog.Logger
	// Logs holds every line the API and the workers logged.
	Logs *Logs
}

// Options tune a Stack; zero values take production defaults.
type Options struct {
	MaxPending int
	// Retention is how long finished tasks are kept (default an hour).
	Retention time.Duration
	// AuthRequired runs the API with CALCGRID_AUTH=required, the bootstrap
	// admin token AdminToken and a shared id secret.
	AuthRequired bool
	// Replicas > 0 runs Redis as the stack's redis_ha does: a primary with
	// this many replicas behind a Sentinel (redistest.StartHA), which every
	// role connects through.
	Replicas int
	// WaitReplicas is the API's --redis-wait-replicas, with the default
	// timeout (WaitTimeout).
	WaitReplicas int
}

// WaitTimeout is the API's --redis-wait-timeout in a Stack.
const WaitTimeout = 500 * time.Millisecond

// LoginHA is the app's Redis setting for user behind h's Sentinel, as the
// stack's redis_ha gives it: no address, the Sentinel names the primary.
func LoginHA(h *redistest.HA, user string) config.Redis {
	return config.Redis{
		Sentinels: []string{h.Sentinel.Addr}, Master: redistest.Master, SentinelPassword: redistest.SentinelPassword,
		Username: user, Password: redistest.Password(user),
	}
}

// IdleWait is the workers' Options.IdleWait, production's default: the
// tests take tasks as production does, on a wake-up.
const IdleWait = time.Second

// AdminToken is the bootstrap admin token of a Stack with AuthRequired.
const AdminToken = "test-bootstrap-admin-token"

// Logger logs JSON to stderr under go test -v, else nowhere.
func Logger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// recordingLogger logs JSON into logs, and also to stderr under go test -v.
func recordingLogger(t testing.TB, logs *Logs) *slog.Logger {
	var w io.Writer = logs
	if testing.Verbose() {
		w = io.MultiWriter(logs, os.Stderr)
	}
	return slog.New(slog.NewJSONHandler(w, nil)).With("test", t.Name())
}

// NewStore returns a store logged in as user of the StartACL server srv,
// with production client settings, closed at cleanup.
func NewStore(t testing.TB, srv *redistest.Server, user string) *taskstore.Store {
	t.Helper()
	return newStore(t, Login(srv, user), time.Hour)
}

// Login is the app's Redis setting for user on the StartACL server srv.
func Login(srv *redistest.Server, user string) config.Redis {
	o := srv.Login(user)
	return config.Redis{Addr: o.Addr, Username: o.Username, Password: o.Password}
}

func newStore(t testing.TB, r config.Redis, retention time.Duration) *taskstore.Store {
	t.Helper()
	rdb, err := r.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return taskstore.New(rdb, taskstore.KeepFor(retention))
}

// Start runs the API with the types in reg on a fresh redis-server.
func Start(t testing.TB, reg *tasks.Registry, o Options) *Stack {
	t.Helper()
	if o.MaxPending == 0 {
		o.MaxPending = 10000
	}
	if o.Retention == 0 {
		o.Retention = time.Hour
	}
	var ha *redistest.HA
	var srv *redistest.Server
	login := func(user string) config.Redis { return Login(srv, user) }
	if o.Replicas > 0 {
		ha = redistest.StartHA(t, o.Replicas)
		srv = ha.Primary
		login = func(user string) config.Redis { return LoginHA(ha, user) }
	} else {
		srv = redistest.StartACL(t)
	}
	logs := &Logs{}
	s := &Stack{t: t, Redis: srv, HA: ha, Store: newStore(t, login("api"), o.Retention),
		WorkerStore: newStore(t, login("worker"), o.Retention), WorkerRedis: login("worker"), Registry: reg,
		Logger: recordingLogger(t, logs), Logs: logs}
	if err := s.Store.WaitForReplicas(o.WaitReplicas, WaitTimeout); err != nil {
		t.Fatal(err)
	}
	token := ""
	if o.AuthRequired {
		token = AdminToken
		s.Store.UseSharedIDSecret()
	}
	s.Server = httptest.NewServer(api.New(api.Options{
		Store: s.Store, Registry: reg, Logger: s.Logger.With("role", "api"), Instance: "api-test",
		MaxPending: o.MaxPending, Weights: config.DefaultWeights(),
		AuthRequired: o.AuthRequired, Auth: auth.NewStore(s.Store.Redis(), token, tasks.Queues()),
	}))
	t.Cleanup(s.Server.Close)
	return s
}

// StartWorker runs an in-process worker until stop is called or the test
// ends.
func (s *Stack) StartWorker(concurrency int, strictPriority bool) (stop func()) {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w := worker.New(worker.Options{
		Store: s.WorkerStore, Registry: s.Registry, Logger: s.Logger.With("role", "worker"),
		Concurrency: concurrency, Weights: config.DefaultWeights(), StrictPriority: strictPriority,
		ShutdownTimeout: 5 * time.Second, IdleWait: IdleWait, NewRedis: s.WorkerRedis.Client,
	})
	go func() { done <- w.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			s.t.Errorf("worker: %v", err)
		}
	}
	s.t.Cleanup(stop)
	return stop
}
