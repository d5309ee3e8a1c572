package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// scenarioAPIFailover: during a 30 s stream of GETs and POSTs (each POST with
// an idempotency key, some keys sent twice) one API container is stopped and
// started again. The client sees no 5xx and no connection error, every key
// names one task, no task is created twice, and the restarted instance
// serves again.
func (s *stack) scenarioAPIFailover(t *testing.T) {
	const (
		stream  = 30 * time.Second
		stopAt  = 8 * time.Second
		startAt = 16 * time.Second
	)
	c := s.client(t, s.vars(t))
	target := s.containers["api"][1]
	t.Cleanup(func() {
		docker(t, "start", target)
		s.waitHealthy(t, 90*time.Second)
	})
	tasksBefore := s.taskCount(t)
	run := time.Now().UnixNano()

	var (
		mu        sync.Mutex
		restarted time.Time // when `docker start` returned
	)
	chaos := make(chan error, 1)
	begin := time.Now()
	go func() {
		time.Sleep(stopAt)
		if out, err := dockerE("stop", target); err != nil {
			chaos <- fmt.Errorf("docker stop %s: %v: %s", target, err, out)
			return
		}
		time.Sleep(time.Until(begin.Add(startAt)))
		if out, err := dockerE("start", target); err != nil {
			chaos <- fmt.Errorf("docker start %s: %v: %s", target, err, out)
			return
		}
		mu.Lock()
		restarted = time.Now()
		mu.Unlock()
		chaos <- nil
	}()

	keyID := map[string]string{} // idempotency key → task id
	var (
		ids                   []string
		requests, posts, dups int
		failures              []string
		servedAfterRestart    int
	)
	record := func(what string, r reply, err error) bool {
		requests++
		switch {
		case err != nil:
			failures = append(failures, fmt.Sprintf("%s: connection error: %v", what, err))
			return false
		case r.status >= 500:
			failures = append(failures, fmt.Sprintf("%s: %d from %q: %s", what, r.status, r.upstream, r.body))
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
	// least_conn gives the restarted instance work once fail_timeout passes.
	for deadline := time.Now().Add(30 * time.Second); servedAfterRestart == 0 && time.Now().Before(deadline); {
		r, err := c.send(t.Context(), http.MethodGet, "/healthz", nil, nil)
		record("GET /healthz after the stream", r, err)
		time.Sleep(50 * time.Millisecond)
	}

	t.Logf("%d requests (%d POSTs, %d repeated keys) in %s; %s stopped at %s, started at %s; %d answers from it after the restart",
		requests, posts, dups, time.Since(begin).Round(time.Second), target, stopAt, startAt, servedAfterRestart)
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
	if created := s.taskCount(t) - tasksBefore; created != len(keyID) {
		t.Errorf("%d tasks created for %d distinct idempotency keys, want one each", created, len(keyID))
	}
}
