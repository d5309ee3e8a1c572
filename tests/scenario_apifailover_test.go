package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// apiFault is a fault of one API instance that the stream of requests must
// not notice: inject at stopAt, heal at startAt.
type apiFault struct {
	name, fault  string
	inject, heal []string // docker arguments
	// window is how long after the injection a POST sent may still be
	// answered 503 by the cut-off instance itself, within 2 s (it notices
	// Redis is gone, then refuses connections; nginx passes a refused POST
	// on, never a 503).
	window time.Duration
}

// scenarioAPIFailover: during a 30 s stream of GETs and POSTs (each POST with
// an idempotency key, some keys sent twice) one API instance is stopped and
// started again; then, in a second stream, cut off from Redis (its data
// network disconnected) and reconnected. The client sees no 5xx and no
// connection error (but for POSTs the cut-off instance answers 503, within
// 2 s, before it refuses connections), every key names one task, no task is
// created twice, the cut-off instance's /readyz fails, and the instance
// serves again after the heal.
func (s *stack) scenarioAPIFailover(t *testing.T) {
	target := s.containers["api"][1]
	nets := s.networks(t)
	// The API listens on its app-network address only.
	appAddr := inspect(t, target).NetworkSettings.Networks[nets["app"]].IPAddress + ":8080"
	for _, f := range []apiFault{
		{name: "stopped", fault: "one API container stopped", inject: []string{"stop", target}, heal: []string{"start", target}},
		{name: "cut off from Redis", fault: "one API instance disconnected from the data network (Redis)",
			inject: []string{"network", "disconnect", nets["data"], target}, heal: []string{"network", "connect", nets["data"], target},
			window: 2 * time.Second},
	} {
		t.Run(f.name, func(t *testing.T) { s.apiFailover(t, target, appAddr, f) })
	}
}

