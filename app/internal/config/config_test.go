package config

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	opt, err := Redis{Addr: "h:1", Username: "api", Password: "p", DB: 2}.Options()
	if err != nil || opt.Addr != "h:1" || opt.Username != "api" || opt.Password != "p" || opt.DB != 2 || opt.DialTimeout != redisDialTimeout {
		t.Errorf("options = %+v, %v", opt, err)
	}
	opt, err = Redis{Addr: "ignored:1", URL: "redis://:secret@redis:6380/3"}.Options()
	if err != nil || opt.Addr != "redis:6380" || opt.Username != "" || opt.Password != "secret" || opt.DB != 3 || opt.ReadTimeout != redisIOTimeout {
		t.Errorf("URL options = %+v, %v", opt, err)
	}
	opt, err = Redis{URL: "redis://worker:secret@redis:6380"}.Options()
	if err != nil || opt.Username != "worker" || opt.Password != "secret" {
		t.Errorf("URL with a user: options = %+v, %v", opt, err)
	}
	if _, err := (Redis{URL: "http://x"}).Options(); err == nil || !strings.Contains(err.Error(), "CALCGRID_REDIS_URL") {
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
