package serve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/nettest"
)

// gateWithin bounds how long the gate may take to act: two polls plus a
// failed ping's timeout, with room for a loaded CI machine.
const gateWithin = 2 * time.Second

// redisState is what the fake Redis behind ready does.
type redisState int32

const (
	redisUp   redisState = iota
	redisDown            // answers at once with an error, like a refused dial
	redisHung            // never answers, like a black-holed network
)

// fakeRedis is a ready func the test flips between states.
type fakeRedis struct{ state atomic.Int32 }

func (f *fakeRedis) set(s redisState) { f.state.Store(int32(s)) }

func (f *fakeRedis) ping(ctx context.Context) error {
	switch redisState(f.state.Load()) {
	case redisDown:
		return fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED)
	case redisHung:
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// logs is a concurrency-safe log sink.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), "msg=\""+msg+"\"")
}

// gated is a ServeGated server on 127.0.0.1 with a /slow handler the test
// releases.
type gated struct {
	addr    string
	redis   *fakeRedis
	logs    *logs
	cancel  context.CancelFunc
	done    chan error
	entered chan struct{} // a /slow request reached its handler
	release chan struct{} // closing it lets /slow requests answer
}

func startGated(t *testing.T) *gated {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gated{
		addr: ln.Addr().String(), redis: &fakeRedis{}, logs: &logs{},
		done: make(chan error, 1), entered: make(chan struct{}, 10), release: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, _ *http.Request) {
		g.entered <- struct{}{}
		<-g.release
		io.WriteString(w, "slow ok")
	})
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	logger := slog.New(slog.NewTextHandler(g.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() { g.done <- ServeGated(ctx, ln, mux, g.redis.ping, logger) }()
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
		cancel()
		select {
		case <-g.done:
		case <-time.After(drainTimeout + time.Second):
			t.Error("ServeGated did not return after cleanup")
		}
	})
	return g
}

// rawConn is one client connection that keeps itself alive.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

func (c *rawConn) send(t *testing.T, path string) {
	t.Helper()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: calcgrid\r\n\r\n", path); err != nil {
		t.Fatalf("send %s: %v", path, err)
	}
}

func (c *rawConn) read(t *testing.T) (*http.Response, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(gateWithin))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

// closedByServer waits for the server to close c.
func (c *rawConn) closedByServer(t *testing.T) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(gateWithin))
	if n, err := c.r.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("connection should be closed by the server (EOF), got %d bytes, %v", n, err)
	}
}

// TestGate walks one server through a Redis outage and back, for an outage
// that refuses at once and one that never answers.
func TestGate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		outage redisState
	}{
		{"redis down", redisDown},
		{"redis hung", redisHung},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := startGated(t)

			// Before the outage: served, and the connection stays open.
			idle := dialRaw(t, g.addr)
			idle.send(t, "/")
			if resp, body := idle.read(t); resp.StatusCode != http.StatusOK || body != "ok" || resp.Close {
				t.Fatalf("before the outage: %s %q close=%v", resp.Status, body, resp.Close)
			}
			inflight := dialRaw(t, g.addr)
			inflight.send(t, "/slow")
			<-g.entered

			g.redis.set(tc.outage)
			took := nettest.Within(t, "new connections refused", gateWithin, func() error { return nettest.Refused(g.addr) })
			t.Logf("refusing %v after the outage began", took)
			idle.closedByServer(t)

			// The request the server was handling when it gated still gets
			// its answer, then the connection closes rather than idling.
			close(g.release)
			resp, body := inflight.read(t)
			if resp.StatusCode != http.StatusOK || body != "slow ok" {
				t.Fatalf("in-flight request: %s %q", resp.Status, body)
			}
			if !resp.Close {
				t.Error(`in-flight response while gated lacks "Connection: close"`)
			}
			inflight.closedByServer(t)

			g.redis.set(redisUp)
			took = nettest.Within(t, "served again", gateWithin, func() error { return nettest.Serves("http://" + g.addr + "/") })
			t.Logf("serving %v after Redis answered", took)
			again := dialRaw(t, g.addr)
			for range 2 { // keep-alive is back on
				again.send(t, "/")
				if resp, _ := again.read(t); resp.StatusCode != http.StatusOK || resp.Close {
					t.Fatalf("after the outage: %s close=%v", resp.Status, resp.Close)
				}
			}

			for msg, want := range map[string]int{
				"redis unreachable: refusing connections until it answers": 1,
				"redis reachable again: accepting connections":             1,
			} {
				if got := g.logs.count(msg); got != want {
					t.Errorf("logged %q %d times, want %d", msg, got, want)
				}
			}
		})
	}
}

