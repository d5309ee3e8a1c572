package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// target is one system under test: an HTTP API and a worker pool on the
// private Redis, started and stopped as local processes.
type target interface {
	Name() string
	// URL is the API's base URL once StartAPI returned.
	URL() string
	StartAPI(ctx context.Context) error
	// StartWorker (re)starts the worker pool with concurrency slots; env
	// are extra settings (calcgrid's idle-wake knobs).
	StartWorker(ctx context.Context, concurrency int, env ...string) error
	StopWorker()
	KillWorker()
	Worker() *proc
	Stop()
	// Backlog is how many tasks wait or run, read from Redis.
	Backlog(ctx context.Context) (int64, error)
	// AtRest submits n noop tasks one after another to idle workers.
	AtRest(ctx context.Context, n int) (atRest, error)
}

// calcgrid runs `calcgrid api` and `calcgrid worker` (.bin/calcgrid).
type calcgrid struct {
	bin, logDir string
	redisAddr   string
	api, worker *proc
	url         string
	rdb         *redis.Client
}

func (c *calcgrid) Name() string  { return "calcgrid" }
func (c *calcgrid) URL() string   { return c.url }
func (c *calcgrid) Worker() *proc { return c.worker }

// env is what every calcgrid role gets: the private Redis, diagnostics on
// (noop and cpu), no backlog limit below what the bench enqueues.
func (c *calcgrid) env(listen string, concurrency int) []string {
	return []string{
		"CALCGRID_REDIS_ADDR=" + c.redisAddr, "CALCGRID_REDIS_URL=", "CALCGRID_DIAGNOSTICS=1",
		"CALCGRID_LISTEN=" + listen, "CALCGRID_QUEUE_MAX_PENDING=10000000",
		"CALCGRID_WORKER_CONCURRENCY=" + strconv.Itoa(concurrency),
	}
}

func (c *calcgrid) StartAPI(ctx context.Context) error {
	var err error
	c.api, c.url, err = c.start(ctx, "api", calcgridSlots)
	return err
}

func (c *calcgrid) StartWorker(ctx context.Context, concurrency int, env ...string) error {
	c.StopWorker() // one pool at a time, even after a part failed midway
	var err error
	c.worker, _, err = c.start(ctx, "worker", concurrency, env...)
	return err
}

// start runs `calcgrid role` on a free port and waits until it is ready;
// it returns the process and its base URL.
func (c *calcgrid) start(ctx context.Context, role string, concurrency int, env ...string) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := startProc(c.logDir, ".", "calcgrid-"+role, append(c.env(listen, concurrency), env...), c.bin, role)
	if err != nil {
		return nil, "", err
	}
	url := "http://" + listen
	return p, url, waitHTTP(ctx, p, url+"/readyz", 20*time.Second)
}

func (c *calcgrid) StopWorker() { c.worker.stop(10 * time.Second); c.worker = nil }
func (c *calcgrid) KillWorker() { c.worker.kill(); c.worker = nil }
func (c *calcgrid) Stop()       { c.StopWorker(); c.api.stop(10 * time.Second) }

// noopQueue is where diagnostic.noop runs (its type's default queue).
const noopQueue = "medium"

func (c *calcgrid) Backlog(ctx context.Context) (int64, error) {
	return asynqBacklog(ctx, c.rdb, noopQueue)
}

// asynqBacklog is how many tasks of an asynq queue wait or run.
func asynqBacklog(ctx context.Context, rdb *redis.Client, queue string) (int64, error) {
	var n int64
	for _, k := range []string{"asynq:{" + queue + "}:pending", "asynq:{" + queue + "}:active"} {
		v, err := rdb.LLen(ctx, k).Result()
		if err != nil {
			return 0, err
		}
		n += v
	}
	return n, nil
}

// AtRest polls GET every half millisecond, as a client waiting for its
// result would; started is the worker's started_at.
func (c *calcgrid) AtRest(ctx context.Context, n int) (atRest, error) {
	var started, completed []float64
	for range n {
		t0 := time.Now()
		id, err := submit(ctx, c.url, noopBody)
		if err != nil {
			return atRest{}, err
		}
		for {
			t, err := getTask(ctx, c.url, id)
			if err != nil {
				return atRest{}, err
			}
			if t.State == "completed" {
				completed = append(completed, ms(time.Since(t0)))
				if t.StartedAt != nil {
					started = append(started, ms(t.StartedAt.Sub(t0)))
				}
				break
			}
			if t.State == "failed" || t.State == "cancelled" {
				return atRest{}, fmt.Errorf("noop task %s ended %s", id, t.State)
			}
			if time.Since(t0) > 30*time.Second {
				return atRest{}, fmt.Errorf("noop task %s not completed after 30s (state %s)", id, t.State)
			}
			time.Sleep(500 * time.Microsecond)
		}
	}
	return atRest{
		Started:   summary{P50: percentile(started, 50), P99: percentile(started, 99), N: len(started)},
		Completed: summary{P50: percentile(completed, 50), P99: percentile(completed, 99), N: len(completed)},
	}, nil
}

