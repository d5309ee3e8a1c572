package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// bench holds what every measure shares.
type bench struct {
	root, tmp string
	opts      options
	redis     *proc
	rdb       *redis.Client
	calc      *calcgrid
	base      *baseline
	res       *results
}

// Concurrency of the worker pools, as the figures had them:
// goroutines in one calcgrid worker, processes in Celery's prefork pool.
const (
	calcgridSlots = 4
	celerySlots   = 2
	wideSlots     = 16
)

func slots(t target) int {
	if t.Name() == "calcgrid" {
		return calcgridSlots
	}
	return celerySlots
}

// flush empties the private Redis between measures so that one's backlog
// never reaches the next. ASYNC: freeing 100k tasks at once would block
// Redis for longer than calcgrid's API waits for it (it then refuses
// connections until Redis answers again, by design); and the API must be
// ready again before the next measure.
func (b *bench) flush(ctx context.Context) error {
	if err := b.rdb.FlushAllAsync(ctx).Err(); err != nil {
		return err
	}
	// Memory measured before the background free ends would be too high.
	for {
		n, err := b.info(ctx, "memory", "lazyfree_pending_objects")
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return waitHTTP(ctx, b.calc.api, b.calc.url+"/readyz", 30*time.Second)
}

// info reads one integer field of a section of Redis's INFO.
func (b *bench) info(ctx context.Context, section, field string) (int64, error) {
	info, err := b.rdb.Info(ctx, section).Result()
	if err != nil {
		return 0, err
	}
	for l := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO %s has no %s", section, field)
}

// order alternates which system goes first, round by round, so that drift
// of the machine hits both.
func (b *bench) order(round int) []target {
	if round%2 == 0 {
		return []target{b.calc, b.base}
	}
	return []target{b.base, b.calc}
}

func (b *bench) defineMetrics() {
	for _, m := range []metric{
		{Key: "post16", Title: "`POST /v1/tasks`, 16 conns", Unit: "req/s", Higher: true, GoalRatio: 4},
		{Key: "post16_p99", Title: "`POST /v1/tasks`, 16 conns, p99", Unit: "ms", GoalMax: 5},
		{Key: "post64", Title: "`POST /v1/tasks`, 64 conns", Unit: "req/s", Higher: true, GoalRatio: 4},
		{Key: "post64_p99", Title: "`POST /v1/tasks`, 64 conns, p99", Unit: "ms"},
		{Key: "get16", Title: "`GET /v1/tasks/{id}`, 16 conns", Unit: "req/s", Higher: true, GoalRatio: 3},
		{Key: "get16_p99", Title: "`GET /v1/tasks/{id}`, 16 conns, p99", Unit: "ms"},
		{Key: "drain", Title: fmt.Sprintf("drain of %d noop tasks (calcgrid c=%d, Celery prefork c=%d)", b.opts.drain, calcgridSlots, celerySlots), Unit: "tasks/s", Higher: true, GoalRatio: 6},
		{Key: "drain_wide", Title: fmt.Sprintf("drain of %d noop tasks, calcgrid c=%d", b.opts.drain, wideSlots), Unit: "tasks/s", Higher: true},
		{Key: "rest_started_p50", Title: fmt.Sprintf("at rest, submit → started, p50 of %d", b.opts.atRest), Unit: "ms"},
		{Key: "rest_started_p99", Title: fmt.Sprintf("at rest, submit → started, p99 of %d", b.opts.atRest), Unit: "ms", GoalMax: 5},
		{Key: "rest_completed_p50", Title: fmt.Sprintf("at rest, submit → completed, p50 of %d", b.opts.atRest), Unit: "ms"},
		{Key: "rest_completed_p99", Title: fmt.Sprintf("at rest, submit → completed, p99 of %d", b.opts.atRest), Unit: "ms", GoalRatio: 1},
	} {
		b.res.define(m)
	}
}

// round runs the per-system measures once for t.
func (b *bench) round(ctx context.Context, t target) error {
	name := t.Name()
	if err := b.flush(ctx); err != nil {
		return err
	}
	// The submission path alone: no worker competes for the two cores.
	for _, c := range []int{16, 64} {
		r, err := wrk(ctx, b.root, b.tmp, "post", t.URL()+"/v1/tasks", c, b.opts.wrkFor)
		if err != nil {
			return err
		}
		b.res.add(fmt.Sprintf("post%d", c), name, r.rate())
		b.res.add(fmt.Sprintf("post%d_p99", c), name, r.p99())
		fmt.Printf("  %-8s POST %2d conns: %6.0f req/s, p50 %.1f ms, p99 %.1f ms\n", name, c, r.rate(), r.p50(), r.p99())
	}
	if err := b.flush(ctx); err != nil {
		return err
	}

	if t == target(b.calc) {
		// Whether slots bound the drain: if c=16 drains no faster than
		// c=4, Redis round trips and the cores do.
		rate, _, err := b.drain(ctx, t, b.opts.drain, wideSlots)
		if err != nil {
			return err
		}
		b.res.add("drain_wide", name, rate)
		fmt.Printf("  %-8s drain of %d noop, c=%d: %.0f tasks/s\n", name, b.opts.drain, wideSlots, rate)
		t.StopWorker()
		if err := b.flush(ctx); err != nil {
			return err
		}
	}
	rate, ids, err := b.drain(ctx, t, b.opts.drain, slots(t))
	if err != nil {
		return err
	}
	b.res.add("drain", name, rate)
	fmt.Printf("  %-8s drain of %d noop: %.0f tasks/s\n", name, b.opts.drain, rate)

	idsFile := filepath.Join(b.tmp, name+"-ids.txt")
	if err := writeLines(idsFile, ids); err != nil {
		return err
	}
	r, err := wrk(ctx, b.root, b.tmp, "get", t.URL(), 16, b.opts.wrkFor, "BENCH_IDS="+idsFile)
	if err != nil {
		return err
	}
	b.res.add("get16", name, r.rate())
	b.res.add("get16_p99", name, r.p99())
	fmt.Printf("  %-8s GET  16 conns: %6.0f req/s, p50 %.1f ms, p99 %.1f ms\n", name, r.rate(), r.p50(), r.p99())

	// Idle workers: let the drain's last polls settle first.
	time.Sleep(time.Second)
	rest, err := t.AtRest(ctx, b.opts.atRest)
	if err != nil {
		return err
	}
	if rest.Started.N > 0 {
		b.res.add("rest_started_p50", name, rest.Started.P50)
		b.res.add("rest_started_p99", name, rest.Started.P99)
	}
	b.res.add("rest_completed_p50", name, rest.Completed.P50)
	b.res.add("rest_completed_p99", name, rest.Completed.P99)
	fmt.Printf("  %-8s at rest (%d): started p50 %.2f p99 %.2f ms (of %d); completed p50 %.2f p99 %.2f ms\n", name, b.opts.atRest,
		rest.Started.P50, rest.Started.P99, rest.Started.N, rest.Completed.P50, rest.Completed.P99)
	t.StopWorker()
	return nil
}

// drain enqueues n noop tasks with no worker running, then starts the
// worker pool and times it from its first task taken to the backlog's end
// (so that a pool's start-up, seconds for Celery's, is not counted).
func (b *bench) drain(ctx context.Context, t target, n, slots int) (float64, []string, error) {
	t.StopWorker()
	ids, err := enqueue(ctx, t.URL(), noopBody, n, 16)
	if err != nil {
		return 0, nil, err
	}
	if err := t.StartWorker(ctx, slots); err != nil {
		return 0, nil, err
	}
	rate, err := b.timeDrain(ctx, n, t.Backlog)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", t.Name(), err)
	}
	// Every task must have completed, not only left the queue.
	if done, err := terminal(ctx, t.URL(), ids[len(ids)-10:], 30*time.Second); err != nil || done != 10 {
		return 0, nil, fmt.Errorf("%s: the last 10 drained tasks: %d completed (%v)", t.Name(), done, err)
	}
	return rate, ids, nil
}

