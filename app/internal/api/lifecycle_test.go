package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

func TestLifecycle(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	e.StartWorker(2, false)

	r := e.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.sleep","payload":{"ms":1200},"priority":"high"}`,
		"X-Request-ID", "req-lifecycle-1")
	if r.Status != http.StatusAccepted {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	task := r.Task(t)
	if got, want := r.Header.Get("Location"), "/v1/tasks/"+task.ID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if got := r.Header.Get("X-Request-ID"); got != "req-lifecycle-1" {
		t.Errorf("X-Request-ID = %q, want the incoming one", got)
	}
	if got := r.Header.Get("X-Calcgrid-Instance"); got != "api-test" {
		t.Errorf("X-Calcgrid-Instance = %q", got)
	}
	if task.Type != "diagnostic.sleep" || task.Queue != "high" || task.RequestID != "req-lifecycle-1" ||
		task.MaxRetry != 3 || task.CreatedAt.IsZero() {
		t.Errorf("submitted task = %+v", task)
	}

	// asynq marks the task active a moment before the worker records the
	// start, so wait for the start rather than for the state.
	active := e.AwaitFunc(task.ID, 5*time.Second, "active with started_at", func(got taskstore.Task) bool {
		return got.State == taskstore.StateActive && got.StartedAt != nil
	})
	if active.Attempts != 1 || active.StartedAt.Before(task.CreatedAt) {
		t.Errorf("active task = %+v, want attempts 1 and started_at after created_at", active)
	}
	// Progress is stored every 250 ms while the task runs.
	var sawProgress bool
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && !sawProgress; time.Sleep(20 * time.Millisecond) {
		got := e.Get(task.ID)
		sawProgress = got.State == taskstore.StateActive && got.Progress > 0 && got.Progress < 1
	}
	if !sawProgress {
		t.Error("never saw 0 < progress < 1 while active")
	}

	done := e.Await(task.ID, 10*time.Second, taskstore.StateCompleted)
	if done.Progress != 1 || done.CompletedAt == nil || done.Error != "" || done.Attempts != 1 {
		t.Errorf("completed task = %+v", done)
	}
	if got := compact(t, done.Result); got != `{"ms":1200}` {
		t.Errorf("result = %s", got)
	}

	list := e.Do(http.MethodGet, "/v1/tasks?state=completed&queue=high", "")
	var page struct {
		Tasks []taskstore.Task `json:"tasks"`
	}
	if err := json.Unmarshal(list.Body, &page); err != nil || list.Status != http.StatusOK {
		t.Fatalf("list: %d %s %v", list.Status, list.Body, err)
	}
	if len(page.Tasks) != 1 || page.Tasks[0].ID != task.ID || page.Tasks[0].RequestID != "req-lifecycle-1" {
		t.Errorf("list of completed = %s", list.Body)
	}

	q := e.Do(http.MethodGet, "/v1/queues", "")
	var queues struct {
		Queues []taskstore.QueueStats `json:"queues"`
	}
	if err := json.Unmarshal(q.Body, &queues); err != nil || len(queues.Queues) != 3 {
		t.Fatalf("queues: %d %s", q.Status, q.Body)
	}
	if h := queues.Queues[0]; h.Name != "high" || h.Weight != 6 || h.Completed != 1 || h.ProcessedToday != 1 {
		t.Errorf("high queue = %+v", h)
	}
}

