package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// task is the API's task object (GET /v1/tasks/{id}).
type task struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Priority    string          `json:"priority"`
	State       string          `json:"state"`
	Attempts    int             `json:"attempts"`
	Result      json.RawMessage `json:"result"`
	Error       string          `json:"error"`
	RequestID   string          `json:"request_id"`
	CreatedAt   time.Time       `json:"created_at"`
	StartedAt   *time.Time      `json:"started_at"`
	CompletedAt *time.Time      `json:"completed_at"`
}

// submission is the body of POST /v1/tasks.
type submission struct {
	Type           string `json:"type"`
	Payload        any    `json:"payload"`
	Priority       string `json:"priority,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// reply is one answer through nginx.
type reply struct {
	status    int
	upstream  string // X-Upstream: the API instance that answered
	requestID string // X-Request-ID
	location  string
	header    http.Header
	body      []byte
	at        time.Time     // when the answer arrived
	took      time.Duration // from the request's sending
}

// apiClient talks to the stack through nginx, paced below the environment's
// per-IP rate limit so that 429s never stand in for real failures.
type apiClient struct {
	base string
	http *http.Client
	// key, when set, is sent as the bearer API key (an environment with
	// auth required).
	key string

	mu    sync.Mutex
	next  time.Time
	every time.Duration
}

func (s *stack) client(t *testing.T, v envVars) *apiClient {
	t.Helper()
	// 80% of the limit leaves room for the suite's own health probes.
	rps := 0.8 * v.Loadbalancer.RateLimitRPS
	if rps < 1 {
		t.Fatalf("loadbalancer.rate_limit_rps = %v: too low to drive the suite", v.Loadbalancer.RateLimitRPS)
	}
	return &apiClient{
		base:  s.endpoint,
		http:  &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
		every: time.Duration(float64(time.Second) / rps),
	}
}

func (c *apiClient) pace(ctx context.Context) error {
	c.mu.Lock()
	now := time.Now()
	if c.next.Before(now) {
		c.next = now
	}
	wait := c.next.Sub(now)
	c.next = c.next.Add(c.every)
	c.mu.Unlock()
	select {
	case <-time.After(wait):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// send returns transport errors instead of failing, for scenarios that count them.
func (c *apiClient) send(ctx context.Context, method, path string, body any, header http.Header) (reply, error) {
	if err := c.pace(ctx); err != nil {
		return reply{}, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	url := path
	if strings.HasPrefix(path, "/") {
		url = c.base + path
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return reply{}, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sent := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: reading body: %w", method, path, err)
	}
	return reply{
		status: resp.StatusCode, upstream: resp.Header.Get("X-Upstream"), requestID: resp.Header.Get("X-Request-ID"),
		location: resp.Header.Get("Location"), header: resp.Header, body: b, at: time.Now(), took: time.Since(sent),
	}, nil
}

// submit posts a task and fails the test unless the API accepts it (202).
func (c *apiClient) submit(t *testing.T, sub submission) (task, reply) {
	t.Helper()
	r, err := c.send(t.Context(), http.MethodPost, "/v1/tasks", sub, nil)
	if err != nil {
		t.Fatalf("submit %s: %v", sub.Type, err)
	}
	if r.status != http.StatusAccepted {
		t.Fatalf("submit %s: status %d, want 202: %s", sub.Type, r.status, r.body)
	}
	var tk task
	if err := json.Unmarshal(r.body, &tk); err != nil || tk.ID == "" {
		t.Fatalf("submit %s: task object without id (%v): %s", sub.Type, err, r.body)
	}
	return tk, r
}

// get reads a task. A 503 (Redis restarting) or a transport error is
// returned, not fatal, so that pollers can keep trying.
func (c *apiClient) get(ctx context.Context, id string) (tk task, status int, err error) {
	r, err := c.send(ctx, http.MethodGet, "/v1/tasks/"+id, nil, nil)
	if err != nil {
		return task{}, 0, err
	}
	if r.status == http.StatusOK {
		err = json.Unmarshal(r.body, &tk)
	}
	return tk, r.status, err
}

// terminal states: the task will not change any more.
func terminal(state string) bool {
	return state == "completed" || state == "failed" || state == "cancelled"
}

// waitTasks polls until every id is terminal or the timeout passes, and
// returns the last view of each: a task the API no longer knows (404) is in
// state "missing", one that did not finish in time is absent.
func (c *apiClient) waitTasks(t *testing.T, ids []string, timeout time.Duration) map[string]task {
	t.Helper()
	deadline := time.Now().Add(timeout)
	done := map[string]task{}
	for {
		for _, id := range ids {
			if _, ok := done[id]; ok {
				continue
			}
			tk, status, err := c.get(t.Context(), id)
			switch {
			case err == nil && status == http.StatusOK && terminal(tk.State):
				done[id] = tk
			case err == nil && status == http.StatusNotFound:
				// Only a store that lost the task answers 404 for an id it acknowledged.
				done[id] = task{ID: id, State: "missing"}
			}
		}
		if len(done) == len(ids) || time.Now().After(deadline) {
			return done
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitCompleted waits for each task and fails unless all completed.
func (c *apiClient) waitCompleted(t *testing.T, ids []string, timeout time.Duration) map[string]task {
	t.Helper()
	done := c.waitTasks(t, ids, timeout)
	bad := 0
	for _, id := range ids {
		tk, ok := done[id]
		if ok && tk.State == "completed" {
			continue
		}
		if bad++; bad > 10 {
			continue
		}
		if !ok {
			t.Errorf("task %s did not finish within %s", id, timeout)
		} else {
			t.Errorf("task %s ended %s (error %q), want completed", id, tk.State, tk.Error)
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d tasks did not complete", bad, len(ids))
	}
	return done
}

// waitState polls one task until pred holds.
func (c *apiClient) waitState(t *testing.T, id string, timeout time.Duration, pred func(task) bool) task {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tk, status, err := c.get(t.Context(), id)
		if err == nil && status == http.StatusOK && pred(tk) {
			return tk
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s: condition not reached within %s (last: state %q, status %d, err %v)", id, timeout, tk.State, status, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// envVars are the environment's variables as Terraform resolves them
// (tfvars plus the root module's defaults).
type envVars struct {
	Redis struct {
		MemoryMB    float64 `json:"memory_mb"`
		CPUs        float64 `json:"cpus"`
		AppendOnly  bool    `json:"appendonly"`
		AppendFsync string  `json:"appendfsync"`
	} `json:"redis"`
	API          sizing `json:"api"`
	Worker       sizing `json:"worker"`
	Loadbalancer struct {
		MemoryMB     float64 `json:"memory_mb"`
		CPUs         float64 `json:"cpus"`
		RateLimitRPS float64 `json:"rate_limit_rps"`
	} `json:"loadbalancer"`
	Monitor    sizing `json:"monitor"`
	LogMaxSize string `json:"log_max_size"`
	LogMaxFile int    `json:"log_max_file"`
}

type sizing struct {
	Replicas    int     `json:"replicas"`
	MemoryMB    float64 `json:"memory_mb"`
	CPUs        float64 `json:"cpus"`
	Concurrency int     `json:"concurrency"`
}

// vars asks `terraform console` for the applied variables, so the suite
// checks the environment's real settings instead of copies of them.
func (s *stack) vars(t *testing.T) envVars {
	t.Helper()
	var v envVars
	if err := s.env.Console(t.Context(), `jsonencode({redis = var.redis, api = var.api, worker = var.worker, loadbalancer = var.loadbalancer, monitor = var.monitor, log_max_size = var.log_max_size, log_max_file = var.log_max_file})`, &v); err != nil {
		t.Fatalf("terraform console: %v", err)
	}
	return v
}

// allContainers lists every container of the stack (the containers output,
// every role).
func (s *stack) allContainers() []string {
	var names []string
	for _, role := range slices.Sorted(maps.Keys(s.containers)) {
		names = append(names, s.containers[role]...)
	}
	return names
}

// waitHealthy restores the precondition of the next scenario: every container
// running and healthy and /readyz answering through nginx.
func (s *stack) waitHealthy(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		last = ""
		for _, name := range s.allContainers() {
			out, err := exec.Command("docker", "inspect", "-f", "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}", name).Output()
			if st := strings.TrimSpace(string(out)); err != nil || st != "running/healthy" {
				last = fmt.Sprintf("%s is %q", name, st)
				break
			}
		}
		if last == "" {
			resp, err := http.Get(s.endpoint + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
				last = fmt.Sprintf("/readyz answered %d", resp.StatusCode)
			} else {
				last = fmt.Sprintf("/readyz: %v", err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack not healthy within %s: %s", timeout, last)
		}
		time.Sleep(time.Second)
	}
}

// logLine is the part of the app's JSON log lines the scenarios look at.
type logLine struct {
	Msg       string `json:"msg"`
	RequestID string `json:"request_id"`
	TaskID    string `json:"task_id"`
	Method    string `json:"method"`
	Route     string `json:"route"`
	// GoMemoryLimit is the worker's start line's Go runtime memory limit.
	GoMemoryLimit int64 `json:"go_memory_limit_bytes"`
}

// containerLogs parses a container's JSON log lines (stdout and stderr).
func containerLogs(t *testing.T, name string, since time.Time) []logLine {
	t.Helper()
	args := []string{"logs"}
	if !since.IsZero() {
		args = append(args, "--since", since.Add(-time.Second).UTC().Format(time.RFC3339))
	}
	out, err := exec.Command("docker", append(args, name)...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker logs %s: %v\n%s", name, err, out)
	}
	var lines []logLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			lines = append(lines, l)
		}
	}
	return lines
}

// workerOf finds which worker logged msg for the task.
func (s *stack) workerOf(t *testing.T, taskID, msg string, since time.Time) []string {
	t.Helper()
	var found []string
	for _, w := range s.containers["worker"] {
		if exec.Command("docker", "inspect", w).Run() != nil {
			continue
		}
		for _, l := range containerLogs(t, w, since) {
			if l.TaskID == taskID && l.Msg == msg {
				found = append(found, w)
				break
			}
		}
	}
	return found
}

// runningSleep submits a diagnostic.sleep of ms at priority (empty: the
// type's default) and returns it once active, with the worker container
// that logged its start.
func (s *stack) runningSleep(t *testing.T, c *apiClient, ms int, priority string) (task, string) {
	t.Helper()
	since := time.Now()
	tk, _ := c.submit(t, submission{Type: "diagnostic.sleep", Payload: map[string]any{"ms": ms}, Priority: priority})
	c.waitState(t, tk.ID, 20*time.Second, func(tk task) bool { return tk.State == "active" })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ws := s.workerOf(t, tk.ID, "task started", since); len(ws) == 1 {
			return tk, ws[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s is active but no single worker logged its start", tk.ID)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dockerE runs the docker CLI and returns its error instead of failing the
// test, for use off the test goroutine.
func dockerE(args ...string) (string, error) {
	out, err := exec.Command("docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// redisCLI runs redis-cli inside the Redis container as admin, through the
// container's redis-admin (modules/redis): the app users may not run CONFIG,
// KEYS and the like.
func (s *stack) redisCLI(t *testing.T, args ...string) string {
	t.Helper()
	return docker(t, append([]string{"exec", s.containers["redis"][0], "/run/secrets/redis-admin"}, args...)...)
}

// taskCount is how many tasks the store knows (one metadata hash each).
func (s *stack) taskCount(t *testing.T) int {
	t.Helper()
	out := s.redisCLI(t, "--scan", "--pattern", "calcgrid:task:*")
	return len(strings.Fields(out))
}

// inspect decodes `docker inspect` of one container.
func inspect(t *testing.T, name string) containerInfo {
	t.Helper()
	var infos []containerInfo
	if err := json.Unmarshal([]byte(docker(t, "inspect", name)), &infos); err != nil || len(infos) != 1 {
		t.Fatalf("docker inspect %s: %v", name, err)
	}
	return infos[0]
}

type containerInfo struct {
	ID           string
	Image        string
	RestartCount int
	Config       struct {
		User        string
		Healthcheck *struct{ Test []string }
	}
	NetworkSettings struct {
		Networks map[string]struct{ IPAddress string }
	}
	State struct {
		Status    string
		OOMKilled bool
		StartedAt time.Time
		Health    *struct{ Status string }
	}
	HostConfig struct {
		Memory         int64
		MemorySwap     int64
		NanoCpus       int64
		PidsLimit      *int64
		ReadonlyRootfs bool
		CapDrop        []string
		SecurityOpt    []string
		Privileged     bool
		PortBindings   map[string][]struct{ HostIp, HostPort string }
		RestartPolicy  struct{ Name string }
		LogConfig      struct {
			Type   string
			Config map[string]string
		}
	}
}
