package api_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/api"
	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// asianGreeks is option.price's Asian Monte Carlo with greeks: nine
// pricings of paths × 252 path-steps.
func asianGreeks(key string, paths int) string {
	b, _ := json.Marshal(map[string]any{"type": "option.price", "idempotency_key": key, "payload": map[string]any{
		"style": "asian", "kind": "call", "spot": 100, "strike": 100, "rate": 0.05, "volatility": 0.2,
		"maturity_years": 1, "paths": paths, "steps": 252, "greeks": true, "seed": 1,
	}})
	return string(b)
}

// devStack is the API on dev's budget (environments/dev.tfvars), with every
// type registered.
func devStack(t *testing.T) *apptest.Stack {
	t.Helper()
	reg := fullRegistry(t)
	reg.SetBudget(apptest.EnvironmentWorker(t, "dev").Budget(t))
	return apptest.Start(t, reg, apptest.Options{})
}

// TestSubmissionOverBudget: the API answers a submission over the budget
// with the validation problem (422) of every other invalid field, naming
// the field, the estimate and the bound; one that fits is accepted.
func TestSubmissionOverBudget(t *testing.T) {
	s := devStack(t)
	r := s.Do(http.MethodPost, "/v1/tasks", asianGreeks("over", 1_000_000))
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("1e6 paths × 252 steps × 9 pricings on dev: %d %s, want 422", r.Status, r.Body)
	}
	p := r.Problem(t)
	if p.Type != "urn:calcgrid:problem:validation" || len(p.Errors) != 1 || p.Errors[0].Field != "payload.paths" ||
		!strings.Contains(p.Errors[0].Message, "paths × steps × 9 pricings (greeks) = 1e6 × 252 × 9 = 2.27e9 path-steps needs about") ||
		!strings.Contains(p.Errors[0].Message, "more than the work budget of this environment: 60 s of one core a task; lower paths or steps") {
		t.Errorf("problem %+v: want one validation error on payload.paths naming the path-steps and the 60 s budget", p)
	}
	if r := s.Do(http.MethodPost, "/v1/tasks", asianGreeks("fits", 100_000)); r.Status != http.StatusAccepted {
		t.Errorf("1e5 paths: %d %s, want 202", r.Status, r.Body)
	}
	r = s.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.cpu","payload":{"ms":60001}}`)
	if p := r.Problem(t); r.Status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Field != "payload.ms" ||
		!strings.Contains(p.Errors[0].Message, "ms = 60001 milliseconds needs about 61 s of one core") {
		t.Errorf("diagnostic.cpu over a minute: %d %s, want 422 on payload.ms", r.Status, r.Body)
	}
	if r := s.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.cpu","payload":{"ms":60000}}`); r.Status != http.StatusAccepted {
		t.Errorf("diagnostic.cpu of a minute: %d %s, want 202", r.Status, r.Body)
	}
}

// TestWorkerRefusesOverBudget: a task enqueued where the budget was larger
// (here: straight into the store, past an API without one) fails at once on
// a worker whose budget it exceeds, with the refusal as its error, instead
// of running.
func TestWorkerRefusesOverBudget(t *testing.T) {
	s := devStack(t)
	sub, err := api.DecodeSubmission([]byte(asianGreeks("enqueued-elsewhere", 1_000_000)), fullRegistry(t))
	if err != nil {
		t.Fatalf("without a budget the submission is valid: %v", err)
	}
	sub.RequestID = "enqueued-elsewhere"
	task, _, err := s.Store.Submit(context.Background(), sub, 100)
	if err != nil {
		t.Fatal(err)
	}
	s.StartWorker(1, false)
	done := s.Await(task.ID, 30*time.Second, taskstore.StateFailed, taskstore.StateCompleted)
	if done.State != taskstore.StateFailed || done.Attempts != 1 ||
		!strings.Contains(done.Error, "over this worker's task budget") || !strings.Contains(done.Error, "payload.paths: paths × steps × 9 pricings") {
		t.Errorf("task %+v: want failed in one attempt, its error the budget's refusal", done)
	}
	if done.StartedAt != nil && done.CompletedAt != nil && done.CompletedAt.Sub(*done.StartedAt) > 5*time.Second {
		t.Errorf("the refused task ran for %s", done.CompletedAt.Sub(*done.StartedAt))
	}
}