func TestHealthAndMetadataEndpoints(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	for _, c := range []struct {
		path, want string
	}{
		{"/healthz", `{"status":"ok"}`},
		{"/readyz", `{"status":"ok"}`},
	} {
		r := e.Do(http.MethodGet, c.path, "")
		if r.Status != http.StatusOK || compact(t, r.Body) != c.want {
			t.Errorf("GET %s = %d %s", c.path, r.Status, r.Body)
		}
	}
	r := e.Do(http.MethodGet, "/v1/task-types", "")
	var types struct {
		TaskTypes []struct {
			Name          string         `json:"name"`
			Queue         string         `json:"queue"`
			TimeoutS      int            `json:"timeout_s"`
			MaxRetry      int            `json:"max_retry"`
			PayloadSchema map[string]any `json:"payload_schema"`
		} `json:"task_types"`
	}
	if err := json.Unmarshal(r.Body, &types); err != nil || r.Status != http.StatusOK {
		t.Fatalf("task-types: %d %s", r.Status, r.Body)
	}
	var names []string
	for _, tt := range types.TaskTypes {
		names = append(names, tt.Name)
		if tt.Queue == "" || tt.TimeoutS <= 0 || tt.PayloadSchema["type"] != "object" {
			t.Errorf("task type %+v lacks queue, timeout or schema", tt)
		}
	}
	if want := []string{"diagnostic.cpu", "diagnostic.fail", "diagnostic.noop", "diagnostic.sleep"}; !slices.Equal(names, want) {
		t.Errorf("task types = %v, want %v", names, want)
	}
	m := e.Do(http.MethodGet, "/metrics", "")
	if m.Status != http.StatusOK || !strings.Contains(string(m.Body), `calcgrid_http_requests_total{code="200",method="GET",route="/v1/task-types"} 1`) {
		t.Errorf("metrics lack the request counter:\n%s", m.Body)
	}
	if !strings.Contains(string(m.Body), `calcgrid_queue_tasks{queue="high",state="pending"} 0`) {
		t.Errorf("metrics lack queue gauges")
	}
	// The alert on queue depth compares with this cap (monitoring/rules).
	if !strings.Contains(string(m.Body), "\ncalcgrid_queue_max_pending 10000\n") {
		t.Errorf("metrics lack the queue cap (apptest's MaxPending 10000)")
	}
}

func TestIdempotencyUnderConcurrency(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	const n = 20
	var wg sync.WaitGroup
	results := make([]apptest.Response, n)
	for i := range n {
		wg.Go(func() {
			results[i] = e.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop"}`,
				"Idempotency-Key", "same-key", "X-Request-ID", fmt.Sprintf("req-%d", i))
		})
	}
	wg.Wait()
	created, ids := 0, map[string]bool{}
	for _, r := range results {
		switch r.Status {
		case http.StatusAccepted:
			created++
		case http.StatusOK:
		default:
			t.Fatalf("POST: %d %s", r.Status, r.Body)
		}
		ids[r.Task(t).ID] = true
	}
	if created != 1 || len(ids) != 1 {
		t.Fatalf("%d created, ids %v; want exactly one task", created, ids)
	}
	queues, err := e.Store.Queues(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := queues[1].Pending; got != 1 {
		t.Errorf("medium queue holds %d pending tasks, want 1", got)
	}

	// Without a key the X-Request-ID is the key: a proxy's retry is absorbed.
	first := e.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop"}`, "X-Request-ID", "proxy-1")
	again := e.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop"}`, "X-Request-ID", "proxy-1")
	if first.Status != http.StatusAccepted || again.Status != http.StatusOK || first.Task(t).ID != again.Task(t).ID {
		t.Errorf("retried request: %d then %d (%s, %s)", first.Status, again.Status, first.Body, again.Body)
	}
	// The same key with a different submission is refused, not merged.
	other := e.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.sleep","idempotency_key":"same-key"}`)
	if other.Status != http.StatusUnprocessableEntity || other.Problem(t).Errors[0].Field != "idempotency_key" {
		t.Errorf("reused key: %d %s", other.Status, other.Body)
	}
}

