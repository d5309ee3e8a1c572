package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
)

// TestNotReplicated: with --redis-wait-replicas 1 behind a Sentinel, a
// submission is 202 while the replica acknowledges it; with the replica
// stopped it is 503 not-replicated with Retry-After within the wait
// timeout, and its detail tells the client the task may exist and to
// retry with the same key; the retry, once the replica is back, returns
// the task the refused submission wrote.
func TestNotReplicated(t *testing.T) {
	e := newEnv(t, apptest.Options{Replicas: 1, WaitReplicas: 1})
	e.Submit(`{"type":"diagnostic.noop"}`, "Idempotency-Key", "replicated")

	e.HA.Replicas[0].Stop()
	start := time.Now()
	r := e.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop"}`, "Idempotency-Key", "unconfirmed")
	took := time.Since(start)
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("with the replica stopped: %d %s, want 503", r.Status, r.Body)
	}
	p := r.Problem(t)
	if p.Type != "urn:calcgrid:problem:not-replicated" || r.Header.Get("Retry-After") == "" ||
		!strings.Contains(p.Detail, "may exist") || !strings.Contains(p.Detail, "same Idempotency-Key") {
		t.Errorf("problem %+v, Retry-After %q", p, r.Header.Get("Retry-After"))
	}
	if took > apptest.WaitTimeout+time.Second {
		t.Errorf("answered after %s; the wait timeout is %s", took, apptest.WaitTimeout)
	}
	if logged := e.Logs.Lines(func(l apptest.Line) bool { return l.Msg() == "submission not replicated" }); len(logged) != 1 {
		t.Error("the refusal was not logged")
	}

	e.HA.Replicas[0].Restart()
	e.HA.Sentinel.AwaitReplicas(1)
	r = e.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop"}`, "Idempotency-Key", "unconfirmed")
	if r.Status != http.StatusOK && r.Status != http.StatusAccepted {
		t.Fatalf("the retry: %d %s", r.Status, r.Body)
	}
	t.Logf("refused in %s; the retry answered %d", took.Round(time.Millisecond), r.Status)
}
