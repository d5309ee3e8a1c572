package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// HA is a primary, its replicas and one Sentinel watching them, as the
// stack's redis_ha runs them: every data node with the stack's users
// (StartACL), replicating as replica, the Sentinel logging in to them as
// sentinel (acl.txt's rules for both) and behind a password of its own. Sentinel's timeouts are short (down after 1 s, failover timeout
// 3 s) so that a failover fits in a test.
type HA struct {
	t        testing.TB
	Primary  *Server
	Replicas []*Server
	Sentinel *Sentinel
}

// Master is the master group the Sentinel monitors, as in the stack.
const Master = "calcgrid"

// SentinelPassword is the Sentinel's requirepass.
const SentinelPassword = "test-password-of-sentinel"

// Sentinel timeouts, in milliseconds.
const (
	downAfter       = 1000
	failoverTimeout = 3000
)

// StartHA runs a primary with replicas replicas and a Sentinel; extra are
// config directives of every data node (such as "--min-replicas-to-write",
// "1"). It returns once the Sentinel knows every replica, so that a
// failover can pick one.
func StartHA(t testing.TB, replicas int, extra ...string) *HA {
	t.Helper()
	// A node logs in to its primary as replica: a primary demoted by a
	// failover replicates from the new one, so every node has this.
	// No delay before a full sync (Redis waits 5 s for more replicas to
	// share it): each test starts its replicas at once anyway.
	auth := []string{"--masteruser", "replica", "--masterauth", Password("replica"), "--repl-diskless-sync-delay", "0"}
	h := &HA{t: t, Primary: StartACL(t, append(auth, extra...)...)}
	for range replicas {
		args := append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(h.Primary.port)}, auth...)
		h.Replicas = append(h.Replicas, StartACL(t, append(args, extra...)...))
	}
	for _, r := range h.Replicas {
		h.awaitLink(r)
	}
	h.awaitOnline(replicas)
	h.Sentinel = startSentinel(t, h.Primary)
	h.Sentinel.AwaitReplicas(replicas)
	return h
}

// awaitLink waits until replica r has synchronised with its primary.
func (h *HA) awaitLink(r *Server) {
	h.t.Helper()
	c := r.Client()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("replica %s not linked to its primary after 10s: %v\n%s", r.Addr, err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// awaitOnline waits until n replicas acknowledge a write of the primary
// (WAIT): a replica reported linked and online can still take a moment
// (up to seconds after a diskless sync, in Redis 7.0) before the stream
// reaches it.
func (h *HA) awaitOnline(n int) {
	h.t.Helper()
	ctx := context.Background()
	// WAIT counts the acknowledgements of its own connection's writes.
	c := h.Primary.Client().Conn()
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		acked, err := c.Set(ctx, "redistest:ha", time.Now().String(), 0).Err(), error(nil)
		var got int64
		if acked == nil {
			got, err = c.Wait(ctx, n, 100*time.Millisecond).Result()
		}
		if acked == nil && err == nil && got >= int64(n) {
			return
		}
		if time.Now().After(deadline) {
			info, _ := c.Info(ctx, "replication").Result()
			h.t.Fatalf("%d of %d replicas acknowledge the primary's writes after 15s: %v %v\n%s", got, n, acked, err, info)
		}
	}
}

// Role is the role ("master" or "slave") node reports.
func Role(t testing.TB, node *Server) string {
	t.Helper()
	role, err := node.Client().Do(context.Background(), "ROLE").Slice()
	if err != nil || len(role) == 0 {
		t.Fatalf("ROLE of %s: %v", node.Addr, err)
	}
	s, _ := role[0].(string)
	return s
}

// Sentinel is a running redis-server --sentinel.
type Sentinel struct {
	t    testing.TB
	Addr string
	dir  string
	cmd  *exec.Cmd
}

func startSentinel(t testing.TB, primary *Server) *Sentinel {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	s := &Sentinel{t: t, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir}
	// Sentinel rewrites its config file as it learns the group, so the file
	// is the test's own; it refuses to start without one.
	conf := strings.Join([]string{
		fmt.Sprintf("port %d", port),
		"bind 127.0.0.1",
		"dir " + dir,
		"logfile " + filepath.Join(dir, "sentinel.log"),
		"requirepass " + SentinelPassword,
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1", Master, primary.port),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", Master, downAfter),
		fmt.Sprintf("sentinel failover-timeout %s %d", Master, failoverTimeout),
		"sentinel auth-user " + Master + " sentinel",
		"sentinel auth-pass " + Master + " " + Password("sentinel"),
	}, "\n") + "\n"
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatalf("write the Sentinel's config: %v", err)
	}
	s.cmd = exec.Command(primary.bin, path, "--sentinel")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start redis-server --sentinel: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Client returns a client of the Sentinel, closed at cleanup.
func (s *Sentinel) Client() *redis.SentinelClient {
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, Password: SentinelPassword})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// AwaitReplicas waits until the Sentinel reports n replicas linked to
// their primary.
func (s *Sentinel) AwaitReplicas(n int) {
	s.t.Helper()
	c := s.Client()
	deadline := time.Now().Add(15 * time.Second)
	for {
		linked := 0
		replicas, err := c.Replicas(context.Background(), Master).Result()
		for _, r := range replicas {
			if !strings.Contains(r["flags"], "down") && !strings.Contains(r["flags"], "disconnected") && r["master-link-status"] == "ok" {
				linked++
			}
		}
		if err == nil && linked >= n {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "sentinel.log"))
			s.t.Fatalf("Sentinel on %s knows %d of %d replicas after 15s (%v): %v\n%s", s.Addr, linked, n, err, replicas, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Failover makes the Sentinel promote a replica now, without the
// agreement of other Sentinels (SENTINEL FAILOVER).
func (s *Sentinel) Failover() {
	s.t.Helper()
	if err := s.Client().Failover(context.Background(), Master).Err(); err != nil {
		s.t.Fatalf("SENTINEL FAILOVER %s: %v", Master, err)
	}
}

// PrimaryAddr is the primary the Sentinel names now.
func (s *Sentinel) PrimaryAddr() string {
	s.t.Helper()
	hp, err := s.Client().GetMasterAddrByName(context.Background(), Master).Result()
	if err != nil || len(hp) != 2 {
		s.t.Fatalf("SENTINEL GET-MASTER-ADDR-BY-NAME %s: %v %v", Master, hp, err)
	}
	return net.JoinHostPort(hp[0], hp[1])
}

// AwaitPrimaryOtherThan waits until the Sentinel names a primary other
// than old: a failover took place.
func (s *Sentinel) AwaitPrimaryOtherThan(old string) {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for s.PrimaryAddr() == old {
		if time.Now().After(deadline) {
			s.t.Fatalf("the Sentinel still names %s after 15s\n%s", old, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Log is the Sentinel's log so far, for a failing test's message.
func (s *Sentinel) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "sentinel.log"))
	return string(b)
}

// Stop kills the Sentinel (idempotent).
func (s *Sentinel) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
