package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
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

// env is an API on a private redis-server, optionally with workers.
type env struct {
	t      *testing.T
	redis  *redistest.Server
	store  *taskstore.Store
	reg    *tasks.Registry
	server *httptest.Server
	logger *slog.Logger
}

type envOptions struct {
	maxPending int
	redisArgs  []string
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	srv := redistest.Start(t, o.redisArgs...)
	opt, err := config.Redis{Addr: srv.Addr}.Options()
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	reg := tasks.NewRegistry()
	if err := diagnostic.Register(reg); err != nil {
		t.Fatal(err)
	}
	if o.maxPending == 0 {
		o.maxPending = 10000
	}
	e := &env{t: t, redis: srv, store: taskstore.New(rdb, time.Hour), reg: reg, logger: testLogger(t)}
	e.server = httptest.NewServer(api.New(api.Options{
		Store: e.store, Registry: reg, Logger: e.logger, Instance: "api-test",
		MaxPending: o.maxPending, Weights: config.DefaultWeights(),
	}))
	t.Cleanup(e.server.Close)
	return e
}

// startWorker runs an in-process worker until the returned stop is called
// (or the test ends).
func (e *env) startWorker(concurrency int, strict bool) (stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w := worker.New(worker.Options{
		Store: e.store, Registry: e.reg, Logger: e.logger.With("role", "worker"),
		Concurrency: concurrency, Weights: config.DefaultWeights(), StrictPriority: strict,
		ShutdownTimeout: 5 * time.Second,
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
			e.t.Errorf("worker: %v", err)
		}
	}
	e.t.Cleanup(stop)
	return stop
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) task(t *testing.T) taskstore.Task {
	t.Helper()
	var task taskstore.Task
	if err := json.Unmarshal(r.body, &task); err != nil {
		t.Fatalf("decode task from %d %s: %v", r.status, r.body, err)
	}
	return task
}

type problemDoc struct {
	Type      string             `json:"type"`
	Title     string             `json:"title"`
	Status    int                `json:"status"`
	Detail    string             `json:"detail"`
	RequestID string             `json:"request_id"`
	Errors    []tasks.FieldError `json:"errors"`
}

func (r response) problem(t *testing.T) problemDoc {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (body %s)", ct, r.body)
	}
	var p problemDoc
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decode problem %s: %v", r.body, err)
	}
	if p.Status != r.status || p.Type == "" || p.Title == "" {
		t.Fatalf("incomplete problem document for %d: %s", r.status, r.body)
	}
	return p
}

// do sends a request; headers are name, value pairs.
func (e *env) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.server.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.server.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// submit posts a task and requires 202.
func (e *env) submit(body string, headers ...string) taskstore.Task {
	e.t.Helper()
	r := e.do(http.MethodPost, "/v1/tasks", body, headers...)
	if r.status != http.StatusAccepted {
		e.t.Fatalf("POST /v1/tasks %s: %d %s", body, r.status, r.body)
	}
	return r.task(e.t)
}

func (e *env) get(id string) taskstore.Task {
	e.t.Helper()
	r := e.do(http.MethodGet, "/v1/tasks/"+id, "")
	if r.status != http.StatusOK {
		e.t.Fatalf("GET /v1/tasks/%s: %d %s", id, r.status, r.body)
	}
	return r.task(e.t)
}

// await polls a task until it reaches one of states.
func (e *env) await(id string, timeout time.Duration, states ...taskstore.State) taskstore.Task {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		task := e.get(id)
		for _, s := range states {
			if task.State == s {
				return task
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("task %s still %s after %s (want %v): %+v", id, task.State, timeout, states, task)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("compact %s: %v", raw, err)
	}
	return b.String()
}
