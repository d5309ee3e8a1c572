package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/nettest"
	"github.com/calcgrid/calcgrid/app/internal/redistest"
)

// TestAPIRefusesWhileRedisIsDown: a real API process closes its port when
// its Redis dies or the network to it is cut, so nginx's connect is refused
// and it tries another replica, and serves again on the same port once
// Redis answers.
func TestAPIRefusesWhileRedisIsDown(t *testing.T) {
	for _, tc := range []struct {
		name string
		// outage starts it and returns the end of it; redisAddr is where
		// the API finds Redis.
		outage func(t *testing.T, srv *redistest.Server) (redisAddr string, start, end func())
	}{
		{"redis killed", func(t *testing.T, srv *redistest.Server) (string, func(), func()) {
			return srv.Addr, srv.Stop, srv.Restart
		}},
		{"network cut", func(t *testing.T, srv *redistest.Server) (string, func(), func()) {
			link := redistest.NewLink(t, srv.Addr)
			return link.Addr(), link.Cut, link.Heal
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.StartACL(t)
			redisAddr, start, end := tc.outage(t, srv)
			testAPIOutage(t, redisAddr, start, end)
		})
	}
}

func testAPIOutage(t *testing.T, redisAddr string, start, end func()) {
	addr := nettest.FreeAddr(t)
	cmd := exec.Command(binary(t), "api")
	cmd.Env = append(os.Environ(), "CALCGRID_REDIS_ADDR="+redisAddr, "CALCGRID_LISTEN="+addr, "CALCGRID_INSTANCE=api-gate")
	cmd.Env = append(cmd.Env, login("api")...)
	p := startProc(t, "api-gate", cmd)

	healthy := func() error { return nettest.Serves("http://" + addr + "/healthz") }
	refused := func() error { return nettest.Refused(addr) }
	within := func(what string, d time.Duration, check func() error) {
		t.Helper()
		t.Logf("%s after %v", what, nettest.Within(t, what, d, check).Round(time.Millisecond))
	}

	within("serving", 10*time.Second, healthy)
	start()
	within("refusing", 3*time.Second, refused)
	end()
	within("serving again", 3*time.Second, healthy)

	p.signal(t, syscall.SIGTERM)
	if err := p.wait(t, 15*time.Second); err != nil {
		t.Fatalf("api exit: %v", err)
	}
	log, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{
		"redis unreachable: refusing connections until it answers",
		"redis reachable again: accepting connections",
	} {
		if n := strings.Count(string(log), msg); n != 1 {
			t.Errorf("api logged %q %d times, want 1", msg, n)
		}
	}
}
