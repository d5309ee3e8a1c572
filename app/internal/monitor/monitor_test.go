package monitor_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/calcgrid/calcgrid/app/internal/config"
	"github.com/calcgrid/calcgrid/app/internal/monitor"
	"github.com/calcgrid/calcgrid/app/internal/nettest"
	"github.com/calcgrid/calcgrid/app/internal/redistest"
)

// startMonitor serves the dashboard on a free port and returns its base URL;
// the server stops when the test ends.
func startMonitor(t *testing.T, cfg config.Monitor) string {
	t.Helper()
	d, err := monitor.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(func() {
		srv.Close()
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv.URL
}

// request is one dashboard call and what it must answer; asynqmon's API
// sends JSON without a Content-Type, so those cases leave wantContentType empty.
type request struct {
	method, path     string
	user, password   string
	wantStatus       int
	wantContentType  string
	wantBodyContains string
}

func (rq request) do(t *testing.T, base string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), rq.method, base+rq.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rq.user != "" {
		req.SetBasicAuth(rq.user, rq.password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != rq.wantStatus {
		t.Fatalf("%s %s: status %d, want %d; body: %.200s", rq.method, rq.path, resp.StatusCode, rq.wantStatus, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, rq.wantContentType) {
		t.Errorf("%s %s: Content-Type %q, want %q", rq.method, rq.path, ct, rq.wantContentType)
	}
	if !strings.Contains(string(body), rq.wantBodyContains) {
		t.Errorf("%s %s: body %.200q does not contain %q", rq.method, rq.path, body, rq.wantBodyContains)
	}
	return body
}

func TestDashboard(t *testing.T) {
	redis := startRedis(t, "monitor")
	enqueue(t, redis, "medium")
	base := startMonitor(t, config.Monitor{Redis: redis})

	for _, rq := range []request{
		{method: "GET", path: "/healthz", wantStatus: 200, wantContentType: "application/json", wantBodyContains: `{"status":"ok"}`},
		{method: "GET", path: "/", wantStatus: 200, wantContentType: "text/html", wantBodyContains: "<html"},
		{method: "GET", path: "/queues/medium", wantStatus: 200, wantContentType: "text/html", wantBodyContains: "<html"},
		{method: "GET", path: "/api/queues", wantStatus: 200, wantBodyContains: `"queue":"medium"`},
		{method: "GET", path: "/api/servers", wantStatus: 200, wantBodyContains: `"servers"`},
		// asynq's queue collector, the series asynqmon's charts query.
		{method: "GET", path: "/metrics", wantStatus: 200, wantContentType: "text/plain", wantBodyContains: `asynq_queue_size{queue="medium"} 1`},
	} {
		t.Run(rq.method+rq.path, func(t *testing.T) { rq.do(t, base) })
	}

	t.Run("pause", func(t *testing.T) {
		request{method: "POST", path: "/api/queues/medium:pause", wantStatus: 204}.do(t, base)
		var resp struct {
			Queues []struct {
				Queue  string `json:"queue"`
				Paused bool   `json:"paused"`
			} `json:"queues"`
		}
		body := request{method: "GET", path: "/api/queues", wantStatus: 200}.do(t, base)
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.Queues) != 1 || !resp.Queues[0].Paused {
			t.Errorf("queues after pause: %s", body)
		}
	})
}

func TestReadOnly(t *testing.T) {
	redis := startRedis(t, "monitor-readonly")
	enqueue(t, redis, "low")
	base := startMonitor(t, config.Monitor{Redis: redis, ReadOnly: true})

	for _, rq := range []request{
		{method: "GET", path: "/api/queues", wantStatus: 200, wantBodyContains: `"paused":false`},
		{method: "POST", path: "/api/queues/low:pause", wantStatus: 405, wantContentType: "text/plain", wantBodyContains: "read-only"},
		{method: "DELETE", path: "/api/queues/low/pending_tasks:delete_all", wantStatus: 405, wantContentType: "text/plain", wantBodyContains: "read-only"},
		{method: "GET", path: "/api/queues", wantStatus: 200, wantBodyContains: `"paused":false`},
	} {
		rq.do(t, base)
	}
	info, err := asynq.NewInspector(as(redis, "admin")).GetQueueInfo("low")
	if err != nil {
		t.Fatal(err)
	}
	if info.Paused || info.Pending != 1 {
		t.Errorf("read-only dashboard changed the queue: paused=%v pending=%d", info.Paused, info.Pending)
	}
}

// TestReadOnlySetting follows CALCGRID_MONITOR_READONLY (and its flag) the
// way the monitor role reads it, through config.ParseMonitor into Run. With
// it on, the dashboard's API refuses to pause a queue or delete a task and
// Redis is unchanged; with it off, both work.
func TestReadOnlySetting(t *testing.T) {
	const variable = "CALCGRID_MONITOR_READONLY"
	for _, c := range []struct {
		name     string
		args     []string
		env      map[string]string
		readOnly bool
	}{
		{"unset", nil, nil, false},
		{"variable true", nil, map[string]string{variable: "true"}, true},
		{"variable 1", nil, map[string]string{variable: "1"}, true},
		{"variable false", nil, map[string]string{variable: "false"}, false},
		{"flag", []string{"--monitor-readonly"}, nil, true},
		{"flag wins over variable", []string{"--monitor-readonly=false"}, map[string]string{variable: "true"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			user := "monitor"
			if c.readOnly {
				user = "monitor-readonly"
			}
			redis := startRedis(t, user)
			id := enqueue(t, redis, "low")
			env := map[string]string{"CALCGRID_REDIS_ADDR": redis.Addr, "CALCGRID_LISTEN": nettest.FreeAddr(t),
				"CALCGRID_REDIS_USERNAME": redis.Username, "CALCGRID_REDIS_PASSWORD": redis.Password}
			maps.Copy(env, c.env)
			cfg, err := config.ParseMonitor(c.args, func(k string) string { return env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			base := runMonitor(t, cfg)

			want, wantType, wantBody := http.StatusNoContent, "", ""
			if c.readOnly {
				want, wantType, wantBody = http.StatusMethodNotAllowed, "text/plain", "read-only"
			}
			for _, rq := range []request{
				{method: "POST", path: "/api/queues/low:pause"},
				{method: "DELETE", path: "/api/queues/low/pending_tasks/" + id},
			} {
				rq.wantStatus, rq.wantContentType, rq.wantBodyContains = want, wantType, wantBody
				rq.do(t, base)
			}
			info, err := asynq.NewInspector(as(redis, "admin")).GetQueueInfo("low")
			if err != nil {
				t.Fatal(err)
			}
			if info.Paused == c.readOnly || (info.Pending == 1) != c.readOnly {
				t.Errorf("read-only %v: after pause and delete the queue is paused=%v with %d pending", c.readOnly, info.Paused, info.Pending)
			}
		})
	}
}

func TestBasicAuth(t *testing.T) {
	redis := startRedis(t, "monitor")
	base := startMonitor(t, config.Monitor{Redis: redis, User: "ops", Password: "s3cret"})

	const json, text = "application/json", "text/plain"
	for name, rq := range map[string]request{
		"healthz needs no credentials": {method: "GET", path: "/healthz", wantStatus: 200, wantContentType: json},
		"no credentials":               {method: "GET", path: "/", wantStatus: 401, wantContentType: text},
		"api without credentials":      {method: "GET", path: "/api/queues", wantStatus: 401, wantContentType: text},
		"metrics without credentials":  {method: "GET", path: "/metrics", wantStatus: 401, wantContentType: text},
		"right credentials, metrics":   {method: "GET", path: "/metrics", user: "ops", password: "s3cret", wantStatus: 200, wantContentType: text},
		"wrong password":               {method: "GET", path: "/api/queues", user: "ops", password: "s3cre", wantStatus: 401, wantContentType: text},
		"wrong user":                   {method: "GET", path: "/api/queues", user: "op", password: "s3cret", wantStatus: 401, wantContentType: text},
		"right credentials, UI":        {method: "GET", path: "/", user: "ops", password: "s3cret", wantStatus: 200, wantContentType: "text/html"},
		"right credentials, API":       {method: "GET", path: "/api/queues", user: "ops", password: "s3cret", wantStatus: 200, wantBodyContains: `"queues"`},
	} {
		t.Run(name, func(t *testing.T) { rq.do(t, base) })
	}

	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
		t.Errorf("WWW-Authenticate = %q, want a Basic challenge so browsers prompt", got)
	}
}

func TestConfigErrors(t *testing.T) {
	redis := config.Redis{Addr: "127.0.0.1:1"}
	for name, tc := range map[string]struct {
		cfg  config.Monitor
		want string
	}{
		"user only":        {config.Monitor{Listen: "127.0.0.1:0", Redis: redis, User: "ops"}, "CALCGRID_MONITOR_PASSWORD"},
		"password only":    {config.Monitor{Listen: "127.0.0.1:0", Redis: redis, Password: "x"}, "CALCGRID_MONITOR_USER"},
		"bad redis url":    {config.Monitor{Listen: "127.0.0.1:0", Redis: config.Redis{URL: "http://x"}}, "CALCGRID_REDIS_URL"},
		"unusable address": {config.Monitor{Listen: "127.0.0.1:-1", Redis: redis}, "listen on 127.0.0.1:-1"},
	} {
		t.Run(name, func(t *testing.T) {
			err := monitor.Run(t.Context(), tc.cfg, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run() error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestRunStops checks that Run listens on the configured address and returns
// nil once its context is cancelled.
func TestRunStops(t *testing.T) {
	redis := startRedis(t, "monitor")
	addr := nettest.FreeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- monitor.Run(ctx, config.Monitor{Listen: addr, Redis: redis}, slog.New(slog.DiscardHandler))
	}()

	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("monitor did not come up on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of cancellation")
	}
}

// enqueue adds a task to queue and returns its id.
func enqueue(t *testing.T, redis config.Redis, queue string) string {
	t.Helper()
	c := asynq.NewClient(as(redis, "api"))
	defer c.Close()
	info, err := c.Enqueue(asynq.NewTask("diagnostic.noop", []byte("{}")), asynq.Queue(queue))
	if err != nil {
		t.Fatal(err)
	}
	return info.ID
}

// runMonitor runs the monitor role on cfg.Listen until the test ends and
// returns its base URL once it answers.
func runMonitor(t *testing.T, cfg config.Monitor) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- monitor.Run(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("monitor.Run: %v", err)
		}
	})
	base := "http://" + cfg.Listen
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			t.Fatalf("monitor did not come up on %s: %v", cfg.Listen, err)
		}
	}
}

// startRedis starts a redis-server with the stack's users and returns the
// dashboard's setting, logged in as user.
func startRedis(t *testing.T, user string) config.Redis {
	o := redistest.StartACL(t).Login(user)
	return config.Redis{Addr: o.Addr, Username: o.Username, Password: o.Password}
}

// as is the connection of another of the stack's users (the API enqueues,
// an operator inspects) to the redis-server behind r.
func as(r config.Redis, user string) asynq.RedisClientOpt {
	return asynq.RedisClientOpt{Addr: r.Addr, Username: user, Password: redistest.Password(user)}
}

// TestDashboardThroughSentinel: with the Sentinel settings alone the
// dashboard's clients (asynqmon's and the queue collector's, built through
// config.Redis.ConnOpt) reach the primary.
func TestDashboardThroughSentinel(t *testing.T) {
	h := redistest.StartHA(t, 1)
	direct := h.Primary.Login("api")
	enqueue(t, config.Redis{Addr: direct.Addr}, "medium")
	base := startMonitor(t, config.Monitor{Redis: config.Redis{
		Sentinels: []string{h.Sentinel.Addr}, Master: redistest.Master, SentinelPassword: redistest.SentinelPassword,
		Username: "monitor", Password: redistest.Password("monitor"),
	}})
	for _, rq := range []request{
		{method: "GET", path: "/api/queues", wantStatus: 200, wantBodyContains: `"queue":"medium"`},
		{method: "GET", path: "/metrics", wantStatus: 200, wantContentType: "text/plain", wantBodyContains: `asynq_queue_size{queue="medium"} 1`},
	} {
		t.Run(rq.method+rq.path, func(t *testing.T) { rq.do(t, base) })
	}
}
