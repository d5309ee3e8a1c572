package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// TestAdminKeys: create, read, list, update and revoke keys; the secret is
// in the creation's answer only; invalid requests name their field.
func TestAdminKeys(t *testing.T) {
	e := newAuthEnv(t)
	e.tenant("a")
	e.tenant("b")
	k := e.key("a", `"read","submit"`, `,"rate_per_second":5,"max_pending":7,"priorities":["low"]`)
	if !strings.HasPrefix(k.Secret, "cgk_") || len(k.Secret) != 4+43 || len(k.ID) != 4+26 || !strings.HasPrefix(k.ID, "key_") {
		t.Errorf("created key %+v: want key_ and 26 characters, secret cgk_ and 43", k)
	}
	e.key("b", `"read"`, "")
	for _, path := range []string{"/v1/admin/keys/" + k.ID, "/v1/admin/keys", "/v1/admin/keys?tenant=a"} {
		r := e.admin(http.MethodGet, path, "")
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), "secret") || strings.Contains(string(r.Body), k.Secret[4:]) {
			t.Errorf("GET %s shows the secret: %s", path, r.Body)
		}
	}
	var list struct{ Keys []map[string]any }
	json.Unmarshal(e.admin(http.MethodGet, "/v1/admin/keys?tenant=a", "").Body, &list)
	if len(list.Keys) != 1 || list.Keys[0]["id"] != k.ID {
		t.Errorf("keys of a: %+v", list.Keys)
	}
	json.Unmarshal(e.admin(http.MethodGet, "/v1/admin/keys", "").Body, &list)
	if len(list.Keys) != 2 {
		t.Errorf("all keys: %+v", list.Keys)
	}
	r := e.admin(http.MethodGet, "/v1/admin/keys/"+k.ID, "")
	want := `{"id":"` + k.ID + `","tenant":"a","name":"k","scopes":["submit","read"],"rate_per_second":5,"max_pending":7,"priorities":["low"],"expires_at":null,"created_at":`
	if !strings.HasPrefix(compact(t, r.Body), want) {
		t.Errorf("GET key:\n%s\nwant prefix\n%s", r.Body, want)
	}
	r = e.admin(http.MethodPatch, "/v1/admin/keys/"+k.ID, `{"scopes":["read","cancel"],"name":"renamed","priorities":[]}`)
	if r.Status != http.StatusOK || !strings.Contains(compact(t, r.Body), `"name":"renamed","scopes":["read","cancel"],"rate_per_second":5,"max_pending":7,"priorities":[]`) {
		t.Errorf("PATCH: %d %s", r.Status, r.Body)
	}
	if r := e.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop"}`, bearer(k.Secret)...); r.Status != http.StatusForbidden {
		t.Errorf("submit after the scope was removed: %d %s", r.Status, r.Body)
	}
	for _, c := range []struct {
		name, method, path, body, field string
	}{
		{"unknown scope", http.MethodPost, "/v1/admin/keys", `{"tenant":"a","name":"x","scopes":["write"]}`, "scopes[0]"},
		{"unknown tenant", http.MethodPost, "/v1/admin/keys", `{"tenant":"nobody","name":"x","scopes":["read"]}`, "tenant"},
		{"bad tenant name", http.MethodPost, "/v1/admin/keys", `{"tenant":"A B","name":"x","scopes":["read"]}`, "tenant"},
		{"no scopes", http.MethodPost, "/v1/admin/keys", `{"tenant":"a","name":"x"}`, "scopes"},
		{"empty scopes", http.MethodPost, "/v1/admin/keys", `{"tenant":"a","name":"x","scopes":[]}`, "scopes"},
		{"unknown priority", http.MethodPost, "/v1/admin/keys", `{"tenant":"a","name":"x","scopes":["read"],"priorities":["urgent"]}`, "priorities[0]"},
		{"negative rate", http.MethodPost, "/v1/admin/keys", `{"tenant":"a","name":"x","scopes":["read"],"rate_per_second":-1}`, "rate_per_second"},
		{"null name", http.MethodPost, "/v1/admin/keys", `{"tenant":"a","name":null,"scopes":["read"]}`, "name"},
		{"bad expiry", http.MethodPost, "/v1/admin/keys", `{"tenant":"a","name":"x","scopes":["read"],"expires_at":"tomorrow"}`, "expires_at"},
		{"unknown field", http.MethodPost, "/v1/admin/keys", `{"tenant":"a","name":"x","scopes":["read"],"owner":"me"}`, "owner"},
		{"tenant patched", http.MethodPatch, "/v1/admin/keys/" + k.ID, `{"tenant":"b"}`, "tenant"},
		{"scope patched", http.MethodPatch, "/v1/admin/keys/" + k.ID, `{"scopes":["root"]}`, "scopes[0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.admin(c.method, c.path, c.body)
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("%d %s, want 422", r.Status, r.Body)
			}
			p := r.Problem(t)
			if len(p.Errors) == 0 || p.Errors[0].Field != c.field {
				t.Errorf("errors %+v, want field %s", p.Errors, c.field)
			}
			if c.name == "unknown scope" && !strings.Contains(p.Errors[0].Message, "submit, read, cancel, admin") {
				t.Errorf("message %q does not list the allowed scopes", p.Errors[0].Message)
			}
		})
	}
	for _, path := range []string{"/v1/admin/keys/key_aaaaaaaaaaaaaaaaaaaaaaaaaa", "/v1/admin/keys/nonsense"} {
		for _, m := range []string{http.MethodGet, http.MethodDelete} {
			if r := e.admin(m, path, ""); r.Status != http.StatusNotFound {
				t.Errorf("%s %s: %d %s", m, path, r.Status, r.Body)
			}
		}
		if r := e.admin(http.MethodPatch, path, `{"name":"x"}`); r.Status != http.StatusNotFound {
			t.Errorf("PATCH %s: %d %s", path, r.Status, r.Body)
		}
	}
}

