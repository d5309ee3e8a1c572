package worker

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

func TestRetryDelay(t *testing.T) {
	if d := retryDelay(3, asynq.ErrLeaseExpired, nil); d != 0 {
		t.Errorf("after a lost worker: %s, want 0", d)
	}
	for _, c := range []struct {
		n      int
		lo, hi time.Duration
	}{
		{0, time.Second, 1250 * time.Millisecond},
		{1, 2 * time.Second, 2500 * time.Millisecond},
		{9, 512 * time.Second, 640 * time.Second},
		{30, 512 * time.Second, 640 * time.Second},
	} {
		if d := retryDelay(c.n, errors.New("boom"), nil); d < c.lo || d > c.hi {
			t.Errorf("retry %d: %s, want within [%s, %s]", c.n, d, c.lo, c.hi)
		}
	}
}

// TestReporterRateLimit: a handler may report progress as often as it
// likes; Redis sees at most one write per progressEvery, and the latest
// fraction is always written in the end. Both are checked against the time
// that actually passed, so a slow machine (late ticks) cannot fail it.
func TestReporterRateLimit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var writes atomic.Int32
	var last atomic.Uint64
	r := &reporter{}
	done := make(chan struct{})
	start := time.Now()
	go func() {
		r.run(ctx, func(f float64) error { writes.Add(1); last.Store(uint64(f * 1000)); return nil })
		close(done)
	}()
	// A new fraction every millisecond until two have been written.
	calls := 0
	for deadline := time.Now().Add(10 * time.Second); writes.Load() < 2; calls++ {
		if time.Now().After(deadline) {
			t.Fatalf("%d progress writes in 10s", writes.Load())
		}
		r.Progress(float64(time.Since(start)) / float64(time.Minute))
		time.Sleep(time.Millisecond)
	}
	r.Progress(2) // clamped to 1
	for deadline := time.Now().Add(10 * time.Second); last.Load() != 1000; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("last stored progress %d/1000 after 10s, want the clamped final 1", last.Load())
		}
	}
	elapsed := time.Since(start)
	cancel()
	<-done
	if n, most := writes.Load(), int32(elapsed/progressEvery); n > most {
		t.Errorf("%d progress writes for %d reports in %s, want at most one per %s (%d)", n, calls+1, elapsed, progressEvery, most)
	}
}
