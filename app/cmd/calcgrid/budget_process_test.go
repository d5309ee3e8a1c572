package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/api"
	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/finance"
	"github.com/calcgrid/calcgrid/app/internal/redistest"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// TestLargestAcceptedTasksOnADevWorker runs a real worker process under
// dev's memory limit (a cgroup of 384 MiB, environments/dev.tfvars) with
// dev's concurrency and budget settings, as modules/container passes them,
// and gives it the largest task dev's budget accepts of every costly
// variant, two at a time, the memory-heaviest together. Each must complete
// or fail cleanly (failed, with an error), in one attempt, and the worker
// must still be running, never OOM-killed, with GOMEMLIMIT set from its
// cgroup.
//
//	go test -run TestLargestAcceptedTasksOnADevWorker -v ./app/cmd/calcgrid
func TestLargestAcceptedTasksOnADevWorker(t *testing.T) {
	dev := apptest.EnvironmentWorker(t, "dev")
	budget := dev.Budget(t)
	reg := tasks.NewRegistry()
	if err := finance.Register(reg); err != nil {
		t.Fatal(err)
	}
	reg.SetBudget(budget)
	option, portfolio := lookup(t, reg, "option.price"), lookup(t, reg, "portfolio.var")

	// The largest of each variant along its driving field, in the order
	// they are queued: the memory-heavy ones first, so that they run beside
	// each other (and beside Longstaff–Schwartz with greeks, which
	// allocates its paths nine times over), then the ones the work budget
	// bounds.
	type variant struct {
		name    string
		def     tasks.Definition
		payload map[string]any
		field   string
		lo, hi  int64
	}
	variants := []variant{
		{"longstaff–schwartz greeks", option, apptest.OptionPayload("american", map[string]any{"steps": 252, "greeks": true}), "paths", 1000, 50_000_000},
		{"longstaff–schwartz 1 step greeks", option, apptest.OptionPayload("american", map[string]any{"steps": 1, "greeks": true}), "paths", 1000, 50_000_000},
		{"var 1 position", portfolio, apptest.PortfolioPayload(1, nil), "simulations", 1000, 10_000_000},
		{"longstaff–schwartz 50 steps", option, apptest.OptionPayload("american", map[string]any{"steps": 50}), "paths", 1000, 50_000_000},
		{"european greeks", option, apptest.OptionPayload("european", map[string]any{"greeks": true}), "paths", 1000, 50_000_000},
		{"asian 10000 steps greeks", option, apptest.OptionPayload("asian", map[string]any{"steps": 10_000, "greeks": true}), "paths", 1000, 50_000_000},
		{"barrier greeks", option, apptest.OptionPayload("barrier", map[string]any{"steps": 252, "greeks": true}), "paths", 1000, 50_000_000},
		{"tree american greeks", option, apptest.OptionPayload("american", map[string]any{"method": "binomial", "greeks": true}), "steps", 1, 10_000},
		{"var 200 positions", portfolio, apptest.PortfolioPayload(200, nil), "simulations", 1000, 10_000_000},
	}

	cg := newMemoryCgroup(t, int64(dev.MemoryMB)<<20)
	srv := redistest.StartACL(t)
	store := apptest.NewStore(t, srv, "api")
	w := startWorkerIn(t, cg, srv.Addr, "dev-sized", dev.Env()...)

	ids := make([]string, len(variants))
	for i, v := range variants {
		edge, ok := apptest.Largest(t, v.def, v.payload, v.field, v.lo, v.hi)
		if !ok {
			t.Fatalf("%s: dev refuses even %s = %d", v.name, v.field, v.lo)
		}
		payload := apptest.With(v.payload, v.field, edge)
		sub, err := api.DecodeSubmission(apptest.MustJSON(t, map[string]any{"type": v.def.Name, "payload": payload}), reg)
		if err != nil {
			t.Fatalf("%s at %s = %d: %v", v.name, v.field, edge, err)
		}
		sub.Key, sub.RequestID = fmt.Sprintf("largest-%d", i), fmt.Sprintf("largest-%d", i)
		task, _, err := store.Submit(context.Background(), sub, 100)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = task.ID
		est := estimate(t, v.def, payload)
		t.Logf("%-34s %s = %d: estimated %s of one core, %s", v.name, v.field, edge, tasks.Duration(est.CPU), tasks.Bytes(est.Memory))
	}

	start := time.Now()
	defer func() {
		t.Logf("after %s: the cgroup's peak memory %s of %d MiB", time.Since(start).Round(time.Second), tasks.Bytes(cg.Peak()), dev.MemoryMB)
	}()
	// About 1.5 minutes on an idle 2-core machine; other load on it stretches
	// the runs.
	const within = 12 * time.Minute
	for i, id := range ids {
		task := waitFinished(t, store, w, id, start.Add(within))
		ran := "-"
		if task.StartedAt != nil && task.CompletedAt != nil {
			ran = task.CompletedAt.Sub(*task.StartedAt).Round(100 * time.Millisecond).String()
		}
		t.Logf("%-34s %s after %s (ran %s)", variants[i].name, task.State, time.Since(start).Round(time.Second), ran)
		switch {
		case task.Attempts != 1:
			t.Errorf("%s: %d attempts, want 1 (a lost worker runs a task again)", variants[i].name, task.Attempts)
		case task.State == taskstore.StateFailed && task.Error == "":
			t.Errorf("%s failed without an error", variants[i].name)
		case task.State == taskstore.StateFailed:
			t.Logf("  failed cleanly: %s", task.Error)
		case task.State != taskstore.StateCompleted:
			t.Errorf("%s ended %s", variants[i].name, task.State)
		}
	}

	select {
	case err := <-w.done:
		w.done <- err
		t.Errorf("the worker exited: %v", err)
	default:
	}
	if kills, err := cg.OOMKills(); err != nil || kills != 0 {
		t.Errorf("OOM kills in the worker's cgroup: %d (%v), want 0", kills, err)
	}
	// The worker read its limit from its own (nested) cgroup: GOMEMLIMIT is
	// 90% of it, and its budget is the one the API derives.
	started := workerStart(t, w.log)
	if want := int64(float64(int64(dev.MemoryMB)<<20) * tasks.GoMemoryShare); started.GoMemoryLimit != want || started.TaskMemory != budget.Memory {
		t.Errorf("worker started with go_memory_limit_bytes %d and task_memory_bytes %d, want %d (90%% of its cgroup's %d MiB) and %d",
			started.GoMemoryLimit, started.TaskMemory, want, dev.MemoryMB, budget.Memory)
	}
}