// TestAdminTenants: create, conflict, read with usage, refuse deletion
// while keys exist, delete.
func TestAdminTenants(t *testing.T) {
	e := newAuthEnv(t)
	r := e.admin(http.MethodPost, "/v1/admin/tenants", `{"name":"acme"}`)
	if r.Status != http.StatusCreated || !strings.HasPrefix(compact(t, r.Body), `{"name":"acme","created_at":`) {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if r := e.admin(http.MethodPost, "/v1/admin/tenants", `{"name":"acme"}`); r.Status != http.StatusConflict || r.Problem(t).Type != "urn:calcgrid:problem:conflict" {
		t.Errorf("create again: %d %s", r.Status, r.Body)
	}
	for _, body := range []string{`{"name":"Acme!"}`, `{}`, `{"name":7}`, `{"name":null}`} {
		if r := e.admin(http.MethodPost, "/v1/admin/tenants", body); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("create %s: %d %s", body, r.Status, r.Body)
		}
	}
	k := e.key("acme", all, "")
	e.Submit(`{"type":"diagnostic.noop"}`, bearer(k.Secret)...)
	e.Submit(`{"type":"diagnostic.noop","priority":"low"}`, bearer(k.Secret)...)
	r = e.admin(http.MethodGet, "/v1/admin/tenants/acme", "")
	if r.Status != http.StatusOK || !strings.Contains(compact(t, r.Body), `"usage":{"pending":2,"active":0,"completed_today":0}`) {
		t.Errorf("get: %d %s", r.Status, r.Body)
	}
	var list struct{ Tenants []struct{ Name string } }
	json.Unmarshal(e.admin(http.MethodGet, "/v1/admin/tenants", "").Body, &list)
	if len(list.Tenants) != 1 || list.Tenants[0].Name != "acme" {
		t.Errorf("list: %+v", list)
	}
	if r := e.admin(http.MethodDelete, "/v1/admin/tenants/acme", ""); r.Status != http.StatusConflict {
		t.Errorf("delete with a key: %d %s", r.Status, r.Body)
	}
	e.admin(http.MethodDelete, "/v1/admin/keys/"+k.ID, "")
	if r := e.admin(http.MethodDelete, "/v1/admin/tenants/acme", ""); r.Status != http.StatusNoContent {
		t.Errorf("delete: %d %s", r.Status, r.Body)
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		if r := e.admin(m, "/v1/admin/tenants/acme", ""); r.Status != http.StatusNotFound {
			t.Errorf("%s a deleted tenant: %d %s", m, r.Status, r.Body)
		}
	}
}

type adminQueue struct {
	Name       string
	Paused     bool
	MaxPending int `json:"max_pending"`
	Weight     int
	Pending    int
}

func (e authEnv) queue(name string) adminQueue {
	e.t.Helper()
	r := e.admin(http.MethodGet, "/v1/admin/queues/"+name, "")
	var q adminQueue
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &q) != nil {
		e.t.Fatalf("GET queue %s: %d %s", name, r.Status, r.Body)
	}
	return q
}