// TestTaskTypesShowBudgets: GET /v1/task-types shows each type's cost model
// and the budgets this environment holds it to, in the fields openapi.yaml
// documents.
func TestTaskTypesShowBudgets(t *testing.T) {
	s := devStack(t)
	r := s.Do(http.MethodGet, "/v1/task-types", "")
	var out struct {
		TaskTypes []map[string]json.RawMessage `json:"task_types"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /v1/task-types: %d %s", r.Status, r.Body)
	}
	spec := loadSpec(t)
	documented := func(name string) []string {
		schema, err := resolve(spec, "#/components/schemas/"+name)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Sorted(maps.Keys(schema.(map[string]any)["properties"].(map[string]any)))
	}
	type cost struct {
		Work, Memory      string
		Fields            []string
		WorkBudgetS       float64 `json:"work_budget_s"`
		WorkBudgetSource  string  `json:"work_budget_source"`
		MemoryBudgetBytes *int64  `json:"memory_budget_bytes"`
	}
	costs := map[string]cost{}
	for _, tt := range out.TaskTypes {
		if got, want := slices.Sorted(maps.Keys(tt)), documented("TaskType"); !slices.Equal(got, want) {
			t.Errorf("a task type is written with fields %v; openapi.yaml's TaskType has %v", got, want)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(tt["cost"], &raw); err != nil {
			t.Fatal(err)
		}
		if got, want := slices.Sorted(maps.Keys(raw)), documented("TaskCost"); !slices.Equal(got, want) {
			t.Errorf("a task type's cost is written with fields %v; openapi.yaml's TaskCost has %v", got, want)
		}
		var name string
		var c cost
		if json.Unmarshal(tt["name"], &name) != nil || json.Unmarshal(tt["cost"], &c) != nil {
			t.Fatalf("task type %v", tt)
		}
		costs[name] = c
	}
	// dev: 384 MiB × 0.9 × 0.8 / 2 slots; a minute of one core, less than
	// what fits in 80% of any type's timeout at 0.25 core but
	// diagnostic.noop's and diagnostic.fail's 30 s (6 s of one core).
	const slot = 144955146
	for name, want := range map[string]cost{
		"option.price":     {Fields: []string{"paths", "steps", "greeks", "method", "style"}, WorkBudgetS: 60, WorkBudgetSource: "environment"},
		"portfolio.var":    {Fields: []string{"simulations", "positions"}, WorkBudgetS: 60, WorkBudgetSource: "environment"},
		"diagnostic.cpu":   {Fields: []string{"ms"}, WorkBudgetS: 60, WorkBudgetSource: "environment"},
		"diagnostic.noop":  {Fields: []string{}, WorkBudgetS: 6, WorkBudgetSource: "timeout"},
		"diagnostic.sleep": {Fields: []string{}, WorkBudgetS: 60, WorkBudgetSource: "environment"},
	} {
		got := costs[name]
		if got.Work == "" || got.Memory == "" || !slices.Equal(got.Fields, want.Fields) || got.WorkBudgetS != want.WorkBudgetS ||
			got.WorkBudgetSource != want.WorkBudgetSource || got.MemoryBudgetBytes == nil || *got.MemoryBudgetBytes != slot {
			t.Errorf("%s: cost %+v, want fields %v, work budget %gs (%s), memory budget %d B", name, got, want.Fields, want.WorkBudgetS, want.WorkBudgetSource, slot)
		}
	}
}
