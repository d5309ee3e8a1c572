// Package config reads each role's settings from flags and CALCGRID_*
// environment variables. Every flag --foo-bar has the variable
// CALCGRID_FOO_BAR; a flag given on the command line wins over the variable,
// which wins over the default.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// EnvPrefix starts every environment variable calcgrid reads.
const EnvPrefix = "CALCGRID_"

// EnvName is the environment variable behind flag name.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Redis says how to reach the broker.
type Redis struct {
	Addr     string
	Password string
	DB       int
	URL      string
}

// Redis timeouts are short so that an unreachable broker turns into a 503
// within two seconds instead of a hanging request.
const (
	redisDialTimeout = 500 * time.Millisecond
	redisIOTimeout   = 500 * time.Millisecond
	redisPoolTimeout = time.Second
)

// Options returns go-redis options: URL when set, else Addr, Password, DB.
func (r Redis) Options() (*redis.Options, error) {
	opt := &redis.Options{Addr: r.Addr, Password: r.Password, DB: r.DB}
	if r.URL != "" {
		var err error
		if opt, err = redis.ParseURL(r.URL); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvName("redis-url"), err)
		}
	}
	opt.DialTimeout = redisDialTimeout
	opt.ReadTimeout = redisIOTimeout
	opt.WriteTimeout = redisIOTimeout
	opt.PoolTimeout = redisPoolTimeout
	opt.DialerRetries = 1
	opt.MaxRetries = 1
	opt.ContextTimeoutEnabled = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return opt, nil
}

// ConnOpt adapts Options to asynq.RedisConnOpt, for libraries (asynqmon)
// that build their own client.
type ConnOpt struct{ Opt *redis.Options }

// MakeRedisClient implements asynq.RedisConnOpt.
func (c ConnOpt) MakeRedisClient() any { return redis.NewClient(c.Opt) }

// Common settings of every server role.
type Common struct {
	Redis       Redis
	Instance    string
	LogLevel    slog.Level
	Diagnostics bool
	// Retention is how long finished tasks, their results and metadata are kept.
	Retention time.Duration
}

// API configures `calcgrid api`.
type API struct {
	Common
	Listen string
	// MaxPending is the per-queue backlog above which submissions get 429.
	MaxPending int
	// Weights is reported by GET /v1/queues (the workers apply it).
	Weights Weights
}

// Worker configures `calcgrid worker`.
type Worker struct {
	Common
	Listen          string
	Concurrency     int
	Weights         Weights
	StrictPriority  bool
	ShutdownTimeout time.Duration
}

// Monitor configures `calcgrid monitor`.
type Monitor struct {
	Redis    Redis
	Listen   string
	LogLevel slog.Level
	ReadOnly bool
	User     string
	Password string
}

// Weights maps each queue to its share of worker attention.
type Weights map[string]int

// DefaultWeights is high=6,medium=3,low=1.
func DefaultWeights() Weights {
	return Weights{tasks.QueueHigh: 6, tasks.QueueMedium: 3, tasks.QueueLow: 1}
}

// String renders weights in priority order, as Set accepts them.
func (w Weights) String() string {
	parts := make([]string, 0, len(w))
	for _, q := range tasks.Queues() {
		if n, ok := w[q]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d", q, n))
		}
	}
	return strings.Join(parts, ",")
}

// Set parses "high=6,medium=3,low=1"; every queue must be given, weight ≥ 1.
func (w Weights) Set(s string) error {
	parsed := Weights{}
	for part := range strings.SplitSeq(s, ",") {
		name, num, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%q is not queue=weight", part)
		}
		if !slices.Contains(tasks.Queues(), name) {
			return fmt.Errorf("unknown queue %q (queues: %s)", name, strings.Join(tasks.Queues(), ", "))
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n > 1000 {
			return fmt.Errorf("weight of %s must be a whole number ≥ 1 and ≤ 1000 (got %q)", name, num)
		}
		parsed[name] = n
	}
	for _, q := range tasks.Queues() {
		if _, ok := parsed[q]; !ok {
			return fmt.Errorf("missing weight for queue %s", q)
		}
	}
	clear(w)
	for q, n := range parsed {
		w[q] = n
	}
	return nil
}

// set wraps a FlagSet so that each flag also reads its environment variable.
type set struct {
	fs     *flag.FlagSet
	checks []func() error
}

func newSet(role, summary string, out io.Writer) *set {
	fs := flag.NewFlagSet("calcgrid "+role, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: calcgrid %s [flags]\n\n%s\n\nEvery flag can also be set by the environment variable shown in brackets.\n\nFlags:\n", role, summary)
		fs.PrintDefaults()
	}
	return &set{fs: fs}
}

func (s *set) usage(name, text string) string { return text + " [" + EnvName(name) + "]" }

func (s *set) str(p *string, name, def, text string) {
	s.fs.StringVar(p, name, def, s.usage(name, text))
}
func (s *set) boolean(p *bool, name string, def bool, text string) {
	s.fs.BoolVar(p, name, def, s.usage(name, text))
}
func (s *set) dur(p *time.Duration, name string, def time.Duration, text string) {
	s.fs.DurationVar(p, name, def, s.usage(name, text))
}
func (s *set) value(v flag.Value, name, text string) { s.fs.Var(v, name, s.usage(name, text)) }