func (s *stack) apiFailover(t *testing.T, target, appAddr string, f apiFault) {
	const (
		stream  = 30 * time.Second
		stopAt  = 8 * time.Second
		startAt = 16 * time.Second
	)
	c := s.client(t, s.vars(t))
	healed := false
	t.Cleanup(func() {
		if !healed {
			_, _ = dockerE(f.heal...)
		}
		s.waitHealthy(t, 90*time.Second)
	})
	tasksBefore := s.taskCount(t)
	run := time.Now().UnixNano()

	var (
		mu        sync.Mutex
		injected  time.Time // when the fault was in place
		restarted time.Time // when the heal returned
		readyz    error     // the instance's own /readyz while faulty
	)
	chaos := make(chan error, 1)
	begin := time.Now()
	go func() {
		time.Sleep(stopAt)
		if out, err := dockerE(f.inject...); err != nil {
			chaos <- fmt.Errorf("docker %v: %v: %s", f.inject, err, out)
			return
		}
		mu.Lock()
		injected = time.Now()
		mu.Unlock()
		if f.window > 0 {
			time.Sleep(f.window + time.Second)
			_, err := dockerE("exec", target, "/usr/local/bin/calcgrid", "probe", "http://"+appAddr+"/readyz")
			mu.Lock()
			readyz = err
			mu.Unlock()
		}
		time.Sleep(time.Until(begin.Add(startAt)))
		if out, err := dockerE(f.heal...); err != nil {
			chaos <- fmt.Errorf("docker %v: %v: %s", f.heal, err, out)
			return
		}
		mu.Lock()
		restarted = time.Now()
		healed = true
		mu.Unlock()
		chaos <- nil
	}()

	keyID := map[string]string{} // idempotency key → task id
	var (
		ids                   []string
		requests, posts, dups int
		failures              []string
		servedAfterRestart    int
		windowed              []string // POSTs the cut-off instance answered 503 in its window
		windowedKeys          []string // their idempotency keys
		lastWindowed          time.Duration
	)
	record := func(what string, r reply, err error) bool {
		requests++
		mu.Lock()
		// Sent before the instance could notice (and so answered by it).
		inWindow := !injected.IsZero() && r.at.Add(-r.took).Sub(injected) <= f.window
		mu.Unlock()
		switch {
		case err != nil:
			failures = append(failures, fmt.Sprintf("%s: connection error: %v", what, err))
			return false
		case r.status == http.StatusServiceUnavailable && inWindow && r.upstream == target && r.took <= 2*time.Second &&
			len(what) > 4 && what[:4] == "POST":
			windowed = append(windowed, fmt.Sprintf("%s: 503 in %s", what, r.took.Round(time.Millisecond)))
			windowedKeys = append(windowedKeys, strings.TrimPrefix(what, "POST key "))
			mu.Lock()
			lastWindowed = max(lastWindowed, r.at.Sub(injected))
			mu.Unlock()
			return false
		case r.status >= 500:
			failures = append(failures, fmt.Sprintf("%s: %d from %q in %s: %s", what, r.status, r.upstream, r.took.Round(time.Millisecond), r.body))
			return false
		}
		mu.Lock()
		if !restarted.IsZero() && r.at.After(restarted) && r.upstream == target {
			servedAfterRestart++
		}
		mu.Unlock()
		return true
	}
	post := func(key string) {
		posts++
		r, err := c.send(t.Context(), http.MethodPost, "/v1/tasks",
			submission{Type: "diagnostic.noop", Payload: map[string]any{}}, http.Header{"Idempotency-Key": {key}})
		if !record("POST key "+key, r, err) {
			return
		}
		var tk task
		if err := json.Unmarshal(r.body, &tk); err != nil || (r.status != http.StatusAccepted && r.status != http.StatusOK) {
			failures = append(failures, fmt.Sprintf("POST key %s: %d %s", key, r.status, r.body))
			return
		}
		// A first use may answer 200 too: nginx retried a POST that the
		// stopping instance had already stored, and the key found it.
		prev, seen := keyID[key]
		switch {
		case seen && prev != tk.ID:
			failures = append(failures, fmt.Sprintf("key %s named task %s, now %s: created twice", key, prev, tk.ID))
		case seen && r.status != http.StatusOK:
			failures = append(failures, fmt.Sprintf("POST key %s again: %d, want 200 (the existing task)", key, r.status))
		}
		if !seen {
			keyID[key] = tk.ID
			ids = append(ids, tk.ID)
		}
	}
	for i := 0; time.Since(begin) < stream; i++ {
		switch {
		case i%6 == 5 && len(keyID) > 0:
			dups++
			post(fmt.Sprintf("failover-%d-%d", run, i/2-1))
		case i%2 == 0:
			post(fmt.Sprintf("failover-%d-%d", run, i/2))
		case len(ids) > 0:
			r, err := c.send(t.Context(), http.MethodGet, "/v1/tasks/"+ids[len(ids)-1], nil, nil)
			if record("GET task", r, err) && r.status != http.StatusOK {
				failures = append(failures, fmt.Sprintf("GET task %s: %d %s", ids[len(ids)-1], r.status, r.body))
			}
		default:
			r, err := c.send(t.Context(), http.MethodGet, "/healthz", nil, nil)
			record("GET /healthz", r, err)
		}
		time.Sleep(15 * time.Millisecond)
	}
	if err := <-chaos; err != nil {
		t.Fatal(err)
	}
	// A 503 may leave the outcome unknown (the task stored, the answer
	// lost): the client retries with the same key, as the answer says,
	// and finds the one task or creates it.
	for _, key := range windowedKeys {
		post(key)
	}
	// least_conn gives the restarted instance work once fail_timeout passes.
	for deadline := time.Now().Add(30 * time.Second); servedAfterRestart == 0 && time.Now().Before(deadline); {
		r, err := c.send(t.Context(), http.MethodGet, "/healthz", nil, nil)
		record("GET /healthz after the stream", r, err)
		time.Sleep(50 * time.Millisecond)
	}

	t.Logf("%d requests (%d POSTs, %d repeated keys) in %s; %s %s at %s, healed at %s; %d answers from it after the heal; %d POSTs answered 503 by it in its first %s: %v",
		requests, posts, dups, time.Since(begin).Round(time.Second), target, f.name, stopAt, startAt, servedAfterRestart, len(windowed), f.window, windowed)
	if f.window > 0 && readyz == nil {
		t.Errorf("%s's /readyz answered while it was cut off from Redis", target)
	}
	for i, f := range failures {
		if i == 10 {
			t.Errorf("... and %d more", len(failures)-10)
			break
		}
		t.Error(f)
	}
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed during the API failover", len(failures), requests)
	}
	if servedAfterRestart == 0 {
		t.Errorf("restarted API instance %s received no traffic within 30 s after the stream", target)
	}
	expected := "no 5xx, no connection error, one task per idempotency key, the instance serves again"
	if f.window > 0 {
		expected = "its /readyz fails; nginx stops sending it work: no 5xx but the instance's own 503s (within 2 s) to POSTs in its first " + f.window.String() + "; one task per key; it serves again"
	}
	s.record(reliabilityRow{Scenario: "APIFailover/" + f.name, Fault: fmt.Sprintf("%s for %s under a stream of GETs and POSTs", f.fault, startAt-stopAt),
		Expected: expected,
		Observed: fmt.Sprintf("%d requests, %d failed, %d POSTs answered 503 in the window; %d answers from the instance after the heal", requests, len(failures), len(windowed), servedAfterRestart),
		Recovery: lastWindowed})
	if created := s.taskCount(t) - tasksBefore; created != len(keyID) {
		t.Errorf("%d tasks created for %d distinct idempotency keys, want one each", created, len(keyID))
	}
}
