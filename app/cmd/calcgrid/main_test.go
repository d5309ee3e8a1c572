package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func runCmd(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommands(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer ok.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()

	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string // in stdout or stderr
	}{
		{"version", nil, []string{"version"}, 0, "dev"},
		{"no command", nil, nil, 2, "Usage: calcgrid <command>"},
		{"unknown command", nil, []string{"serve"}, 2, `unknown command "serve"`},
		{"api help", nil, []string{"api", "--help"}, 0, "CALCGRID_QUEUE_MAX_PENDING"},
		{"worker help", nil, []string{"worker", "--help"}, 0, "CALCGRID_WORKER_CONCURRENCY"},
		{"monitor help", nil, []string{"monitor", "--help"}, 0, "CALCGRID_MONITOR_READONLY"},
		{"bad env", map[string]string{"CALCGRID_WORKER_CONCURRENCY": "0"}, []string{"worker"}, 2, "CALCGRID_WORKER_CONCURRENCY"},
		{"bad weights", map[string]string{"CALCGRID_QUEUE_WEIGHTS": "high=6,urgent=1"}, []string{"worker"}, 2, `unknown queue "urgent"`},
		{"bad flag", nil, []string{"api", "--listen"}, 2, "flag needs an argument"},
		{"probe ok", nil, []string{"probe", ok.URL}, 0, "200 OK"},
		{"probe 503", nil, []string{"probe", down.URL}, 1, "503"},
		{"probe refused", nil, []string{"probe", "http://127.0.0.1:1/healthz"}, 1, "connection refused"},
		{"probe usage", nil, []string{"probe"}, 2, "usage: calcgrid probe <url>"},
		{"probe tcp", nil, []string{"probe", "tcp://" + strings.TrimPrefix(ok.URL, "http://")}, 0, "connected"},
		{"probe tcp refused", nil, []string{"probe", "tcp://127.0.0.1:1"}, 1, "connection refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, c.env, c.args...)
			if code != c.code || !strings.Contains(stdout+stderr, c.want) {
				t.Errorf("exit %d (want %d); want %q in output:\n%s%s", code, c.code, c.want, stdout, stderr)
			}
		})
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	for role, vars := range map[string][]string{
		"api": {"CALCGRID_LISTEN", "CALCGRID_REDIS_ADDR", "CALCGRID_REDIS_USERNAME", "CALCGRID_REDIS_PASSWORD", "CALCGRID_REDIS_DB", "CALCGRID_REDIS_URL",
			"CALCGRID_INSTANCE", "CALCGRID_DIAGNOSTICS", "CALCGRID_RETENTION", "CALCGRID_RETENTION_COMPLETED", "CALCGRID_RETENTION_FAILED",
			"CALCGRID_RETENTION_CANCELLED", "CALCGRID_QUEUE_MAX_PENDING", "CALCGRID_LOG_LEVEL", "CALCGRID_QUEUE_WEIGHTS",
			"CALCGRID_AUTH", "CALCGRID_ADMIN_TOKEN_FILE", "CALCGRID_ID_SECRET_FILE"},
		"worker": {"CALCGRID_LISTEN", "CALCGRID_REDIS_ADDR", "CALCGRID_REDIS_USERNAME", "CALCGRID_REDIS_PASSWORD", "CALCGRID_INSTANCE", "CALCGRID_DIAGNOSTICS", "CALCGRID_WORKER_CONCURRENCY",
			"CALCGRID_QUEUE_WEIGHTS", "CALCGRID_STRICT_PRIORITY", "CALCGRID_SHUTDOWN_TIMEOUT", "CALCGRID_POLL_INTERVAL", "CALCGRID_IDLE_WAIT", "CALCGRID_RETENTION", "CALCGRID_RETENTION_COMPLETED",
			"CALCGRID_RETENTION_FAILED", "CALCGRID_RETENTION_CANCELLED", "CALCGRID_LOG_LEVEL"},
		"monitor": {"CALCGRID_LISTEN", "CALCGRID_REDIS_ADDR", "CALCGRID_REDIS_USERNAME", "CALCGRID_REDIS_PASSWORD", "CALCGRID_REDIS_URL", "CALCGRID_MONITOR_READONLY", "CALCGRID_MONITOR_USER", "CALCGRID_MONITOR_PASSWORD"},
	} {
		_, _, help := runCmd(t, nil, role, "--help")
		for _, v := range vars {
			if !strings.Contains(help, "["+v+"]") {
				t.Errorf("calcgrid %s --help does not list %s", role, v)
			}
		}
	}
}
