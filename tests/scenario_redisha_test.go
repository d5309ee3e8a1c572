package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// failoverBound is the longest the issue allows from the primary's death to
// a replica promoted by the Sentinels.
const failoverBound = 15 * time.Second

// redisFailover runs on an environment with Redis HA (staging): the primary
// container is SIGKILLed under a stream of submissions. The Sentinels must
// promote a replica within failoverBound, every task answered 202 must
// complete (a 202 there means a replica had it), the old primary, started
// again, must rejoin as a replica of the new one, and a task whose worker is
// then SIGKILLed must run again (the recoverer works through the new primary). c submits as a key with the
// submit scope; report receives the row for docs/reliability.md.
func redisFailover(t *testing.T, st *stack, c *apiClient, report *stack) {
	if len(st.containers["sentinel"]) == 0 {
		t.Fatalf("%s has no Sentinels: redis.ha must be on", st.env.Name)
	}
	old := sentinelPrimary(t, st)
	if !slices.Contains(st.containers["redis"], old) {
		t.Fatalf("the Sentinels name %q the primary, not one of %v", old, st.containers["redis"])
	}
	t.Cleanup(func() {
		// Whatever happened, the next scenario gets every instance back.
		if _, err := dockerE("start", old); err != nil {
			t.Errorf("docker start %s: %v", old, err)
		}
		st.waitHealthy(t, 2*time.Minute)
	})

	stream := startStream(t.Context(), c)
	time.Sleep(2 * time.Second) // the stream runs against the old primary first
	docker(t, "kill", "--signal", "KILL", old)
	killed := time.Now()

	var promoted string
	for promoted == "" || promoted == old {
		if time.Since(killed) > failoverBound+15*time.Second {
			stream.stop()
			t.Fatalf("the Sentinels still name %s the primary %s after it was killed", old, time.Since(killed).Round(time.Second))
		}
		time.Sleep(100 * time.Millisecond)
		promoted, _ = sentinelPrimaryE(st)
	}
	failover := time.Since(killed)
	t.Logf("%s killed; the Sentinels promoted %s after %s", old, promoted, failover.Round(10*time.Millisecond))
	if failover > failoverBound {
		t.Errorf("promotion took %s, want at most %s", failover.Round(10*time.Millisecond), failoverBound)
	}

	// Submissions must be accepted again through the new primary.
	served := stream.acceptedAfter(t, killed, 30*time.Second)
	time.Sleep(3 * time.Second)
	res := stream.stop()
	t.Logf("stream: %d submitted, %d accepted (202), statuses %v, problems %v; first 202 sent after the kill at +%s",
		res.sent, len(res.accepted), res.statuses, res.problems, served.Sub(killed).Round(10*time.Millisecond))
	if len(res.accepted) == 0 {
		t.Fatal("no submission was accepted")
	}
	for status := range res.statuses {
		if status != http.StatusAccepted && status != http.StatusServiceUnavailable && status != http.StatusBadGateway {
			t.Errorf("a submission got %d: during a failover the answers are 202, or 503/502 to retry", status)
		}
	}

	// Every 202 is a task a replica had: none may be lost.
	done := c.waitCompleted(t, res.accepted, 2*time.Minute)
	t.Logf("all %d accepted tasks completed", len(done))

	// The old primary, back, follows the new one.
	docker(t, "start", old)
	deadline := time.Now().Add(time.Minute)
	for {
		role, err := dockerE("exec", old, "/run/secrets/redis-admin", "--no-raw", "ROLE")
		if err == nil && strings.Contains(role, "slave") && strings.Contains(role, promoted) && strings.Contains(role, "connected") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not rejoin as a replica of %s within a minute; ROLE: %s (%v)", old, promoted, role, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%s rejoined as a replica of %s", old, promoted)

	// The recoverer works through the new primary: a task whose worker is
	// SIGKILLed runs again elsewhere.
	tk, victim := st.runningSleep(t, c, 5000, "")
	t.Cleanup(func() { _, _ = dockerE("start", victim) })
	docker(t, "kill", "--signal", "KILL", victim)
	workerKilled := time.Now()
	rerun := c.waitState(t, tk.ID, recoveryBound, func(tk task) bool { return tk.Attempts >= 2 })
	recovered := time.Since(workerKilled)
	c.waitCompleted(t, []string{tk.ID}, time.Minute)
	t.Logf("after the failover, worker %s SIGKILLed mid-task: attempt %d started %s later and completed",
		victim, rerun.Attempts, recovered.Round(100*time.Millisecond))

	report.record(reliabilityRow{
		Scenario: "Promotion (RedisFailover, staging: Redis HA)",
		Fault:    "SIGKILL of the Redis primary under a stream of submissions",
		Expected: fmt.Sprintf("a replica promoted within %s; every 202 completes; the old primary rejoins as a replica; a dead worker's task still recovers", failoverBound),
		Observed: fmt.Sprintf("promoted after %s; %d of %d submissions accepted, all completed; statuses %v, problems %v; a task whose worker was then killed ran again after %s",
			failover.Round(100*time.Millisecond), len(res.accepted), res.sent, res.statuses, res.problems, recovered.Round(100*time.Millisecond)),
		Recovery: served.Sub(killed),
	})
}

