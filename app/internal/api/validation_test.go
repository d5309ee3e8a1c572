package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
)

func TestValidation(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	long := strings.Repeat("k", 129)
	for _, c := range []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		field                    string // first errors[].field for 422
	}{
		{"malformed JSON", "POST", "/v1/tasks", `{"type":`, nil, 400, ""},
		{"empty body", "POST", "/v1/tasks", ` `, nil, 400, ""},
		{"not an object", "POST", "/v1/tasks", `[1,2]`, nil, 400, ""},
		{"two objects", "POST", "/v1/tasks", `{"type":"diagnostic.noop"} {}`, nil, 400, ""},
		{"text content type", "POST", "/v1/tasks", `{"type":"diagnostic.noop"}`, []string{"Content-Type", "text/plain"}, 415, ""},
		{"form content type", "POST", "/v1/tasks", `type=diagnostic.noop`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, ""},
		{"body over 2 MiB", "POST", "/v1/tasks", `{"type":"diagnostic.noop","idempotency_key":"` + strings.Repeat("x", 2<<20) + `"}`, nil, 413, ""},
		{"unknown field", "POST", "/v1/tasks", `{"type":"diagnostic.noop","colour":"red"}`, nil, 422, "colour"},
		{"missing type", "POST", "/v1/tasks", `{"payload":{}}`, nil, 422, "type"},
		{"unknown type", "POST", "/v1/tasks", `{"type":"nope"}`, nil, 422, "type"},
		{"type not a string", "POST", "/v1/tasks", `{"type":5}`, nil, 422, "type"},
		{"bad priority", "POST", "/v1/tasks", `{"type":"diagnostic.noop","priority":"urgent"}`, nil, 422, "priority"},
		{"max_retry too big", "POST", "/v1/tasks", `{"type":"diagnostic.noop","max_retry":99}`, nil, 422, "max_retry"},
		{"max_retry over 5", "POST", "/v1/tasks", `{"type":"diagnostic.noop","max_retry":6}`, nil, 422, "max_retry"},
		{"timeout_s over the type's", "POST", "/v1/tasks", `{"type":"diagnostic.noop","timeout_s":31}`, nil, 422, "timeout_s"},
		{"max_retry fractional", "POST", "/v1/tasks", `{"type":"diagnostic.noop","max_retry":1.5}`, nil, 422, "max_retry"},
		{"timeout_s zero", "POST", "/v1/tasks", `{"type":"diagnostic.noop","timeout_s":0}`, nil, 422, "timeout_s"},
		{"key too long", "POST", "/v1/tasks", `{"type":"diagnostic.noop","idempotency_key":"` + long + `"}`, nil, 422, "idempotency_key"},
		{"header key too long", "POST", "/v1/tasks", `{"type":"diagnostic.noop"}`, []string{"Idempotency-Key", long}, 422, "Idempotency-Key"},
		{"keys disagree", "POST", "/v1/tasks", `{"type":"diagnostic.noop","idempotency_key":"a"}`, []string{"Idempotency-Key", "b"}, 422, "idempotency_key"},
		{"payload out of range", "POST", "/v1/tasks", `{"type":"diagnostic.sleep","payload":{"ms":-1}}`, nil, 422, "payload.ms"},
		{"payload unknown field", "POST", "/v1/tasks", `{"type":"diagnostic.sleep","payload":{"seconds":1}}`, nil, 422, "payload.seconds"},
		{"payload wrong type", "POST", "/v1/tasks", `{"type":"diagnostic.sleep","payload":{"ms":"1"}}`, nil, 422, "payload.ms"},
		{"payload not an object", "POST", "/v1/tasks", `{"type":"diagnostic.sleep","payload":5}`, nil, 422, "payload"},
		{"payload enum", "POST", "/v1/tasks", `{"type":"diagnostic.fail","payload":{"mode":"explode"}}`, nil, 422, "payload.mode"},
		{"unknown task", "GET", "/v1/tasks/0d6b3c1a-9c4e-4f0e-8d1a-2b3c4d5e6f70", "", nil, 404, ""},
		{"cancel unknown task", "DELETE", "/v1/tasks/nope", "", nil, 404, ""},
		{"unknown path", "GET", "/v2/tasks", "", nil, 404, ""},
		{"wrong method", "PUT", "/v1/tasks", "", nil, 405, ""},
		{"list bad state", "GET", "/v1/tasks?state=done", "", nil, 422, "state"},
		{"list bad queue", "GET", "/v1/tasks?queue=urgent", "", nil, 422, "queue"},
		{"list bad limit", "GET", "/v1/tasks?limit=0", "", nil, 422, "limit"},
		{"list bad cursor", "GET", "/v1/tasks?cursor=xyz", "", nil, 422, "cursor"},
	} {
		t.Run(c.name, func(t *testing.T) {
			headers := c.headers
			r := e.Do(c.method, c.path, c.body, headers...)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			p := r.Problem(t)
			if p.RequestID == "" || r.Header.Get("X-Request-ID") != p.RequestID {
				t.Errorf("problem request_id %q, header %q", p.RequestID, r.Header.Get("X-Request-ID"))
			}
			if c.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != c.field || p.Errors[0].Message == "") {
				t.Errorf("errors = %+v, want field %q first", p.Errors, c.field)
			}
			if c.status == http.StatusMethodNotAllowed && !strings.Contains(strings.Join(r.Header.Values("Allow"), ","), "POST") {
				t.Errorf("Allow = %v", r.Header.Values("Allow"))
			}
		})
	}
	// Nothing invalid reached Redis.
	queues, err := e.Store.Queues(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range queues {
		if q.Pending != 0 {
			t.Errorf("queue %s holds %d tasks after invalid submissions", q.Name, q.Pending)
		}
	}
}

func TestListPagination(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	want := map[string]bool{}
	for range 7 {
		want[e.Submit(`{"type":"diagnostic.noop","priority":"low"}`).ID] = true
	}
	want[e.Submit(`{"type":"diagnostic.noop","priority":"high"}`).ID] = true
	got := map[string]bool{}
	path := "/v1/tasks?state=pending&limit=3"
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		r := e.Do(http.MethodGet, path, "")
		var page struct {
			Tasks []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"tasks"`
			NextCursor string `json:"next_cursor"`
		}
		if r.Status != http.StatusOK {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Tasks) > 3 {
			t.Errorf("page of %d tasks, limit 3", len(page.Tasks))
		}
		for _, task := range page.Tasks {
			if got[task.ID] || task.State != "pending" {
				t.Errorf("task %s repeated or not pending (%s)", task.ID, task.State)
			}
			got[task.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		path = "/v1/tasks?state=pending&cursor=" + page.NextCursor
	}
	if len(got) != len(want) {
		t.Errorf("listed %d tasks, want %d", len(got), len(want))
	}
}