// TestIdempotencyKeyReuse: a key names one submission. The same key and
// type with anything else changed is refused and enqueues nothing; the same
// submission, even reformatted, returns the existing task.
func TestIdempotencyKeyReuse(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	first := e.Submit(`{"type":"diagnostic.sleep","payload":{"ms":100},"idempotency_key":"reuse"}`)
	for name, body := range map[string]string{
		"different payload":   `{"type":"diagnostic.sleep","payload":{"ms":200},"idempotency_key":"reuse"}`,
		"different priority":  `{"type":"diagnostic.sleep","payload":{"ms":100},"priority":"high","idempotency_key":"reuse"}`,
		"different max_retry": `{"type":"diagnostic.sleep","payload":{"ms":100},"max_retry":0,"idempotency_key":"reuse"}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := e.Do(http.MethodPost, "/v1/tasks", body)
			if r.Status != http.StatusUnprocessableEntity || r.Problem(t).Errors[0].Field != "idempotency_key" {
				t.Errorf("reused key: %d %s", r.Status, r.Body)
			}
		})
	}
	same := e.Do(http.MethodPost, "/v1/tasks", `{ "type": "diagnostic.sleep", "payload": { "ms": 100 }, "idempotency_key": "reuse" }`)
	if same.Status != http.StatusOK || same.Task(t).ID != first.ID {
		t.Errorf("same submission again: %d %s, want 200 with task %s", same.Status, same.Body, first.ID)
	}

	// Nothing new was enqueued: the first task is the only one.
	list := e.Do(http.MethodGet, "/v1/tasks", "")
	var page struct {
		Tasks []taskstore.Task `json:"tasks"`
	}
	if err := json.Unmarshal(list.Body, &page); err != nil || list.Status != http.StatusOK {
		t.Fatalf("list: %d %s %v", list.Status, list.Body, err)
	}
	if len(page.Tasks) != 1 || page.Tasks[0].ID != first.ID {
		t.Errorf("tasks after the refused submissions: %s", list.Body)
	}
	queues, err := e.Store.Queues(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range queues {
		if want := map[string]int{"medium": 1}[q.Name]; q.Pending != want {
			t.Errorf("queue %s holds %d pending tasks, want %d", q.Name, q.Pending, want)
		}
	}
}

func TestPriority(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	e.StartWorker(1, true)
	busy := e.Submit(`{"type":"diagnostic.sleep","payload":{"ms":1000},"priority":"medium"}`)
	e.Await(busy.ID, 5*time.Second, taskstore.StateActive)

	var low []string
	for range 10 {
		low = append(low, e.Submit(`{"type":"diagnostic.noop","priority":"low"}`).ID)
	}
	high := e.Submit(`{"type":"diagnostic.noop","priority":"high"}`)
	h := e.Await(high.ID, 10*time.Second, taskstore.StateCompleted)
	for _, id := range low {
		l := e.Get(id)
		if l.StartedAt != nil && !l.StartedAt.After(*h.StartedAt) {
			t.Errorf("low task %s started at %s, before the high one (%s)", id, l.StartedAt, h.StartedAt)
		}
	}
	for _, id := range low {
		e.Await(id, 10*time.Second, taskstore.StateCompleted)
	}
}

func TestRetriesThenFailed(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	e.StartWorker(2, false)
	for _, c := range []struct {
		name, body string
		want       taskstore.State
		attempts   int
		errPart    string
	}{
		{"error exhausts retries", `{"type":"diagnostic.fail","payload":{"mode":"error","times":5},"max_retry":2}`,
			taskstore.StateFailed, 3, "diagnostic failure on attempt 3"},
		{"panic exhausts retries", `{"type":"diagnostic.fail","payload":{"mode":"panic","times":5},"max_retry":0}`,
			taskstore.StateFailed, 1, "panic"},
		{"panic once then succeed", `{"type":"diagnostic.fail","payload":{"mode":"panic","times":1},"max_retry":1}`,
			taskstore.StateCompleted, 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			task := e.Submit(c.body)
			got := e.Await(task.ID, 20*time.Second, taskstore.StateCompleted, taskstore.StateFailed)
			if got.State != c.want || got.Attempts != c.attempts || !strings.Contains(got.Error, c.errPart) {
				t.Errorf("task = %+v; want state %s, %d attempts, error containing %q", got, c.want, c.attempts, c.errPart)
			}
			if got.State == taskstore.StateFailed && got.CompletedAt == nil {
				t.Error("failed task has no completed_at")
			}
		})
	}
	// The worker survived the panics.
	e.Await(e.Submit(`{"type":"diagnostic.noop"}`).ID, 5*time.Second, taskstore.StateCompleted)
}

func TestCancel(t *testing.T) {
	e := newEnv(t, apptest.Options{})

	t.Run("pending", func(t *testing.T) {
		task := e.Submit(`{"type":"diagnostic.noop"}`)
		r := e.Do(http.MethodDelete, "/v1/tasks/"+task.ID, "")
		if got := r.Task(t); r.Status != http.StatusOK || got.State != taskstore.StateCancelled || got.CompletedAt == nil {
			t.Fatalf("DELETE pending: %d %s", r.Status, r.Body)
		}
		stop := e.StartWorker(1, false)
		e.Await(e.Submit(`{"type":"diagnostic.noop"}`).ID, 5*time.Second, taskstore.StateCompleted)
		stop()
		if got := e.Get(task.ID); got.State != taskstore.StateCancelled || got.Attempts != 0 {
			t.Errorf("cancelled pending task ran: %+v", got)
		}
		if again := e.Do(http.MethodDelete, "/v1/tasks/"+task.ID, ""); again.Status != http.StatusOK {
			t.Errorf("second DELETE: %d %s", again.Status, again.Body)
		}
	})

	t.Run("active", func(t *testing.T) {
		e.StartWorker(1, false)
		task := e.Submit(`{"type":"diagnostic.sleep","payload":{"ms":60000},"max_retry":5}`)
		e.Await(task.ID, 5*time.Second, taskstore.StateActive)
		start := time.Now()
		r := e.Do(http.MethodDelete, "/v1/tasks/"+task.ID, "")
		if r.Status != http.StatusAccepted && r.Status != http.StatusOK {
			t.Fatalf("DELETE active: %d %s", r.Status, r.Body)
		}
		got := e.Await(task.ID, time.Second, taskstore.StateCancelled)
		t.Logf("active task stopped %s after DELETE", time.Since(start).Round(time.Millisecond))
		// The API shows a cancelled task as cancelled whether asynq archived
		// it or scheduled a retry (which would start, see the flag and stop):
		// only archived means it never runs again.
		if info := asynqInfo(t, e, got); info.State != asynq.TaskStateArchived || got.Attempts != 1 {
			t.Errorf("cancelled active task is %s in asynq after %d attempts, want archived after 1", info.State, got.Attempts)
		}
	})

	t.Run("retry", func(t *testing.T) {
		e.StartWorker(1, false)
		// Fails twice; the second failure waits 2–2.5 s before the next
		// attempt (worker.retryDelay), time enough to cancel in between.
		task := e.Submit(`{"type":"diagnostic.fail","payload":{"mode":"error","times":2},"max_retry":5}`)
		e.AwaitFunc(task.ID, 20*time.Second, "retry after 2 attempts", func(got taskstore.Task) bool {
			return got.State == taskstore.StateRetry && got.Attempts == 2
		})
		info := asynqInfo(t, e, task)
		if info.State != asynq.TaskStateRetry {
			t.Fatalf("task is %s in asynq, want retry", info.State)
		}
		due := info.NextProcessAt
		r := e.Do(http.MethodDelete, "/v1/tasks/"+task.ID, "")
		if time.Now().After(due) {
			t.Fatalf("DELETE answered after the retry was due (%s): the cancel may have met the task pending", due)
		}
		if got := r.Task(t); r.Status != http.StatusOK || got.State != taskstore.StateCancelled || got.CompletedAt == nil {
			t.Fatalf("DELETE in retry: %d %s", r.Status, r.Body)
		}
		if info := asynqInfo(t, e, task); info.State != asynq.TaskStateArchived {
			t.Errorf("cancelled retrying task is %s in asynq, want archived", info.State)
		}
		// Watch past the time the retry was due, plus two of the worker's
		// checks for due retries: the task must not run again.
		for until := due.Add(2*time.Second + 500*time.Millisecond); time.Now().Before(until); time.Sleep(50 * time.Millisecond) {
			if got := e.Get(task.ID); got.State != taskstore.StateCancelled || got.Attempts != 2 {
				t.Fatalf("cancelled task ran again: %+v", got)
			}
		}
	})

	t.Run("finished", func(t *testing.T) {
		e.StartWorker(1, false)
		task := e.Submit(`{"type":"diagnostic.noop"}`)
		e.Await(task.ID, 5*time.Second, taskstore.StateCompleted)
		r := e.Do(http.MethodDelete, "/v1/tasks/"+task.ID, "")
		if r.Status != http.StatusConflict || !strings.Contains(r.Problem(t).Detail, "completed") {
			t.Errorf("DELETE completed: %d %s", r.Status, r.Body)
		}
	})
}

// asynqInfo is asynq's own record of a task, which tells apart states the
// API shows alike.
func asynqInfo(t *testing.T, e *apptest.Stack, task taskstore.Task) *asynq.TaskInfo {
	t.Helper()
	info, err := asynq.NewInspectorFromRedisClient(e.Store.Redis()).GetTaskInfo(task.Queue, task.ID)
	if err != nil {
		t.Fatalf("asynq task %s: %v", task.ID, err)
	}
	return info
}

func TestBackpressure(t *testing.T) {
	e := newEnv(t, apptest.Options{MaxPending: 3})
	for range 3 {
		e.Submit(`{"type":"diagnostic.noop","priority":"low"}`)
	}
	r := e.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop","priority":"low"}`)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("4th submission: %d %s (Retry-After %q)", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	r.Problem(t)
	// Other queues are unaffected.
	e.Submit(`{"type":"diagnostic.noop","priority":"high"}`)
}

func TestRedisDown(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	e.Submit(`{"type":"diagnostic.noop"}`)
	e.Redis.Stop()
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop"}`},
		{http.MethodGet, "/v1/tasks/0d6b3c1a-9c4e-4f0e-8d1a-2b3c4d5e6f70", ""},
		{http.MethodGet, "/v1/tasks", ""},
		{http.MethodGet, "/v1/queues", ""},
		{http.MethodGet, "/readyz", ""},
	} {
		start := time.Now()
		r := e.Do(c.method, c.path, c.body)
		took := time.Since(start)
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || took > 2*time.Second {
			t.Errorf("%s %s with Redis down: %d after %s (Retry-After %q) %s", c.method, c.path, r.Status, took, r.Header.Get("Retry-After"), r.Body)
		}
	}
	if r := e.Do(http.MethodGet, "/healthz", ""); r.Status != http.StatusOK {
		t.Errorf("healthz with Redis down: %d", r.Status)
	}
	e.Redis.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop"}`)
		if r.Status == http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery 10s after Redis restarted: %d %s", r.Status, r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := e.Do(http.MethodGet, "/readyz", ""); r.Status != http.StatusOK {
		t.Errorf("readyz after recovery: %d %s", r.Status, r.Body)
	}
}

