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
	"maps"
	"net"
	"net/url"
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

// Redis says how to reach the broker: one Redis at Addr (or URL), or the
// primary that Sentinels report for Master.
type Redis struct {
	Addr     string
	Username string
	Password string
	DB       int
	URL      string
	// Sentinels are host:port addresses of Sentinels; when set, the client
	// asks them for the primary of Master and follows it through failovers,
	// and Addr and URL are not used.
	Sentinels []string
	Master    string
	// SentinelPassword is the Sentinels' requirepass (their default user),
	// which is not the data nodes' password.
	SentinelPassword string
}

// Redis timeouts are short so that an unreachable broker turns into a 503
// within two seconds instead of a hanging request.
const (
	redisDialTimeout = 500 * time.Millisecond
	redisIOTimeout   = 500 * time.Millisecond
	redisPoolTimeout = time.Second
)

// options returns the go-redis options of a single Redis: URL when set,
// else Addr, Username, Password, DB.
func (r Redis) options() (*redis.Options, error) {
	opt := &redis.Options{Addr: r.Addr, Username: r.Username, Password: r.Password, DB: r.DB}
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

// failoverOptions are options's settings for a client that finds the
// primary through the Sentinels. Each dial asks a Sentinel for the primary;
// go-redis also listens for +switch-master and drops connections to a
// demoted primary, so a failover costs the requests in flight, not a
// restart.
func (r Redis) failoverOptions() *redis.FailoverOptions {
	return &redis.FailoverOptions{
		MasterName: r.Master, SentinelAddrs: slices.Clone(r.Sentinels), SentinelPassword: r.SentinelPassword,
		Username: r.Username, Password: r.Password, DB: r.DB,
		DialTimeout: redisDialTimeout, ReadTimeout: redisIOTimeout, WriteTimeout: redisIOTimeout,
		PoolTimeout: redisPoolTimeout, DialerRetries: 1, MaxRetries: 1, ContextTimeoutEnabled: true,
	}
}

// clientOptions is what a client is built from: exactly one of single and
// failover is set.
type clientOptions struct {
	single   *redis.Options
	failover *redis.FailoverOptions
}

func (r Redis) clientOptions() (clientOptions, error) {
	if len(r.Sentinels) > 0 {
		return clientOptions{failover: r.failoverOptions()}, nil
	}
	opt, err := r.options()
	return clientOptions{single: opt}, err
}

// newClient builds a client from a copy of the options: go-redis keeps and
// fills in the struct it is given, and every client needs its own (with a
// Sentinel, its own Sentinel connection and +switch-master subscription).
func (o clientOptions) newClient() *redis.Client {
	if o.failover != nil {
		f := *o.failover
		f.SentinelAddrs = slices.Clone(f.SentinelAddrs)
		return redis.NewFailoverClient(&f)
	}
	opt := *o.single
	m := *opt.MaintNotificationsConfig
	opt.MaintNotificationsConfig = &m
	return redis.NewClient(&opt)
}

// Client opens a client of r: the one place every role's clients are built
// (the worker's second client, the dashboard's), so that a Sentinel setting
// reaches each of them. A client of a Sentinel-watched primary is also a
// *redis.Client.
func (r Redis) Client() (*redis.Client, error) {
	o, err := r.clientOptions()
	if err != nil {
		return nil, err
	}
	return o.newClient(), nil
}

// ConnOpt returns r as an asynq.RedisConnOpt, for libraries (asynqmon) that
// build their own clients.
func (r Redis) ConnOpt() (ConnOpt, error) {
	o, err := r.clientOptions()
	return ConnOpt{o}, err
}

// ConnOpt implements asynq.RedisConnOpt with Redis.Client's clients.
type ConnOpt struct{ o clientOptions }

// MakeRedisClient implements asynq.RedisConnOpt.
func (c ConnOpt) MakeRedisClient() any { return c.o.newClient() }

// Common settings of every server role.
type Common struct {
	Redis       Redis
	Instance    string
	LogLevel    slog.Level
	Diagnostics bool
	// Pprof serves net/http/pprof under /debug/pprof/ on the role's
	// listener and turns on the mutex and block profiles.
	Pprof bool
	// Retention is how long finished tasks, their results and metadata are
	// kept, per final state.
	Retention Retention
}

// Retention is how long a task is kept after it completed, failed or was
// cancelled.
type Retention struct {
	Completed, Failed, Cancelled time.Duration
}

// maxArchived is the longest asynq (v0.26.0) keeps a failed or cancelled
// task.
const maxArchived = 90 * 24 * time.Hour

// Budget is what the task budgets derive from (tasks.SlotBudget): one
// worker container's memory limit and CPUs, with optional overrides. The API
// refuses what the workers could not run; the workers check again.
type Budget struct {
	WorkerMemoryMB int
	WorkerCPUs     float64
	// TaskMemoryMB overrides the memory per worker slot (0: derive it).
	TaskMemoryMB int
	// TaskWork is the most CPU time of one core a task may need (0: what
	// fits in 80% of its type's timeout).
	TaskWork time.Duration
}

// Tasks is the budget of one task on a worker that runs concurrency tasks.
func (b Budget) Tasks(concurrency int) (tasks.Budget, error) {
	tb, err := tasks.SlotBudget(tasks.Worker{
		MemoryLimit: int64(b.WorkerMemoryMB) << 20, CPUs: b.WorkerCPUs, Concurrency: concurrency,
		TaskMemory: int64(b.TaskMemoryMB) << 20, TaskCPU: b.TaskWork,
	})
	if err != nil {
		return tasks.Budget{}, fmt.Errorf("%s: %w", EnvName("task-memory-mb"), err)
	}
	return tb, nil
}

// API configures `calcgrid api`.
type API struct {
	Common
	Budget
	// WorkerConcurrency is the workers' concurrency, which their memory and
	// CPUs are shared by.
	WorkerConcurrency int
	Listen            string
	// MaxPending is the per-queue backlog above which submissions get 429.
	MaxPending int
	// Weights is reported by GET /v1/queues (the workers apply it).
	Weights Weights
	Auth    Auth
	// Wait makes a 202 mean the task reached Wait.Replicas replicas.
	Wait Wait
}

// Auth modes.
const (
	AuthRequired = "required"
	AuthOff      = "off"
)

// Auth configures the API's access control.
type Auth struct {
	// Mode is AuthRequired (every /v1 request needs a key) or AuthOff
	// (every request acts as tenant default with every scope).
	Mode string
	// AdminToken is the bootstrap admin token read from AdminTokenFile
	// ("" for none). Never log it.
	AdminToken     string
	AdminTokenFile string
	// IDSecret keys task ids (taskstore.Store.ID), read from
	// IDSecretFile; nil: with auth required the API shares one it keeps
	// in Redis, with auth off ids stay unkeyed.
	IDSecret     []byte
	IDSecretFile string
}

// Required reports whether requests need a key.
func (a Auth) Required() bool { return a.Mode == AuthRequired }

// Bounds of the secrets read from files: the admin token is typed or
// pasted by operators, the id secret is key material.
const (
	minAdminToken = 16
	minIDSecret   = 32
)

// secretFile registers a flag naming a file that holds a secret of at
// least minLen bytes, read into *into.
func (s *set) secretFile(path *string, into *[]byte, name string, minLen int, text string) {
	s.str(path, name, "", text)
	s.checks = append(s.checks, func() error {
		if *path == "" {
			return nil
		}
		b, err := readSecret(*path, name, minLen)
		*into = b
		return err
	})
}

// readSecret reads the secret in file, named by flag name. Trailing line
// ends are not part of it (editors and echo add one).
func readSecret(file, name string, minLen int) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--%s / %s: %w", name, EnvName(name), err)
	}
	b = []byte(strings.TrimRight(string(b), "\r\n"))
	if len(b) < minLen {
		return nil, fmt.Errorf("--%s / %s: the file %s must hold at least %d bytes (it holds %d)", name, EnvName(name), file, minLen, len(b))
	}
	return b, nil
}

