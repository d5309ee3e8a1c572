package tests

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// scenarioBrowser: headless Chromium signs in to the dashboard and sees the
// high, medium and low queues with the sizes GET /v1/queues reports, and a
// task submitted through nginx in its queue's list with its state; then it
// opens Prometheus's graph page and sees the task counter. Screenshots are
// kept under .cache/artifacts/ (paths in the log).
func (s *stack) scenarioBrowser(t *testing.T) {
	c := s.client(t, s.vars(t))
	// asynq lists a queue once a task was enqueued to it: one task in each,
	// so the page must list all three even on a fresh stack.
	var warmup []string
	for _, p := range queues {
		tk, _ := c.submit(t, submission{Type: "diagnostic.noop", Payload: map[string]any{}, Priority: p})
		warmup = append(warmup, tk.ID)
	}
	c.waitCompleted(t, warmup, time.Minute)
	// Figures that do not move while the browser reads them: nothing else
	// waits or runs, and the one task submitted here runs for a minute.
	s.awaitIdle(t, c, 3*time.Minute)
	tk, _ := c.submit(t, submission{Type: "diagnostic.sleep", Payload: map[string]any{"ms": 60000}, Priority: "low"})
	t.Cleanup(func() {
		if r, err := c.send(context.WithoutCancel(t.Context()), http.MethodDelete, "/v1/tasks/"+tk.ID, nil, nil); err != nil || r.status != http.StatusAccepted && r.status != http.StatusOK {
			t.Errorf("cancelling %s: %v %d %s", tk.ID, err, r.status, r.body)
		}
	})
	c.waitState(t, tk.ID, time.Minute, func(tk task) bool { return tk.State == "active" })
	want := map[string]int{}
	for _, q := range s.queueStats(t) {
		// asynqmon's Size column (see checkDashboard).
		want[q.Name] = q.Pending + q.Active + q.Scheduled + q.Retry + q.Failed + q.Completed
	}
	t.Logf("GET /v1/queues sizes: %v; task %s active", want, tk.ID)

	ctx := newBrowser(t)
	start := time.Now()
	checkDashboard(t, ctx, s.output(t, "monitor_url"), s.output(t, "monitor_user"), s.output(t, "monitor_password"), want, tk.ID, "active")
	t.Logf("dashboard checked in %s", time.Since(start).Round(100*time.Millisecond))
	start = time.Now()
	checkPrometheusGraph(t, ctx, s.output(t, "prometheus_url"), "calcgrid_tasks_succeeded_total")
	t.Logf("Prometheus graph checked in %s", time.Since(start).Round(100*time.Millisecond))
}

// queueStat is one queue of GET /v1/queues.
type queueStat struct {
	Name      string `json:"name"`
	Pending   int    `json:"pending"`
	Active    int    `json:"active"`
	Scheduled int    `json:"scheduled"`
	Retry     int    `json:"retry"`
	Failed    int    `json:"failed"`
	Completed int    `json:"completed"`
}

func (s *stack) queueStats(t *testing.T) []queueStat {
	t.Helper()
	resp, body := s.do(t, http.MethodGet, "/v1/queues", "")
	var out struct {
		Queues []queueStat `json:"queues"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/queues: %d %s", resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("GET /v1/queues: %v in %s", err, body)
	}
	return out.Queues
}
