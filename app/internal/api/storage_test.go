package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
)

// smallTask is the i-th submission of a realistic mix of small tasks: half
// analytic option.price, three in ten diagnostic.noop, two in ten a
// two-position portfolio.var (the stack's StorageGrowth scenario submits
// the same mix).
func smallTask(i int) string {
	switch i % 10 {
	case 0, 1, 2, 3, 4:
		return fmt.Sprintf(`{"type":"option.price","payload":{"style":"european","kind":"call","spot":%d,"strike":100,"rate":0.05,"volatility":0.2,"maturity_years":1}}`, 80+i%40)
	case 5, 6, 7:
		return `{"type":"diagnostic.noop","payload":{}}`
	default:
		return fmt.Sprintf(`{"type":"portfolio.var","payload":{"positions":[{"name":"a","value":%d,"drift":0,"volatility":0.2},{"name":"b","value":50,"drift":0.01,"volatility":0.1}],"correlation":[[1,0.3],[0.3,1]],"simulations":10000}}`, 100+i%50)
	}
}

// redisInfo reads one INFO section as key → value. (Through one client per
// test: every connection costs Redis memory.)
func redisInfo(t testing.TB, rdb *redis.Client, section string) map[string]string {
	t.Helper()
	info, err := rdb.Info(t.Context(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out
}

func usedMemory(t testing.TB, rdb *redis.Client) int64 {
	t.Helper()
	n, err := strconv.ParseInt(redisInfo(t, rdb, "memory")["used_memory"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// queueTotals sums GET /v1/queues over the queues.
type queueTotals struct {
	Unfinished, Completed, Failed, Processed, FailedAttempts int
}

func queues(t testing.TB, e *apptest.Stack) queueTotals {
	t.Helper()
	r := e.Do(http.MethodGet, "/v1/queues", "")
	var body struct {
		Queues []struct {
			Pending, Active, Scheduled, Retry, Completed, Failed int
			ProcessedToday                                       int `json:"processed_today"`
			FailedToday                                          int `json:"failed_today"`
		}
	}
	if err := json.Unmarshal(r.Body, &body); r.Status != http.StatusOK || err != nil {
		t.Fatalf("GET /v1/queues: %d %s (%v)", r.Status, r.Body, err)
	}
	var q queueTotals
	for _, x := range body.Queues {
		q.Unfinished += x.Pending + x.Active + x.Scheduled + x.Retry
		q.Completed += x.Completed
		q.Failed += x.Failed
		q.Processed += x.ProcessedToday
		q.FailedAttempts += x.FailedToday
	}
	return q
}

// awaitDrained waits until no task is pending, active, scheduled or retrying.
func awaitDrained(t testing.TB, e *apptest.Stack, timeout time.Duration) queueTotals {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		q := queues(t, e)
		if q.Unfinished == 0 {
			return q
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d tasks still unfinished after %s: %+v", q.Unfinished, timeout, q)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// submitted is one answer to a submission.
type submitted struct {
	status     int
	problem    string // the problem type of an error
	retryAfter string
	id         string
	err        error
}

func post(e *apptest.Stack, body string) submitted {
	resp, err := e.Server.Client().Post(e.Server.URL+"/v1/tasks", "application/json", strings.NewReader(body))
	if err != nil {
		return submitted{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	var doc struct{ ID, Type string }
	if err == nil {
		err = json.Unmarshal(b, &doc)
	}
	s := submitted{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), err: err}
	if resp.StatusCode == http.StatusAccepted {
		s.id = doc.ID
	} else {
		s.problem = doc.Type
	}
	return s
}

const storageFull = "urn:calcgrid:problem:storage-full"

// TestStorageFull: Redis with a tiny maxmemory and noeviction, as in
// production, and a worker running. Clients submit through the API as fast
// as it answers until Redis passes the high-water mark; then:
//   - every answer is 202 or 503 storage-full with Retry-After: no other
//     5xx, before the first refusal or after it;
//   - no write failed anywhere: Redis answered no OOM error (errorstats), its
//     peak memory stayed under maxmemory, and neither role logged a warning
//     other than the refusals;
//   - every accepted task completed (the worker logged its success; asynq
//     counts as many processed and none failed);
//   - /readyz stays green and /metrics shows the figure;
//   - once the retention has expired the finished tasks, submissions are
//     accepted again, and at least half of what the tasks took is free.
func TestStorageFull(t *testing.T) {
	// Long enough that finished tasks outlive the fill even on a loaded
	// machine (at 5 s their expiry kept pace with slow clients and Redis
	// never filled), short enough to see the recovery.
	const retention = 20 * time.Second
	// No backlog limit: these clients outpace the worker, and the pending
	// tasks, which never expire, fill Redis whatever the retention.
	e := apptest.Start(t, fullRegistry(t), apptest.Options{MaxPending: 1_000_000, Retention: retention})
	e.StartWorker(4, false)
	rdb := e.Redis.Client()
	ctx := t.Context()
	// The clients below open the connections they need first: each costs
	// Redis tens of KB, which at this size would be mistaken for tasks.
	var warm sync.WaitGroup
	for range 4 {
		warm.Go(func() {
			for range 20 {
				post(e, `{"type":"diagnostic.noop","payload":{}}`)
			}
		})
	}
	warm.Wait()
	awaitDrained(t, e, 10*time.Second)
	warmed := queues(t, e).Processed
	// A tiny maxmemory (dev's is 192 MB): 8 MB above what the idle stack
	// uses, room for about three thousand small tasks below the mark. The
	// API reads Redis's memory every 250 ms and these clients submit up to a
	// thousand tasks a second: at 2 MB, what they got in between two readings
	// plus the results of the accepted tasks took Redis to 91-93% of its
	// maxmemory; at 8 MB to 83-87%.
	base := usedMemory(t, rdb)
	limit := base + 8<<20
	for _, kv := range [][2]string{{"maxmemory-policy", "noeviction"}, {"maxmemory", strconv.FormatInt(limit, 10)}} {
		if err := rdb.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil { // errorstats and the memory peak
		t.Fatal(err)
	}
	// No write failed, checked also when the test stops early: no OOM
	// answer, memory never reached maxmemory, no warning but the refusals.
	defer func() {
		if n := redisInfo(t, rdb, "errorstats")["errorstat_OOM"]; n != "" {
			t.Errorf("Redis refused writes for lack of memory: errorstat_OOM %s", n)
		}
		if peak, _ := strconv.ParseInt(redisInfo(t, rdb, "memory")["used_memory_peak"], 10, 64); peak >= limit {
			t.Errorf("Redis's peak memory %d reached its maxmemory %d", peak, limit)
		}
		warnings := e.Logs.Lines(func(l apptest.Line) bool {
			return l.Level() >= slog.LevelWarn && l.Msg() != "submission refused: storage full"
		})
		for i, l := range warnings {
			if i == 5 {
				t.Errorf("... %d warnings in all", len(warnings))
				break
			}
			t.Errorf("logged: %v", l)
		}
	}()
	f := &filler{e: e}
	start := time.Now()
	if !f.fill() {
		t.Fatalf("%d tasks accepted in a minute and no refusal: Redis never filled", len(f.accepted))
	}
	refused := time.Now()
	full := usedMemory(t, rdb)
	filled := len(f.accepted)
	if filled < 200 {
		t.Errorf("only %d tasks accepted before storage-full: the mark is not 80%% of maxmemory", filled)
	}
	// Every answer, here and below, is 202 or 503 storage-full with
	// Retry-After.
	defer func() {
		bad := 0
		for i, a := range f.answers {
			switch {
			case a.err != nil:
				t.Errorf("answer %d: %v", i, a.err)
			case a.status == http.StatusAccepted,
				a.status == http.StatusServiceUnavailable && a.problem == storageFull && a.retryAfter != "":
				continue
			}
			if bad++; bad <= 5 {
				t.Errorf("answer %d: %d %s (Retry-After %q), want 202 or 503 %s with Retry-After",
					i, a.status, a.problem, a.retryAfter, storageFull)
			}
		}
		if bad > 0 {
			t.Errorf("%d of %d answers were failures", bad, len(f.answers))
		}
	}()

	// While full: the API is ready, /metrics shows the figure.
	if r := e.Do(http.MethodGet, "/readyz", ""); r.Status != http.StatusOK {
		t.Errorf("readyz while storage is full: %d %s", r.Status, r.Body)
	}
	metric := func(name string) float64 {
		for _, line := range strings.Split(string(e.Do(http.MethodGet, "/metrics", "").Body), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
		return -1
	}
	if got := metric("calcgrid_redis_maxmemory_bytes"); got != float64(limit) {
		t.Errorf("/metrics: calcgrid_redis_maxmemory_bytes %v, want %d", got, limit)
	}
	if got := metric("calcgrid_redis_memory_used_bytes"); got < float64(limit)*0.8 {
		t.Errorf("/metrics: calcgrid_redis_memory_used_bytes %v, want over 80%% of %d", got, limit)
	}
	awaitDrained(t, e, 30*time.Second)
	drained := time.Now()

	// Room again once the retention has expired the finished tasks (asynq's
	// janitor deletes them every ~8 s): a client retrying every 500 ms gets
	// in, and by then Redis has freed at least half of what the tasks took.
	// (Without that second condition a dip in Redis's overhead, client
	// buffers of a few hundred KB here, letting a task in would pass.)
	var back time.Time
	var now int64
	for deadline := time.Now().Add(retention + 40*time.Second); back.IsZero(); time.Sleep(500 * time.Millisecond) {
		accepted := f.post(`{"type":"diagnostic.noop","payload":{}}`).status == http.StatusAccepted
		if now = usedMemory(t, rdb); accepted && now-base <= (full-base)/2 {
			back = time.Now()
		} else if time.Now().After(deadline) {
			t.Fatalf("%s after the last task finished (retention %s), Redis still holds %d of the %d bytes the tasks took",
				time.Since(drained).Round(time.Second), retention, now-base, full-base)
		}
	}

	// Every accepted task completes.
	q := awaitDrained(t, e, 30*time.Second)
	if q.Processed-warmed != len(f.accepted) || q.FailedAttempts != 0 || q.Failed != 0 {
		t.Errorf("asynq counts %d processed, %d failed attempts, %d failed tasks; want %d processed, none failed",
			q.Processed-warmed, q.FailedAttempts, q.Failed, len(f.accepted))
	}
	succeeded := map[string]bool{}
	for _, l := range e.Logs.Lines(func(l apptest.Line) bool { return l.Msg() == "task succeeded" }) {
		succeeded[l.String("task_id")] = true
	}
	missing := 0
	for _, id := range f.accepted {
		if !succeeded[id] {
			if missing++; missing <= 5 {
				t.Errorf("accepted task %s: no 'task succeeded' in the worker's log", id)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d accepted tasks did not complete", missing, len(f.accepted))
	}

	peak, _ := strconv.ParseInt(redisInfo(t, rdb, "memory")["used_memory_peak"], 10, 64)
	t.Logf("maxmemory %d bytes: %d tasks accepted in %s, then 503 storage-full; peak memory %.0f%% of maxmemory; all finished %s after the refusal; accepted again %s after that, with %.0f%% of the tasks' bytes freed (retention %s)",
		limit, filled, refused.Sub(start).Round(time.Millisecond), 100*float64(peak)/float64(limit),
		drained.Sub(refused).Round(100*time.Millisecond), back.Sub(drained).Round(100*time.Millisecond),
		100*(1-float64(now-base)/float64(full-base)), retention)
}

// filler submits smallTask's mix through the API from four clients and
// keeps every answer.
type filler struct {
	e        *apptest.Stack
	mu       sync.Mutex
	answers  []submitted
	accepted []string
	next     int
}

func (f *filler) post(body string) submitted {
	a := post(f.e, body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = append(f.answers, a)
	if a.status == http.StatusAccepted {
		f.accepted = append(f.accepted, a.id)
	}
	return a
}

// fill submits until one submission is refused (it then reports true) or a
// minute passes.
func (f *filler) fill() (refused bool) {
	deadline := time.Now().Add(time.Minute)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				f.mu.Lock()
				if refused || time.Now().After(deadline) {
					f.mu.Unlock()
					return
				}
				i := f.next
				f.next++
				f.mu.Unlock()
				if f.post(smallTask(i)).status != http.StatusAccepted {
					f.mu.Lock()
					refused = true
					f.mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return refused
}
