package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/nettest"
	"github.com/calcgrid/calcgrid/app/internal/redistest"
)

// TestAPIProcessRequiresKeys: `calcgrid api` with CALCGRID_AUTH=required
// and a bootstrap token file refuses requests without a key, lets the
// token create a tenant and a key, accepts that key, and never logs a
// secret.
func TestAPIProcessRequiresKeys(t *testing.T) {
	const token = "bootstrap-token-of-the-process-test"
	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := redistest.StartACL(t)
	addr := nettest.FreeAddr(t)
	cmd := exec.Command(binary(t), "api")
	cmd.Env = append(os.Environ(), "CALCGRID_REDIS_ADDR="+srv.Addr, "CALCGRID_LISTEN="+addr, "CALCGRID_DIAGNOSTICS=1",
		"CALCGRID_AUTH=required", "CALCGRID_ADMIN_TOKEN_FILE="+tokenFile)
	cmd.Env = append(cmd.Env, login("api")...)
	p := startProc(t, "api-auth", cmd)
	base := "http://" + addr
	nettest.Within(t, "serving", 10*time.Second, func() error { return nettest.Serves(base + "/healthz") })

	do := func(method, path, body, key string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	const task = `{"type":"diagnostic.noop"}`
	if code, body := do(http.MethodPost, "/v1/tasks", task, ""); code != http.StatusUnauthorized {
		t.Fatalf("submit without a key: %d %s", code, body)
	}
	if code, body := do(http.MethodPost, "/v1/admin/tenants", `{"name":"a"}`, token); code != http.StatusCreated {
		t.Fatalf("create tenant with the bootstrap token: %d %s", code, body)
	}
	code, body := do(http.MethodPost, "/v1/admin/keys", `{"tenant":"a","name":"k","scopes":["submit"]}`, token)
	var key struct{ Secret string }
	if code != http.StatusCreated || json.Unmarshal(body, &key) != nil {
		t.Fatalf("create key: %d %s", code, body)
	}
	if code, body := do(http.MethodPost, "/v1/tasks", task, key.Secret); code != http.StatusAccepted {
		t.Fatalf("submit with the key: %d %s", code, body)
	}
	if code, body := do(http.MethodPost, "/v1/tasks", task, token); code != http.StatusForbidden {
		t.Errorf("submit with the bootstrap token: %d %s", code, body)
	}
	p.signal(t, syscall.SIGTERM)
	if err := p.wait(t, 15*time.Second); err != nil {
		t.Fatalf("api exit: %v", err)
	}
	log, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{token, key.Secret} {
		if strings.Contains(string(log), secret) {
			t.Errorf("the api logged a secret")
		}
	}
}