func TestRedisOutOfMemory(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	rdb := e.Redis.Client()
	ctx := t.Context()
	for i := range 16 {
		if err := rdb.Set(ctx, fmt.Sprintf("ballast:%d", i), strings.Repeat("x", 256<<10), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Now Redis holds more than it may: every write is refused.
	for _, kv := range [][2]string{{"maxmemory-policy", "noeviction"}, {"maxmemory", "1mb"}} {
		if err := rdb.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	r := e.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop","idempotency_key":"oom"}`)
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("submit with Redis out of memory: %d %s", r.Status, r.Body)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "ballast:") {
			t.Errorf("Redis holds %s after the refused submission", k)
		}
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // past the API's 250 ms memory reading
	e.Submit(`{"type":"diagnostic.noop","idempotency_key":"oom"}`)
}

// TestTimesInOrder: created_at ≤ started_at ≤ completed_at for every
// finished task, at sub-second precision (asynq's own completion time has
// whole seconds, which put completed_at before created_at for fast tasks).
func TestTimesInOrder(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	e.StartWorker(4, false)
	var ids []string
	for range 30 {
		ids = append(ids, e.Submit(`{"type":"diagnostic.noop"}`).ID)
	}
	ids = append(ids, e.Submit(`{"type":"diagnostic.fail","payload":{"mode":"error","times":5},"max_retry":0}`).ID)
	subSecond := 0
	for _, id := range ids {
		tk := e.Await(id, 30*time.Second, taskstore.StateCompleted, taskstore.StateFailed)
		if tk.StartedAt == nil || tk.CompletedAt == nil {
			t.Fatalf("task %s ended %s without started_at or completed_at: %+v", id, tk.State, tk)
		}
		if tk.StartedAt.Before(tk.CreatedAt) || tk.CompletedAt.Before(*tk.StartedAt) {
			t.Errorf("task %s (%s): created %s, started %s, completed %s: out of order", id, tk.State,
				tk.CreatedAt.Format(time.RFC3339Nano), tk.StartedAt.Format(time.RFC3339Nano), tk.CompletedAt.Format(time.RFC3339Nano))
		}
		if tk.CompletedAt.Nanosecond() != 0 {
			subSecond++
		}
	}
	// A whole-second time happens by chance about once in 10^9.
	if subSecond != len(ids) {
		t.Errorf("%d of %d completed_at have sub-second precision, want all", subSecond, len(ids))
	}
}

// TestTimeoutNotRetried: a task that runs out of time ends failed after one
// attempt, whatever its max_retry: the same work would time out again.
func TestTimeoutNotRetried(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	e.StartWorker(1, false)
	tk := e.Submit(`{"type":"diagnostic.sleep","payload":{"ms":10000},"timeout_s":1,"max_retry":3}`)
	done := e.Await(tk.ID, 20*time.Second, taskstore.StateFailed, taskstore.StateCompleted)
	if done.State != taskstore.StateFailed || done.Attempts != 1 || !strings.Contains(done.Error, "timed out") {
		t.Errorf("task with timeout_s 1 sleeping 10 s: %s after %d attempts (error %q), want failed after 1 attempt with 'timed out'",
			done.State, done.Attempts, done.Error)
	}
}

// TestOneLogLinePerSubmission: a POST that creates a task logs one line,
// its access line, carrying the task; a repeat of it (200) names none.
func TestOneLogLinePerSubmission(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	body := `{"type":"diagnostic.noop","idempotency_key":"one-line"}`
	task := e.Submit(body)
	if r := e.Do(http.MethodPost, "/v1/tasks", body); r.Status != http.StatusOK {
		t.Fatalf("repeated POST: %d %s", r.Status, r.Body)
	}
	lines := e.Logs.Lines(func(l apptest.Line) bool {
		return l.String("route") == "/v1/tasks" && l.String("method") == http.MethodPost
	})
	if len(lines) != 2 {
		t.Fatalf("%d access lines for 2 POSTs: %v", len(lines), lines)
	}
	if l := lines[0]; l.Msg() != "http request" || l.String("task_id") != task.ID || l.String("type") != "diagnostic.noop" || l.String("queue") != "medium" {
		t.Errorf("the creating POST's line: %v, want task_id %s, type and queue", l, task.ID)
	}
	if id := lines[1].String("task_id"); id != "" {
		t.Errorf("the repeated POST's line names task %s", id)
	}
	for _, l := range e.Logs.Lines(func(l apptest.Line) bool { return l.String("role") == "api" }) {
		if l.Msg() != "http request" && l.String("task_id") == task.ID {
			t.Errorf("another api line about the task: %v", l)
		}
	}
}
