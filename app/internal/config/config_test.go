package config

import (
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPrecedence(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"default", nil, nil, ":9090"},
		{"environment", nil, map[string]string{"CALCGRID_LISTEN": ":7000"}, ":7000"},
		{"flag wins", []string{"--listen", ":7001"}, map[string]string{"CALCGRID_LISTEN": ":7000"}, ":7001"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, err := ParseWorker(c.args, env(c.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if w.Listen != c.want {
				t.Errorf("Listen = %q, want %q", w.Listen, c.want)
			}
		})
	}
}

func TestWorkerSettings(t *testing.T) {
	w, err := ParseWorker(nil, env(map[string]string{
		"CALCGRID_WORKER_CONCURRENCY": "8", "CALCGRID_QUEUE_WEIGHTS": "high=10, medium=5, low=1",
		"CALCGRID_STRICT_PRIORITY": "true", "CALCGRID_SHUTDOWN_TIMEOUT": "45s", "CALCGRID_LOG_LEVEL": "debug",
		"CALCGRID_POLL_INTERVAL": "50ms", "CALCGRID_IDLE_WAIT": "0",
		"CALCGRID_RETENTION": "24h", "CALCGRID_DIAGNOSTICS": "1", "CALCGRID_INSTANCE": "w-1",
		"CALCGRID_REDIS_USERNAME": "worker", "CALCGRID_REDIS_PASSWORD": "pw",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if w.Concurrency != 8 || w.Weights["high"] != 10 || w.Weights["low"] != 1 || !w.StrictPriority ||
		w.ShutdownTimeout != 45*time.Second || w.PollInterval != 50*time.Millisecond || w.IdleWait != 0 || w.LogLevel != slog.LevelDebug || w.Retention != (Retention{24 * time.Hour, 24 * time.Hour, 24 * time.Hour}) ||
		!w.Diagnostics || w.Instance != "w-1" || w.Redis.Username != "worker" || w.Redis.Password != "pw" {
		t.Errorf("worker config = %+v", w)
	}
}

// TestPollingDefaults: a worker waits for wake-ups and polls right after
// one; the old polling (50ms, no wake-up) is a setting away.
func TestPollingDefaults(t *testing.T) {
	w, err := ParseWorker(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if w.PollInterval != time.Millisecond || w.IdleWait != time.Second {
		t.Errorf("poll interval %s, idle wait %s; want 1ms and 1s", w.PollInterval, w.IdleWait)
	}
}

// TestRetentionPerState: --retention is the default of each final state's
// own setting; a state set explicitly keeps its value.
func TestRetentionPerState(t *testing.T) {
	a, err := ParseAPI([]string{"--retention-failed", "720h"}, env(map[string]string{
		"CALCGRID_RETENTION": "24h", "CALCGRID_RETENTION_CANCELLED": "1h",
	}), io.Discard)
	if want := (Retention{Completed: 24 * time.Hour, Failed: 720 * time.Hour, Cancelled: time.Hour}); err != nil || a.Retention != want {
		t.Errorf("retention = %+v (%v), want %+v", a.Retention, err, want)
	}
}

func TestInvalidSettings(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"CALCGRID_WORKER_CONCURRENCY": "0"}, "CALCGRID_WORKER_CONCURRENCY must be ≥ 1"},
		{map[string]string{"CALCGRID_WORKER_CONCURRENCY": "many"}, `CALCGRID_WORKER_CONCURRENCY="many"`},
		{map[string]string{"CALCGRID_QUEUE_WEIGHTS": "high=6,medium=3"}, "missing weight for queue low"},
		{map[string]string{"CALCGRID_QUEUE_WEIGHTS": "high=0,medium=3,low=1"}, "weight of high must be"},
		{map[string]string{"CALCGRID_SHUTDOWN_TIMEOUT": "-1s"}, "must be a positive duration"},
		{map[string]string{"CALCGRID_POLL_INTERVAL": "0"}, "--poll-interval / CALCGRID_POLL_INTERVAL must be a positive duration of at most 10s (got 0s)"},
		{map[string]string{"CALCGRID_POLL_INTERVAL": "11s"}, "CALCGRID_POLL_INTERVAL must be a positive duration of at most 10s (got 11s)"},
		{map[string]string{"CALCGRID_IDLE_WAIT": "-1ms"}, "--idle-wait / CALCGRID_IDLE_WAIT must be a duration from 0 to 1m0s (got -1ms)"},
		{map[string]string{"CALCGRID_IDLE_WAIT": "2m"}, "CALCGRID_IDLE_WAIT must be a duration from 0 to 1m0s (got 2m0s)"},
		{map[string]string{"CALCGRID_LOG_LEVEL": "loud"}, "CALCGRID_LOG_LEVEL"},
		{map[string]string{"CALCGRID_REDIS_DB": "16"}, "CALCGRID_REDIS_DB must be"},
		{map[string]string{"CALCGRID_RETENTION_FAILED": "2161h"}, "CALCGRID_RETENTION_FAILED must be from 1s to 2160h"},
		{map[string]string{"CALCGRID_RETENTION_COMPLETED": "0s"}, "CALCGRID_RETENTION_COMPLETED must be at least 1s"},
	} {
		_, err := ParseWorker(nil, env(c.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to mention %q", c.env, err, c.want)
		}
	}
}

func TestRedisOptions(t *testing.T) {
	opt, err := Redis{Addr: "h:1", Username: "api", Password: "p", DB: 2}.options()
	if err != nil || opt.Addr != "h:1" || opt.Username != "api" || opt.Password != "p" || opt.DB != 2 || opt.DialTimeout != redisDialTimeout {
		t.Errorf("options = %+v, %v", opt, err)
	}
	opt, err = Redis{Addr: "ignored:1", URL: "redis://:secret@redis:6380/3"}.options()
	if err != nil || opt.Addr != "redis:6380" || opt.Username != "" || opt.Password != "secret" || opt.DB != 3 || opt.ReadTimeout != redisIOTimeout {
		t.Errorf("URL options = %+v, %v", opt, err)
	}
	opt, err = Redis{URL: "redis://worker:secret@redis:6380"}.options()
	if err != nil || opt.Username != "worker" || opt.Password != "secret" {
		t.Errorf("URL with a user: options = %+v, %v", opt, err)
	}
	if _, err := (Redis{URL: "http://x"}).options(); err == nil || !strings.Contains(err.Error(), "CALCGRID_REDIS_URL") {
		t.Errorf("bad URL error = %v", err)
	}
}

// TestMonitorPrometheusURL: the dashboard's Prometheus address is optional,
// and a value that is not an http(s) URL is refused, not ignored.
func TestMonitorPrometheusURL(t *testing.T) {
	for _, c := range []struct {
		value, wantErr string
	}{
		{"", ""},
		{"http://calcgrid-dev-prometheus-1:9090", ""},
		{"calcgrid-dev-prometheus-1:9090", "CALCGRID_MONITOR_PROMETHEUS_URL must be an http(s) URL"},
		{"ftp://x", "CALCGRID_MONITOR_PROMETHEUS_URL must be an http(s) URL"},
	} {
		m, err := ParseMonitor(nil, env(map[string]string{"CALCGRID_MONITOR_PROMETHEUS_URL": c.value}), io.Discard)
		switch {
		case c.wantErr == "" && (err != nil || m.PrometheusURL != c.value):
			t.Errorf("%q: %+v, %v", c.value, m, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%q: error %v, want it to mention %q", c.value, err, c.wantErr)
		}
	}
}

// TestSecretFiles: a password comes from its variable or from the file its
// _FILE variable names (trailing line ends dropped), never both.
func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o400); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pw, crlf, empty := write("pw", "s3cret\n"), write("crlf", "s3cret\r\n"), write("empty", "\n")
	for _, c := range []struct {
		name      string
		env       map[string]string
		want, err string
	}{
		{"variable", map[string]string{"CALCGRID_REDIS_PASSWORD": "v"}, "v", ""},
		{"file", map[string]string{"CALCGRID_REDIS_PASSWORD_FILE": pw}, "s3cret", ""},
		{"file with CRLF", map[string]string{"CALCGRID_REDIS_PASSWORD_FILE": crlf}, "s3cret", ""},
		{"both", map[string]string{"CALCGRID_REDIS_PASSWORD": "v", "CALCGRID_REDIS_PASSWORD_FILE": pw}, "",
			"give --redis-password / CALCGRID_REDIS_PASSWORD or --redis-password-file / CALCGRID_REDIS_PASSWORD_FILE, not both"},
		{"missing file", map[string]string{"CALCGRID_REDIS_PASSWORD_FILE": filepath.Join(dir, "nope")}, "", "CALCGRID_REDIS_PASSWORD_FILE: open"},
		{"empty file", map[string]string{"CALCGRID_REDIS_PASSWORD_FILE": empty}, "", "must hold at least 1 bytes (it holds 0)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, err := ParseWorker(nil, env(c.env), io.Discard)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want it to mention %q", err, c.err)
				}
				return
			}
			if err != nil || w.Redis.Password != c.want {
				t.Fatalf("password %q (%v), want %q", w.Redis.Password, err, c.want)
			}
		})
	}
	m, err := ParseMonitor(nil, env(map[string]string{"CALCGRID_MONITOR_USER": "u", "CALCGRID_MONITOR_PASSWORD_FILE": pw}), io.Discard)
	if err != nil || m.Password != "s3cret" {
		t.Errorf("monitor password %q (%v), want s3cret", m.Password, err)
	}
}

