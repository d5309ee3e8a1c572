package worker_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// TestWorkerAsItsRedisUser runs a worker logged in as the stack's worker
// user: it runs tasks, stops one on the API's cancellation (pub/sub on
// calcgrid:cancel), sweeps expired ones, recovers and serves its queue
// metrics; none of it logs a refusal, as it would only log a failed sweep.
func TestWorkerAsItsRedisUser(t *testing.T) {
	e, addr := startWorker(t, apptest.Options{Retention: time.Second}, 100*time.Millisecond)

	ok := e.Submit(`{"type":"diagnostic.noop"}`)
	running := e.Submit(`{"type":"diagnostic.sleep","payload":{"ms":60000}}`)
	e.Await(ok.ID, 10*time.Second, taskstore.StateCompleted)
	e.Await(running.ID, 10*time.Second, taskstore.StateActive)
	if r := e.Do(http.MethodDelete, "/v1/tasks/"+running.ID, ""); r.Status != http.StatusAccepted && r.Status != http.StatusOK {
		t.Fatalf("DELETE: %d %s", r.Status, r.Body)
	}
	e.Await(running.ID, 5*time.Second, taskstore.StateCancelled)
	// The cancelled task is archived in asynq: only the worker's sweep
	// deletes it once its retention (1 s) has passed.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r := e.Do(http.MethodGet, "/v1/tasks/"+running.ID, ""); r.Status == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cancelled task %s not swept 10 s after its retention", running.ID)
		}
	}
	if _, err := e.WorkerStore.Recover(t.Context()); err != nil {
		t.Errorf("Recover as worker: %v", err)
	}
	if n, err := e.WorkerStore.Sweep(t.Context()); err != nil {
		t.Errorf("Sweep as worker: %d, %v", n, err)
	}
	// The queue collector reads through asynq's Inspector (Lua scripts with
	// MEMORY USAGE) as this user.
	if body := scrape(t, "http://"+addr+"/metrics"); !strings.Contains(body, `calcgrid_queue_tasks{queue="medium",state="pending"} 0`) {
		t.Errorf("worker /metrics has no queue series:\n%s", body)
	}
	refused := func(l apptest.Line) bool {
		s := fmt.Sprint(l)
		return strings.Contains(s, "NOPERM") || strings.Contains(s, "can't run this command")
	}
	for _, l := range e.Logs.Lines(refused) {
		t.Errorf("logged a refusal: %v", l)
	}
}
