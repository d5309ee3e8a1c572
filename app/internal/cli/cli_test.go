package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/diagnostic"
	"github.com/calcgrid/calcgrid/app/internal/finance"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// startStack runs the API with every task type and a worker on a private
// redis-server.
func startStack(t *testing.T) *apptest.Stack {
	t.Helper()
	reg := tasks.NewRegistry()
	if err := finance.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := diagnostic.Register(reg); err != nil {
		t.Fatal(err)
	}
	s := apptest.Start(t, reg, apptest.Options{})
	s.StartWorker(4, false)
	return s
}

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// result is one command's exit code and output.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// cmdline describes one run of the CLI in-process.
type cmdline struct {
	endpoint   string
	env        map[string]string
	stdin      string
	interrupts chan os.Signal
}

func (c cmdline) run(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr syncBuffer
	env := Env{
		Stdin: strings.NewReader(c.stdin), Stdout: &stdout, Stderr: &stderr, Version: "test",
		Getenv: func(k string) string {
			if k == envEndpoint && c.endpoint != "" {
				return c.endpoint
			}
			return c.env[k]
		},
	}
	if c.interrupts != nil {
		env.Interrupts = func() (<-chan os.Signal, func()) { return c.interrupts, func() {} }
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := Run(ctx, args, env)
	return result{code, stdout.String(), stderr.String()}
}

func on(s *apptest.Stack) cmdline { return cmdline{endpoint: s.Server.URL} }

func (r result) want(t *testing.T, code int, in ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got %s", code, r)
	}
	for _, s := range in {
		if !strings.Contains(r.stdout+r.stderr, s) {
			t.Fatalf("want %q in the output, got %s", s, r)
		}
	}
}

var idLine = regexp.MustCompile(`(?m)^id:\s+(\S+)$`)

// taskID is the id in a task printed as a table.
func taskID(t *testing.T, r result) string {
	t.Helper()
	m := idLine.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no id in the output: %s", r)
	}
	return m[1]
}

func TestSubmitWaitCompletes(t *testing.T) {
	s := startStack(t)
	r := on(s).run(t, "submit", "diagnostic.sleep", "--set", "ms=600", "--wait")
	r.want(t, ExitOK, "state:     completed", "result:", "ms")
	// Not a terminal: one plain line per change, ending with the final state.
	if !regexp.MustCompile(`(?m)^task \S+:\s+\d+% active`).MatchString(r.stderr) ||
		!regexp.MustCompile(`(?m)^task \S+: 100% completed$`).MatchString(r.stderr) {
		t.Fatalf("want progress lines on stderr: %s", r)
	}
	lines := strings.Count(r.stderr, "\n")
	if lines > 2+100 {
		t.Errorf("%d progress lines for one task: one per change of state or whole percent at most", lines)
	}
	if task := s.Get(taskID(t, r)); task.State != taskstore.StateCompleted {
		t.Errorf("API says %s", task.State)
	}
}

