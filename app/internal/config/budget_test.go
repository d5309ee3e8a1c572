package config

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// TestBudgetSettings: api and worker read the same budget variables (as
// modules/container writes them) and derive the same task budget.
func TestBudgetSettings(t *testing.T) {
	vars := env(map[string]string{
		"CALCGRID_WORKER_MEMORY_MB": "384", "CALCGRID_WORKER_CPUS": "0.5", "CALCGRID_WORKER_CONCURRENCY": "2",
		"CALCGRID_TASK_MEMORY_MB": "0", "CALCGRID_TASK_WORK_BUDGET": "60s",
	})
	a, err := ParseAPI(nil, vars, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ParseWorker(nil, vars, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ab, aerr := a.Budget.Tasks(a.WorkerConcurrency)
	wb, werr := w.Budget.Tasks(w.Concurrency)
	want := tasks.Budget{CPU: time.Minute, Memory: 144955146, SlotCPUs: 0.25}
	if aerr != nil || werr != nil || ab != want || wb != want {
		t.Errorf("api budget %+v (%v), worker budget %+v (%v), want %+v", ab, aerr, wb, werr, want)
	}
	// Nothing set: no memory bound, work bounded by each type's timeout.
	a, err = ParseAPI(nil, env(nil), io.Discard)
	if b, berr := a.Budget.Tasks(a.WorkerConcurrency); err != nil || berr != nil || b != (tasks.Budget{}) {
		t.Errorf("default budget %+v (%v, %v), want the zero budget", b, err, berr)
	}
}

func TestInvalidBudgetSettings(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"CALCGRID_TASK_WORK_BUDGET": "-1s"}, "CALCGRID_TASK_WORK_BUDGET must be a duration such as 90s, or 0"},
		{map[string]string{"CALCGRID_WORKER_CPUS": "-0.5"}, "CALCGRID_WORKER_CPUS must be ≥ 0"},
		{map[string]string{"CALCGRID_WORKER_CPUS": "NaN"}, "CALCGRID_WORKER_CPUS must be ≥ 0"},
		{map[string]string{"CALCGRID_WORKER_MEMORY_MB": "-1"}, "CALCGRID_WORKER_MEMORY_MB must be ≥ 0"},
	} {
		if _, err := ParseAPI(nil, env(c.env), io.Discard); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to mention %q", c.env, err, c.want)
		}
	}
	// Slots that together would hold more than the Go runtime's soft limit.
	w, err := ParseWorker(nil, env(map[string]string{
		"CALCGRID_WORKER_MEMORY_MB": "384", "CALCGRID_WORKER_CONCURRENCY": "2", "CALCGRID_TASK_MEMORY_MB": "200",
	}), io.Discard)
	if _, berr := w.Budget.Tasks(w.Concurrency); err != nil || berr == nil || !strings.Contains(berr.Error(), "CALCGRID_TASK_MEMORY_MB") {
		t.Errorf("task memory 200 MiB × 2 on a 384 MiB worker: %v, %v; want an error naming CALCGRID_TASK_MEMORY_MB", err, berr)
	}
}