// TestGateShutdown: ending the context returns promptly while gated, even
// with a ping pending, and drains in-flight requests while open.
func TestGateShutdown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		outage   redisState // redisUp: not gated
		inflight bool
	}{
		{"gated, redis down", redisDown, false},
		{"gated, ping pending", redisHung, false},
		{"open, request in flight", redisUp, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := startGated(t)
			if tc.outage != redisUp {
				g.redis.set(tc.outage)
				nettest.Within(t, "new connections refused", gateWithin, func() error { return nettest.Refused(g.addr) })
			}
			var inflight *rawConn
			if tc.inflight {
				inflight = dialRaw(t, g.addr)
				inflight.send(t, "/slow")
				<-g.entered
			}

			g.cancel()
			if tc.inflight {
				nettest.Within(t, "refused once draining", gateWithin, func() error { return nettest.Refused(g.addr) })
				select {
				case err := <-g.done:
					t.Fatalf("returned before the in-flight request finished: %v", err)
				case <-time.After(100 * time.Millisecond):
				}
				close(g.release)
				if resp, body := inflight.read(t); resp.StatusCode != http.StatusOK || body != "slow ok" {
					t.Fatalf("in-flight request: %s %q", resp.Status, body)
				}
			}
			select {
			case err := <-g.done:
				if err != nil {
					t.Fatalf("ServeGated: %v", err)
				}
				g.done <- nil // for cleanup
			case <-time.After(time.Second):
				t.Fatal("ServeGated did not return within 1s of the context ending")
			}
		})
	}
}

// TestGateRelistenRetries: when the port is taken while gated, the server
// keeps retrying, and accepts once it is free, without ending.
func TestGateRelistenRetries(t *testing.T) {
	t.Parallel()
	g := startGated(t)
	g.redis.set(redisDown)
	nettest.Within(t, "new connections refused", gateWithin, func() error { return nettest.Refused(g.addr) })

	squatter, err := net.Listen("tcp", g.addr)
	if err != nil {
		t.Fatalf("take the port: %v", err)
	}
	g.redis.set(redisUp)
	msg := "redis reachable again but cannot listen; retrying"
	nettest.Within(t, "re-listen failure logged", gateWithin, func() error {
		if g.logs.count(msg) == 0 {
			return errors.New("not logged")
		}
		return nil
	})
	time.Sleep(3 * gatePoll) // several retries, still one line
	squatter.Close()
	nettest.Within(t, "served again", gateWithin, func() error { return nettest.Serves("http://" + g.addr + "/") })
	if got := g.logs.count(msg); got != 1 {
		t.Errorf("logged %q %d times, want 1", msg, got)
	}
	select {
	case err := <-g.done:
		t.Fatalf("ServeGated ended: %v", err)
	default:
	}
}

// TestServeAgainAfterListenerClose holds the net/http behaviour the gate
// relies on: closing the listener makes Serve return the accept error, not
// ErrServerClosed, and the same Server then serves a new listener, keeping
// the connections it already had.
func TestServeAgainAfterListenerClose(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	kept := dialRaw(t, addr)
	kept.send(t, "/")
	kept.read(t)

	ln.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve after its listener closed: %v, want net.ErrClosed", err)
	}
	if err := nettest.Refused(addr); err != nil {
		t.Fatal(err)
	}
	kept.send(t, "/")
	if resp, _ := kept.read(t); resp.StatusCode != http.StatusOK {
		t.Fatalf("kept connection: %s", resp.Status)
	}

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again: %v", err)
	}
	go func() { errc <- srv.Serve(ln) }()
	if err := nettest.Serves("http://" + addr + "/"); err != nil {
		t.Fatalf("second Serve: %v", err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("second Serve after Shutdown: %v, want ErrServerClosed", err)
	}
}