// TestSentinelSettings: the contract's redis_ha variables, for every role;
// a setting that Sentinels would make ignored, or that needs them, is an
// error naming the flags.
func TestSentinelSettings(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "sentinel-password")
	if err := os.WriteFile(pwFile, []byte("s3ntinel\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ha := map[string]string{
		"CALCGRID_REDIS_SENTINELS": "sentinel-1:26379, sentinel-2:26379,sentinel-3:26379", "CALCGRID_REDIS_MASTER": "calcgrid",
		"CALCGRID_REDIS_SENTINEL_PASSWORD_FILE": pwFile, "CALCGRID_REDIS_USERNAME": "api", "CALCGRID_REDIS_PASSWORD": "pw",
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := maps.Clone(m)
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	for _, c := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"contract", ha, ""},
		{"master by default", with(map[string]string{"CALCGRID_REDIS_SENTINELS": "s:26379"}), ""},
		{"no sentinels: as today", map[string]string{"CALCGRID_REDIS_ADDR": "redis:6379"}, ""},
		{"url and sentinels", with(ha, "CALCGRID_REDIS_URL", "redis://r:6379"),
			"give --redis-url / CALCGRID_REDIS_URL or --redis-sentinels / CALCGRID_REDIS_SENTINELS, not both"},
		{"addr and sentinels", with(ha, "CALCGRID_REDIS_ADDR", "redis:6379"),
			"give --redis-addr / CALCGRID_REDIS_ADDR or --redis-sentinels / CALCGRID_REDIS_SENTINELS, not both"},
		{"master without sentinels", map[string]string{"CALCGRID_REDIS_MASTER": "calcgrid"},
			"--redis-master / CALCGRID_REDIS_MASTER needs --redis-sentinels / CALCGRID_REDIS_SENTINELS"},
		{"sentinel password without sentinels", map[string]string{"CALCGRID_REDIS_SENTINEL_PASSWORD": "x"},
			"--redis-sentinel-password / CALCGRID_REDIS_SENTINEL_PASSWORD needs --redis-sentinels"},
		{"password and its file", with(ha, "CALCGRID_REDIS_SENTINEL_PASSWORD", "x"),
			"give --redis-sentinel-password / CALCGRID_REDIS_SENTINEL_PASSWORD or --redis-sentinel-password-file"},
		{"no port", with(ha, "CALCGRID_REDIS_SENTINELS", "sentinel-1"), `"sentinel-1" is not host:port`},
		{"bad port", with(ha, "CALCGRID_REDIS_SENTINELS", "s:0"), `"s:0" is not host:port with a port from 1 to 65535`},
		{"empty entry", with(ha, "CALCGRID_REDIS_SENTINELS", "s:1,,t:2"), `"" is not host:port`},
		{"twice", with(ha, "CALCGRID_REDIS_SENTINELS", "s:1,s:1"), "s:1 is listed twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			parsers := map[string]func() (Redis, error){
				"api":     func() (Redis, error) { a, err := ParseAPI(nil, env(c.env), io.Discard); return a.Redis, err },
				"worker":  func() (Redis, error) { w, err := ParseWorker(nil, env(c.env), io.Discard); return w.Redis, err },
				"monitor": func() (Redis, error) { m, err := ParseMonitor(nil, env(c.env), io.Discard); return m.Redis, err },
			}
			for role, parse := range parsers {
				r, err := parse()
				if c.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), c.wantErr) {
						t.Errorf("%s: error %v, want it to mention %q", role, err, c.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", role, err)
				}
				if c.name == "contract" && (!slices.Equal(r.Sentinels, []string{"sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379"}) ||
					r.Master != "calcgrid" || r.SentinelPassword != "s3ntinel" || r.Username != "api" || r.Password != "pw") {
					t.Errorf("%s: %+v", role, r)
				}
				if c.name == "master by default" && r.Master != "calcgrid" {
					t.Errorf("%s: master %q, want calcgrid", role, r.Master)
				}
			}
		})
	}
}