// timeDrain polls backlog every 5 ms and counts the tasks drained from the
// first poll below n to the first at 0: a pool may take tasks before it
// answers its readiness check (Celery's ping takes a second or more), and
// those are neither in the time nor in the count.
func (b *bench) timeDrain(ctx context.Context, n int, backlog func(context.Context) (int64, error)) (float64, error) {
	var (
		first time.Time
		from  int64 // the backlog at first
	)
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		left, err := backlog(ctx)
		if err != nil {
			return 0, err
		}
		now := time.Now()
		if first.IsZero() && left < int64(n) {
			if left == 0 {
				return 0, fmt.Errorf("the %d tasks were gone by the first poll after the pool was ready: drain more (-drain)", n)
			}
			first, from = now, left
		}
		if left == 0 && !first.IsZero() {
			return float64(from) / max(now.Sub(first).Seconds(), 0.001), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, fmt.Errorf("backlog of %d not drained within 10 minutes", n)
}

// ceiling is asynq's own drain rate on the same Redis, in this process:
// no HTTP, no calcgrid bookkeeping; what calcgrid's worker could reach.
func (b *bench) ceiling(ctx context.Context) error {
	if err := b.flush(ctx); err != nil {
		return err
	}
	opt := asynq.RedisClientOpt{Addr: b.rdb.Options().Addr}
	client := asynq.NewClient(opt)
	defer client.Close()
	const queue = "ceiling"
	for range b.opts.drain {
		if _, err := client.EnqueueContext(ctx, asynq.NewTask("bench.noop", nil), asynq.Queue(queue), asynq.Retention(time.Hour)); err != nil {
			return err
		}
	}
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: calcgridSlots, Queues: map[string]int{queue: 1},
		TaskCheckInterval: time.Millisecond, LogLevel: asynq.ErrorLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc("bench.noop", func(context.Context, *asynq.Task) error { return nil })
	if err := srv.Start(mux); err != nil {
		return err
	}
	defer srv.Shutdown()
	rate, err := b.timeDrain(ctx, b.opts.drain, func(ctx context.Context) (int64, error) {
		return asynqBacklog(ctx, b.rdb, queue)
	})
	if err != nil {
		return fmt.Errorf("asynq ceiling: %w", err)
	}
	b.res.add("drain_ceiling", "calcgrid", rate)
	fmt.Printf("  asynq in-process drain of %d: %.0f tasks/s\n", b.opts.drain, rate)
	return nil
}

// killLoss submits CPU tasks, SIGKILLs the worker pool while they run,
// starts a new one and counts the tasks that never complete.
func (b *bench) killLoss(ctx context.Context, t target) error {
	const n, burnMS = 12, 500
	if err := b.flush(ctx); err != nil {
		return err
	}
	if err := t.StartWorker(ctx, 2); err != nil {
		return err
	}
	ids, err := enqueue(ctx, t.URL(), cpuBody(burnMS), n, 4)
	if err != nil {
		return err
	}
	time.Sleep(1200 * time.Millisecond)
	t.KillWorker()
	if err := t.StartWorker(ctx, 2); err != nil {
		return err
	}
	done, err := terminal(ctx, t.URL(), ids, 90*time.Second)
	if err != nil {
		return err
	}
	b.res.add("kill_lost", t.Name(), float64(n-done))
	fmt.Printf("  %-8s SIGKILL of the worker pool mid-task: %d of %d tasks never completed\n", t.Name(), n-done, n)
	t.StopWorker()
	return nil
}

// usedMemory is Redis's used_memory.
func (b *bench) usedMemory(ctx context.Context) (int64, error) {
	return b.info(ctx, "memory", "used_memory")
}

// scale measures Redis bytes per pending task and per retained result,
// the drain rate and GET's p99 at each backlog size, for t.
func (b *bench) scale(ctx context.Context, t target, n int) error {
	name := t.Name()
	if err := b.flush(ctx); err != nil {
		return err
	}
	t.StopWorker()
	m0, err := b.usedMemory(ctx)
	if err != nil {
		return err
	}
	ids, err := enqueue(ctx, t.URL(), noopBody, n, 16)
	if err != nil {
		return err
	}
	m1, err := b.usedMemory(ctx)
	if err != nil {
		return err
	}
	if err := t.StartWorker(ctx, slots(t)); err != nil {
		return err
	}
	rate, err := b.timeDrain(ctx, n, t.Backlog)
	if err != nil {
		return err
	}
	if _, err := terminal(ctx, t.URL(), ids[n-1:], 30*time.Second); err != nil {
		return err
	}
	t.StopWorker()
	m2, err := b.usedMemory(ctx)
	if err != nil {
		return err
	}
	k := strconv.Itoa(n / 1000)
	b.res.add("bytes_pending_"+k+"k", name, float64(m1-m0)/float64(n))
	b.res.add("bytes_result_"+k+"k", name, float64(m2-m0)/float64(n))
	b.res.add("drain_"+k+"k", name, rate)
	idsFile := filepath.Join(b.tmp, name+"-scale-ids.txt")
	if err := writeLines(idsFile, ids); err != nil {
		return err
	}
	r, err := wrk(ctx, b.root, b.tmp, "get", t.URL(), 16, b.opts.wrkFor, "BENCH_IDS="+idsFile)
	if err != nil {
		return err
	}
	b.res.add("get_p99_"+k+"k", name, r.p99())
	fmt.Printf("  %-8s %dk tasks: %.0f B/pending, %.0f B/retained result, drain %.0f tasks/s, GET p99 %.1f ms\n",
		name, n/1000, float64(m1-m0)/float64(n), float64(m2-m0)/float64(n), rate, r.p99())
	return nil
}

func (b *bench) defineScale(n int) {
	k := strconv.Itoa(n / 1000)
	for _, m := range []metric{
		{Key: "bytes_pending_" + k + "k", Title: "Redis bytes per pending noop task, " + k + "k pending", Unit: "B", GoalMax: 1536},
		{Key: "bytes_result_" + k + "k", Title: "Redis bytes per retained result, " + k + "k retained", Unit: "B"},
		{Key: "drain_" + k + "k", Title: "drain of a " + k + "k backlog", Unit: "tasks/s", Higher: true},
		{Key: "get_p99_" + k + "k", Title: "`GET /v1/tasks/{id}` p99 with " + k + "k retained, 16 conns", Unit: "ms"},
	} {
		b.res.define(m)
	}
}
