package taskstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/api"
	"github.com/calcgrid/calcgrid/app/internal/config"
	"github.com/calcgrid/calcgrid/app/internal/diagnostic"
	"github.com/calcgrid/calcgrid/app/internal/redistest"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
	"github.com/calcgrid/calcgrid/app/internal/worker"
)

// haLogin is the app's Redis setting for user behind h's Sentinel, as the
// stack's redis_ha gives it (no address: the Sentinel names the primary).
func haLogin(h *redistest.HA, user string) config.Redis {
	return config.Redis{
		Sentinels: []string{h.Sentinel.Addr}, Master: redistest.Master, SentinelPassword: redistest.SentinelPassword,
		Username: user, Password: redistest.Password(user),
	}
}

// haStore is a store logged in as user through h's Sentinel, waiting for
// replicas replicas (500 ms, the API's default).
func haStore(t *testing.T, h *redistest.HA, user string, replicas int) *taskstore.Store {
	t.Helper()
	rdb, err := haLogin(h, user).Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	s := taskstore.New(rdb, taskstore.KeepFor(time.Hour))
	if err := s.WaitForReplicas(replicas, waitTimeout); err != nil {
		t.Fatal(err)
	}
	return s
}

const waitTimeout = 500 * time.Millisecond

// newHAEnv is an env whose store is the API's behind the Sentinel.
func newHAEnv(t *testing.T, replicas, wait int, extra ...string) (*env, *redistest.HA) {
	t.Helper()
	h := redistest.StartHA(t, replicas, extra...)
	e := newEnvOn(t, h.Primary, taskstore.KeepFor(time.Hour))
	e.store = haStore(t, h, "api", wait)
	return e, h
}

// TestSentinelRoles: every role's client, built by config.Redis.Client
// from the Sentinel settings alone, reaches the primary: the API's store
// submits (confirmed by the replica), and a worker logged in as worker
// runs the task, taking it on the submission's wake-up — its own hooked
// client and its subscription both go through the Sentinel (polling alone
// would take the worker's 10 s idle wait, and idle it would not poll).
func TestSentinelRoles(t *testing.T) {
	e, h := newHAEnv(t, 1, 1)
	idleWait := 10 * time.Second
	ws := haStore(t, h, "worker", 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w := worker.New(worker.Options{
		Store: ws, Registry: e.reg, Logger: slog.New(slog.DiscardHandler), Concurrency: 1,
		Weights: config.DefaultWeights(), ShutdownTimeout: 5 * time.Second, IdleWait: idleWait,
		NewRedis: haLogin(h, "worker").Client,
	})
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	time.Sleep(300 * time.Millisecond) // past the worker's first, empty rounds
	// Idle, the worker's hooked client holds its rounds: without it (no
	// client of its own) it polls every 1 ms, hundreds of scripts a second.
	before := scriptCalls(t, h.Primary)
	time.Sleep(time.Second)
	if n := scriptCalls(t, h.Primary) - before; n > 100 {
		t.Errorf("an idle worker ran %d scripts in 1s: it polls instead of waiting for wake-ups", n)
	}
	start := time.Now()
	task := e.submit(noop, "through-sentinel")
	e.awaitState(task.ID, 3*time.Second, taskstore.StateCompleted)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the task took %s to complete: the worker polled instead of waking (idle wait %s)", took, idleWait)
	}
	n, err := h.Replicas[0].Client().Exists(t.Context(), "calcgrid:task:"+task.ID).Result()
	if err != nil || n != 1 {
		t.Errorf("the replica lacks the task: %d, %v", n, err)
	}
}

// scriptCalls is how many EVALSHA srv has run.
func scriptCalls(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	info, err := srv.Client().Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(info, "cmdstat_evalsha:calls=")
	n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
	return n
}

