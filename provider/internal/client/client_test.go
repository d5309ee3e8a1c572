package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fake answers one canned response and records the request it got.
type fake struct {
	status  int
	body    string
	ctype   string
	headers map[string]string

	method, path, auth, ctypeIn string
	got                         map[string]any
}

func (f *fake) serve(t *testing.T) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.method, f.path, f.auth, f.ctypeIn = r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		data, _ := io.ReadAll(r.Body)
		f.got = nil
		if len(data) > 0 {
			if err := json.Unmarshal(data, &f.got); err != nil {
				t.Errorf("request body is not JSON: %v", err)
			}
		}
		for k, v := range f.headers {
			w.Header().Set(k, v)
		}
		ct := f.ctype
		if ct == "" {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{Endpoint: srv.URL + "/", Token: "cgk_secret"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateKeySendsEveryFieldAndTheToken(t *testing.T) {
	f := &fake{status: 201, body: `{"id":"key_abc","tenant":"acme","name":"ci","scopes":["read"],"rate_per_second":0,
		"max_pending":0,"priorities":[],"expires_at":null,"created_at":"2026-12-01T10:00:00Z","secret":"cgk_xyz"}`}
	c := f.serve(t)
	k, err := c.CreateKey(context.Background(), NewKey{Tenant: "acme", KeyUpdate: KeyUpdate{Name: "ci", Scopes: []string{"read"}}})
	if err != nil {
		t.Fatal(err)
	}
	if f.method != "POST" || f.path != "/v1/admin/keys" || f.auth != "Bearer cgk_secret" || f.ctypeIn != "application/json" {
		t.Errorf("request %s %s auth %q type %q", f.method, f.path, f.auth, f.ctypeIn)
	}
	// 0, [] and null are answers, not absence: all are sent.
	for _, field := range []string{"tenant", "name", "scopes", "rate_per_second", "max_pending", "priorities", "expires_at"} {
		if _, ok := f.got[field]; !ok {
			t.Errorf("field %s not sent: %v", field, f.got)
		}
	}
	if p, ok := f.got["priorities"].([]any); !ok || len(p) != 0 {
		t.Errorf("priorities sent as %#v, want []", f.got["priorities"])
	}
	if k.Secret != "cgk_xyz" || k.ID != "key_abc" || k.ExpiresAt != nil || !k.CreatedAt.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("decoded %+v", k)
	}
}

func TestProblemCarriesTheDetail(t *testing.T) {
	f := &fake{status: 422, ctype: "application/problem+json", body: `{"type":"urn:calcgrid:problem:validation",
		"title":"Invalid request fields","status":422,"detail":"one or more fields are invalid; see errors",
		"errors":[{"field":"scopes","message":"unknown scope \"write\" (allowed: submit, read, cancel, admin)"}]}`}
	c := f.serve(t)
	_, err := c.CreateKey(context.Background(), NewKey{Tenant: "acme", KeyUpdate: KeyUpdate{Name: "ci", Scopes: []string{"write"}}})
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("error %v is not a *Problem", err)
	}
	if p.Slug() != "validation" || p.Status != 422 {
		t.Errorf("problem %+v", p)
	}
	for _, want := range []string{"POST /v1/admin/keys", "422", "see errors", `scopes: unknown scope "write"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestStatusSentinels(t *testing.T) {
	cases := []struct {
		status int
		want   error
	}{{401, ErrUnauthorized}, {403, ErrForbidden}, {404, ErrNotFound}, {409, ErrConflict}}
	for _, tc := range cases {
		f := &fake{status: tc.status, ctype: "application/problem+json", body: `{"type":"urn:calcgrid:problem:x","title":"t","status":1}`}
		c := f.serve(t)
		_, err := c.GetKey(context.Background(), "key_a")
		if !errors.Is(err, tc.want) {
			t.Errorf("%d: %v is not %v", tc.status, err, tc.want)
		}
		if tc.status == 404 != IsNotFound(err) {
			t.Errorf("%d: IsNotFound = %v", tc.status, IsNotFound(err))
		}
	}
}

func TestNonProblemBodyIsStillReadable(t *testing.T) {
	f := &fake{status: 502, ctype: "text/html", body: "<html>Bad Gateway</html>\nmore", headers: map[string]string{"Retry-After": "2"}}
	c := f.serve(t)
	_, err := c.Queues(context.Background())
	if err == nil || !strings.Contains(err.Error(), "502 Bad Gateway: <html>Bad Gateway</html> (retry after 2s)") {
		t.Errorf("error %v", err)
	}
}

func TestQueueUpdateSendsOnlyWhatIsSet(t *testing.T) {
	f := &fake{status: 200, body: `{"name":"low","paused":true,"max_pending":0,"weight":1}`}
	c := f.serve(t)
	paused := true
	q, err := c.UpdateQueue(context.Background(), "low", QueueUpdate{Paused: &paused})
	if err != nil {
		t.Fatal(err)
	}
	if f.method != "PATCH" || f.path != "/v1/admin/queues/low" || len(f.got) != 1 || f.got["paused"] != true {
		t.Errorf("%s %s %v", f.method, f.path, f.got)
	}
	if !q.Paused || q.Weight != 1 {
		t.Errorf("decoded %+v", q)
	}
	zero := int64(0)
	if _, err := c.UpdateQueue(context.Background(), "low", QueueUpdate{MaxPending: &zero}); err != nil {
		t.Fatal(err)
	}
	if v, ok := f.got["max_pending"]; !ok || v != float64(0) {
		t.Errorf("max_pending 0 not sent: %v", f.got)
	}
}

func TestPathSegmentsAreEscaped(t *testing.T) {
	f := &fake{status: 404, body: `{}`}
	c := f.serve(t)
	_, _ = c.GetTenant(context.Background(), "a/b?c")
	if f.path != "/v1/admin/tenants/a%2Fb%3Fc" {
		t.Errorf("path %q", f.path)
	}
}

func TestNewRejectsBadEndpoints(t *testing.T) {
	for _, ep := range []string{"", "calcgrid.example", "ftp://x", "http://"} {
		if _, err := New(Config{Endpoint: ep}); err == nil {
			t.Errorf("endpoint %q accepted", ep)
		}
	}
}

func TestTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.TaskTypes(context.Background()); err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("err %v after %v", err, time.Since(start))
	}
}

func TestInsecureSkipVerify(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"task_types":[]}`)
	}))
	defer srv.Close()
	strict, err := New(Config{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.TaskTypes(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a self-signed certificate was accepted by default: %v", err)
	}
	lax, err := New(Config{Endpoint: srv.URL, InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lax.TaskTypes(context.Background()); err != nil {
		t.Errorf("insecure_skip_verify: %v", err)
	}
}