// TestAdminQueues: pause and resume, max_pending honoured by submissions
// (0 restores the default), weight stored, bounds and unknown queues.
func TestAdminQueues(t *testing.T) {
	e := newAuthEnv(t)
	e.tenant("a")
	k := e.key("a", all, "")
	var list struct{ Queues []adminQueue }
	json.Unmarshal(e.admin(http.MethodGet, "/v1/admin/queues", "").Body, &list)
	var names []string
	for _, q := range list.Queues {
		names = append(names, q.Name)
	}
	if !slices.Equal(names, []string{"high", "medium", "low"}) {
		t.Errorf("queues %v", names)
	}
	if q := e.queue("low"); q.Paused || q.MaxPending != 10000 || q.Weight != 1 {
		t.Errorf("low before any change: %+v", q)
	}
	for _, body := range []string{`{"paused":true}`, `{"paused":true}`} { // twice: no error
		if r := e.admin(http.MethodPatch, "/v1/admin/queues/low", body); r.Status != http.StatusOK {
			t.Fatalf("pause: %d %s", r.Status, r.Body)
		}
	}
	if q := e.queue("low"); !q.Paused {
		t.Errorf("low after pause: %+v", q)
	}
	for range 2 {
		if r := e.admin(http.MethodPatch, "/v1/admin/queues/low", `{"paused":false}`); r.Status != http.StatusOK {
			t.Fatalf("resume: %d %s", r.Status, r.Body)
		}
	}
	if r := e.admin(http.MethodPatch, "/v1/admin/queues/low", `{"max_pending":1,"weight":5}`); r.Status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if q := e.queue("low"); q.Paused || q.MaxPending != 1 || q.Weight != 5 {
		t.Errorf("low after patch: %+v", q)
	}
	e.Submit(`{"type":"diagnostic.noop","priority":"low"}`, bearer(k.Secret)...)
	r := e.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop","priority":"low"}`, bearer(k.Secret)...)
	if r.Status != http.StatusTooManyRequests || r.Problem(t).Type != "urn:calcgrid:problem:queue-full" {
		t.Errorf("over the queue's max_pending: %d %s", r.Status, r.Body)
	}
	e.Submit(`{"type":"diagnostic.noop","priority":"high"}`, bearer(k.Secret)...) // other queues keep theirs
	r = e.Do(http.MethodGet, "/v1/queues", "", bearer(k.Secret)...)
	if !strings.Contains(compact(t, r.Body), `{"name":"low","weight":5`) {
		t.Errorf("GET /v1/queues does not report the weight set: %s", r.Body)
	}
	if r := e.admin(http.MethodPatch, "/v1/admin/queues/low", `{"max_pending":0}`); r.Status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if q := e.queue("low"); q.MaxPending != 10000 || q.Weight != 5 {
		t.Errorf("low after max_pending 0: %+v", q)
	}
	e.Submit(`{"type":"diagnostic.noop","priority":"low"}`, bearer(k.Secret)...)
	for _, c := range []struct {
		path, body string
		status     int
	}{
		{"/v1/admin/queues/low", `{"weight":0}`, http.StatusUnprocessableEntity},
		{"/v1/admin/queues/low", `{"weight":101}`, http.StatusUnprocessableEntity},
		{"/v1/admin/queues/low", `{"max_pending":-1}`, http.StatusUnprocessableEntity},
		{"/v1/admin/queues/low", `{"paused":"yes"}`, http.StatusUnprocessableEntity},
		{"/v1/admin/queues/low", `{"paused":null}`, http.StatusUnprocessableEntity},
		{"/v1/admin/queues/low", `{"depth":3}`, http.StatusUnprocessableEntity},
		{"/v1/admin/queues/default", `{"paused":true}`, http.StatusNotFound},
	} {
		if r := e.admin(http.MethodPatch, c.path, c.body); r.Status != c.status {
			t.Errorf("PATCH %s %s: %d %s, want %d", c.path, c.body, r.Status, r.Body, c.status)
		}
	}
	if r := e.admin(http.MethodGet, "/v1/admin/queues/default", ""); r.Status != http.StatusNotFound {
		t.Errorf("GET an unknown queue: %d %s", r.Status, r.Body)
	}
}