// TestNotReplicated: with wait-replicas 1 and no replica to acknowledge,
// Submit answers ErrNotReplicated within the wait timeout (or at once,
// when the primary itself refuses writes without replicas), for a new
// task and for a replay of one accepted before; once the replica is back,
// a retry with the same key returns the task, not a duplicate.
func TestNotReplicated(t *testing.T) {
	for _, c := range []struct {
		name  string
		extra []string
	}{
		{"WAIT times out", nil},
		// The stack's primary: NOREPLICAS instead of a write nobody has.
		{"primary refuses", []string{"--min-replicas-to-write", "1", "--min-replicas-max-lag", "10"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, h := newHAEnv(t, 1, 1, c.extra...)
			before := e.submit(noop, "before")
			h.Replicas[0].Stop()
			for _, key := range []string{"new", "before"} {
				start := time.Now()
				_, _, err := e.store.Submit(t.Context(), e.sub(noop, key), 10000)
				took := time.Since(start)
				if !errors.Is(err, taskstore.ErrNotReplicated) {
					t.Fatalf("%s: error %v, want ErrNotReplicated", key, err)
				}
				if took > waitTimeout+time.Second {
					t.Errorf("%s: refused after %s; the wait timeout is %s", key, took, waitTimeout)
				}
				t.Logf("%s: %v (after %s)", key, err, took.Round(time.Millisecond))
			}
			h.Replicas[0].Restart()
			h.Sentinel.AwaitReplicas(1)
			for _, key := range []string{"new", "before"} {
				task, _, err := e.store.Submit(t.Context(), e.sub(noop, key), 10000)
				if err != nil {
					t.Fatalf("%s with the replica back: %v", key, err)
				}
				if key == "before" && task.ID != before.ID {
					t.Errorf("the replay returned task %s, want %s", task.ID, before.ID)
				}
			}
		})
	}
}

// TestReplayConfirmed: a retry of a refused submission is confirmed on
// the replicas too, also when it reaches another API, whose connection
// has written nothing: WAIT counts the replicas that have the connection's
// last write, which the replay makes (the script rewrites the task's
// fingerprint), else a replica that lags behind the task would count.
// Redis 7.0.15 was seen to be stricter than WAIT's documentation (a
// connection that wrote nothing also waited for the latest offset), so
// there this test stays green without the rewrite; the rewrite is for the
// documented semantics, which a later Redis may apply to the letter.
func TestReplayConfirmed(t *testing.T) {
	e, h := newHAEnv(t, 1, 1)
	e.submit(noop, "warm")
	h.Replicas[0].Freeze()
	if _, _, err := e.store.Submit(t.Context(), e.sub(noop, "lagging"), 10000); !errors.Is(err, taskstore.ErrNotReplicated) {
		t.Fatalf("with the replica frozen: %v, want ErrNotReplicated", err)
	}
	other := haStore(t, h, "api", 1)
	if _, _, err := other.Submit(t.Context(), e.sub(noop, "lagging"), 10000); !errors.Is(err, taskstore.ErrNotReplicated) {
		t.Errorf("the retry on another API, the replica still frozen: %v, want ErrNotReplicated", err)
	}
	h.Replicas[0].Thaw()
	if _, created, err := other.Submit(t.Context(), e.sub(noop, "lagging"), 10000); err != nil || created {
		t.Errorf("the retry with the replica back: created %v, %v; want the existing task", created, err)
	}
}

