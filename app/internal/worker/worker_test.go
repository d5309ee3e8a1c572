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

func TestReporterRateLimit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var writes atomic.Int32
	var last atomic.Uint64
	r := &reporter{}
	done := make(chan struct{})
	go func() {
		r.run(ctx, func(f float64) error { writes.Add(1); last.Store(uint64(f * 1000)); return nil })
		close(done)
	}()
	start := time.Now()
	for time.Since(start) < 600*time.Millisecond {
		r.Progress(float64(time.Since(start)) / float64(time.Second))
		time.Sleep(time.Millisecond)
	}
	r.Progress(2) // clamped to 1
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	if n := writes.Load(); n < 2 || n > 4 {
		t.Errorf("%d progress writes in 900 ms, want one per 250 ms", n)
	}
	if got := last.Load(); got != 1000 {
		t.Errorf("last stored progress %d/1000, want the clamped final 1", got)
	}
}