func lookup(t *testing.T, reg *tasks.Registry, name string) tasks.Definition {
	t.Helper()
	d, ok := reg.Lookup(name)
	if !ok {
		t.Fatalf("%s is not registered", name)
	}
	return d
}

// estimate is def's cost of payload.
func estimate(t *testing.T, def tasks.Definition, payload map[string]any) tasks.Cost {
	t.Helper()
	c, err := def.Estimate(apptest.MustJSON(t, payload))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startWorkerIn runs a calcgrid worker in cg: a shell writes its own pid to
// the cgroup and then execs the worker, which keeps the pid and so the
// cgroup, and everything it allocates is counted against the limit from
// its first byte.
func startWorkerIn(t *testing.T, cg *memoryCgroup, redisAddr, name string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, cg.Procs, binary(t), "worker")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GOMEMLIMIT=") || strings.HasPrefix(kv, "GOGC=") || strings.HasPrefix(kv, "CALCGRID_")
	})
	cmd.Env = append(cmd.Env, "CALCGRID_REDIS_ADDR="+redisAddr, "CALCGRID_LISTEN=127.0.0.1:0", "CALCGRID_INSTANCE="+name)
	cmd.Env = append(cmd.Env, login("worker")...)
	cmd.Env = append(cmd.Env, env...)
	p := startProc(t, name, cmd)
	logPath := p.log
	// The worker is in the cgroup once its start is logged.
	for deadline := time.Now().Add(30 * time.Second); workerStart(t, logPath).Msg == ""; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-p.done:
			p.done <- err
			b, _ := os.ReadFile(logPath)
			t.Fatalf("worker exited at start: %v\n%s", err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("worker did not start within 30s")
		}
	}
	if procs := cg.read("cgroup.procs"); !slices.Contains(strings.Fields(procs), fmt.Sprint(cmd.Process.Pid)) {
		t.Fatalf("worker pid %d is not in %s (it holds %q)", cmd.Process.Pid, cg.Procs, procs)
	}
	return p
}

// startLine is the worker's "worker starting" log line.
type startLine struct {
	Msg           string `json:"msg"`
	GoMemoryLimit int64  `json:"go_memory_limit_bytes"`
	TaskMemory    int64  `json:"task_memory_bytes"`
}

func workerStart(t *testing.T, logPath string) startLine {
	t.Helper()
	f, err := os.Open(logPath)
	if err != nil {
		return startLine{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l startLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "worker starting" {
			return l
		}
	}
	return startLine{}
}

// waitFinished waits for the task to end, failing if the worker exits or
// the deadline passes first.
func waitFinished(t *testing.T, store *taskstore.Store, w *proc, id string, deadline time.Time) taskstore.Task {
	t.Helper()
	for {
		task, err := store.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if task.State.Finished() {
			return task
		}
		select {
		case err := <-w.done:
			w.done <- err
			t.Fatalf("the worker exited while task %s was %s: %v", id, task.State, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s is %s at the deadline", id, task.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
