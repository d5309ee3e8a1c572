package apptest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/config"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// Worker is an environment's worker sizing as environments/<env>.tfvars
// sets it: what the task budgets derive from.
type Worker struct {
	MemoryMB     int
	CPUs         float64
	Concurrency  int
	TaskMemoryMB int // 0: derived
	TaskWorkS    int // 0: derived
}

// Env is the worker's environment as modules/container writes it from the
// same values (CALCGRID_WORKER_MEMORY_MB and the rest).
func (w Worker) Env() []string {
	return []string{
		"CALCGRID_WORKER_MEMORY_MB=" + strconv.Itoa(w.MemoryMB),
		"CALCGRID_WORKER_CPUS=" + strconv.FormatFloat(w.CPUs, 'f', -1, 64),
		"CALCGRID_WORKER_CONCURRENCY=" + strconv.Itoa(w.Concurrency),
		"CALCGRID_TASK_MEMORY_MB=" + strconv.Itoa(w.TaskMemoryMB),
		"CALCGRID_TASK_WORK_BUDGET=" + strconv.Itoa(w.TaskWorkS) + "s",
	}
}

// Budget is the budget of one task on such a worker, derived as the API and
// the worker derive it from Env.
func (w Worker) Budget(t testing.TB) tasks.Budget {
	t.Helper()
	b, err := config.Budget{
		WorkerMemoryMB: w.MemoryMB, WorkerCPUs: w.CPUs, TaskMemoryMB: w.TaskMemoryMB,
		TaskWork: time.Duration(w.TaskWorkS) * time.Second,
	}.Tasks(w.Concurrency)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tfvarsWorker matches the worker block of a tfvars file; tfvarsField one
// `name = number` line of it.
var (
	tfvarsWorker = regexp.MustCompile(`(?ms)^worker\s*=\s*\{(.*?)^\}`)
	tfvarsField  = regexp.MustCompile(`(?m)^\s*([a-z_]+)\s*=\s*([0-9.]+)\s*(?:#.*)?$`)
)

// EnvironmentWorker reads the worker block of environments/<env>.tfvars,
// with the root module's defaults (terraform/variables.tf) for what it
// omits.
func EnvironmentWorker(t testing.TB, env string) Worker {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "environments", env+".tfvars")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block := tfvarsWorker.FindSubmatch(b)
	if block == nil {
		t.Fatalf("%s has no worker = { ... } block", path)
	}
	w := Worker{Concurrency: 4}
	fields := map[string]any{"memory_mb": &w.MemoryMB, "cpus": &w.CPUs, "concurrency": &w.Concurrency,
		"task_memory_mb": &w.TaskMemoryMB, "task_work_s": &w.TaskWorkS}
	for _, m := range tfvarsField.FindAllSubmatch(block[1], -1) {
		var err error
		switch p := fields[string(m[1])].(type) {
		case *int:
			*p, err = strconv.Atoi(string(m[2]))
		case *float64:
			*p, err = strconv.ParseFloat(string(m[2]), 64)
		}
		if err != nil {
			t.Fatalf("%s: worker.%s = %s: %v", path, m[1], m[2], err)
		}
	}
	if w.MemoryMB == 0 || w.CPUs == 0 {
		t.Fatalf("%s: the worker block sets no memory_mb or cpus", path)
	}
	return w
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Largest is the largest whole value in [lo, hi] of payload[field] that def
// accepts, the other fields as in payload, found by bisection (the cost
// grows with the field); ok is false when def refuses lo.
func Largest(t testing.TB, def tasks.Definition, payload map[string]any, field string, lo, hi int64) (v int64, ok bool) {
	t.Helper()
	accepts := func(v int64) bool {
		raw := MustJSON(t, With(payload, field, v))
		_, err := def.Prepare(raw)
		var ve *tasks.ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("%s %s: %v", def.Name, raw, err)
		}
		return err == nil
	}
	if !accepts(lo) {
		return 0, false
	}
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if accepts(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, true
}

// OptionPayload is a payload of option.price: style with method monte_carlo unless
// given, at the money, and the given extra fields.
func OptionPayload(style string, extra map[string]any) map[string]any {
	p := map[string]any{"style": style, "kind": "put", "spot": 100, "strike": 100, "rate": 0.05,
		"volatility": 0.2, "maturity_years": 1, "method": "monte_carlo", "seed": 1}
	if style == "barrier" {
		p["barrier"] = map[string]any{"type": "up_and_out", "level": 130, "rebate": 1}
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// PortfolioPayload is a payload of portfolio.var with n equicorrelated positions
// (ρ = 0.3: positive definite, so Cholesky, the usual case).
func PortfolioPayload(n int, extra map[string]any) map[string]any {
	positions := make([]map[string]any, n)
	corr := make([][]float64, n)
	for i := range n {
		positions[i] = map[string]any{"value": 1e6, "drift": 0.05, "volatility": 0.2}
		corr[i] = make([]float64, n)
		for j := range n {
			corr[i][j] = 0.3
		}
		corr[i][i] = 1
	}
	p := map[string]any{"positions": positions, "correlation": corr, "horizon_days": 10, "seed": 1}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// With returns a copy of payload with field set to v.
func With(payload map[string]any, field string, v any) map[string]any {
	p := make(map[string]any, len(payload)+1)
	for k, x := range payload {
		p[k] = x
	}
	p[field] = v
	return p
}

// MustJSON encodes v.
func MustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(fmt.Errorf("encode %v: %w", v, err))
	}
	return b
}