// integer registers a bounded whole number.
func (s *set) integer(p *int, name string, def, lo, hi int, text string) {
	s.fs.IntVar(p, name, def, s.usage(name, fmt.Sprintf("%s (%d..%d)", text, lo, hi)))
	s.checks = append(s.checks, func() error {
		if *p < lo || *p > hi {
			return fmt.Errorf("--%s / %s must be ≥ %d and ≤ %d (got %d)", name, EnvName(name), lo, hi, *p)
		}
		return nil
	})
}

func (s *set) positive(p *time.Duration, name string, def time.Duration, text string) {
	s.dur(p, name, def, text)
	s.checks = append(s.checks, func() error {
		if *p <= 0 {
			return fmt.Errorf("--%s / %s must be a positive duration such as 30s (got %s)", name, EnvName(name), *p)
		}
		return nil
	})
}

// parse applies the command line, then the environment to every flag not
// given on it, then the bound checks. It returns flag.ErrHelp for --help.
func (s *set) parse(args []string, getenv func(string) string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	if s.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", s.fs.Arg(0))
	}
	given := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	s.fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, err))
			}
		}
	})
	for _, check := range s.checks {
		errs = append(errs, check())
	}
	return errors.Join(errs...)
}

func (s *set) redis(r *Redis) {
	s.str(&r.Addr, "redis-addr", "127.0.0.1:6379", "Redis host:port")
	s.str(&r.Password, "redis-password", "", "Redis password")
	s.integer(&r.DB, "redis-db", 0, 0, 15, "Redis database number")
	s.str(&r.URL, "redis-url", "", "Redis URL redis://[:password@]host:port[/db]; overrides the other redis settings")
}

func (s *set) logLevel(l *slog.Level) {
	s.value(levelFlag{l}, "log-level", "log level: debug, info, warn or error")
}

type levelFlag struct{ l *slog.Level }

func (f levelFlag) String() string {
	if f.l == nil {
		return ""
	}
	return strings.ToLower(f.l.String())
}
func (f levelFlag) Set(s string) error { return f.l.UnmarshalText([]byte(s)) }

func (s *set) common(c *Common) {
	s.redis(&c.Redis)
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	s.str(&c.Instance, "instance", host, "instance name, logged and sent in the X-Calcgrid-Instance header")
	s.logLevel(&c.LogLevel)
	s.boolean(&c.Diagnostics, "diagnostics", false, "register the diagnostic.* task types (for development and tests)")
	s.positive(&c.Retention, "retention", 7*24*time.Hour, "how long finished tasks and their results are kept")
}

// Usage texts shown by --help.
const (
	apiSummary     = "Serves the HTTP API: submit, inspect, list and cancel tasks."
	workerSummary  = "Runs tasks from the high, medium and low queues; serves /healthz, /readyz and /metrics."
	monitorSummary = "Serves the asynqmon dashboard: queues, tasks per state, workers, retries, archived tasks."
)

// ParseAPI reads the api role's settings. out receives --help and errors.
func ParseAPI(args []string, getenv func(string) string, out io.Writer) (API, error) {
	c := API{Weights: DefaultWeights()}
	s := newSet("api", apiSummary, out)
	s.str(&c.Listen, "listen", ":8080", "HTTP listen address")
	s.common(&c.Common)
	s.integer(&c.MaxPending, "queue-max-pending", 10000, 1, 10_000_000, "pending tasks per queue above which submissions get 429")
	s.value(c.Weights, "queue-weights", "queue weights reported by GET /v1/queues (set it like the workers')")
	return c, s.parse(args, getenv)
}

// ParseWorker reads the worker role's settings.
func ParseWorker(args []string, getenv func(string) string, out io.Writer) (Worker, error) {
	c := Worker{Weights: DefaultWeights()}
	s := newSet("worker", workerSummary, out)
	s.str(&c.Listen, "listen", ":9090", "listen address of /healthz, /readyz and /metrics")
	s.common(&c.Common)
	s.integer(&c.Concurrency, "worker-concurrency", 4, 1, 1024, "tasks run at the same time")
	s.value(c.Weights, "queue-weights", "share of worker attention per queue")
	s.boolean(&c.StrictPriority, "strict-priority", false, "always empty higher queues first (lower queues can starve)")
	s.positive(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long running tasks may finish before they are requeued")
	return c, s.parse(args, getenv)
}

// ParseMonitor reads the monitor role's settings.
func ParseMonitor(args []string, getenv func(string) string, out io.Writer) (Monitor, error) {
	var c Monitor
	s := newSet("monitor", monitorSummary, out)
	s.str(&c.Listen, "listen", ":5555", "dashboard listen address")
	s.redis(&c.Redis)
	s.logLevel(&c.LogLevel)
	s.boolean(&c.ReadOnly, "monitor-readonly", false, "view only: reject pausing, deleting and re-running from the dashboard")
	s.str(&c.User, "monitor-user", "", "basic auth user (set with --monitor-password)")
	s.str(&c.Password, "monitor-password", "", "basic auth password")
	return c, s.parse(args, getenv)
}

// Logger returns a JSON logger tagged with role and instance.
func Logger(w io.Writer, level slog.Level, role, instance string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(h).With("role", role, "instance", instance)
}
