package metrics

import (
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// gather registers every calcgrid metric the API and the workers expose on
// one registry, with one observation each, and returns the families by name
// (the value is the family's only metric, enough for these tests).
func gather(t *testing.T, maxPending int) map[string]family {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewQueues(func(string) (*asynq.QueueInfo, error) {
		return &asynq.QueueInfo{Pending: 3, Latency: 42 * time.Second}, nil
	}, logger))
	reg.MustRegister(NewStorage(func() (int64, int64, error) { return 1 << 20, 1 << 27, nil }, logger))
	RegisterQueueCap(reg, maxPending)
	NewHTTP(reg).Observe("/v1/tasks", "POST", 202, 30*time.Millisecond)
	tasks := NewTasks(reg)
	for _, c := range []*prometheus.CounterVec{tasks.Enqueued, tasks.Started, tasks.Succeeded, tasks.Failed, tasks.Retried, tasks.Cancelled} {
		c.WithLabelValues("diagnostic.noop", "low").Inc()
	}
	tasks.Duration.WithLabelValues("diagnostic.noop").Observe(0.1)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]family{}
	for _, f := range families {
		// Every family here has a metric: each was observed once above.
		out[f.GetName()] = family{f.GetType().String(), len(f.Metric), f.Metric[0].GetGauge().GetValue(), len(f.Metric[0].Label)}
	}
	return out
}

type family struct {
	kind          string // COUNTER, GAUGE, HISTOGRAM…
	metrics       int
	gauge         float64 // the first metric's value, for a gauge
	labelsOfFirst int
}

func TestQueueCap(t *testing.T) {
	f := gather(t, 2500)["calcgrid_queue_max_pending"]
	if f.kind != "GAUGE" || f.metrics != 1 || f.gauge != 2500 {
		t.Fatalf("calcgrid_queue_max_pending = %+v, want one gauge of 2500", f)
	}
	if f.labelsOfFirst != 0 {
		t.Errorf("calcgrid_queue_max_pending has %d labels; the alert matches it ignoring only the queue", f.labelsOfFirst)
	}
}

// TestAlertRulesUseRealMetrics: every calcgrid_* series that the alerting
// rules (monitoring/rules, tested by promtool on synthetic series) read is
// one that calcgrid exposes, so renaming a metric breaks this test rather
// than silencing an alert.
func TestAlertRulesUseRealMetrics(t *testing.T) {
	b, err := os.ReadFile("../../../monitoring/rules/calcgrid.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	families := gather(t, 10000)
	var exposed []string
	for name, f := range families {
		exposed = append(exposed, name)
		if f.kind == "HISTOGRAM" {
			exposed = append(exposed, name+"_bucket", name+"_sum", name+"_count")
		}
	}
	slices.Sort(exposed)
	var used []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue // comments may name metrics in prose
		}
		used = append(used, regexp.MustCompile(`\bcalcgrid_[a-z_]+`).FindAllString(line, -1)...)
	}
	if len(used) == 0 {
		t.Fatal("the rules read no calcgrid_* series")
	}
	for _, name := range used {
		if !slices.Contains(exposed, name) {
			t.Errorf("the alerting rules read %s, which calcgrid does not expose (exposed: %v)", name, exposed)
		}
	}
}
