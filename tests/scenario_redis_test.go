package tests

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// scenarioRedisRestart: with 200 tasks queued or running, Redis is restarted
// (every acknowledged task completes), then, under appendfsync always,
// killed with SIGKILL while submissions go on and started: no acknowledged
// task may be missing. Then the submission latency of both policies.
func (s *stack) scenarioRedisRestart(t *testing.T) {
	const tasks = 200
	c := s.client(t, s.vars(t))
	redis := s.containers["redis"][0]
	t.Cleanup(func() {
		docker(t, "start", redis)
		s.waitHealthy(t, 2*time.Minute)
	})
	sleep := submission{Type: "diagnostic.sleep", Payload: map[string]any{"ms": 300}}

	t.Run("restart", func(t *testing.T) {
		var ids []string
		for range tasks {
			tk, _ := c.submit(t, sleep)
			ids = append(ids, tk.ID)
		}
		docker(t, "restart", redis)
		restarted := time.Now()
		s.waitHealthy(t, 2*time.Minute)
		done := c.waitCompleted(t, ids, 4*time.Minute)
		last := restarted
		for _, tk := range done {
			if tk.CompletedAt.After(last) {
				last = *tk.CompletedAt
			}
		}
		t.Logf("all %d acknowledged tasks completed, the last %s after the restart", len(ids), last.Sub(restarted).Round(time.Second))
	})

	// killed submits while Redis, running with appendfsync policy, is
	// SIGKILLed and started again, and counts the acknowledged tasks lost.
	killed := func(t *testing.T, policy string) {
		s.redisCLI(t, "CONFIG", "SET", "appendfsync", policy)
		type ack struct {
			id string
			at time.Time
		}
		var (
			mu    sync.Mutex
			acks  []ack
			kill  = make(chan struct{})
			after = make(chan struct{})
		)
		// Submissions keep coming while Redis dies: the ones acknowledged just
		// before the kill are the ones at risk.
		go func() {
			defer close(after)
			for {
				r, err := c.send(t.Context(), http.MethodPost, "/v1/tasks", sleep, nil)
				if err == nil && r.status == http.StatusAccepted {
					mu.Lock()
					acks = append(acks, ack{idFromLocation(r.location), r.at})
					if len(acks) == tasks/2 {
						close(kill)
					}
					mu.Unlock()
				} else {
					select {
					case <-kill:
						return // Redis is gone: the API refuses
					default:
					}
				}
				mu.Lock()
				n := len(acks)
				mu.Unlock()
				if n >= tasks {
					return
				}
			}
		}()
		<-kill
		time.Sleep(300 * time.Millisecond)
		killed := time.Now()
		docker(t, "kill", "--signal", "KILL", redis)
		<-after
		docker(t, "start", redis)
		s.waitHealthy(t, 2*time.Minute)

		mu.Lock()
		defer mu.Unlock()
		ids := make([]string, len(acks))
		for i, a := range acks {
			ids[i] = a.id
		}
		done := c.waitTasks(t, ids, 4*time.Minute)
		lost, atRisk := 0, 0
		for _, a := range acks {
			recent := !a.at.Before(killed.Add(-time.Second))
			if recent {
				atRisk++
			}
			tk, ok := done[a.id]
			switch {
			case ok && tk.State == "completed":
			case ok && tk.State == "missing" && recent:
				lost++
			case ok:
				t.Errorf("task %s acknowledged %s before the kill ended %s (error %q)", a.id, killed.Sub(a.at).Round(time.Millisecond), tk.State, tk.Error)
			default:
				t.Errorf("task %s acknowledged %s before the kill did not finish", a.id, killed.Sub(a.at).Round(time.Millisecond))
			}
		}
		t.Logf("SIGKILL under appendfsync %s: %d tasks acknowledged, %d in the last second before the kill, %d of those lost",
			policy, len(acks), atRisk, lost)
		if policy == "always" && lost > 0 || atRisk == 0 {
			t.Errorf("appendfsync %s: %d of %d acknowledged tasks lost, %d acknowledged in the last second: want none lost under always, and some at risk for the test to mean anything", policy, lost, len(acks), atRisk)
		}
	}

	// Under prod's policy (Redis restarts with the environment's own). A
	// SIGKILL cannot tell it from everysec, which also hands every write to
	// the kernel before it replies: only an OS crash could, and none is
	// injected here.
	t.Run("SIGKILL always", func(t *testing.T) { killed(t, "always") })

	t.Run("cost of always", func(t *testing.T) {
		configured := s.vars(t).Redis.AppendFsync
		t.Cleanup(func() { s.redisCLI(t, "CONFIG", "SET", "appendfsync", configured) })
		took := map[string][]time.Duration{}
		for round := range 6 {
			policy := []string{"everysec", "always"}[round%2]
			s.redisCLI(t, "CONFIG", "SET", "appendfsync", policy)
			for range 50 {
				start := time.Now()
				c.submit(t, submission{Type: "diagnostic.noop", Payload: map[string]any{}})
				took[policy] = append(took[policy], time.Since(start))
			}
		}
		for _, policy := range []string{"everysec", "always"} {
			d := took[policy]
			slices.Sort(d)
			t.Logf("submission through nginx, appendfsync %s: p50 %s, p99 %s (%d sequential POSTs, alternating rounds of 50)",
				policy, d[len(d)/2].Round(10*time.Microsecond), d[len(d)*99/100].Round(10*time.Microsecond), len(d))
		}
	})
}

// idFromLocation takes the task id from a Location header /v1/tasks/{id}.
func idFromLocation(loc string) string {
	for i := len(loc) - 1; i >= 0; i-- {
		if loc[i] == '/' {
			return loc[i+1:]
		}
	}
	return loc
}
