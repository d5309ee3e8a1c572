package tests

import (
	"net/http"
	"strings"
	"testing"
)

// scenarioHealth: every container healthy, /healthz and /readyz answer 200
// through nginx, the dashboard answers behind its basic auth, and Redis keeps
// an append-only file on its volume.
func (s *stack) scenarioHealth(t *testing.T) {
	s.testHealth(t)

	c := s.client(t, s.vars(t))
	for _, path := range []string{"/healthz", "/readyz"} {
		r, err := c.send(t.Context(), http.MethodGet, path, nil, nil)
		if err != nil {
			t.Fatalf("GET %s through nginx: %v", path, err)
		}
		if r.status != http.StatusOK {
			t.Errorf("GET %s through nginx: %d %s, want 200", path, r.status, r.body)
		}
		if r.requestID == "" {
			t.Errorf("GET %s: no X-Request-ID in the answer", path)
		}
	}

	t.Run("dashboard", func(t *testing.T) {
		url := s.output(t, "monitor_url")
		user := s.output(t, "monitor_user")
		password := s.output(t, "monitor_password") // never logged
		get := func(auth bool) int {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if auth {
				req.SetBasicAuth(user, password)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("GET %s: %v", url, err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if got := get(true); got != http.StatusOK {
			t.Errorf("dashboard %s with basic auth: %d, want 200", url, got)
		}
		if got := get(false); got != http.StatusUnauthorized {
			t.Errorf("dashboard %s without credentials: %d, want 401", url, got)
		}
	})

	t.Run("redis-aof", func(t *testing.T) {
		if got := s.redisCLI(t, "config", "get", "appendonly"); !strings.HasSuffix(got, "yes") {
			t.Errorf("redis appendonly: %q, want yes", got)
		}
		// Redis 7 keeps a manifest, a base and an incremental file in appendonlydir.
		files := docker(t, "exec", s.containers["redis"][0], "ls", "-1", "/data/appendonlydir")
		var aof, manifest bool
		for _, f := range strings.Fields(files) {
			aof = aof || strings.HasSuffix(f, ".incr.aof")
			manifest = manifest || strings.HasSuffix(f, ".manifest")
		}
		if !aof || !manifest {
			t.Errorf("redis volume /data/appendonlydir holds %q, want an .incr.aof file and a manifest", files)
		}
	})
}