// atRest is submit → started and submit → completed, in milliseconds.
type atRest struct {
	Started   summary `json:"started_ms"`
	Completed summary `json:"completed_ms"`
}

// summary's N is how many tasks it covers (0: not measured).
type summary struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	N   int     `json:"n"`
}

// baseline runs the FastAPI + Celery design calcgrid replaces
// (bench/baseline).
type baseline struct {
	dir, logDir string
	redisURL    string
	api, worker *proc
	url         string
	rdb         *redis.Client
}

func (b *baseline) Name() string  { return "baseline" }
func (b *baseline) URL() string   { return b.url }
func (b *baseline) Worker() *proc { return b.worker }

func (b *baseline) python() string { return filepath.Join(b.dir, "python") }

func (b *baseline) env() []string { return []string{"BASELINE_REDIS_URL=" + b.redisURL} }

func (b *baseline) StartAPI(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	b.api, err = startProc(b.logDir, b.dir, "baseline-api", b.env(), b.python(), "-m", "uvicorn", "app:app",
		"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--workers", "2", "--loop", "uvloop", "--http", "httptools",
		"--no-access-log", "--log-level", "warning")
	if err != nil {
		return err
	}
	b.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	return waitHTTP(ctx, b.api, b.url+"/openapi.json", 30*time.Second)
}

func (b *baseline) StartWorker(ctx context.Context, concurrency int, _ ...string) error {
	b.StopWorker() // one pool at a time, even after a part failed midway
	var err error
	b.worker, err = startProc(b.logDir, b.dir, "baseline-worker", b.env(), b.python(), "-m", "celery", "-A", "tasks",
		"worker", "--pool", "prefork", "--concurrency", strconv.Itoa(concurrency), "--prefetch-multiplier=1",
		"--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle")
	if err != nil {
		return err
	}
	// Ready when it answers a ping through the broker.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := b.client(ctx, "ping")
		if strings.Contains(out, `"ok": true`) || strings.Contains(out, `"ok":true`) {
			return nil
		}
		if b.worker.exited() {
			return fmt.Errorf("the Celery worker exited at start (see baseline-worker.log)")
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the Celery worker did not answer a ping within 60s")
}

func (b *baseline) StopWorker() { b.worker.stop(10 * time.Second); b.worker = nil }
func (b *baseline) KillWorker() { b.worker.kill(); b.worker = nil }
func (b *baseline) Stop()       { b.StopWorker(); b.api.stop(10 * time.Second) }

// Backlog counts Celery's default queue and the messages a worker fetched
// but has not acknowledged.
func (b *baseline) Backlog(ctx context.Context) (int64, error) {
	q, err := b.rdb.LLen(ctx, "celery").Result()
	if err != nil {
		return 0, err
	}
	u, err := b.rdb.HLen(ctx, "unacked").Result()
	return q + u, err
}

// AtRest is Celery's own way, .delay().get(), in bench/baseline/client.py.
// Its started figure covers only the tasks whose STARTED message arrived
// while .get() listened (its N says how many).
func (b *baseline) AtRest(ctx context.Context, n int) (atRest, error) {
	out, err := b.client(ctx, "latency", strconv.Itoa(n))
	if err != nil {
		return atRest{}, err
	}
	var r atRest
	if err := json.Unmarshal([]byte(lastLine(out)), &r); err != nil {
		return r, fmt.Errorf("client.py latency printed %q: %w", out, err)
	}
	if r.Completed.N == 0 {
		r.Completed.N = n
	}
	return r, nil
}

// client runs bench/baseline/client.py with args.
func (b *baseline) client(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, b.python(), append([]string{"client.py"}, args...)...)
	cmd.Dir = b.dir
	cmd.Env = append(os.Environ(), b.env()...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return string(out), fmt.Errorf("client.py %s: %w: %s", strings.Join(args, " "), err, stderr)
	}
	return string(out), nil
}

func lastLine(s string) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	return last
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
