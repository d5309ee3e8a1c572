package finance_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/calcgrid/calcgrid/app/internal/api"
	"github.com/calcgrid/calcgrid/app/internal/config"
	"github.com/calcgrid/calcgrid/app/internal/finance"
	"github.com/calcgrid/calcgrid/app/internal/quant"
	"github.com/calcgrid/calcgrid/app/internal/redistest"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
	"github.com/calcgrid/calcgrid/app/internal/worker"
)

// stack is the API and one worker on a private redis-server, with the
// finance types registered as in production.
type stack struct {
	t   *testing.T
	url string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	srv := redistest.Start(t)
	opt, err := config.Redis{Addr: srv.Addr}.Options()
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	reg := tasks.NewRegistry()
	if err := finance.Register(reg); err != nil {
		t.Fatal(err)
	}
	store := taskstore.New(rdb, time.Hour)
	logger := slog.New(slog.DiscardHandler)
	server := httptest.NewServer(api.New(api.Options{
		Store: store, Registry: reg, Logger: logger, Instance: "finance-e2e",
		MaxPending: 100, Weights: config.DefaultWeights(),
	}))
	t.Cleanup(server.Close)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w := worker.New(worker.Options{
		Store: store, Registry: reg, Logger: logger, Concurrency: 1,
		Weights: config.DefaultWeights(), ShutdownTimeout: 5 * time.Second,
	})
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	return &stack{t: t, url: server.URL}
}

func (s *stack) do(method, path, body string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (s *stack) submit(body string) taskstore.Task {
	s.t.Helper()
	code, b := s.do(http.MethodPost, "/v1/tasks", body)
	if code != http.StatusAccepted {
		s.t.Fatalf("POST /v1/tasks %s: %d %s", body, code, b)
	}
	var task taskstore.Task
	if err := json.Unmarshal(b, &task); err != nil {
		s.t.Fatal(err)
	}
	return task
}

func (s *stack) await(id string, timeout time.Duration, until func(taskstore.Task) bool) taskstore.Task {
	s.t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(10 * time.Millisecond) {
		code, b := s.do(http.MethodGet, "/v1/tasks/"+id, "")
		var task taskstore.Task
		if err := json.Unmarshal(b, &task); err != nil || code != http.StatusOK {
			s.t.Fatalf("GET /v1/tasks/%s: %d %s", id, code, b)
		}
		if until(task) {
			return task
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("task %s: condition not met after %s: %+v", id, timeout, task)
		}
	}
}

func finished(task taskstore.Task) bool { return task.State.Finished() }

func TestEndToEnd(t *testing.T) {
	s := newStack(t)

	t.Run("task types list both schemas", func(t *testing.T) {
		code, b := s.do(http.MethodGet, "/v1/task-types", "")
		var out struct {
			TaskTypes []struct {
				Name          string         `json:"name"`
				PayloadSchema map[string]any `json:"payload_schema"`
			} `json:"task_types"`
		}
		if err := json.Unmarshal(b, &out); err != nil || code != http.StatusOK {
			t.Fatalf("GET /v1/task-types: %d %s", code, b)
		}
		found := map[string]bool{}
		for _, tt := range out.TaskTypes {
			_, hasProps := tt.PayloadSchema["properties"]
			found[tt.Name] = hasProps
		}
		if !found["option.price"] || !found["portfolio.var"] {
			t.Errorf("task types %s", b)
		}
	})

	t.Run("option.price matches the kernel bit for bit", func(t *testing.T) {
		task := s.submit(`{"type":"option.price","payload":{"style":"asian","kind":"call","spot":100,"strike":100,` +
			`"rate":0.05,"volatility":0.2,"maturity_years":1,"paths":20000,"steps":52,"seed":42}}`)
		done := s.await(task.ID, 30*time.Second, finished)
		if done.State != taskstore.StateCompleted || done.Progress != 1 {
			t.Fatalf("task = %+v", done)
		}
		var got finance.OptionResult
		if err := json.Unmarshal(done.Result, &got); err != nil {
			t.Fatal(err)
		}
		want, err := quant.Price(context.Background(), quant.Option{Style: quant.Asian, Averaging: quant.Arithmetic,
			Kind: quant.Call, Spot: 100, Strike: 100, Rate: 0.05, Vol: 0.2, Maturity: 1},
			quant.Settings{Method: quant.MonteCarlo, Paths: 20000, Steps: 52, Seed: 42}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.Price != want.Price || *got.StdError != want.StdError || got.Seed != 42 || got.Method != "monte_carlo" ||
			got.Paths != 20000 || got.Steps != 52 || got.CI95 == nil {
			t.Errorf("result %s, kernel %+v", done.Result, want)
		}
	})

	t.Run("portfolio.var completes", func(t *testing.T) {
		task := s.submit(`{"type":"portfolio.var","payload":{"positions":[{"name":"a","value":1e6,"drift":0.05,"volatility":0.2},` +
			`{"name":"b","value":-2e5,"volatility":0.3}],"correlation":[[1,0.4],[0.4,1]],"horizon_days":10,"simulations":20000}}`)
		done := s.await(task.ID, 30*time.Second, finished)
		var got finance.PortfolioResult
		if err := json.Unmarshal(done.Result, &got); err != nil || done.State != taskstore.StateCompleted {
			t.Fatalf("task = %+v (%v)", done, err)
		}
		if got.VaR <= 0 || got.ExpectedShortfall < got.VaR || len(got.Percentiles) != 7 || got.Simulations != 20000 || got.Seed == 0 {
			t.Errorf("result %s", done.Result)
		}
	})

	t.Run("non-PSD correlation is a 422 naming the field", func(t *testing.T) {
		code, b := s.do(http.MethodPost, "/v1/tasks", `{"type":"portfolio.var","payload":{"positions":[{"value":1,"volatility":0.1},`+
			`{"value":1,"volatility":0.1},{"value":1,"volatility":0.1}],"correlation":[[1,0.9,-0.9],[0.9,1,0.9],[-0.9,0.9,1]]}}`)
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(b), `"payload.correlation"`) ||
			!strings.Contains(string(b), "not positive semi-definite: smallest eigenvalue") {
			t.Errorf("POST: %d %s", code, b)
		}
	})

	t.Run("progress and cancel through the worker", func(t *testing.T) {
		task := s.submit(`{"type":"option.price","payload":{"style":"asian","kind":"put","spot":100,"strike":100,` +
			`"rate":0.05,"volatility":0.2,"maturity_years":1,"paths":50000000,"steps":252}}`)
		s.await(task.ID, 10*time.Second, func(t taskstore.Task) bool {
			return t.State == taskstore.StateActive && t.Progress > 0 && t.Progress < 1
		})
		start := time.Now()
		if code, b := s.do(http.MethodDelete, "/v1/tasks/"+task.ID, ""); code != http.StatusAccepted && code != http.StatusOK {
			t.Fatalf("DELETE: %d %s", code, b)
		}
		got := s.await(task.ID, 5*time.Second, finished)
		if got.State != taskstore.StateCancelled {
			t.Errorf("task = %+v, want cancelled", got)
		}
		t.Logf("cancelled %s after DELETE", time.Since(start).Round(time.Millisecond))
	})
}