func TestSubmitPayloadSources(t *testing.T) {
	s := startStack(t)
	dir := t.TempDir()
	file := dir + "/payload.json"
	if err := os.WriteFile(file, []byte(`{"ms": 5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		stdin string
		args  []string
	}{
		"file":           {"", []string{"@" + file}},
		"stdin":          {`{"ms": 5}`, []string{"-"}},
		"argument":       {"", []string{`{"ms": 5}`}},
		"file and --set": {"", []string{"@" + file, "--set", "ms=7"}},
	} {
		t.Run(name, func(t *testing.T) {
			cl := on(s)
			cl.stdin = c.stdin
			r := cl.run(t, append([]string{"submit", "diagnostic.sleep", "-o", "json", "--wait"}, c.args...)...)
			r.want(t, ExitOK)
			var task struct {
				State  string
				Result struct{ MS int }
			}
			if err := json.Unmarshal([]byte(r.stdout), &task); err != nil {
				t.Fatalf("-o json: %v\n%s", err, r)
			}
			want := 5
			if name == "file and --set" {
				want = 7
			}
			if task.State != "completed" || task.Result.MS != want {
				t.Errorf("want completed with ms %d: %s", want, r)
			}
		})
	}
}

func TestSubmitOptions(t *testing.T) {
	s := startStack(t)
	r := on(s).run(t, "submit", "diagnostic.noop", "--priority", "high", "--max-retry", "0",
		"--timeout", "5s", "--idempotency-key", "cli-options", "-o", "json")
	r.want(t, ExitOK, `"priority": "high"`, `"max_retry": 0`)
	again := on(s).run(t, "submit", "diagnostic.noop", "--priority", "high", "--max-retry", "0",
		"--timeout", "5s", "--idempotency-key", "cli-options", "-o", "json")
	again.want(t, ExitOK, "already exists for this idempotency key")
	var first, second struct{ ID string }
	_ = json.Unmarshal([]byte(r.stdout), &first)
	_ = json.Unmarshal([]byte(again.stdout), &second)
	if first.ID == "" || first.ID != second.ID {
		t.Errorf("the same idempotency key gave tasks %q and %q", first.ID, second.ID)
	}
	// An empty priority is the client's answer, sent and refused, never dropped.
	on(s).run(t, "submit", "diagnostic.noop", "--priority", "").
		want(t, ExitFailed, "priority: must be one of")
}

func TestFailedTaskExits1(t *testing.T) {
	s := startStack(t)
	r := on(s).run(t, "submit", "diagnostic.fail", "--set", "times=5", "--max-retry", "0", "--wait")
	r.want(t, ExitFailed, "state:     failed", "error:", "diagnostic failure on attempt 1")
	if !strings.Contains(r.stderr, "calcgrid: task "+taskID(t, r)+" failed: diagnostic failure") {
		t.Errorf("want the failure on stderr: %s", r)
	}
}

func TestCancel(t *testing.T) {
	s := startStack(t)
	task := s.Submit(`{"type":"diagnostic.sleep","payload":{"ms":60000}}`)
	s.Await(task.ID, 5*time.Second, taskstore.StateActive)
	on(s).run(t, "cancel", task.ID).want(t, ExitOK, "id:        "+task.ID)
	// wait on a cancelled task: exit 1.
	on(s).run(t, "wait", task.ID).want(t, ExitFailed, "state:     cancelled", "task "+task.ID+" cancelled")
	// Cancelling a completed task: the API's 409, title and detail.
	done := s.Submit(`{"type":"diagnostic.noop"}`)
	s.Await(done.ID, 5*time.Second, taskstore.StateCompleted)
	on(s).run(t, "cancel", done.ID).want(t, ExitFailed, "Task already finished (HTTP 409): ")
	on(s).run(t, "get", "no-such-task").want(t, ExitFailed, "Task not found (HTTP 404)")
}

func TestInterruptWhileWaiting(t *testing.T) {
	s := startStack(t)
	t.Run("cancel-on-interrupt", func(t *testing.T) {
		task := s.Submit(`{"type":"diagnostic.sleep","payload":{"ms":60000}}`)
		s.Await(task.ID, 5*time.Second, taskstore.StateActive)
		cl := on(s)
		cl.interrupts = make(chan os.Signal, 1)
		cl.interrupts <- os.Interrupt
		r := cl.run(t, "wait", task.ID, "--cancel-on-interrupt")
		r.want(t, ExitFailed, "state:     cancelled")
		if got := s.Get(task.ID).State; got != taskstore.StateCancelled {
			t.Errorf("task is %s, want cancelled", got)
		}
	})
	t.Run("not a terminal: leave it running", func(t *testing.T) {
		task := s.Submit(`{"type":"diagnostic.sleep","payload":{"ms":60000}}`)
		s.Await(task.ID, 5*time.Second, taskstore.StateActive)
		cl := on(s)
		cl.interrupts = make(chan os.Signal, 1)
		cl.interrupts <- os.Interrupt
		r := cl.run(t, "wait", task.ID)
		r.want(t, ExitInterrupted, "resume with: calcgrid wait "+task.ID)
		if got := s.Get(task.ID).State; got != taskstore.StateActive {
			t.Errorf("task is %s, want still active", got)
		}
		on(s).run(t, "cancel", task.ID).want(t, ExitOK)
	})
}

func TestListFollowsCursors(t *testing.T) {
	s := startStack(t)
	ids := map[string]bool{}
	for i := range 7 {
		ids[s.Submit(fmt.Sprintf(`{"type":"diagnostic.noop","idempotency_key":"list-%d"}`, i)).ID] = true
	}
	// Finished, so that none moves from one state's list to another's
	// while the pages are read.
	for id := range ids {
		s.Await(id, 5*time.Second, taskstore.StateCompleted)
	}
	var counted atomic.Int32
	proxy := httptest.NewServer(countingProxy(t, s.Server.URL, &counted))
	t.Cleanup(proxy.Close)

	r := cmdline{endpoint: proxy.URL}.run(t, "list", "--page-size", "2", "-o", "json")
	r.want(t, ExitOK)
	var page struct{ Tasks []struct{ ID string } }
	if err := json.Unmarshal([]byte(r.stdout), &page); err != nil {
		t.Fatalf("%v: %s", err, r)
	}
	got := map[string]bool{}
	for _, task := range page.Tasks {
		got[task.ID] = true
	}
	if len(page.Tasks) != 7 || len(got) != 7 {
		t.Fatalf("want the 7 tasks once each, got %d (%d distinct): %s", len(page.Tasks), len(got), r)
	}
	for id := range ids {
		if !got[id] {
			t.Errorf("task %s missing", id)
		}
	}
	if n := counted.Load(); n < 4 {
		t.Errorf("%d requests for 7 tasks in pages of at most 2, want 4 or more", n)
	}

	table := on(s).run(t, "list", "--page-size", "3")
	table.want(t, ExitOK, "ID", "TYPE", "PRIORITY", "STATE", "7 tasks")
	if n := strings.Count(table.stdout, "diagnostic.noop"); n != 7 {
		t.Errorf("%d rows, want 7: %s", n, table)
	}
	on(s).run(t, "list", "--page-size", "2", "--limit", "3").want(t, ExitOK, "3 tasks")
	on(s).run(t, "list", "--state", "bogus").want(t, ExitFailed, "Invalid request fields", "state: must be one of")
}

// TestListShowsATaskOnce: a task that changes state between two pages
// shows up in a later state's list again; list keeps one, the latest.
func TestListShowsATaskOnce(t *testing.T) {
	reg := tasks.NewRegistry()
	if err := diagnostic.Register(reg); err != nil {
		t.Fatal(err)
	}
	s := apptest.Start(t, reg, apptest.Options{}) // no worker: the tasks stay pending
	for i := range 3 {
		s.Submit(fmt.Sprintf(`{"type":"diagnostic.noop","idempotency_key":"once-%d"}`, i))
	}
	rp := httputil.NewSingleHostReverseProxy(must(url.Parse(s.Server.URL)))
	var (
		pages   int
		firstID string
	)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		pages++
		var page struct{ Tasks []struct{ ID string } }
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Tasks) > 1 {
			t.Errorf("page %d: %s %v", pages, rec.Body, err)
		} else if pages == 1 && len(page.Tasks) == 1 {
			firstID = page.Tasks[0].ID
		}
		// Once the last pending task is read, cancel the first: it moves
		// from pending to cancelled, a list the next pages read.
		if pages == 3 {
			s.Do(http.MethodDelete, "/v1/tasks/"+firstID, "")
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(proxy.Close)
	r := cmdline{endpoint: proxy.URL}.run(t, "list", "--page-size", "1")
	r.want(t, ExitOK, "3 tasks")
	if n := strings.Count(r.stdout, "cancelled"); n != 1 {
		t.Errorf("want the cancelled task once, in its latest state: %s", r)
	}
}

// countingProxy forwards to the API and counts the requests.
func countingProxy(t *testing.T, target string, n *atomic.Int32) http.Handler {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		rp.ServeHTTP(w, r)
	})
}

func TestQueuesAndTypes(t *testing.T) {
	s := startStack(t)
	q := on(s).run(t, "queues")
	q.want(t, ExitOK, "QUEUE", "WEIGHT", "PENDING", "LATENCY")
	for _, name := range []string{"high", "medium", "low"} {
		if !regexp.MustCompile(`(?m)^` + name + `\s+\d+\s+false`).MatchString(q.stdout) {
			t.Errorf("no row for queue %s: %s", name, q)
		}
	}
	qj := on(s).run(t, "queues", "-o", "json")
	var queues struct{ Queues []struct{ Name string } }
	if err := json.Unmarshal([]byte(qj.stdout), &queues); err != nil || len(queues.Queues) != 3 {
		t.Errorf("queues -o json: %v %s", err, qj)
	}

	on(s).run(t, "types").want(t, ExitOK, "option.price", "portfolio.var", "diagnostic.sleep", "MAX RETRY")
	opt := on(s).run(t, "types", "option.price")
	opt.want(t, ExitOK, "FIELD", "ALLOWED", "european, american, asian, barrier")
	for _, row := range []string{
		`(?m)^style\s+string\s+yes\s+european`,
		`(?m)^volatility\s+number\s+yes\s+0 < x ≤ 5\s+Volatility`,
		`(?m)^averaging\s+string\s+no\s+arithmetic\s+arithmetic, geometric`,
		`(?m)^barrier\.level\s+number\s+yes`,
		`(?m)^seed\s+integer\s+no\s+0 ≤ x ≤ 18446744073709551615`,
	} {
		if !regexp.MustCompile(row).MatchString(opt.stdout) {
			t.Errorf("no row %s in: %s", row, opt)
		}
	}
	on(s).run(t, "types", "portfolio.var").want(t, ExitOK, "positions[].value", "1 to 200 items")
	on(s).run(t, "types", "nope").want(t, ExitFailed, `unknown task type "nope"`)
	tj := on(s).run(t, "types", "diagnostic.sleep", "-o", "json")
	var typ struct {
		Name          string
		PayloadSchema map[string]any `json:"payload_schema"`
	}
	if err := json.Unmarshal([]byte(tj.stdout), &typ); err != nil || typ.Name != "diagnostic.sleep" || typ.PayloadSchema == nil {
		t.Errorf("types TYPE -o json: %v %s", err, tj)
	}
}

func TestGetJSONIsTheAPIsTask(t *testing.T) {
	s := startStack(t)
	task := s.Submit(`{"type":"diagnostic.noop"}`)
	s.Await(task.ID, 5*time.Second, taskstore.StateCompleted)
	r := on(s).run(t, "get", task.ID, "-o", "json")
	r.want(t, ExitOK)
	var got, want map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v: %s", err, r)
	}
	if err := json.Unmarshal(s.Do(http.MethodGet, "/v1/tasks/"+task.ID, "").Body, &want); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("get -o json = %v, the API says %v", got, want)
	}
}

func TestValidationErrorShowsFieldsNotJSON(t *testing.T) {
	s := startStack(t)
	r := on(s).run(t, "submit", "option.price", "--set", "style=asian", "--set", "kind=call", "--set", "spot=100",
		"--set", "strike=100", "--set", "rate=0.05", "--set", "volatility=9", "--set", "maturity_years=1",
		"--set", "barrier.level=90")
	r.want(t, ExitFailed, "calcgrid: Invalid request fields (HTTP 422)",
		"  payload.volatility: must be > 0 and ≤ 5", "  payload.barrier: applies to style barrier only")
	if strings.ContainsAny(r.stderr, "{}") || strings.Contains(r.stderr, `"errors"`) || r.stdout != "" {
		t.Errorf("raw JSON in the output: %s", r)
	}
}

func TestUnreachable(t *testing.T) {
	down := cmdline{endpoint: "http://127.0.0.1:1"}
	for _, args := range [][]string{{"get", "x"}, {"list"}, {"queues"}, {"types"}, {"submit", "diagnostic.noop", "--wait"}} {
		down.run(t, args...).want(t, ExitUnreachable, "unreachable at http://127.0.0.1:1", "CALCGRID_ENDPOINT")
	}
	// nginx's page when no API server answers: the API is out of reach too.
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, `{"type":"urn:calcgrid:problem:bad-gateway","title":"Bad gateway","status":502,"detail":"no API instance answered"}`)
	}))
	t.Cleanup(gateway.Close)
	cmdline{endpoint: gateway.URL}.run(t, "list").want(t, ExitUnreachable, "Bad gateway (HTTP 502): no API instance answered")
}

func TestUsageErrors(t *testing.T) {
	cl := cmdline{endpoint: "http://127.0.0.1:1"} // never reached: each fails first
	for name, args := range map[string][]string{
		"unknown flag":                     {"list", "--bogus"},
		"missing argument":                 {"get"},
		"extra argument":                   {"wait", "a", "b"},
		"output format":                    {"list", "-o", "yaml"},
		"set without =":                    {"submit", "diagnostic.noop", "--set", "ms"},
		"set empty field":                  {"submit", "diagnostic.noop", "--set", "a..b=1"},
		"payload not JSON":                 {"submit", "diagnostic.noop", "{ms: 1}"},
		"payload not an object":            {"submit", "diagnostic.noop", "[1]"},
		"payload file missing":             {"submit", "diagnostic.noop", "@/nonexistent/payload.json"},
		"cancel-on-interrupt without wait": {"submit", "diagnostic.noop", "--cancel-on-interrupt"},
		"timeout fraction":                 {"submit", "diagnostic.noop", "--timeout", "1500ms"},
		"page size":                        {"list", "--page-size", "0"},
		"endpoint":                         {"list", "--endpoint", "127.0.0.1:18080"},
	} {
		t.Run(name, func(t *testing.T) {
			r := cl.run(t, args...)
			r.want(t, ExitUsage, "--help' for usage")
		})
	}
	// --help is not an error.
	cl.run(t, "submit", "--help").want(t, ExitOK, "--set", "--idempotency-key", "CALCGRID_ENDPOINT")
}

func TestEndpointAndAPIKey(t *testing.T) {
	s := startStack(t)
	var mu sync.Mutex
	var auth []string
	rp := httputil.NewSingleHostReverseProxy(must(url.Parse(s.Server.URL)))
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	env := map[string]string{envAPIKey: "from-env"}
	cmdline{env: map[string]string{envEndpoint: proxy.URL}}.run(t, "queues").want(t, ExitOK)
	cmdline{env: map[string]string{envEndpoint: proxy.URL, envAPIKey: "from-env"}}.run(t, "queues").want(t, ExitOK)
	cmdline{env: env}.run(t, "queues", "--endpoint", proxy.URL, "--api-key", "from-flag").want(t, ExitOK)
	mu.Lock()
	defer mu.Unlock()
	want := []string{"", "Bearer from-env", "Bearer from-flag"}
	if fmt.Sprint(auth) != fmt.Sprint(want) {
		t.Errorf("Authorization headers %q, want %q", auth, want)
	}
}

func TestWaitRidesOutAnUnavailableAPI(t *testing.T) {
	s := startStack(t)
	rp := httputil.NewSingleHostReverseProxy(must(url.Parse(s.Server.URL)))
	var gets atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The 2nd to 5th reads of the task: a restarting API behind nginx.
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/tasks/") {
			if n := gets.Add(1); n >= 2 && n <= 5 {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, `{"type":"urn:calcgrid:problem:unavailable","title":"Service unavailable","status":503,"detail":"every API instance is unavailable"}`)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(flaky.Close)
	r := cmdline{endpoint: flaky.URL}.run(t, "submit", "diagnostic.sleep", "--set", "ms=1500", "--wait")
	r.want(t, ExitOK, "state:     completed", "API unavailable, retrying")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