// sentinelPrimary asks the environment's Sentinels which instance is the
// primary.
func sentinelPrimary(t *testing.T, st *stack) string {
	t.Helper()
	p, err := sentinelPrimaryE(st)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sentinelPrimaryE asks each Sentinel in turn (one may be the one that is
// down) for the primary's name.
func sentinelPrimaryE(st *stack) (string, error) {
	var errs []string
	for _, s := range st.containers["sentinel"] {
		out, err := dockerE("exec", s, "sh", "-c",
			`REDISCLI_AUTH="$(cat /run/secrets/sentinels-password)" redis-cli --no-auth-warning -p 26379 SENTINEL get-master-addr-by-name calcgrid`)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v %s", s, err, out))
			continue
		}
		if f := strings.Fields(out); len(f) == 2 {
			return f[0], nil
		}
		errs = append(errs, fmt.Sprintf("%s: %q", s, out))
	}
	return "", fmt.Errorf("no Sentinel named the primary: %s", strings.Join(errs, "; "))
}

// submissionStream posts diagnostic.noop tasks as fast as the client's pace
// allows until stopped, recording each answer.
type submissionStream struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	res      streamResult
	accepted []time.Time // when each submission answered 202 was sent
}

type streamResult struct {
	sent     int
	accepted []string // ids answered 202
	statuses map[int]int
	problems map[string]int // the problem types of the other answers
}

func startStream(ctx context.Context, c *apiClient) *submissionStream {
	ctx, cancel := context.WithCancel(ctx)
	s := &submissionStream{cancel: cancel, done: make(chan struct{}), res: streamResult{statuses: map[int]int{}, problems: map[string]int{}}}
	go func() {
		defer close(s.done)
		for i := 0; ctx.Err() == nil; i++ {
			r, err := c.send(ctx, http.MethodPost, "/v1/tasks", submission{
				Type: "diagnostic.noop", Payload: map[string]any{}, IdempotencyKey: fmt.Sprintf("failover-%d-%d", time.Now().UnixNano(), i),
			}, nil)
			if ctx.Err() != nil {
				return
			}
			s.mu.Lock()
			s.res.sent++
			if err != nil {
				s.res.statuses[0]++ // a transport error
			} else {
				s.res.statuses[r.status]++
				var problem struct{ Type string }
				if r.status != http.StatusAccepted && json.Unmarshal(r.body, &problem) == nil {
					s.res.problems[strings.TrimPrefix(problem.Type, "urn:calcgrid:problem:")]++
				}
				var tk task
				if r.status == http.StatusAccepted && json.Unmarshal(r.body, &tk) == nil && tk.ID != "" {
					s.res.accepted = append(s.res.accepted, tk.ID)
					s.accepted = append(s.accepted, r.at.Add(-r.took)) // when it was sent
				}
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// acceptedAfter waits for the first 202 to a submission sent after since,
// and returns when it was sent.
func (s *submissionStream) acceptedAfter(t *testing.T, since time.Time, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		i := slices.IndexFunc(s.accepted, func(at time.Time) bool { return at.After(since) })
		var at time.Time
		if i >= 0 {
			at = s.accepted[i]
		}
		s.mu.Unlock()
		if i >= 0 {
			return at
		}
		if time.Now().After(deadline) {
			s.stop()
			t.Fatalf("no submission accepted within %s of the fault", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *submissionStream) stop() streamResult {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.res
}