// TestWaitSettings: --redis-wait-replicas and --redis-wait-timeout are the
// API's, bounded; 0 replicas (the default) does not wait.
func TestWaitSettings(t *testing.T) {
	for _, c := range []struct {
		env     map[string]string
		want    Wait
		wantErr string
	}{
		{nil, Wait{0, 500 * time.Millisecond}, ""},
		{map[string]string{"CALCGRID_REDIS_WAIT_REPLICAS": "1", "CALCGRID_REDIS_WAIT_TIMEOUT": "500ms"}, Wait{1, 500 * time.Millisecond}, ""},
		{map[string]string{"CALCGRID_REDIS_WAIT_REPLICAS": "2", "CALCGRID_REDIS_WAIT_TIMEOUT": "1ms"}, Wait{2, time.Millisecond}, ""},
		{map[string]string{"CALCGRID_REDIS_WAIT_REPLICAS": "-1"}, Wait{}, "--redis-wait-replicas / CALCGRID_REDIS_WAIT_REPLICAS must be ≥ 0 and ≤ 10 (got -1)"},
		{map[string]string{"CALCGRID_REDIS_WAIT_REPLICAS": "11"}, Wait{}, "CALCGRID_REDIS_WAIT_REPLICAS must be ≥ 0 and ≤ 10 (got 11)"},
		{map[string]string{"CALCGRID_REDIS_WAIT_REPLICAS": "one"}, Wait{}, `CALCGRID_REDIS_WAIT_REPLICAS="one"`},
		// WAIT's 0 is forever: never a silent unbounded wait.
		{map[string]string{"CALCGRID_REDIS_WAIT_TIMEOUT": "0"}, Wait{}, "--redis-wait-timeout / CALCGRID_REDIS_WAIT_TIMEOUT must be from 1ms to 2s (got 0s)"},
		{map[string]string{"CALCGRID_REDIS_WAIT_TIMEOUT": "500us"}, Wait{}, "CALCGRID_REDIS_WAIT_TIMEOUT must be from 1ms to 2s (got 500µs)"},
		{map[string]string{"CALCGRID_REDIS_WAIT_TIMEOUT": "3s"}, Wait{}, "CALCGRID_REDIS_WAIT_TIMEOUT must be from 1ms to 2s (got 3s)"},
		{map[string]string{"CALCGRID_REDIS_WAIT_TIMEOUT": "soon"}, Wait{}, `CALCGRID_REDIS_WAIT_TIMEOUT="soon"`},
	} {
		a, err := ParseAPI(nil, env(c.env), io.Discard)
		switch {
		case c.wantErr == "" && (err != nil || a.Wait != c.want):
			t.Errorf("%v: %+v, %v; want %+v", c.env, a.Wait, err, c.want)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%v: error %v, want it to mention %q", c.env, err, c.wantErr)
		}
	}
}

