package tests

import (
	"net/http"
	"testing"
	"time"
)

// scenarioRouting: 300 submissions through nginx are spread over every API
// instance (none above half), and each X-Request-ID reaches the logs of the
// API instance that served it and of the worker that ran its task.
func (s *stack) scenarioRouting(t *testing.T) {
	const requests = 300
	c := s.client(t, s.vars(t))
	since := time.Now()

	type sent struct{ taskID, requestID, upstream string }
	var all []sent
	served := map[string]int{}
	for range requests {
		tk, r := c.submit(t, submission{Type: "diagnostic.noop", Payload: map[string]any{}})
		if r.requestID == "" {
			t.Fatalf("202 without X-Request-ID (task %s)", tk.ID)
		}
		if tk.RequestID != r.requestID {
			t.Errorf("task %s stores request_id %q, the answer's X-Request-ID is %q", tk.ID, tk.RequestID, r.requestID)
		}
		served[r.upstream]++
		all = append(all, sent{tk.ID, r.requestID, r.upstream})
	}
	t.Logf("requests per API instance: %v", served)
	for _, api := range s.containers["api"] {
		n := served[api]
		if n == 0 {
			t.Errorf("API instance %s served none of %d requests (per instance: %v)", api, requests, served)
		}
		if n > requests/2 {
			t.Errorf("API instance %s served %d of %d requests, more than half (per instance: %v)", api, n, requests, served)
		}
	}
	if extra := len(served) - len(s.containers["api"]); extra > 0 {
		t.Errorf("answers came from unknown upstreams: %v", served)
	}

	ids := make([]string, len(all))
	for i, x := range all {
		ids[i] = x.taskID
	}
	c.waitCompleted(t, ids, 2*time.Minute)

	// Each API instance logs the request with its id.
	apiLogged := map[string]map[string]bool{}
	for _, api := range s.containers["api"] {
		apiLogged[api] = map[string]bool{}
		for _, l := range containerLogs(t, api, since) {
			if l.Method == http.MethodPost && l.RequestID != "" {
				apiLogged[api][l.RequestID] = true
			}
		}
	}
	// Each worker logs the tasks it ran with the request id.
	ranBy := map[string]string{}
	workerRequest := map[string]string{}
	for _, w := range s.containers["worker"] {
		for _, l := range containerLogs(t, w, since) {
			if l.Msg == "task succeeded" && l.TaskID != "" {
				ranBy[l.TaskID] = w
				workerRequest[l.TaskID] = l.RequestID
			}
		}
	}
	missing := 0
	for _, x := range all {
		if !apiLogged[x.upstream][x.requestID] {
			missing++
			if missing <= 5 {
				t.Errorf("request %s (task %s) is not in the logs of %s, which served it", x.requestID, x.taskID, x.upstream)
			}
		}
		switch w, ok := ranBy[x.taskID]; {
		case !ok:
			missing++
			if missing <= 5 {
				t.Errorf("task %s (request %s) is in no worker's log as succeeded", x.taskID, x.requestID)
			}
		case workerRequest[x.taskID] != x.requestID:
			missing++
			if missing <= 5 {
				t.Errorf("worker %s logged task %s with request_id %q, want %q", w, x.taskID, workerRequest[x.taskID], x.requestID)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d request ids not correlated in the logs", missing, requests)
	}
}