// TestPausedQueueStopsItsTasks: with low paused, a worker runs high tasks
// and leaves low ones pending; resumed, it runs them. The tenant's usage
// counts them.
func TestPausedQueueStopsItsTasks(t *testing.T) {
	e := newAuthEnv(t)
	e.tenant("a")
	k := e.key("a", all, "")
	if r := e.admin(http.MethodPatch, "/v1/admin/queues/low", `{"paused":true}`); r.Status != http.StatusOK {
		t.Fatalf("pause: %d %s", r.Status, r.Body)
	}
	low := e.Submit(`{"type":"diagnostic.noop","priority":"low"}`, bearer(k.Secret)...)
	high := e.Submit(`{"type":"diagnostic.noop","priority":"high"}`, bearer(k.Secret)...)
	e.StartWorker(2, false)
	get := func(id string) taskstore.Task {
		t.Helper()
		r := e.Do(http.MethodGet, "/v1/tasks/"+id, "", bearer(k.Secret)...)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", id, r.Status, r.Body)
		}
		return r.Task(t)
	}
	deadline := time.Now().Add(10 * time.Second)
	for get(high.ID).State != taskstore.StateCompleted {
		if time.Now().After(deadline) {
			t.Fatalf("high task not completed: %+v", get(high.ID))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // several polls of the worker
	if got := get(low.ID); got.State != taskstore.StatePending {
		t.Fatalf("low task in a paused queue: %+v", got)
	}
	r := e.admin(http.MethodGet, "/v1/admin/tenants/a", "")
	if !strings.Contains(compact(t, r.Body), `"usage":{"pending":1,"active":0,"completed_today":1}`) {
		t.Errorf("usage while low is paused: %s", r.Body)
	}
	if r := e.admin(http.MethodPatch, "/v1/admin/queues/low", `{"paused":false}`); r.Status != http.StatusOK {
		t.Fatalf("resume: %d %s", r.Status, r.Body)
	}
	for get(low.ID).State != taskstore.StateCompleted {
		if time.Now().After(deadline) {
			t.Fatalf("low task not completed after resume: %+v", get(low.ID))
		}
		time.Sleep(20 * time.Millisecond)
	}
	r = e.admin(http.MethodGet, "/v1/admin/tenants/a", "")
	if !strings.Contains(compact(t, r.Body), `"usage":{"pending":0,"active":0,"completed_today":2}`) {
		t.Errorf("usage after both completed: %s", r.Body)
	}
	// API and worker did all of it as their Redis users (modules/redis/acl.txt).
	for _, l := range e.Logs.Lines(func(l apptest.Line) bool {
		s := fmt.Sprint(l)
		return strings.Contains(s, "NOPERM") || strings.Contains(s, "can't run this command")
	}) {
		t.Errorf("logged a refusal: %v", l)
	}
}

// TestAuthOff: without authentication every request is tenant default
// with every scope, the admin API included, and a key means nothing.
func TestAuthOff(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	task := e.Submit(`{"type":"diagnostic.noop","idempotency_key":"k"}`)
	if task.ID != taskstore.IDFor("idempotency-key:k") {
		t.Errorf("task id %s changed with auth off", task.ID)
	}
	if r := e.Do(http.MethodPost, "/v1/admin/tenants", `{"name":"default"}`); r.Status != http.StatusCreated {
		t.Fatalf("admin API with auth off: %d %s", r.Status, r.Body)
	}
	r := e.Do(http.MethodGet, "/v1/admin/tenants/default", "")
	if !strings.Contains(compact(t, r.Body), `"usage":{"pending":1,`) {
		t.Errorf("default's usage: %s", r.Body)
	}
	if r := e.Do(http.MethodGet, "/v1/tasks/"+task.ID, "", bearer("cgk_nonsense")...); r.Status != http.StatusOK {
		t.Errorf("GET with a bogus key and auth off: %d %s", r.Status, r.Body)
	}
}

// TestWorkerTakesWeightsAtStart: a worker runs with the weights set
// through the admin API when it starts (the configured ones elsewhere).
func TestWorkerTakesWeightsAtStart(t *testing.T) {
	e := newAuthEnv(t)
	if r := e.admin(http.MethodPatch, "/v1/admin/queues/low", `{"weight":4}`); r.Status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	e.StartWorker(1, false)
	var lines []apptest.Line
	for deadline := time.Now().Add(5 * time.Second); len(lines) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the worker did not start")
		}
		lines = e.Logs.Lines(func(l apptest.Line) bool { return l.Msg() == "worker started" })
	}
	queues, _ := lines[0]["queues"].(map[string]any)
	if queues["low"] != 4.0 || queues["high"] != 6.0 || queues["medium"] != 3.0 {
		t.Errorf("worker started with queues %v, want high 6, medium 3, low 4", queues)
	}
}
