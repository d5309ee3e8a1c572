package tests

import (
	"encoding/json"
	"fmt"
	"io"
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
	pricer, viewer, other := keys["desk-a-pricer"].Secret, keys["desk-a-viewer"].Secret, keys["desk-b-batch"].Secret
	if pricer == "" || viewer == "" || other == "" {
		t.Fatalf("control output api_keys lacks staging's keys: %v", slices.Sorted(maps.Keys(keys)))
	}
	admin := st.output(t, "admin_token")
	call := func(key, method, path, body string) (int, http.Header, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, st.endpoint+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	want := func(what string, got, want int, body []byte) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %d, want %d: %s", what, got, want, body)
		}
	}
	noop := func(priority string) string {
		return fmt.Sprintf(`{"type":"diagnostic.noop","payload":{},"priority":%q}`, priority)
	}
	taskOf := func(key, priority string) string {
		t.Helper()
		code, _, b := call(key, http.MethodPost, "/v1/tasks", noop(priority))
		want("submit "+priority, code, http.StatusAccepted, b)
		var tk struct{ ID string }
		_ = json.Unmarshal(b, &tk)
		return tk.ID
	}
	state := func(key, id string) string {
		t.Helper()
		_, _, b := call(key, http.MethodGet, "/v1/tasks/"+id, "")
		var tk struct{ State string }
		_ = json.Unmarshal(b, &tk)
		return tk.State
	}
	completed := func(key, id string) string {
		if s := state(key, id); s != "completed" {
			return "state " + s
		}
		return ""
	}

	t.Run("keys and scopes", func(t *testing.T) {
		code, h, b := call("", http.MethodPost, "/v1/tasks", noop("medium"))
		want("submit without a key", code, http.StatusUnauthorized, b)
		if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate: Bearer (got %q)", h.Get("WWW-Authenticate"))
		}
		code, _, b = call("cgk_not-a-key", http.MethodGet, "/v1/tasks", "")
		want("list with a wrong key", code, http.StatusUnauthorized, b)
		taskOf(pricer, "medium")
		code, _, b = call(pricer, http.MethodGet, "/v1/admin/keys", "")
		want("submit key on the admin API", code, http.StatusForbidden, b)
		code, _, b = call(viewer, http.MethodPost, "/v1/tasks", noop("medium"))
		want("read key submits", code, http.StatusForbidden, b)
		code, _, b = call(other, http.MethodPost, "/v1/tasks", noop("high"))
		want("desk-b-batch (medium and low only) submits high", code, http.StatusForbidden, b)
		code, _, b = call("", http.MethodGet, "/metrics", "")
		want("/metrics through nginx", code, http.StatusNotFound, b)
	})

	t.Run("tenants", func(t *testing.T) {
		id := taskOf(pricer, "medium")
		code, _, b := call(other, http.MethodGet, "/v1/tasks/"+id, "")
		want("desk-b reads desk-a's task", code, http.StatusNotFound, b)
		code, _, b = call(other, http.MethodDelete, "/v1/tasks/"+id, "")
		want("desk-b cancels desk-a's task", code, http.StatusNotFound, b)
		_, _, b = call(other, http.MethodGet, "/v1/tasks?limit=1000", "")
		if strings.Contains(string(b), id) {
			t.Errorf("desk-b's list shows desk-a's task %s", id)
		}
		code, _, b = call(viewer, http.MethodGet, "/v1/tasks/"+id, "")
		want("desk-a's read key reads desk-a's task", code, http.StatusOK, b)
	})

	t.Run("pause low through Terraform", func(t *testing.T) {
		st.env.ControlArgs = []string{`-var=queues={high={}, medium={}, low={paused=true}}`}
		if err := st.env.ApplyControl(ctx); err != nil {
			t.Fatal(err)
		}
		low, high := taskOf(pricer, "low"), taskOf(pricer, "high")
		eventually(t, 30*time.Second, "the high task completes while low is paused", func() string { return completed(pricer, high) })
		time.Sleep(2 * time.Second)
		if s := state(pricer, low); s != "pending" {
			t.Errorf("low task %s while low is paused, want pending", s)
		}
		st.env.ControlArgs = nil
		if err := st.env.ApplyControl(ctx); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "the low task completes once low is resumed", func() string { return completed(pricer, low) })
	})

	t.Run("drift", func(t *testing.T) {
		code, _, b := call(admin, http.MethodPatch, "/v1/admin/queues/low", `{"paused":true}`)
		want("pause low through the admin API", code, http.StatusOK, b)
		if drift, err := st.env.PlanControl(ctx); err != nil || !drift {
			t.Fatalf("plan after a pause outside Terraform: changes %v (%v), want the drift", drift, err)
		}
		if err := st.env.ApplyControl(ctx); err != nil {
			t.Fatal(err)
		}
		_, _, b = call(admin, http.MethodGet, "/v1/admin/queues/low", "")
		if !strings.Contains(string(b), `"paused":false`) {
			t.Errorf("after apply low is %s, want resumed", b)
		}
	})

	t.Run("destroyed key", func(t *testing.T) {
		if err := st.env.DestroyControl(ctx, `calcgrid_api_key.this["desk-a-viewer"]`); err != nil {
			t.Fatal(err)
		}
		code, _, b := call(viewer, http.MethodGet, "/v1/tasks", "")
		want("the destroyed key", code, http.StatusUnauthorized, b)
	})
}
