package main

import (
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/nettest"
	"github.com/calcgrid/calcgrid/app/internal/redistest"
)

// TestPprofOptIn: the api and the worker serve /debug/pprof/ on their
// listener only with CALCGRID_PPROF set; without it the path is unknown,
// as it was before the flag existed.
func TestPprofOptIn(t *testing.T) {
	srv := redistest.StartACL(t)
	for _, c := range []struct {
		role  string
		pprof string
		want  int
	}{
		{"api", "1", http.StatusOK},
		{"api", "", http.StatusNotFound},
		{"worker", "1", http.StatusOK},
		{"worker", "", http.StatusNotFound},
	} {
		t.Run(c.role+"/pprof="+c.pprof, func(t *testing.T) {
			addr := nettest.FreeAddr(t)
			cmd := exec.Command(binary(t), c.role)
			cmd.Env = append(os.Environ(), "CALCGRID_REDIS_ADDR="+srv.Addr, "CALCGRID_LISTEN="+addr,
				"CALCGRID_DIAGNOSTICS=1", "CALCGRID_PPROF="+c.pprof)
			cmd.Env = append(cmd.Env, login(c.role)...)
			startProc(t, c.role, cmd)
			base := "http://" + addr
			nettest.Within(t, "serving", 10*time.Second, func() error { return nettest.Serves(base + "/healthz") })
			resp, err := http.Get(base + "/debug/pprof/cmdline")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("GET /debug/pprof/cmdline: %s, want %d", resp.Status, c.want)
			}
		})
	}
}
