package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/calcgrid/calcgrid/app/internal/api"
	"github.com/calcgrid/calcgrid/app/internal/auth"
	"github.com/calcgrid/calcgrid/app/internal/config"
	"github.com/calcgrid/calcgrid/app/internal/diagnostic"
	"github.com/calcgrid/calcgrid/app/internal/finance"
	"github.com/calcgrid/calcgrid/app/internal/monitor"
	"github.com/calcgrid/calcgrid/app/internal/serve"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
	"github.com/calcgrid/calcgrid/app/internal/worker"
)

// registry holds the finance types, plus the diagnostic ones when enabled.
func registry(diagnostics bool) (*tasks.Registry, error) {
	reg := tasks.NewRegistry()
	if err := finance.Register(reg); err != nil {
		return nil, err
	}
	if diagnostics {
		if err := diagnostic.Register(reg); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// open connects the parts every server role shares.
func open(c config.Common, role string, stderr io.Writer) (*taskstore.Store, *tasks.Registry, *slog.Logger, func(), error) {
	reg, err := registry(c.Diagnostics)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	logger := config.Logger(stderr, c.LogLevel, role, c.Instance)
	redis.SetLogger(redisLogger{logger})
	rdb, err := c.Redis.Client()
	if err != nil {
		return nil, nil, nil, nil, usageError{err}
	}
	return taskstore.New(rdb, taskstore.Retention(c.Retention)), reg, logger, func() { rdb.Close() }, nil
}

func runAPI(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, err := config.ParseAPI(args, getenv, stderr)
	if err != nil {
		return usageError{err}
	}
	budget, err := c.Budget.Tasks(c.WorkerConcurrency)
	if err != nil {
		return usageError{err}
	}
	store, reg, logger, closeStore, err := open(c.Common, "api", stderr)
	if err != nil {
		return err
	}
	defer closeStore()
	reg.SetBudget(budget)
	if err := store.WaitForReplicas(c.Wait.Replicas, c.Wait.Timeout); err != nil {
		return usageError{err}
	}
	logger.Info("api starting", "version", version, "task_types", len(reg.All()), "max_pending", c.MaxPending,
		"task_memory_bytes", budget.Memory, "task_work_budget", budget.CPU.String(), "slot_cpus", budget.SlotCPUs,
		"auth", c.Auth.Mode, "admin_token", c.Auth.AdminToken != "",
		"redis_sentinels", len(c.Redis.Sentinels), "redis_wait_replicas", c.Wait.Replicas)
	switch {
	case c.Auth.IDSecret != nil:
		store.SetIDSecret(c.Auth.IDSecret)
	case c.Auth.Required():
		store.UseSharedIDSecret()
	default:
		logger.Warn("authentication is off: every request acts as tenant default with every scope")
	}
	h := api.New(api.Options{
		Store: store, Registry: reg, Logger: logger, Instance: c.Instance,
		MaxPending: c.MaxPending, Weights: c.Weights, AuthRequired: c.Auth.Required(),
		Auth:  auth.NewStore(store.Redis(), c.Auth.AdminToken, tasks.Queues()),
		Pprof: c.Pprof,
	})
	// Cut off from Redis, the API could only answer 503; refusing
	// connections instead makes nginx send the work, POSTs included, to a
	// replica that can reach Redis (a refused connect is never a request
	// received, so no POST is retried after this replica saw it).
	return serve.RunGated(ctx, c.Listen, h, store.Ping, logger)
}

func runWorker(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, err := config.ParseWorker(args, getenv, stderr)
	if err != nil {
		return usageError{err}
	}
	budget, err := c.Budget.Tasks(c.Concurrency)
	if err != nil {
		return usageError{err}
	}
	store, reg, logger, closeStore, err := open(c.Common, "worker", stderr)
	if err != nil {
		return err
	}
	defer closeStore()
	reg.SetBudget(budget)
	memLimit, err := worker.LimitMemory(worker.Cgroups(), getenv)
	if err != nil {
		logger.Warn("could not read the container's memory limit; the Go runtime has none", "error", err)
	}
	logger.Info("worker starting", "version", version, "go_memory_limit_bytes", memLimit,
		"task_memory_bytes", budget.Memory, "task_work_budget", budget.CPU.String(), "slot_cpus", budget.SlotCPUs)
	return worker.New(worker.Options{
		Store: store, Registry: reg, Logger: logger, Listen: c.Listen,
		Concurrency: c.Concurrency, Weights: c.Weights, StrictPriority: c.StrictPriority,
		ShutdownTimeout: c.ShutdownTimeout, PollInterval: c.PollInterval, IdleWait: c.IdleWait, Pprof: c.Pprof,
		NewRedis: c.Redis.Client,
	}).Run(ctx)
}

func runMonitor(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, err := config.ParseMonitor(args, getenv, stderr)
	if err != nil {
		return usageError{err}
	}
	logger := config.Logger(stderr, c.LogLevel, "monitor", "")
	redis.SetLogger(redisLogger{logger})
	// asynq's queue collector reports failed scrapes through the standard
	// log package; SetDefault routes those lines into the JSON log too.
	slog.SetDefault(logger)
	return monitor.Run(ctx, c, logger)
}

// redisLogger routes go-redis's own messages (failed dials while Redis is
// down) into the JSON log instead of plain stderr lines.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "redis")
}

// probeTimeout bounds a health probe.
const probeTimeout = 2 * time.Second

// probe is the containers' health check: the runtime image has no shell or
// curl, so the binary checks itself. A tcp://host:port URL only connects:
// the stack suite uses it to show which containers can reach which.
func probe(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageError{fmt.Errorf("usage: calcgrid probe <url>")}
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if addr, ok := strings.CutPrefix(args[0], "tcp://"); ok {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("probe %s: %w", args[0], err)
		}
		conn.Close()
		fmt.Fprintf(stdout, "%s: connected\n", args[0])
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return usageError{err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", args[0], err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("probe %s: %s", args[0], resp.Status)
	}
	fmt.Fprintf(stdout, "%s: %s\n", args[0], resp.Status)
	return nil
}
