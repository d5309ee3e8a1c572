package api_test

import (
	"slices"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// pickupLatencies submits n tasks to an idle worker, each once the previous
// one has completed, and returns the submit→started times, sorted.
func pickupLatencies(e *apptest.Stack, n int) []time.Duration {
	lat := make([]time.Duration, 0, n)
	for range n {
		task := e.Submit(`{"type":"diagnostic.noop"}`)
		done := e.Await(task.ID, 5*time.Second, taskstore.StateCompleted)
		lat = append(lat, done.StartedAt.Sub(done.CreatedAt))
	}
	slices.Sort(lat)
	return lat
}

// TestIdlePickupLatency checks that an idle worker picks a new task up
// promptly: it polls the queues every 50 ms rather than asynq's default
// second. The bound is on the median, which load on the machine (this
// package runs beside the Monte Carlo tests) moves little, and it lies
// between what 50 ms polling gives (tens of ms) and what asynq's default
// gives (about half a second). The tail depends on the machine; measure it
// with BenchmarkIdlePickupLatency.
func TestIdlePickupLatency(t *testing.T) {
	const n = 40
	e := newEnv(t, apptest.Options{})
	e.StartWorker(4, false)
	lat := pickupLatencies(e, n)
	p50 := lat[n/2]
	t.Logf("idle pickup latency over %d tasks: p50 %s, max %s", n, p50.Round(time.Millisecond), lat[n-1].Round(time.Millisecond))
	if p50 > 250*time.Millisecond {
		t.Errorf("median pickup latency %s exceeds 250ms (sorted: %v)", p50, lat)
	}
}

// BenchmarkIdlePickupLatency reports the submit→started latency of an idle
// worker; the target is a p99 of 100 ms on an otherwise idle machine.
//
//	go test -run '^$' -bench IdlePickupLatency -benchtime 200x ./app/internal/api
func BenchmarkIdlePickupLatency(b *testing.B) {
	e := newEnv(b, apptest.Options{})
	e.StartWorker(4, false)
	b.ResetTimer()
	lat := pickupLatencies(e, b.N)
	b.ReportMetric(float64(lat[b.N/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[max(b.N*99/100-1, 0)].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[b.N-1].Microseconds())/1000, "max-ms")
}
