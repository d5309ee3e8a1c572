package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// authEnv is an API with CALCGRID_AUTH=required.
type authEnv struct {
	*apptest.Stack
	t *testing.T
}

func newAuthEnv(t *testing.T) authEnv {
	t.Helper()
	return authEnv{newEnv(t, apptest.Options{AuthRequired: true}), t}
}

func bearer(secret string) []string { return []string{"Authorization", "Bearer " + secret} }

// admin sends a request with the bootstrap admin token.
func (e authEnv) admin(method, path, body string) apptest.Response {
	e.t.Helper()
	return e.Do(method, path, body, bearer(apptest.AdminToken)...)
}

// tenant creates tenant name.
func (e authEnv) tenant(name string) {
	e.t.Helper()
	if r := e.admin(http.MethodPost, "/v1/admin/tenants", `{"name":"`+name+`"}`); r.Status != http.StatusCreated {
		e.t.Fatalf("create tenant %s: %d %s", name, r.Status, r.Body)
	}
}

type createdKey struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	Secret string `json:"secret"`
}

// key creates a key of tenant with the fields in extra (JSON members) and
// returns its id and secret.
func (e authEnv) key(tenant, scopes, extra string) createdKey {
	e.t.Helper()
	body := fmt.Sprintf(`{"tenant":%q,"name":"k","scopes":[%s]%s}`, tenant, scopes, extra)
	r := e.admin(http.MethodPost, "/v1/admin/keys", body)
	if r.Status != http.StatusCreated {
		e.t.Fatalf("create key %s: %d %s", body, r.Status, r.Body)
	}
	var k createdKey
	if err := json.Unmarshal(r.Body, &k); err != nil {
		e.t.Fatal(err)
	}
	return k
}

// all is every scope but admin.
const all = `"submit","read","cancel"`

