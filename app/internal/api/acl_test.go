package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// TestAPIAsItsRedisUser runs the API logged in as the stack's api user
// (apptest does): submit, get, list and cancel answer as they should, and
// storage admission reads INFO memory (calcgrid_redis_memory_used_bytes),
// which it would otherwise fail on every submission.
func TestAPIAsItsRedisUser(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	task := e.Submit(`{"type":"diagnostic.noop"}`)
	if got := e.Get(task.ID); got.State != taskstore.StatePending {
		t.Errorf("GET: %+v", got)
	}
	if r := e.Do(http.MethodGet, "/v1/tasks", ""); r.Status != http.StatusOK || !strings.Contains(string(r.Body), task.ID) {
		t.Errorf("GET /v1/tasks: %d %s", r.Status, r.Body)
	}
	if r := e.Do(http.MethodDelete, "/v1/tasks/"+task.ID, ""); r.Status != http.StatusOK {
		t.Errorf("DELETE: %d %s", r.Status, r.Body)
	}
	if r := e.Do(http.MethodGet, "/readyz", ""); r.Status != http.StatusOK {
		t.Errorf("GET /readyz: %d %s", r.Status, r.Body)
	}
	m, err := e.Store.Memory(t.Context())
	if err != nil || m.Used <= 0 {
		t.Errorf("Memory as api: %+v, %v", m, err)
	}
	r := e.Do(http.MethodGet, "/metrics", "")
	if !strings.Contains(string(r.Body), "calcgrid_redis_memory_used_bytes ") {
		t.Errorf("/metrics lacks calcgrid_redis_memory_used_bytes:\n%s", r.Body)
	}
	for _, l := range e.Logs.Lines(func(l apptest.Line) bool {
		s := fmt.Sprint(l)
		return strings.Contains(s, "NOPERM") || strings.Contains(s, "can't run this command")
	}) {
		t.Errorf("logged a refusal: %v", l)
	}
}
