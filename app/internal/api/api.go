// Package api is calcgrid's HTTP API: submit tasks, read their state,
// progress and results, list and cancel them, and describe the task types
// and queues; under /v1/admin, manage tenants, API keys and queue settings
// (admin.go). With authentication required every /v1 request presents an
// API key whose scopes, limits and tenant apply (auth.go). Errors are RFC
// 9457 problem documents.
package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/calcgrid/calcgrid/app/internal/auth"
	"github.com/calcgrid/calcgrid/app/internal/metrics"
	"github.com/calcgrid/calcgrid/app/internal/serve"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

const (
	// maxBody bounds a submission: 2 MiB holds portfolio.var's documented
	// maximum, 200 positions with a dense correlation matrix written at full
	// precision (about 0.9 MB), with room to spare.
	maxBody = 2 << 20
	// storeTimeout bounds the Redis work of one request, so a hung broker
	// yields a 503 in time.
	storeTimeout = 1500 * time.Millisecond
	// List page sizes.
	defaultLimit = 50
	maxLimit     = 1000
)

// Options configure the API.
type Options struct {
	Store    *taskstore.Store
	Registry *tasks.Registry
	Logger   *slog.Logger
	// Instance is sent in the X-Calcgrid-Instance header of every response.
	Instance   string
	MaxPending int
	// Weights are reported by GET /v1/queues.
	Weights map[string]int
	// AuthRequired makes every /v1 request present an API key; without it
	// every request acts as tenant default with every scope.
	AuthRequired bool
	// Auth holds the keys and tenants; nil: one on Store's Redis client
	// without a bootstrap admin token.
	Auth *auth.Store
	// Pprof serves net/http/pprof under /debug/pprof/ (serve.Pprof).
	Pprof bool
}

// API serves the HTTP endpoints.
type API struct {
	Options
	registry    *prometheus.Registry
	httpMetrics *metrics.HTTP
	taskMetrics *metrics.Tasks
	limiter     *auth.Limiter
}

// New returns the router with every route mounted.
func New(opts Options) *chi.Mux {
	reg := metrics.NewRegistry()
	reg.MustRegister(metrics.NewQueues(opts.Store.QueueInfo, opts.Logger))
	metrics.RegisterQueueCap(reg, opts.MaxPending)
	reg.MustRegister(metrics.NewStorage(func() (int64, int64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		m, err := opts.Store.Memory(ctx)
		return m.Used, m.Max, err
	}, opts.Logger))
	if opts.Auth == nil {
		opts.Auth = auth.NewStore(opts.Store.Redis(), "", tasks.Queues())
	}
	a := &API{
		Options:     opts,
		limiter:     auth.NewLimiter(),
		registry:    reg,
		httpMetrics: metrics.NewHTTP(reg),
		taskMetrics: metrics.NewTasks(reg),
	}
	r := chi.NewRouter()
	r.Use(withRequestID, withInstance(opts.Instance), a.observe, a.recoverPanics)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, "not-found", "Not found", "no such endpoint: "+r.URL.Path, nil)
	})
	r.MethodNotAllowed(a.methodNotAllowed(r))

	r.Get("/healthz", serve.Healthz)
	r.Get("/readyz", serve.Readyz(opts.Store.Ping))
	r.Method(http.MethodGet, "/metrics", metrics.Handler(reg))
	if opts.Pprof {
		r.Handle("/debug/pprof/*", serve.Pprof())
	}
	r.Route("/v1", func(r chi.Router) {
		r.Use(a.authenticate)
		submit, read, cancel := require(a, auth.ScopeSubmit), require(a, auth.ScopeRead), require(a, auth.ScopeCancel)
		r.With(submit).Post("/tasks", a.submit)
		r.With(read).Get("/tasks", a.list)
		r.With(read).Get("/tasks/{id}", a.get)
		r.With(cancel).Delete("/tasks/{id}", a.cancel)
		r.With(read).Get("/task-types", a.taskTypes)
		r.With(read).Get("/queues", a.queues)
		r.Route("/admin", func(r chi.Router) {
			r.Use(require(a, auth.ScopeAdmin))
			a.admin(r)
		})
	})
	return r
}

// methodNotAllowed answers 405 with the Allow header chi's default sets.
func (a *API) methodNotAllowed(mux *chi.Mux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if mux.Match(chi.NewRouteContext(), m, r.URL.Path) {
				w.Header().Add("Allow", m)
			}
		}
		writeProblem(w, r, http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
			r.Method+" is not supported on "+r.URL.Path+"; allowed: "+w.Header().Get("Allow"), nil)
	}
}

func storeContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), storeTimeout)
}

func (a *API) submit(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeProblem(w, r, http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
			"send the task as JSON with the header Content-Type: application/json", nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			err = &malformedError{"could not read the request body: " + err.Error()}
		}
		a.writeError(w, r, err)
		return
	}
	sub, err := DecodeSubmission(body, a.Registry)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p := principal(r.Context())
	if err := maySubmitTo(p, sub.Queue); err != nil {
		a.writeError(w, r, err)
		return
	}
	if sub.Key, err = idempotencyKey(sub.Key, r); err != nil {
		a.writeError(w, r, err)
		return
	}
	sub.RequestID = requestID(r.Context())
	sub.Tenant, sub.APIKeyID, sub.APIKeyMaxPending = p.Tenant(), p.Key.ID, p.Key.MaxPending
	ctx, cancel := storeContext(r)
	defer cancel()
	t, created, err := a.Store.Submit(ctx, sub, a.MaxPending)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/tasks/"+t.ID)
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
		a.taskMetrics.Enqueued.WithLabelValues(t.Type, t.Queue).Inc()
		logWith(r.Context(), slog.String("task_id", t.ID), slog.String("type", t.Type), slog.String("queue", t.Queue))
	}
	writeJSON(w, status, t)
}

