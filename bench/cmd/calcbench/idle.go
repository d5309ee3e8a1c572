package main

import (
	"context"
	"fmt"
	"time"
)

// idleSetting is one way a calcgrid worker waits for work.
type idleSetting struct {
	name string
	env  []string
}

// idleSettings: asynq's polling as calcgrid had it, polling as fast as the
// wake-up polls, and the wake-up on enqueue with its default wait.
var idleSettings = []idleSetting{
	{"poll every 50 ms (before)", []string{"CALCGRID_POLL_INTERVAL=50ms", "CALCGRID_IDLE_WAIT=0"}},
	{"poll every 5 ms", []string{"CALCGRID_POLL_INTERVAL=5ms", "CALCGRID_IDLE_WAIT=0"}},
	{"poll every 1 ms", []string{"CALCGRID_POLL_INTERVAL=1ms", "CALCGRID_IDLE_WAIT=0"}},
	{"wake-up on enqueue (default)", nil},
}

// commands is Redis's total_commands_processed.
func (b *bench) commands(ctx context.Context) (int64, error) {
	return b.info(ctx, "stats", "total_commands_processed")
}

// idleCost is what an idle worker pool costs over the idle window: Redis
// commands per second and CPU % of Redis and of the pool, next to the
// at-rest latency the same setting gives. The API runs but is not called.
func (b *bench) idleCost(ctx context.Context, t target, s idleSetting) error {
	if err := b.flush(ctx); err != nil {
		return err
	}
	if err := t.StartWorker(ctx, slots(t), s.env...); err != nil {
		return err
	}
	defer t.StopWorker()
	time.Sleep(2 * time.Second)
	c0, err := b.commands(ctx)
	if err != nil {
		return err
	}
	r0, w0, t0 := b.redis.cpuSeconds(), t.Worker().cpuSeconds(), time.Now()
	time.Sleep(b.opts.idleFor)
	c1, err := b.commands(ctx)
	if err != nil {
		return err
	}
	secs := time.Since(t0).Seconds()
	r1, w1 := b.redis.cpuSeconds(), t.Worker().cpuSeconds()
	cmds := float64(c1-c0) / secs
	rest, err := t.AtRest(ctx, b.opts.idleLatency)
	if err != nil {
		return err
	}
	row := idleRow{Setting: s.name, System: t.Name(), CommandsPerS: cmds, RedisCPU: 100 * (r1 - r0) / secs,
		WorkerCPU: 100 * (w1 - w0) / secs, StartedP50: rest.Started.P50, StartedP99: rest.Started.P99,
		CompletedP50: rest.Completed.P50, CompletedP99: rest.Completed.P99}
	b.res.Idle = append(b.res.Idle, row)
	fmt.Printf("  %-8s %-30s idle: %6.0f Redis cmds/s, Redis %4.1f%% CPU, workers %4.1f%% CPU; at rest started p50 %.2f p99 %.2f ms, completed p99 %.2f ms\n",
		t.Name(), s.name, cmds, row.RedisCPU, row.WorkerCPU, row.StartedP50, row.StartedP99, row.CompletedP99)
	return nil
}

// idleRow is one line of the idle-cost table.
type idleRow struct {
	Setting      string  `json:"setting"`
	System       string  `json:"system"`
	CommandsPerS float64 `json:"redis_commands_per_s"`
	RedisCPU     float64 `json:"redis_cpu_percent"`
	WorkerCPU    float64 `json:"workers_cpu_percent"`
	StartedP50   float64 `json:"started_p50_ms"`
	StartedP99   float64 `json:"started_p99_ms"`
	CompletedP50 float64 `json:"completed_p50_ms"`
	CompletedP99 float64 `json:"completed_p99_ms"`
}

// cpuEfficiency keeps every slot of a calcgrid worker (one per core) busy
// with diagnostic.cpu tasks of taskMS for about cpuFor, and compares the
// CPU-seconds done per second with the cores: 100 % is no overhead at all.
func (b *bench) cpuEfficiency(ctx context.Context, cores int) error {
	const taskMS = 1000
	if err := b.flush(ctx); err != nil {
		return err
	}
	n := cores * int(b.opts.cpuFor/time.Second) * 1000 / taskMS
	ids, err := enqueue(ctx, b.calc.URL(), cpuBody(taskMS), n, 4)
	if err != nil {
		return err
	}
	if err := b.calc.StartWorker(ctx, cores); err != nil {
		return err
	}
	defer b.calc.StopWorker()
	if done, err := terminal(ctx, b.calc.URL(), ids, b.opts.cpuFor*3); err != nil || done != n {
		return fmt.Errorf("cpu tasks: %d of %d completed (%v)", done, n, err)
	}
	var first, last time.Time
	for _, id := range ids {
		t, err := getTask(ctx, b.calc.URL(), id)
		if err != nil {
			return err
		}
		if t.StartedAt != nil && (first.IsZero() || t.StartedAt.Before(first)) {
			first = *t.StartedAt
		}
		if t.CompletedAt != nil && t.CompletedAt.After(last) {
			last = *t.CompletedAt
		}
	}
	ideal := float64(n) * taskMS / 1000 / float64(cores)
	eff := 100 * ideal / last.Sub(first).Seconds()
	b.res.add("cpu_efficiency", "calcgrid", eff)
	fmt.Printf("  calcgrid %d × diagnostic.cpu %d ms on %d slots: %.1f s (ideal %.1f s), efficiency %.1f%%\n",
		n, taskMS, cores, last.Sub(first).Seconds(), ideal, eff)
	return nil
}
