package tests

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// accessControl runs on staging, which requires API keys, after `make up`
// applied its tenants and keys (environments/control/staging.tfvars): no
// key is 401; each key does what its scopes say and no more; tenant desk-b
// sees nothing of desk-a's; low paused through Terraform holds low tasks
// while high ones run; a pause made through the admin API is drift that the
// next apply reverts; a key destroyed through Terraform fails at once.
func accessControl(t *testing.T, st *stack) {
	ctx := t.Context()
	var keys map[string]struct{ ID, Tenant, Secret string }
	if err := st.env.ControlOutputJSON(ctx, "api_keys", &keys); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"desk-a-pricer", "desk-a-viewer", "desk-b-batch"} {
		if keys[name].Secret == "" {
			t.Fatalf("control output api_keys lacks staging's key %s: %v", name, slices.Sorted(maps.Keys(keys)))
		}
	}
	vars := st.vars(t)
	as := func(key string) *apiClient {
		c := st.client(t, vars)
		c.key = key
		return c
	}
	anonymous, pricer, viewer := as(""), as(keys["desk-a-pricer"].Secret), as(keys["desk-a-viewer"].Secret)
	other, admin := as(keys["desk-b-batch"].Secret), as(st.output(t, "admin_token"))
	noop := func(priority string) submission {
		return submission{Type: "diagnostic.noop", Payload: map[string]any{}, Priority: priority}
	}
	want := func(c *apiClient, what, method, path string, body any, status int) reply {
		t.Helper()
		r, err := c.send(ctx, method, path, body, nil)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if r.status != status {
			t.Errorf("%s: %d, want %d: %s", what, r.status, status, r.body)
		}
		return r
	}

	t.Run("keys and scopes", func(t *testing.T) {
		r := want(anonymous, "submit without a key", http.MethodPost, "/v1/tasks", noop("medium"), http.StatusUnauthorized)
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate: Bearer (got %q)", r.header.Get("WWW-Authenticate"))
		}
		want(as("cgk_not-a-key"), "list with a wrong key", http.MethodGet, "/v1/tasks", nil, http.StatusUnauthorized)
		pricer.submit(t, noop("medium"))
		want(pricer, "submit key on the admin API", http.MethodGet, "/v1/admin/keys", nil, http.StatusForbidden)
		want(viewer, "read key submits", http.MethodPost, "/v1/tasks", noop("medium"), http.StatusForbidden)
		want(other, "desk-b-batch (medium and low only) submits high", http.MethodPost, "/v1/tasks", noop("high"), http.StatusForbidden)
		want(anonymous, "/metrics through nginx", http.MethodGet, "/metrics", nil, http.StatusNotFound)
	})

	t.Run("tenants", func(t *testing.T) {
		tk, _ := pricer.submit(t, noop("medium"))
		want(other, "desk-b reads desk-a's task", http.MethodGet, "/v1/tasks/"+tk.ID, nil, http.StatusNotFound)
		want(other, "desk-b cancels desk-a's task", http.MethodDelete, "/v1/tasks/"+tk.ID, nil, http.StatusNotFound)
		if r := want(other, "desk-b lists", http.MethodGet, "/v1/tasks?limit=1000", nil, http.StatusOK); strings.Contains(string(r.body), tk.ID) {
			t.Errorf("desk-b's list shows desk-a's task %s", tk.ID)
		}
		want(viewer, "desk-a's read key reads desk-a's task", http.MethodGet, "/v1/tasks/"+tk.ID, nil, http.StatusOK)
	})

	t.Run("pause low through Terraform", func(t *testing.T) {
		st.env.ControlArgs = []string{`-var=queues={high={}, medium={}, low={paused=true}}`}
		if err := st.env.ApplyControl(ctx); err != nil {
			t.Fatal(err)
		}
		low, _ := pricer.submit(t, noop("low"))
		high, _ := pricer.submit(t, noop("high"))
		pricer.waitCompleted(t, []string{high.ID}, 30*time.Second)
		time.Sleep(2 * time.Second)
		if tk, _, err := pricer.get(ctx, low.ID); err != nil || tk.State != "pending" {
			t.Errorf("low task %q (%v) while low is paused, want pending", tk.State, err)
		}
		st.env.ControlArgs = nil
		if err := st.env.ApplyControl(ctx); err != nil {
			t.Fatal(err)
		}
		pricer.waitCompleted(t, []string{low.ID}, 30*time.Second)
	})

	t.Run("drift", func(t *testing.T) {
		want(admin, "pause low through the admin API", http.MethodPatch, "/v1/admin/queues/low", map[string]any{"paused": true}, http.StatusOK)
		if drift, err := st.env.PlanControl(ctx); err != nil || !drift {
			t.Fatalf("plan after a pause outside Terraform: changes %v (%v), want the drift", drift, err)
		}
		if err := st.env.ApplyControl(ctx); err != nil {
			t.Fatal(err)
		}
		if r := want(admin, "read low", http.MethodGet, "/v1/admin/queues/low", nil, http.StatusOK); !strings.Contains(string(r.body), `"paused":false`) {
			t.Errorf("after apply low is %s, want resumed", r.body)
		}
	})

	t.Run("destroyed key", func(t *testing.T) {
		if err := st.env.DestroyControl(ctx, `calcgrid_api_key.this["desk-a-viewer"]`); err != nil {
			t.Fatal(err)
		}
		want(viewer, "the destroyed key", http.MethodGet, "/v1/tasks", nil, http.StatusUnauthorized)
	})
}
