// Command calcbench is `make bench`: calcgrid side by side with the
// FastAPI + Celery design it replaces (bench/baseline), as local processes
// on one private Redis on 127.0.0.1, measured alternately so that the
// machine's drift hits both. It prints a markdown table and writes
// bench/results/<timestamp>.json and .md. See bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

type options struct {
	rounds      int
	wrkFor      time.Duration
	drain       int
	atRest      int
	scale       []int
	cpuFor      time.Duration
	idleFor     time.Duration
	idleLatency int
	out         string
	only        string
	keepStack   bool
}

func main() {
	var o options
	var scale string
	flag.IntVar(&o.rounds, "rounds", 3, "runs of each side-by-side measure (median and min–max are reported)")
	flag.DurationVar(&o.wrkFor, "wrk", 5*time.Second, "duration of each wrk run")
	flag.IntVar(&o.drain, "drain", 20000, "noop tasks in each drain")
	flag.IntVar(&o.atRest, "at-rest", 500, "sequential noop tasks for the latency at rest")
	flag.StringVar(&scale, "scale", "10000,100000", "backlog sizes for bytes per task, drain and GET p99 (comma-separated; empty: skip)")
	flag.DurationVar(&o.cpuFor, "cpu", 30*time.Second, "how long diagnostic.cpu tasks keep every slot busy (0: skip)")
	flag.DurationVar(&o.idleFor, "idle", 10*time.Second, "idle window per worker setting (0: skip)")
	flag.IntVar(&o.idleLatency, "idle-latency", 200, "at-rest tasks per idle setting")
	flag.StringVar(&o.out, "out", "bench/results", "where the results go")
	flag.StringVar(&o.only, "only", "", "run only these parts (comma-separated: rounds,ceiling,kill,scale,idle,cpu,stack)")
	flag.BoolVar(&o.keepStack, "keep-stack", false, "leave the bench environment up afterwards (make down ENV=bench removes it)")
	flag.Parse()
	for s := range strings.SplitSeq(scale, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			fmt.Fprintf(os.Stderr, "calcbench: -scale: %q is not a task count of at least 1000\n", s)
			os.Exit(2)
		}
		o.scale = append(o.scale, n)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "calcbench: %v\n", err)
		os.Exit(1)
	}
}

// repoRoot is the directory holding go.mod, from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "bench", "baseline")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run calcbench from the calcgrid repository (make bench)")
		}
		dir = parent
	}
}

func run(ctx context.Context, o options) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	tmp := filepath.Join(root, ".cache", "bench", "run")
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	b := &bench{root: root, tmp: tmp, opts: o, res: &results{
		Started: time.Now(), Machine: machineFacts(),
		Settings: map[string]any{"rounds": o.rounds, "wrk_seconds": o.wrkFor.Seconds(), "drain": o.drain, "at_rest": o.atRest,
			"scale": o.scale, "cpu_seconds": o.cpuFor.Seconds(), "calcgrid_slots": calcgridSlots, "celery_slots": celerySlots},
	}}
	fmt.Printf("calcbench: logs in %s\n", tmp)

	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// No persistence, as in the figures: both designs on the same
	// Redis settings.
	b.redis, err = startProc(tmp, tmp, "redis", nil, "redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", tmp)
	if err != nil {
		return err
	}
	defer b.redis.stop(5 * time.Second)
	b.rdb = redis.NewClient(&redis.Options{Addr: addr})
	defer b.rdb.Close()
	if err := waitRedis(ctx, b.rdb); err != nil {
		return err
	}

	b.calc = &calcgrid{bin: filepath.Join(root, ".bin", "calcgrid"), logDir: tmp, redisAddr: addr, rdb: b.rdb}
	b.base = &baseline{dir: filepath.Join(root, "bench", "baseline"), logDir: tmp, redisURL: "redis://" + addr + "/0", rdb: b.rdb}
	for _, t := range []target{b.calc, b.base} {
		if err := t.StartAPI(ctx); err != nil {
			return fmt.Errorf("%s: %w", t.Name(), err)
		}
		defer t.Stop()
	}

	parts := []struct {
		name string
		run  func(context.Context) error
	}{
		{"rounds", b.rounds},
		{"ceiling", b.ceilings},
		{"kill", b.kills},
		{"scale", b.scales},
		{"idle", b.idle},
		{"cpu", b.cpu},
		{"stack", b.stack},
	}
	// A part that fails is reported and the rest still run: a quarter of
	// an hour's figures are not thrown away for one.
	var failed []error
	for i, p := range parts {
		if o.only != "" && !strings.Contains(","+o.only+",", ","+p.name+",") {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		fmt.Printf("[%d/%d] %s (%s so far)\n", i+1, len(parts), p.name, time.Since(b.res.Started).Round(time.Second))
		if err := p.run(ctx); err != nil {
			fmt.Printf("  FAILED: %v\n", err)
			b.res.note("part %s failed: %v", p.name, err)
			failed = append(failed, fmt.Errorf("%s: %w", p.name, err))
		}
	}

	fmt.Println()
	b.res.markdown(os.Stdout)
	file, err := b.res.save(filepath.Join(root, o.out))
	if err != nil {
		return err
	}
	fmt.Printf("\ncalcbench: %s (%s)\n", file, time.Since(b.res.Started).Round(time.Second))
	return errors.Join(failed...)
}