func TestUnauthenticated(t *testing.T) {
	e := newAuthEnv(t)
	e.tenant("a")
	revoked := e.key("a", all, "")
	e.admin(http.MethodDelete, "/v1/admin/keys/"+revoked.ID, "")
	expired := e.key("a", all, `,"expires_at":"2001-01-01T00:00:00Z"`)
	for _, c := range []struct {
		name    string
		headers []string
		invalid bool // a token was sent: error="invalid_token"
	}{
		{"no header", nil, false},
		{"basic auth", []string{"Authorization", "Basic dXNlcjpwYXNz"}, true},
		{"empty bearer", []string{"Authorization", "Bearer "}, true},
		{"unknown key", bearer("cgk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), true},
		{"not a key", bearer("hunter2"), true},
		{"admin token with a suffix", bearer(apptest.AdminToken + "x"), true},
		{"revoked key", bearer(revoked.Secret), true},
		{"expired key", bearer(expired.Secret), true},
	} {
		for _, route := range []struct{ method, path, body string }{
			{http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop"}`},
			{http.MethodGet, "/v1/tasks", ""},
			{http.MethodGet, "/v1/tasks/x", ""},
			{http.MethodDelete, "/v1/tasks/x", ""},
			{http.MethodGet, "/v1/task-types", ""},
			{http.MethodGet, "/v1/queues", ""},
			{http.MethodGet, "/v1/admin/keys", ""},
		} {
			t.Run(c.name+" "+route.method+" "+route.path, func(t *testing.T) {
				r := e.Do(route.method, route.path, route.body, c.headers...)
				if r.Status != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401: %s", r.Status, r.Body)
				}
				if p := r.Problem(t); p.Type != "urn:calcgrid:problem:unauthorized" {
					t.Errorf("problem type %s", p.Type)
				}
				want := `Bearer realm="calcgrid"`
				if c.invalid {
					want += `, error="invalid_token"`
				}
				if got := r.Header.Get("WWW-Authenticate"); got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
			})
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if r := e.Do(http.MethodGet, path, ""); r.Status != http.StatusOK {
			t.Errorf("GET %s without a key: %d %s", path, r.Status, r.Body)
		}
	}
}

// TestScopes: each operation needs its scope, and a key without it gets a
// 403 naming it.
func TestScopes(t *testing.T) {
	e := newAuthEnv(t)
	e.tenant("a")
	keys := map[string]createdKey{}
	for _, s := range []string{"submit", "read", "cancel", "admin"} {
		keys[s] = e.key("a", `"`+s+`"`, "")
	}
	task := e.Submit(`{"type":"diagnostic.noop"}`, bearer(keys["submit"].Secret)...)
	routes := []struct {
		scope, method, path, body string
		ok                        int
	}{
		{"submit", http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop"}`, http.StatusAccepted},
		{"read", http.MethodGet, "/v1/tasks", "", http.StatusOK},
		{"read", http.MethodGet, "/v1/tasks/" + task.ID, "", http.StatusOK},
		{"read", http.MethodGet, "/v1/task-types", "", http.StatusOK},
		{"read", http.MethodGet, "/v1/queues", "", http.StatusOK},
		{"cancel", http.MethodDelete, "/v1/tasks/" + task.ID, "", http.StatusOK},
		{"admin", http.MethodGet, "/v1/admin/keys", "", http.StatusOK},
		{"admin", http.MethodGet, "/v1/admin/tenants", "", http.StatusOK},
		{"admin", http.MethodGet, "/v1/admin/queues", "", http.StatusOK},
	}
	for _, rt := range routes {
		for scope, k := range keys {
			t.Run(scope+" key "+rt.method+" "+rt.path, func(t *testing.T) {
				r := e.Do(rt.method, rt.path, rt.body, bearer(k.Secret)...)
				if scope == rt.scope {
					if r.Status != rt.ok {
						t.Fatalf("status %d, want %d: %s", r.Status, rt.ok, r.Body)
					}
					return
				}
				if r.Status != http.StatusForbidden {
					t.Fatalf("status %d, want 403: %s", r.Status, r.Body)
				}
				p := r.Problem(t)
				if p.Type != "urn:calcgrid:problem:forbidden" || !strings.Contains(p.Detail, "scope "+rt.scope) {
					t.Errorf("problem %+v does not name the scope %s", p, rt.scope)
				}
			})
		}
	}
	// The bootstrap token is admin only.
	if r := e.admin(http.MethodGet, "/v1/tasks", ""); r.Status != http.StatusForbidden {
		t.Errorf("bootstrap token reading tasks: %d %s", r.Status, r.Body)
	}
}

// TestTenantIsolation: a tenant sees, lists and cancels only its own tasks;
// another's id answers exactly as a missing one; an idempotency key names
// one task per tenant.
func TestTenantIsolation(t *testing.T) {
	e := newAuthEnv(t)
	e.tenant("a")
	e.tenant("b")
	a, b := e.key("a", all, ""), e.key("b", all, "")
	const body = `{"type":"diagnostic.noop","idempotency_key":"same-key"}`
	ta := e.Submit(body, bearer(a.Secret)...)
	tb := e.Submit(body, bearer(b.Secret)...)
	if ta.ID == tb.ID {
		t.Fatalf("two tenants' submissions with one idempotency key share task %s", ta.ID)
	}
	if ta.ID == taskstore.IDFor("idempotency-key:same-key") {
		t.Errorf("task id %s is derivable from the idempotency key without the server's secret", ta.ID)
	}
	if r := e.Do(http.MethodPost, "/v1/tasks", body, bearer(a.Secret)...); r.Status != http.StatusOK || r.Task(t).ID != ta.ID {
		t.Errorf("a's retry: %d %s, want 200 with %s", r.Status, r.Body, ta.ID)
	}
	missing := e.Do(http.MethodGet, "/v1/tasks/00000000-0000-0000-0000-000000000000", "", bearer(b.Secret)...).Problem(t)
	for _, c := range []struct{ name, method string }{{"get", http.MethodGet}, {"cancel", http.MethodDelete}} {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do(c.method, "/v1/tasks/"+ta.ID, "", bearer(b.Secret)...)
			if r.Status != http.StatusNotFound {
				t.Fatalf("b %s a's task: %d %s", c.name, r.Status, r.Body)
			}
			if p := r.Problem(t); p.Type != missing.Type || p.Title != missing.Title || p.Detail != missing.Detail {
				t.Errorf("another tenant's task answers %+v, a missing one %+v", p, missing)
			}
		})
	}
	if r := e.Do(http.MethodGet, "/v1/tasks/"+ta.ID, "", bearer(a.Secret)...); r.Status != http.StatusOK || r.Task(t).State != taskstore.StatePending {
		t.Errorf("a's task after b's cancel: %d %s", r.Status, r.Body)
	}
	for _, c := range []struct {
		key        createdKey
		own, other string
	}{{a, ta.ID, tb.ID}, {b, tb.ID, ta.ID}} {
		r := e.Do(http.MethodGet, "/v1/tasks", "", bearer(c.key.Secret)...)
		var page struct{ Tasks []taskstore.Task }
		if err := json.Unmarshal(r.Body, &page); err != nil || r.Status != http.StatusOK {
			t.Fatalf("list as %s: %d %s", c.key.Tenant, r.Status, r.Body)
		}
		if len(page.Tasks) != 1 || page.Tasks[0].ID != c.own {
			t.Errorf("%s lists %+v, want only its task %s (not %s)", c.key.Tenant, page.Tasks, c.own, c.other)
		}
	}
}

func TestRevokedKeyFailsAtOnce(t *testing.T) {
	e := newAuthEnv(t)
	e.tenant("a")
	k := e.key("a", all, "")
	if r := e.Do(http.MethodGet, "/v1/tasks", "", bearer(k.Secret)...); r.Status != http.StatusOK {
		t.Fatalf("before revocation: %d %s", r.Status, r.Body)
	}
	if r := e.admin(http.MethodDelete, "/v1/admin/keys/"+k.ID, ""); r.Status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := e.Do(http.MethodGet, "/v1/tasks", "", bearer(k.Secret)...); r.Status != http.StatusUnauthorized {
		t.Errorf("the request right after revocation: %d %s", r.Status, r.Body)
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		if r := e.admin(method, "/v1/admin/keys/"+k.ID, ""); r.Status != http.StatusNotFound {
			t.Errorf("%s a revoked key: %d %s", method, r.Status, r.Body)
		}
	}
}

// TestExpiredKeyFailsAtOnce: moving a key's expiry into the past ends it
// on its next request.
func TestExpiredKeyFailsAtOnce(t *testing.T) {
	e := newAuthEnv(t)
	e.tenant("a")
	k := e.key("a", all, fmt.Sprintf(`,"expires_at":%q`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339)))
	if r := e.Do(http.MethodGet, "/v1/tasks", "", bearer(k.Secret)...); r.Status != http.StatusOK {
		t.Fatalf("before expiry: %d %s", r.Status, r.Body)
	}
	past := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	if r := e.admin(http.MethodPatch, "/v1/admin/keys/"+k.ID, `{"expires_at":"`+past+`"}`); r.Status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if r := e.Do(http.MethodGet, "/v1/tasks", "", bearer(k.Secret)...); r.Status != http.StatusUnauthorized {
		t.Errorf("after expiry: %d %s", r.Status, r.Body)
	}
	if r := e.admin(http.MethodPatch, "/v1/admin/keys/"+k.ID, `{"expires_at":null}`); r.Status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if r := e.Do(http.MethodGet, "/v1/tasks", "", bearer(k.Secret)...); r.Status != http.StatusOK {
		t.Errorf("without expiry again: %d %s", r.Status, r.Body)
	}
}

func TestPriorityDenied(t *testing.T) {
	e := newAuthEnv(t)
	e.tenant("a")
	k := e.key("a", all, `,"priorities":["low","medium"]`)
	for _, c := range []struct {
		body   string
		status int
	}{
		{`{"type":"diagnostic.noop","priority":"low"}`, http.StatusAccepted},
		{`{"type":"diagnostic.noop"}`, http.StatusAccepted}, // the type's queue, medium
		{`{"type":"diagnostic.noop","priority":"high"}`, http.StatusForbidden},
	} {
		r := e.Do(http.MethodPost, "/v1/tasks", c.body, bearer(k.Secret)...)
		if r.Status != c.status {
			t.Errorf("%s: %d %s, want %d", c.body, r.Status, r.Body, c.status)
			continue
		}
		if c.status == http.StatusForbidden {
			if p := r.Problem(t); p.Type != "urn:calcgrid:problem:forbidden" || !strings.Contains(p.Detail, "priority high") {
				t.Errorf("problem %+v does not name the priority", p)
			}
		}
	}
}

func TestRateLimited(t *testing.T) {
	e := newAuthEnv(t)
	e.tenant("a")
	k := e.key("a", all, `,"rate_per_second":1`)
	other := e.key("a", all, "")
	if r := e.Do(http.MethodGet, "/v1/task-types", "", bearer(k.Secret)...); r.Status != http.StatusOK {
		t.Fatalf("first request: %d %s", r.Status, r.Body)
	}
	r := e.Do(http.MethodGet, "/v1/task-types", "", bearer(k.Secret)...)
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("second request within a second: %d %s", r.Status, r.Body)
	}
	if p := r.Problem(t); p.Type != "urn:calcgrid:problem:rate-limited" {
		t.Errorf("problem type %s", p.Type)
	}
	if ra := r.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}
	if r := e.Do(http.MethodGet, "/v1/task-types", "", bearer(other.Secret)...); r.Status != http.StatusOK {
		t.Errorf("another key of the tenant: %d %s", r.Status, r.Body)
	}
	time.Sleep(1100 * time.Millisecond)
	if r := e.Do(http.MethodGet, "/v1/task-types", "", bearer(k.Secret)...); r.Status != http.StatusOK {
		t.Errorf("a second later: %d %s", r.Status, r.Body)
	}
}

func TestKeyMaxPending(t *testing.T) {
	e := newAuthEnv(t)
	e.tenant("a")
	k := e.key("a", all, `,"max_pending":2`)
	first := e.Submit(`{"type":"diagnostic.noop"}`, bearer(k.Secret)...)
	e.Submit(`{"type":"diagnostic.noop"}`, bearer(k.Secret)...)
	r := e.Do(http.MethodPost, "/v1/tasks", `{"type":"diagnostic.noop"}`, bearer(k.Secret)...)
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("third unfinished task: %d %s", r.Status, r.Body)
	}
	if p := r.Problem(t); p.Type != "urn:calcgrid:problem:too-many-pending" || r.Header.Get("Retry-After") == "" {
		t.Errorf("problem %+v, Retry-After %q", p, r.Header.Get("Retry-After"))
	}
	if r := e.Do(http.MethodDelete, "/v1/tasks/"+first.ID, "", bearer(k.Secret)...); r.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	e.Submit(`{"type":"diagnostic.noop"}`, bearer(k.Secret)...)
}
