package apptest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// Response is an API answer, read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Task decodes the body as a task.
func (r Response) Task(t testing.TB) taskstore.Task {
	t.Helper()
	var task taskstore.Task
	if err := json.Unmarshal(r.Body, &task); err != nil {
		t.Fatalf("decode task from %d %s: %v", r.Status, r.Body, err)
	}
	return task
}

// Problem is an RFC 9457 problem document as the API writes it.
type Problem struct {
	Type      string             `json:"type"`
	Title     string             `json:"title"`
	Status    int                `json:"status"`
	Detail    string             `json:"detail"`
	RequestID string             `json:"request_id"`
	Errors    []tasks.FieldError `json:"errors"`
}

// Problem decodes the body as a problem document, failing unless it is
// served as application/problem+json and agrees with the response status.
func (r Response) Problem(t testing.TB) Problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (body %s)", ct, r.Body)
	}
	var p Problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("decode problem %s: %v", r.Body, err)
	}
	if p.Status != r.Status || p.Type == "" || p.Title == "" {
		t.Fatalf("incomplete problem document for %d: %s", r.Status, r.Body)
	}
	return p
}

// Do sends a request to the API; a non-empty body is sent as JSON and
// headers are name, value pairs.
func (s *Stack) Do(method, path, body string, headers ...string) Response {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.Server.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.Server.Client().Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Submit posts a task and requires 202.
func (s *Stack) Submit(body string, headers ...string) taskstore.Task {
	s.t.Helper()
	r := s.Do(http.MethodPost, "/v1/tasks", body, headers...)
	if r.Status != http.StatusAccepted {
		s.t.Fatalf("POST /v1/tasks %s: %d %s", body, r.Status, r.Body)
	}
	return r.Task(s.t)
}

// Get reads a task and requires 200.
func (s *Stack) Get(id string) taskstore.Task {
	s.t.Helper()
	r := s.Do(http.MethodGet, "/v1/tasks/"+id, "")
	if r.Status != http.StatusOK {
		s.t.Fatalf("GET /v1/tasks/%s: %d %s", id, r.Status, r.Body)
	}
	return r.Task(s.t)
}

// Await polls a task until it reaches one of states.
func (s *Stack) Await(id string, timeout time.Duration, states ...taskstore.State) taskstore.Task {
	s.t.Helper()
	// asynq marks a task active a moment before the worker records the
	// attempt (and a cancel in between ends it before any attempt): a test
	// that waits for active means the attempt is running.
	return s.AwaitFunc(id, timeout, fmt.Sprint(states), func(task taskstore.Task) bool {
		return slices.Contains(states, task.State) && (task.State != taskstore.StateActive || task.StartedAt != nil)
	})
}

// AwaitFunc polls a task until until reports true; want describes the
// condition in the failure message.
func (s *Stack) AwaitFunc(id string, timeout time.Duration, want string, until func(taskstore.Task) bool) taskstore.Task {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		task := s.Get(id)
		if until(task) {
			return task
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("task %s still %s after %s (want %s): %+v", id, task.State, timeout, want, task)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
