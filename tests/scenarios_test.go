package tests

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

var client = &http.Client{Timeout: 10 * time.Second}

// testHealth: every container reports healthy and /healthz answers through nginx.
func (s *stack) testHealth(t *testing.T) {
	for role, names := range s.containers {
		for _, name := range names {
			if got := docker(t, "inspect", "-f", "{{.State.Health.Status}}", name); got != "healthy" {
				t.Errorf("%s container %s is %q, want healthy", role, name, got)
			}
		}
	}
	resp, body := s.do(t, http.MethodGet, "/healthz", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz through nginx: %d %s", resp.StatusCode, body)
	}
	if up := resp.Header.Get("X-Upstream"); !strings.HasPrefix(up, "calcgrid-"+env+"-api-") {
		t.Errorf("X-Upstream = %q, want an API instance name", up)
	}
}

// testNoop: a diagnostic.noop task submitted through nginx completes.
func (s *stack) testNoop(t *testing.T) {
	resp, body := s.do(t, http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop","payload":{}}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/tasks: %d %s, want 202", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		t.Fatalf("POST /v1/tasks: 202 without a Location header (body %s)", body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body := s.do(t, http.MethodGet, loc, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", loc, resp.StatusCode, body)
		}
		var task struct {
			State string `json:"state"`
		}
		if err := json.Unmarshal(body, &task); err != nil {
			t.Fatalf("GET %s: %v in %s", loc, err, body)
		}
		switch task.State {
		case "completed":
			return
		case "failed", "archived":
			t.Fatalf("task %s ended %s: %s", loc, task.State, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s still %q after 30s: %s", loc, task.State, body)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// do sends one request through nginx; path may be absolute (a Location).
func (s *stack) do(t *testing.T, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	url := path
	if strings.HasPrefix(path, "/") {
		url = s.endpoint + path
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, b
}