func (s *set) auth(a *Auth) {
	s.str(&a.Mode, "auth", AuthOff, "access control: required (every /v1 request needs an API key) or off (every request acts as tenant default with every scope)")
	s.checks = append(s.checks, func() error {
		if a.Mode != AuthRequired && a.Mode != AuthOff {
			return fmt.Errorf("--auth / %s must be %s or %s (got %q)", EnvName("auth"), AuthRequired, AuthOff, a.Mode)
		}
		return nil
	})
	var token []byte
	s.secretFile(&a.AdminTokenFile, &token, "admin-token-file", minAdminToken,
		"file holding the bootstrap admin token (scope admin, tenant admin); empty: none")
	s.checks = append(s.checks, func() error {
		a.AdminToken = string(token)
		if strings.ContainsAny(a.AdminToken, " \t\r\n") {
			return fmt.Errorf("--admin-token-file / %s: the token must not contain white space", EnvName("admin-token-file"))
		}
		return nil
	})
	s.secretFile(&a.IDSecretFile, &a.IDSecret, "id-secret-file", minIDSecret,
		"file holding the secret task ids are keyed with (HMAC); empty: with auth required, one kept in Redis and shared by every API")
}

// Worker configures `calcgrid worker`.
type Worker struct {
	Common
	Budget
	Listen          string
	Concurrency     int
	Weights         Weights
	StrictPriority  bool
	ShutdownTimeout time.Duration
	// PollInterval is asynq's TaskCheckInterval: how soon a worker polls
	// again after finding every queue empty, once IdleWait is over.
	PollInterval time.Duration
	// IdleWait is the longest an idle worker waits for a wake-up before it
	// polls again; 0 turns the wake-up off (polling every PollInterval).
	IdleWait time.Duration
}