// TestSubmitAcrossFailover: after the Sentinel promotes a replica — on
// request, or because the primary was killed — a submission waiting for a
// replica is accepted by the new primary within a few seconds of the
// switch, through the same client (which drops its connections to the old
// primary and loads the script anew: the promoted replica has none
// cached). Two replicas: the one not promoted follows the new primary as
// part of the failover, while a demoted primary that lives on is turned
// into a replica only after Sentinel has seen it claim to be primary for
// 8 s.
//
// What no client setting closes: Sentinel's failover is asynchronous, so
// a primary that lives on (SENTINEL FAILOVER, a partition) takes writes
// until its clients hear +switch-master, and WAIT counts the replicas that
// still follow it. Such a task is answered 202 and lost when the old
// primary is demoted. The test counts those answers and requires them to
// stop within a second of the switch: that is the client's share.
func TestSubmitAcrossFailover(t *testing.T) {
	for _, c := range []struct {
		name string
		kill bool
	}{
		{"SENTINEL FAILOVER", false},
		{"primary killed", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, h := newHAEnv(t, 2, 1)
			before := e.submit(noop, "before")
			old := h.Primary.Addr
			if c.kill {
				h.Primary.Stop()
			} else {
				h.Sentinel.Failover()
			}
			h.Sentinel.AwaitPrimaryOtherThan(old)
			// Bounded from the switch: before it, refusals are the outage
			// Sentinel's down-after makes, not the client's doing. After a
			// stale acceptance the other replica, ahead of the new primary,
			// cannot continue its stream and syncs in full: until then WAIT 1
			// finds no replica (redistest turns off the 5 s that Redis, by
			// default, waits before a full sync for more replicas to join;
			// the stack's nodes keep them).
			start := time.Now()
			bound := 10 * time.Second
			primary := h.Sentinel.PrimaryAddr()
			var node *redistest.Server
			for _, r := range h.Replicas {
				if r.Addr == primary {
					node = r
				}
			}
			if node == nil {
				t.Fatalf("the Sentinel names %s, none of the replicas", primary)
			}
			if role := redistest.Role(t, node); role != "master" {
				t.Errorf("the promoted replica is %s, want master", role)
			}
			// Acknowledged before the failover: a replica had it.
			if n, err := node.Client().Exists(t.Context(), "calcgrid:task:"+before.ID).Result(); err != nil || n != 1 {
				t.Errorf("the new primary lacks the task accepted before the failover: %d, %v", n, err)
			}
			refused, last := 0, error(nil)
			stale, lastStale := 0, time.Duration(0)
			for i := 0; ; i++ {
				task, created, err := e.store.Submit(t.Context(), e.sub(noop, fmt.Sprint("after-", i)), 10000)
				if err == nil && created {
					n, err := node.Client().Exists(t.Context(), "calcgrid:task:"+task.ID).Result()
					if err != nil {
						t.Fatal(err)
					}
					if n == 1 {
						t.Logf("accepted by the new primary %s %s after the Sentinel named it, after %d refusals (the last: %v) and %d acceptances by the old primary (the last %s after the switch)",
							primary, time.Since(start).Round(time.Millisecond), refused, last, stale, lastStale.Round(time.Millisecond))
						if lastStale > time.Second {
							t.Errorf("the old primary still took submissions %s after the switch", lastStale)
						}
						return
					}
					stale, lastStale = stale+1, time.Since(start)
				} else {
					refused, last = refused+1, err
				}
				if time.Since(start) > bound {
					t.Fatalf("no submission accepted within %s (%d refusals, the last: %v)\n%s", bound, refused, last, h.Sentinel.Log())
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// BenchmarkSubmitWait is the cost of --redis-wait-replicas: Submit waiting
// for 0 or 1 replicas, on one primary with one replica on localhost,
// sequentially (the latency a client sees; p50 and p99 per submission).
//
//	go test ./app/internal/taskstore -run '^$' -bench SubmitWait -count 5
func BenchmarkSubmitWait(b *testing.B) {
	h := redistest.StartHA(b, 1)
	reg := tasks.NewRegistry()
	if err := diagnostic.Register(reg); err != nil {
		b.Fatal(err)
	}
	sub, err := api.DecodeSubmission([]byte(noop), reg)
	if err != nil {
		b.Fatal(err)
	}
	o := h.Primary.Login("api")
	for _, wait := range []int{0, 1} {
		b.Run(fmt.Sprintf("replicas=%d", wait), func(b *testing.B) {
			rdb, err := config.Redis{Addr: o.Addr, Username: o.Username, Password: o.Password}.Client()
			if err != nil {
				b.Fatal(err)
			}
			defer rdb.Close()
			s := taskstore.New(rdb, taskstore.KeepFor(time.Hour))
			if err := s.WaitForReplicas(wait, 500*time.Millisecond); err != nil {
				b.Fatal(err)
			}
			took := make([]time.Duration, 0, b.N)
			i := 0
			for b.Loop() {
				sub.Key = fmt.Sprintf("bench-%d-%d-%d", wait, b.N, i)
				i++
				start := time.Now()
				if _, _, err := s.Submit(context.Background(), sub, 1<<30); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
		})
	}
}
