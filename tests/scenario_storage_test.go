package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// scenarioStorageGrowth: two minutes of submissions at the environment's
// nginx rate limit, a mix of small tasks (option.price, diagnostic.noop,
// some portfolio.var), with Redis's used_memory read before, at the end and
// once every task has finished. The growth per accepted task, finished and
// kept for the retention, is at most the README's bytes per completed task
// (the figure its storage arithmetic takes); no answer is a 5xx other than
// 503 storage-full, or anything but 202, 429 and that 503. The tasks are
// cheap and all finish before the next scenario.
func (s *stack) scenarioStorageGrowth(t *testing.T) {
	const run = 2 * time.Minute
	want := readmeStorageFigures(t)
	v := s.vars(t)
	c := s.client(t, v)
	rate := v.Loadbalancer.RateLimitRPS

	s.awaitIdle(t, c, 2*time.Minute) // earlier scenarios' tasks are not ours
	before := s.usedMemory(t)

	// One submission every 1/rate s, each on its own goroutine: the rate
	// holds whatever the latency.
	type answer struct {
		status int
		kind   string // problem type
	}
	var (
		mu      sync.Mutex
		answers = map[answer]int{}
		errs    []error
		wg      sync.WaitGroup
	)
	start := time.Now()
	every := time.Duration(float64(time.Second) / rate)
	n := int(run / every)
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
		wg.Go(func() {
			status, kind, err := c.post(t, storageMix(i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			answers[answer{status, kind}]++
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	end := s.usedMemory(t)
	s.awaitIdle(t, c, 5*time.Minute)
	after := s.usedMemory(t)

	accepted := answers[answer{http.StatusAccepted, ""}]
	for a, count := range answers {
		switch {
		case a.status == http.StatusAccepted,
			a.status == http.StatusTooManyRequests && (a.kind == "urn:calcgrid:problem:rate-limited" || a.kind == "urn:calcgrid:problem:queue-full"),
			a.status == http.StatusServiceUnavailable && a.kind == "urn:calcgrid:problem:storage-full":
		default:
			t.Errorf("%d answers %d %s, want only 202, 429 rate-limited or queue-full and 503 storage-full", count, a.status, a.kind)
		}
	}
	for i, err := range errs {
		if i == 5 {
			t.Errorf("... %d transport errors in all", len(errs))
			break
		}
		t.Error(err)
	}
	if accepted < n*9/10 {
		t.Fatalf("%d of %d submissions accepted (answers %v): too few to measure", accepted, n, answers)
	}
	perTask := float64(after-before) / float64(accepted)
	t.Logf("%d submissions in %s (%.1f/s, nginx limit %v r/s): answers %v", n, elapsed.Round(time.Second), float64(n)/elapsed.Seconds(), rate, answers)
	t.Logf("Redis used_memory %d → %d at the end of the run → %d once every task finished: %+.1f MB, %.0f bytes per accepted task (%.0f at the end of the run, some still pending)",
		before, end, after, float64(after-before)/(1<<20), perTask, float64(end-before)/float64(accepted))
	// The README's storage arithmetic takes its highest bytes per completed
	// task: the stack must not need more, or the times it gives are too
	// long. Under half its lowest, the growth measured is not the tasks'.
	if hi := want.Completed[1]; perTask > hi {
		t.Errorf("%.0f bytes per finished task, more than the README's %.0f (bytes per completed task, which its arithmetic takes)", perTask, hi)
	}
	if lo := want.Completed[0] / 2; perTask < lo {
		t.Errorf("%.0f bytes per finished task, under half the README's lowest figure (%.0f): not the tasks' growth", perTask, want.Completed[0])
	}
}

// storageMix is the i-th submission of the scenario's mix: half analytic
// option.price, three in ten diagnostic.noop, two in ten a two-position
// portfolio.var (the mix of app/internal/api's TestStorageFull).
func storageMix(i int) submission {
	switch i % 10 {
	case 0, 1, 2, 3, 4:
		return submission{Type: "option.price", Payload: map[string]any{"style": "european", "kind": "call",
			"spot": 80 + i%40, "strike": 100, "rate": 0.05, "volatility": 0.2, "maturity_years": 1}}
	case 5, 6, 7:
		return submission{Type: "diagnostic.noop", Payload: map[string]any{}}
	default:
		return submission{Type: "portfolio.var", Payload: map[string]any{
			"positions": []map[string]any{
				{"name": "a", "value": 100 + i%50, "drift": 0, "volatility": 0.2},
				{"name": "b", "value": 50, "drift": 0.01, "volatility": 0.1},
			},
			"correlation": [][]float64{{1, 0.3}, {0.3, 1}}, "simulations": 10000}}
	}
}

// post submits without the client's pacing and answers the status and the
// problem type (nginx's own errors have one too).
func (c *apiClient) post(t *testing.T, sub submission) (status int, kind string, err error) {
	b, err := json.Marshal(sub)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.base+"/v1/tasks", bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	if resp.StatusCode != http.StatusAccepted {
		var doc struct{ Type string }
		_ = json.Unmarshal(body, &doc)
		kind = doc.Type
	}
	return resp.StatusCode, kind, nil
}

// usedMemory is Redis's used_memory (what its maxmemory limits).
func (s *stack) usedMemory(t *testing.T) int64 {
	t.Helper()
	for line := range strings.SplitSeq(s.redisCLI(t, "INFO", "memory"), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO memory: used_memory %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatal("INFO memory without used_memory")
	return 0
}

// awaitIdle waits until no task is pending, active, scheduled or retrying
// (GET /v1/queues).
func (s *stack) awaitIdle(t *testing.T, c *apiClient, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, err := c.send(t.Context(), http.MethodGet, "/v1/queues", nil, nil)
		var body struct {
			Queues []struct{ Pending, Active, Scheduled, Retry int }
		}
		busy := -1
		if err == nil && r.status == http.StatusOK && json.Unmarshal(r.body, &body) == nil {
			busy = 0
			for _, q := range body.Queues {
				busy += q.Pending + q.Active + q.Scheduled + q.Retry
			}
			if busy == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks not finished within %s: %d unfinished (last answer %d %s, %v)", timeout, busy, r.status, r.body, err)
		}
		time.Sleep(time.Second)
	}
}

// storageFigures are the README's measured bytes per task (Reliability,
// Storage), the one place they are written down (TestReadmeStorageArithmetic
// checks the arithmetic there against them).
type storageFigures struct {
	Pending, Completed [2]float64 // low and high bound, bytes
}

func readmeStorageFigures(t *testing.T) storageFigures {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var f storageFigures
	for what, dst := range map[string]*[2]float64{"pending": &f.Pending, "completed": &f.Completed} {
		re := regexp.MustCompile(`([\d,]+)–([\d,]+) bytes\s+per\s+` + what + `\s+task`)
		m := re.FindSubmatch(b)
		if m == nil {
			t.Fatalf("README.md states no %q", re)
		}
		for i := range 2 {
			if dst[i], err = strconv.ParseFloat(strings.ReplaceAll(string(m[1+i]), ",", ""), 64); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.IsSorted(dst[:]) {
			t.Fatalf("README.md: %s bytes per %s task is no range", fmt.Sprint(dst[0], "–", dst[1]), what)
		}
	}
	return f
}