// TestRedisClient: Client builds a Sentinel-following client from the
// Sentinel settings, with the short timeouts of a single node's.
func TestRedisClient(t *testing.T) {
	r := Redis{Sentinels: []string{"s:26379"}, Master: "calcgrid", SentinelPassword: "sp", Username: "api", Password: "p", DB: 1}
	o, err := r.clientOptions()
	if err != nil || o.single != nil || o.failover == nil {
		t.Fatalf("options %+v, %v", o, err)
	}
	f := o.failover
	if f.MasterName != "calcgrid" || f.SentinelPassword != "sp" || f.Username != "api" || f.Password != "p" || f.DB != 1 ||
		f.DialTimeout != redisDialTimeout || f.ReadTimeout != redisIOTimeout || f.WriteTimeout != redisIOTimeout ||
		f.PoolTimeout != redisPoolTimeout || f.MaxRetries != 1 || !f.ContextTimeoutEnabled {
		t.Errorf("failover options %+v", f)
	}
	c, err := r.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A failover client's address is go-redis's placeholder.
	if c.Options().Addr != "FailoverClient" {
		t.Errorf("client address %q: not a failover client", c.Options().Addr)
	}
	conn, err := r.ConnOpt()
	if err != nil {
		t.Fatal(err)
	}
	mc := conn.MakeRedisClient().(*redis.Client)
	defer mc.Close()
	if mc.Options().Addr != "FailoverClient" {
		t.Errorf("ConnOpt's client address %q: not a failover client", mc.Options().Addr)
	}
}
