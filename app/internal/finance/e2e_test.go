package finance_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/finance"
	"github.com/calcgrid/calcgrid/app/internal/quant"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// newStack runs the API and one worker on a private redis-server, with the
// finance types registered as in production.
func newStack(t *testing.T) *apptest.Stack {
	t.Helper()
	reg := tasks.NewRegistry()
	if err := finance.Register(reg); err != nil {
		t.Fatal(err)
	}
	s := apptest.Start(t, reg, apptest.Options{})
	s.StartWorker(1, false)
	return s
}

func finished(task taskstore.Task) bool { return task.State.Finished() }

func TestEndToEnd(t *testing.T) {
	s := newStack(t)

	t.Run("task types list both schemas", func(t *testing.T) {
		r := s.Do(http.MethodGet, "/v1/task-types", "")
		var out struct {
			TaskTypes []struct {
				Name          string         `json:"name"`
				PayloadSchema map[string]any `json:"payload_schema"`
			} `json:"task_types"`
		}
		if err := json.Unmarshal(r.Body, &out); err != nil || r.Status != http.StatusOK {
			t.Fatalf("GET /v1/task-types: %d %s", r.Status, r.Body)
		}
		found := map[string]bool{}
		for _, tt := range out.TaskTypes {
			_, hasProps := tt.PayloadSchema["properties"]
			found[tt.Name] = hasProps
		}
		if !found["option.price"] || !found["portfolio.var"] {
			t.Errorf("task types %s", r.Body)
		}
	})

	// A seed is drawn at submission when none is given; resending the very
	// same request under its key must still be "the same submission".
	t.Run("resubmission without seed returns the existing task", func(t *testing.T) {
		body := `{"type":"option.price","idempotency_key":"no-seed-1","payload":{"style":"european","kind":"call",` +
			`"spot":42,"strike":40,"rate":0.1,"volatility":0.2,"maturity_years":0.5}}`
		first := s.Do(http.MethodPost, "/v1/tasks", body)
		again := s.Do(http.MethodPost, "/v1/tasks", body)
		if first.Status != http.StatusAccepted || again.Status != http.StatusOK {
			t.Fatalf("POST twice: %d then %d (%s)", first.Status, again.Status, again.Body)
		}
		if a, b := first.Task(t).ID, again.Task(t).ID; a != b {
			t.Errorf("ids %s and %s, want one task", a, b)
		}
	})

	t.Run("option.price matches the kernel bit for bit", func(t *testing.T) {
		task := s.Submit(`{"type":"option.price","payload":{"style":"asian","kind":"call","spot":100,"strike":100,` +
			`"rate":0.05,"volatility":0.2,"maturity_years":1,"paths":20000,"steps":52,"seed":42}}`)
		done := s.AwaitFunc(task.ID, 30*time.Second, "finished", finished)
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
		task := s.Submit(`{"type":"portfolio.var","payload":{"positions":[{"name":"a","value":1e6,"drift":0.05,"volatility":0.2},` +
			`{"name":"b","value":-2e5,"volatility":0.3}],"correlation":[[1,0.4],[0.4,1]],"horizon_days":10,"simulations":20000}}`)
		done := s.AwaitFunc(task.ID, 30*time.Second, "finished", finished)
		var got finance.PortfolioResult
		if err := json.Unmarshal(done.Result, &got); err != nil || done.State != taskstore.StateCompleted {
			t.Fatalf("task = %+v (%v)", done, err)
		}
		if got.VaR <= 0 || got.ExpectedShortfall < got.VaR || len(got.Percentiles) != 7 || got.Simulations != 20000 || got.Seed == 0 {
			t.Errorf("result %s", done.Result)
		}
	})

	t.Run("non-PSD correlation is a 422 naming the field", func(t *testing.T) {
		r := s.Do(http.MethodPost, "/v1/tasks", `{"type":"portfolio.var","payload":{"positions":[{"value":1,"volatility":0.1},`+
			`{"value":1,"volatility":0.1},{"value":1,"volatility":0.1}],"correlation":[[1,0.9,-0.9],[0.9,1,0.9],[-0.9,0.9,1]]}}`)
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), `"payload.correlation"`) ||
			!strings.Contains(string(r.Body), "not positive semi-definite: smallest eigenvalue") {
			t.Errorf("POST: %d %s", r.Status, r.Body)
		}
	})

	t.Run("progress and cancel through the worker", func(t *testing.T) {
		task := s.Submit(`{"type":"option.price","payload":{"style":"asian","kind":"put","spot":100,"strike":100,` +
			`"rate":0.05,"volatility":0.2,"maturity_years":1,"paths":50000000,"steps":252}}`)
		s.AwaitFunc(task.ID, 10*time.Second, "active with progress in (0, 1)", func(task taskstore.Task) bool {
			return task.State == taskstore.StateActive && task.Progress > 0 && task.Progress < 1
		})
		start := time.Now()
		if r := s.Do(http.MethodDelete, "/v1/tasks/"+task.ID, ""); r.Status != http.StatusAccepted && r.Status != http.StatusOK {
			t.Fatalf("DELETE: %d %s", r.Status, r.Body)
		}
		got := s.AwaitFunc(task.ID, 5*time.Second, "finished", finished)
		if got.State != taskstore.StateCancelled {
			t.Errorf("task = %+v, want cancelled", got)
		}
		t.Logf("cancelled %s after DELETE", time.Since(start).Round(time.Millisecond))
	})
}