// Bounds of the worker's polling: a longer interval or wait only delays
// tasks (the wake-up can be lost while the connection is down, and due
// retries of other workers are not announced).
const (
	maxPollInterval = 10 * time.Second
	maxIdleWait     = time.Minute
)

// Monitor configures `calcgrid monitor`.
type Monitor struct {
	Redis    Redis
	Listen   string
	LogLevel slog.Level
	ReadOnly bool
	User     string
	Password string
	// PrometheusURL feeds asynqmon's metrics charts; empty hides them.
	PrometheusURL string
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
	// given names the flags set on the command line or by their variable,
	// for checks that refuse a flag beside another even at its default.
	given map[string]bool
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

// number registers a bounded number.
func (s *set) number(p *float64, name string, def, lo, hi float64, text string) {
	s.fs.Float64Var(p, name, def, s.usage(name, fmt.Sprintf("%s (%g..%g)", text, lo, hi)))
	s.checks = append(s.checks, func() error {
		if !(*p >= lo && *p <= hi) {
			return fmt.Errorf("--%s / %s must be ≥ %g and ≤ %g (got %g)", name, EnvName(name), lo, hi, *p)
		}
		return nil
	})
}

func (s *set) nonNegative(p *time.Duration, name string, def time.Duration, text string) {
	s.dur(p, name, def, text)
	s.checks = append(s.checks, func() error {
		if *p < 0 {
			return fmt.Errorf("--%s / %s must be a duration such as 90s, or 0 (got %s)", name, EnvName(name), *p)
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

// bounded registers a duration from lo to hi; lo is 0 or positive.
func (s *set) bounded(p *time.Duration, name string, def, lo, hi time.Duration, text string) {
	s.dur(p, name, def, text)
	s.checks = append(s.checks, func() error {
		if *p < lo || *p > hi {
			if lo > 0 {
				return fmt.Errorf("--%s / %s must be a positive duration of at most %s (got %s)", name, EnvName(name), hi, *p)
			}
			return fmt.Errorf("--%s / %s must be a duration from 0 to %s (got %s)", name, EnvName(name), hi, *p)
		}
		return nil
	})
}

// optionalURL registers an http(s) base URL that may be left empty.
func (s *set) optionalURL(p *string, name, text string) {
	s.str(p, name, "", text)
	s.checks = append(s.checks, func() error {
		if *p == "" {
			return nil
		}
		if u, err := url.Parse(*p); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--%s / %s must be an http(s) URL such as http://prometheus:9090 (got %q)", name, EnvName(name), *p)
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
	onCommandLine := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	s.given = maps.Clone(onCommandLine)
	var errs []error
	s.fs.VisitAll(func(f *flag.Flag) {
		if onCommandLine[f.Name] {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			s.given[f.Name] = true
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

// secret registers --name and --name-file: the secret itself, or a file
// holding it. The stack uses the file (read-only, on the container's secrets
// volume), because a variable is shown by `docker inspect` to anyone who may
// run it.
func (s *set) secret(p *string, name, text string) {
	s.str(p, name, "", text+" (prefer --"+name+"-file)")
	file := new(string)
	s.str(file, name+"-file", "", "file holding the "+text)
	s.checks = append(s.checks, func() error {
		if *file == "" {
			return nil
		}
		if *p != "" {
			return fmt.Errorf("give --%s / %s or --%s-file / %s, not both", name, EnvName(name), name, EnvName(name+"-file"))
		}
		b, err := readSecret(*file, name+"-file", 1)
		*p = string(b)
		return err
	})
}

func (s *set) redis(r *Redis) {
	s.str(&r.Addr, "redis-addr", "127.0.0.1:6379", "Redis host:port")
	s.str(&r.Username, "redis-username", "", "Redis ACL user (each role has its own; empty: the default user)")
	s.secret(&r.Password, "redis-password", "Redis password")
	s.integer(&r.DB, "redis-db", 0, 0, 15, "Redis database number")
	s.str(&r.URL, "redis-url", "", "Redis URL redis://[[username]:password@]host:port[/db]; overrides the other redis settings")
	s.value(&sentinelsFlag{&r.Sentinels}, "redis-sentinels",
		"Sentinels host:port[,host:port...] that name the primary to use (empty: one Redis at --redis-addr)")
	s.str(&r.Master, "redis-master", "calcgrid", "master group the Sentinels monitor (only with --redis-sentinels)")
	s.secret(&r.SentinelPassword, "redis-sentinel-password", "Sentinels' password (their requirepass; only with --redis-sentinels)")
	s.checks = append(s.checks, func() error { return s.checkSentinels(r) })
}

// checkSentinels refuses settings that a Sentinel setup would ignore, so
// that a half-migrated environment fails at start rather than quietly
// talking to one node.
func (s *set) checkSentinels(r *Redis) error {
	both := func(a, b string) error {
		return fmt.Errorf("give --%s / %s or --%s / %s, not both", a, EnvName(a), b, EnvName(b))
	}
	needs := func(a string) error {
		return fmt.Errorf("--%s / %s needs --redis-sentinels / %s", a, EnvName(a), EnvName("redis-sentinels"))
	}
	if len(r.Sentinels) == 0 {
		switch {
		case s.given["redis-master"]:
			return needs("redis-master")
		case r.SentinelPassword != "":
			return needs("redis-sentinel-password")
		}
		return nil
	}
	switch {
	case r.URL != "":
		return both("redis-url", "redis-sentinels")
	case s.given["redis-addr"]:
		return both("redis-addr", "redis-sentinels")
	case r.Master == "":
		return fmt.Errorf("--redis-master / %s must name the Sentinels' master group (got \"\")", EnvName("redis-master"))
	}
	return nil
}

// sentinelsFlag is a comma-separated list of host:port.
type sentinelsFlag struct{ addrs *[]string }

func (f *sentinelsFlag) String() string {
	if f.addrs == nil {
		return ""
	}
	return strings.Join(*f.addrs, ",")
}

func (f *sentinelsFlag) Set(v string) error {
	var addrs []string
	for part := range strings.SplitSeq(v, ",") {
		addr := strings.TrimSpace(part)
		host, port, err := net.SplitHostPort(addr)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q is not host:port with a port from 1 to 65535", addr)
		}
		if slices.Contains(addrs, addr) {
			return fmt.Errorf("%s is listed twice", addr)
		}
		addrs = append(addrs, addr)
	}
	*f.addrs = addrs
	return nil
}

// Wait is how many replicas must acknowledge a submission before the API
// accepts it.
type Wait struct {
	// Replicas is WAIT's numreplicas (0: do not wait).
	Replicas int
	// Timeout bounds the wait; a submission not acknowledged within it is
	// refused as not replicated (it may exist: its key finds it).
	Timeout time.Duration
}

// Bounds of Wait. WAIT takes whole milliseconds and 0 means forever, so
// the timeout is at least 1 ms; past 2 s a client is better answered 503
// and retried with its key (the API answers an unreachable Redis within 2 s
// too). 10 replicas is more than any environment runs.
const (
	maxWaitReplicas = 10
	minWaitTimeout  = time.Millisecond
	maxWaitTimeout  = 2 * time.Second
)

func (s *set) wait(w *Wait) {
	s.integer(&w.Replicas, "redis-wait-replicas", 0, 0, maxWaitReplicas,
		"replicas that must acknowledge a submission (Redis WAIT) before the API answers 202; 0: do not wait")
	name := "redis-wait-timeout"
	s.dur(&w.Timeout, name, 500*time.Millisecond, fmt.Sprintf("how long a submission waits for --redis-wait-replicas (%s..%s)", minWaitTimeout, maxWaitTimeout))
	s.checks = append(s.checks, func() error {
		if w.Timeout < minWaitTimeout || w.Timeout > maxWaitTimeout {
			return fmt.Errorf("--%s / %s must be from %s to %s (got %s)", name, EnvName(name), minWaitTimeout, maxWaitTimeout, w.Timeout)
		}
		return nil
	})
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
	s.boolean(&c.Pprof, "pprof", false, "serve CPU, heap, mutex and block profiles under /debug/pprof/ (for profiling; never through nginx)")
	s.retention(&c.Retention)
}

// retention registers --retention, the default of --retention-completed,
// --retention-failed and --retention-cancelled.
func (s *set) retention(r *Retention) {
	all := new(time.Duration)
	s.positive(all, "retention", 7*24*time.Hour, "how long finished tasks and their results are kept, unless set per final state")
	for _, st := range []struct {
		p      *time.Duration
		name   string
		max    time.Duration
		bounds string
	}{
		{&r.Completed, "completed", 0, "at least 1s"},
		{&r.Failed, "failed", maxArchived, "from 1s to 2160h (asynq keeps failed and cancelled tasks at most 90 days)"},
		{&r.Cancelled, "cancelled", maxArchived, "from 1s to 2160h (asynq keeps failed and cancelled tasks at most 90 days)"},
	} {
		name := "retention-" + st.name
		v := &optionalDuration{d: st.p}
		s.value(v, name, "how long "+st.name+" tasks are kept (default: --retention)")
		s.checks = append(s.checks, func() error {
			if !v.set {
				*st.p = *all
			}
			if *st.p < time.Second || (st.max > 0 && *st.p > st.max) {
				return fmt.Errorf("--%s / %s must be %s (got %s)", name, EnvName(name), st.bounds, *st.p)
			}
			return nil
		})
	}
}

// optionalDuration is a duration flag that tells unset from set.
type optionalDuration struct {
	d   *time.Duration
	set bool
}

func (o *optionalDuration) String() string {
	if o.d == nil || !o.set {
		return ""
	}
	return o.d.String()
}

func (o *optionalDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*o.d, o.set = d, true
	return nil
}

// budget registers what the task budgets derive from; api and worker share
// them, so both refuse the same payloads.
func (s *set) budget(b *Budget) {
	s.integer(&b.WorkerMemoryMB, "worker-memory-mb", 0, 0, 1<<20,
		"memory limit of one worker container in MiB (0: none); each of its slots gets 72% of it divided by its concurrency")
	s.number(&b.WorkerCPUs, "worker-cpus", 0, 0, 1024,
		"CPUs of one worker container (0: one per slot); a task must fit in its type's timeout at the slot's share")
	s.integer(&b.TaskMemoryMB, "task-memory-mb", 0, 0, 1<<20, "memory one task may hold, in MiB, instead of the derived share (0: derive)")
	s.nonNegative(&b.TaskWork, "task-work-budget", 0, "CPU time of one core one task may need, e.g. 60s (0: what fits in 80% of its type's timeout)")
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
	s.integer(&c.WorkerConcurrency, "worker-concurrency", 4, 1, 1024, "tasks a worker runs at the same time (set it like the workers')")
	s.budget(&c.Budget)
	s.value(c.Weights, "queue-weights", "queue weights reported by GET /v1/queues (set it like the workers')")
	s.auth(&c.Auth)
	s.wait(&c.Wait)
	return c, s.parse(args, getenv)
}

// ParseWorker reads the worker role's settings.
func ParseWorker(args []string, getenv func(string) string, out io.Writer) (Worker, error) {
	c := Worker{Weights: DefaultWeights()}
	s := newSet("worker", workerSummary, out)
	s.str(&c.Listen, "listen", ":9090", "listen address of /healthz, /readyz and /metrics")
	s.common(&c.Common)
	s.integer(&c.Concurrency, "worker-concurrency", 4, 1, 1024, "tasks run at the same time")
	s.budget(&c.Budget)
	s.value(c.Weights, "queue-weights", "share of worker attention per queue")
	s.boolean(&c.StrictPriority, "strict-priority", false, "always empty higher queues first (lower queues can starve)")
	s.positive(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long running tasks may finish before they are requeued")
	s.bounded(&c.PollInterval, "poll-interval", time.Millisecond, time.Nanosecond, maxPollInterval,
		"how soon an idle worker polls the queues again after finding them empty and waiting out --idle-wait (asynq waits half to one and a half of it)")
	s.bounded(&c.IdleWait, "idle-wait", time.Second, 0, maxIdleWait,
		"the longest an idle worker waits for a submission's wake-up before it polls again (0: no wake-up, poll every --poll-interval)")
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
	s.secret(&c.Password, "monitor-password", "basic auth password")
	s.optionalURL(&c.PrometheusURL, "monitor-prometheus-url", "Prometheus base URL for the dashboard's metrics charts (empty: no charts)")
	return c, s.parse(args, getenv)
}

// Logger returns a JSON logger tagged with role and instance.
func Logger(w io.Writer, level slog.Level, role, instance string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(h).With("role", role, "instance", instance)
}