// idempotencyKey picks the submission's key: the body's idempotency_key or
// the equivalent Idempotency-Key header, else the request id, so that a
// request a proxy retries on another API server maps to the same task.
// The two sources are namespaced so that they cannot collide.
func idempotencyKey(body string, r *http.Request) (string, error) {
	header := r.Header.Get(HeaderIdempotencyKey)
	switch {
	case len(header) > maxKeyLen || !printable(header):
		return "", &tasks.ValidationError{Errors: []tasks.FieldError{{Field: HeaderIdempotencyKey,
			Message: "must be printable text of at most " + strconv.Itoa(maxKeyLen) + " characters"}}}
	case body != "" && header != "" && body != header:
		return "", &tasks.ValidationError{Errors: []tasks.FieldError{{Field: "idempotency_key",
			Message: "differs from the Idempotency-Key header; send one or make them equal"}}}
	case body != "":
		return "idempotency-key:" + body, nil
	case header != "":
		return "idempotency-key:" + header, nil
	}
	return "request-id:" + requestID(r.Context()), nil
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := storeContext(r)
	defer cancel()
	t, err := a.Store.GetFor(ctx, tenant(r), taskID(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// taskID returns the {id} path value; overlong ids cannot exist.
func taskID(r *http.Request) string {
	id := chi.URLParam(r, "id")
	if len(id) > maxKeyLen {
		return ""
	}
	return id
}

func (a *API) cancel(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := storeContext(r)
	defer cancel()
	t, err := a.Store.CancelFor(ctx, tenant(r), taskID(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.Logger.LogAttrs(r.Context(), slog.LevelInfo, "task cancel requested",
		slog.String("request_id", requestID(r.Context())), slog.String("task_id", t.ID),
		slog.String("type", t.Type), slog.String("queue", t.Queue), slog.String("state", string(t.State)))
	status := http.StatusOK
	if t.State != taskstore.StateCancelled {
		status = http.StatusAccepted // still running; it stops shortly
	}
	writeJSON(w, status, t)
}

type taskList struct {
	Tasks      []taskstore.Task `json:"tasks"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := taskstore.Filter{State: taskstore.State(q.Get("state")), Queue: q.Get("queue"), Tenant: tenant(r), Limit: defaultLimit}
	var c tasks.Checks
	if f.State != "" && !taskstore.ValidState(string(f.State)) {
		all := taskstore.States()
		states := make([]string, len(all))
		for i, s := range all {
			states[i] = string(s)
		}
		c.OneOf("state", string(f.State), states...)
	}
	if f.Queue != "" {
		c.OneOf("queue", f.Queue, tasks.Queues()...)
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			n = -1
		}
		if c.IntRange("limit", int64(n), 1, maxLimit) {
			f.Limit = n
		}
	}
	if errs := c.Errors(); len(errs) > 0 {
		validationProblem(w, r, errs...)
		return
	}
	ctx, cancel := storeContext(r)
	defer cancel()
	page, next, err := a.Store.List(ctx, f, q.Get("cursor"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, taskList{Tasks: page, NextCursor: next})
}

type taskType struct {
	Name          string         `json:"name"`
	Description   string         `json:"description"`
	Queue         string         `json:"queue"`
	TimeoutS      int            `json:"timeout_s"`
	MaxRetry      int            `json:"max_retry"`
	PayloadSchema map[string]any `json:"payload_schema"`
	Cost          taskCost       `json:"cost"`
}

// taskCost is how a type's work and memory grow with its payload and the
// budgets this environment holds one task to: submissions over them get 422.
type taskCost struct {
	tasks.CostModel
	// WorkBudgetS is the most CPU time of one core a task may need: the
	// environment's work budget, or what fits in the type's timeout at a
	// worker slot's share of CPUs when that is less (WorkBudgetSource).
	WorkBudgetS      float64 `json:"work_budget_s"`
	WorkBudgetSource string  `json:"work_budget_source"`
	// MemoryBudgetBytes is a worker slot's memory; nil when unbounded.
	MemoryBudgetBytes *int64 `json:"memory_budget_bytes"`
}

func costOf(d tasks.Definition) taskCost {
	c := taskCost{CostModel: d.CostModel, WorkBudgetSource: "environment"}
	if c.Fields == nil {
		c.Fields = []string{}
	}
	limit, byTimeout := d.Budget.WorkLimit(d.Timeout)
	c.WorkBudgetS = limit.Seconds()
	if byTimeout {
		c.WorkBudgetSource = "timeout"
	}
	if d.Budget.Memory > 0 {
		c.MemoryBudgetBytes = &d.Budget.Memory
	}
	return c
}

func (a *API) taskTypes(w http.ResponseWriter, _ *http.Request) {
	defs := a.Registry.All()
	out := make([]taskType, len(defs))
	for i, d := range defs {
		out[i] = taskType{Name: d.Name, Description: d.Description, Queue: d.Queue,
			TimeoutS: int(d.Timeout / time.Second), MaxRetry: d.MaxRetry, PayloadSchema: d.Schema, Cost: costOf(d)}
	}
	writeJSON(w, http.StatusOK, map[string][]taskType{"task_types": out})
}

func (a *API) queues(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := storeContext(r)
	defer cancel()
	weights, err := a.Store.QueueWeights(ctx, a.Weights)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	qs, err := a.Store.Queues(weights)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]taskstore.QueueStats{"queues": qs})
}
