// Package redistest starts a private redis-server for tests: on a free
// 127.0.0.1 port, with its files in the test's temp dir, stopped at cleanup.
// A missing redis-server fails the test; it is never skipped.
package redistest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a running redis-server.
type Server struct {
	t    testing.TB
	Addr string
	// admin is the user Client and the readiness probe log in as ("": none).
	admin string
	bin   string
	dir   string
	port  int
	args  []string
	cmd   *exec.Cmd
}

// Start runs a redis-server for t; extra are additional config directives
// such as "--maxmemory", "1mb".
// A missing redis-server fails the test: an integration test that cannot run
// is a failure, never a skip.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	return start(t, "", extra)
}

func start(t testing.TB, admin string, extra []string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found on PATH (install the Debian package redis-server): %v", err)
	}
	port := freePort(t)
	dir := t.TempDir()
	s := &Server{
		t: t, admin: admin, bin: bin, dir: dir, port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		args: append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "no", "--protected-mode", "yes",
			"--logfile", filepath.Join(dir, "redis.log"),
		}, extra...),
	}
	s.cmd = s.spawn()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) spawn() *exec.Cmd {
	s.t.Helper()
	cmd := exec.Command(s.bin, s.args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.waitReady()
	return cmd
}

func (s *Server) waitReady() {
	s.t.Helper()
	opt := s.options()
	opt.MaxRetries, opt.DialTimeout = -1, 200*time.Millisecond
	c := redis.NewClient(opt)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			s.t.Fatalf("redis-server on %s not ready after 10s: %v\n%s", s.Addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (idempotent); its data is gone.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Freeze stops the server's process (SIGSTOP) until Thaw: its
// connections stay open and unanswered, as a stalled node's do (a replica
// stays connected to its primary but acknowledges nothing).
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	if s.cmd == nil {
		s.t.Fatalf("redis-server on %s is not running", s.Addr)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal redis-server on %s: %v", s.Addr, err)
	}
}

// Restart starts the server again on the same port and directory: empty,
// unless it was started with --appendonly yes.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.cmd = s.spawn()
}

// Client returns a client for the server (as admin on a StartACL server),
// closed at cleanup.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(s.options())
	s.t.Cleanup(func() { c.Close() })
	return c
}

func (s *Server) options() *redis.Options {
	if s.admin != "" {
		return s.Login(s.admin)
	}
	return &redis.Options{Addr: s.Addr}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
