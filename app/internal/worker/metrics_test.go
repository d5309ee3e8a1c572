package worker_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/config"
	"github.com/calcgrid/calcgrid/app/internal/diagnostic"
	"github.com/calcgrid/calcgrid/app/internal/nettest"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
	"github.com/calcgrid/calcgrid/app/internal/worker"
)

// TestMetrics runs tasks to every end (success, failure, retry, cancel) on
// a worker serving /metrics and scrapes it: the series README's "Metrics"
// promises (task lifecycle by type and queue, run time by type, queue
// depth) are there under the names dashboards and alerts depend on.
func TestMetrics(t *testing.T) {
	e, addr := startWorker(t, apptest.Options{}, 0)

	ok := e.Submit(`{"type":"diagnostic.noop"}`)
	failed := e.Submit(`{"type":"diagnostic.fail","payload":{"times":1},"max_retry":0,"priority":"low"}`)
	retried := e.Submit(`{"type":"diagnostic.fail","payload":{"times":1},"max_retry":1,"priority":"high"}`)
	cancelled := e.Submit(`{"type":"diagnostic.sleep","payload":{"ms":60000}}`)
	e.Await(cancelled.ID, 10*time.Second, taskstore.StateActive)
	if r := e.Do(http.MethodDelete, "/v1/tasks/"+cancelled.ID, ""); r.Status != http.StatusAccepted && r.Status != http.StatusOK {
		t.Fatalf("DELETE: %d %s", r.Status, r.Body)
	}
	e.Await(ok.ID, 10*time.Second, taskstore.StateCompleted)
	e.Await(failed.ID, 10*time.Second, taskstore.StateFailed)
	e.Await(retried.ID, 20*time.Second, taskstore.StateCompleted)
	e.Await(cancelled.ID, 10*time.Second, taskstore.StateCancelled)

	body := scrape(t, "http://"+addr+"/metrics")
	for _, want := range []string{
		`calcgrid_tasks_started_total{queue="medium",type="diagnostic.noop"} 1`,
		`calcgrid_tasks_succeeded_total{queue="medium",type="diagnostic.noop"} 1`,
		`calcgrid_tasks_failed_total{queue="low",type="diagnostic.fail"} 1`,
		`calcgrid_tasks_started_total{queue="high",type="diagnostic.fail"} 2`,
		`calcgrid_tasks_retried_total{queue="high",type="diagnostic.fail"} 1`,
		`calcgrid_tasks_succeeded_total{queue="high",type="diagnostic.fail"} 1`,
		`calcgrid_tasks_cancelled_total{queue="medium",type="diagnostic.sleep"} 1`,
		`calcgrid_tasks_duration_seconds_count{type="diagnostic.noop"} 1`,
		`calcgrid_tasks_duration_seconds_count{type="diagnostic.fail"} 3`,
		`calcgrid_queue_tasks{queue="medium",state="completed"} 1`,
		`calcgrid_queue_tasks{queue="medium",state="archived"} 1`,
		`calcgrid_queue_tasks{queue="low",state="archived"} 1`,
		`calcgrid_queue_latency_seconds{queue="high"} `,
		`calcgrid_queue_paused{queue="low"} 0`,
		`go_goroutines `,
		`process_cpu_seconds_total `,
	} {
		if !strings.Contains(body, "\n"+want) {
			t.Errorf("worker /metrics lacks %s", want)
		}
	}
	// Enqueued is counted where tasks are accepted: by the API.
	api := e.Do(http.MethodGet, "/metrics", "")
	if want := `calcgrid_tasks_enqueued_total{queue="medium",type="diagnostic.noop"} 1`; !strings.Contains(string(api.Body), want) {
		t.Errorf("api /metrics lacks %s", want)
	}
	if t.Failed() {
		t.Logf("worker /metrics:\n%s", body)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// startWorker runs the API with the diagnostic types on a private Redis
// (as apptest sets it up, with opts) and a worker on its store, logged in
// as the stack's worker user, serving /metrics at the address it returns
// (sweeping every sweep, 0 for the default), until the test ends.
func startWorker(t *testing.T, opts apptest.Options, sweep time.Duration) (*apptest.Stack, string) {
	t.Helper()
	reg := tasks.NewRegistry()
	if err := diagnostic.Register(reg); err != nil {
		t.Fatal(err)
	}
	e := apptest.Start(t, reg, opts)
	addr := nettest.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	w := worker.New(worker.Options{
		Store: e.WorkerStore, Registry: reg, Logger: e.Logger.With("role", "worker"), Listen: addr,
		Concurrency: 2, Weights: config.DefaultWeights(), ShutdownTimeout: 5 * time.Second,
		SweepInterval: sweep, IdleWait: apptest.IdleWait, NewRedis: e.WorkerRedis.Client,
	})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	return e, addr
}