func waitRedis(ctx context.Context, rdb *redis.Client) error {
	for range 100 {
		if rdb.Ping(ctx).Err() == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("the private redis-server did not answer within 5s (see redis.log)")
}

func (b *bench) rounds(ctx context.Context) error {
	b.defineMetrics()
	for r := range b.opts.rounds {
		fmt.Printf(" round %d of %d\n", r+1, b.opts.rounds)
		for _, t := range b.order(r) {
			if err := b.round(ctx, t); err != nil {
				return fmt.Errorf("%s: %w", t.Name(), err)
			}
		}
	}
	return nil
}

func (b *bench) ceilings(ctx context.Context) error {
	b.res.define(metric{Key: "drain_ceiling", Title: fmt.Sprintf("drain ceiling: asynq in-process, c=%d, same Redis", calcgridSlots), Unit: "tasks/s", Higher: true})
	b.res.define(metric{Key: "drain_of_ceiling", Title: fmt.Sprintf("calcgrid's drain (c=%d) ÷ asynq's ceiling", calcgridSlots), Unit: "×", Higher: true, GoalMin: 0.5})
	for range b.opts.rounds {
		if err := b.ceiling(ctx); err != nil {
			return err
		}
	}
	if d := b.res.metric("drain"); d != nil && len(d.Values["calcgrid"]) > 0 {
		b.res.add("drain_of_ceiling", "calcgrid", median(d.Values["calcgrid"])/median(b.res.metric("drain_ceiling").Values["calcgrid"]))
	}
	return nil
}

func (b *bench) kills(ctx context.Context) error {
	b.res.define(metric{Key: "kill_lost", Title: "tasks lost when the worker pool is SIGKILLed mid-task (of 12)", Unit: "tasks", GoalZero: true})
	for _, t := range b.order(0) {
		if err := b.killLoss(ctx, t); err != nil {
			return fmt.Errorf("%s: %w", t.Name(), err)
		}
	}
	return nil
}

func (b *bench) scales(ctx context.Context) error {
	for _, n := range b.opts.scale {
		b.defineScale(n)
		targets := []target{b.calc}
		// The baseline's shapes at the drain's size only: enqueueing 100k
		// through uvicorn alone takes over a minute.
		if n <= b.opts.drain {
			targets = append(targets, b.base)
		}
		for _, t := range targets {
			if err := b.scale(ctx, t, n); err != nil {
				return fmt.Errorf("%s, %d tasks: %w", t.Name(), n, err)
			}
		}
	}
	return nil
}

func (b *bench) idle(ctx context.Context) error {
	if b.opts.idleFor <= 0 {
		return nil
	}
	for _, s := range idleSettings {
		if err := b.idleCost(ctx, b.calc, s); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return b.idleCost(ctx, b.base, idleSetting{name: "Celery (BRPOP)"})
}

func (b *bench) cpu(ctx context.Context) error {
	if b.opts.cpuFor <= 0 {
		return nil
	}
	b.res.define(metric{Key: "cpu_efficiency", Title: "CPU efficiency, diagnostic.cpu 1 s on every core", Unit: "%", Higher: true, GoalMin: 90})
	return b.cpuEfficiency(ctx, runtime.NumCPU())
}
