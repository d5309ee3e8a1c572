package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// scenarioWorkerFailover: a task whose worker is SIGKILLed runs again on
// another worker within 15 s (taskstore.Recover); a worker stopped with
// SIGTERM mid-task loses nothing; re-applying the workspace heals both: plan
// reports the drift and apply starts the workers again. Then a worker cut
// off from the data network mid-task: its task runs again elsewhere and
// completes once; reconnected, the worker finds its attempt superseded,
// exits and is restarted by Docker, healthy, with nothing left active.
func (s *stack) scenarioWorkerFailover(t *testing.T) {
	c := s.client(t, s.vars(t))
	healed := false
	t.Cleanup(func() {
		if !healed {
			if err := s.env.Apply(context.WithoutCancel(t.Context())); err != nil {
				t.Error(err)
			}
		}
		s.waitHealthy(t, 2*time.Minute)
	})

	running := func(t *testing.T, ms int) (task, string) { return s.runningSleep(t, c, ms, "high") }

	t.Run("SIGKILL", func(t *testing.T) {
		since := time.Now()
		tk, victim := running(t, 5000)
		killed := time.Now()
		docker(t, "kill", "--signal", "KILL", victim)
		rerun := c.waitState(t, tk.ID, recoveryBound, func(tk task) bool { return tk.Attempts >= 2 })
		restarted := time.Since(killed)
		done := c.waitCompleted(t, []string{tk.ID}, time.Minute)[tk.ID]
		t.Logf("task %s: worker %s SIGKILLed at %s; attempt %d started %s later, completed %s after the kill",
			tk.ID, victim, killed.Format(time.TimeOnly), rerun.Attempts, restarted.Round(100*time.Millisecond),
			done.CompletedAt.Sub(killed).Round(100*time.Millisecond))
		s.record(reliabilityRow{Scenario: "WorkerFailover/SIGKILL", Fault: "worker SIGKILLed mid-task (5 s task)",
			Expected: "the task runs again on another worker within 15 s, completes once",
			Observed: fmt.Sprintf("attempt 2 started after %s, completed after %d attempts", restarted.Round(100*time.Millisecond), done.Attempts),
			Recovery: restarted})
		if done.Attempts != 2 {
			t.Errorf("task %s completed after %d attempts, want 2 (the killed one counts)", tk.ID, done.Attempts)
		}
		finishers := s.workerOf(t, tk.ID, "task succeeded", since)
		if len(finishers) != 1 || finishers[0] == victim {
			t.Errorf("task %s finished on %v, want exactly one worker other than the killed %s", tk.ID, finishers, victim)
		}
	})

	t.Run("SIGTERM", func(t *testing.T) {
		since := time.Now()
		tk, victim := running(t, 4000)
		// docker stop: SIGTERM, then SIGKILL after the container's stop timeout.
		stopped := time.Now()
		docker(t, "stop", victim)
		done := c.waitCompleted(t, []string{tk.ID}, 2*time.Minute)[tk.ID]
		finishers := s.workerOf(t, tk.ID, "task succeeded", since)
		t.Logf("task %s: worker %s stopped (SIGTERM) mid-task, exit took %s; finished by %v after %d attempt(s)",
			tk.ID, victim, time.Since(stopped).Round(time.Second), finishers, done.Attempts)
		if len(finishers) != 1 {
			t.Errorf("task %s finished on %v, want exactly one worker", tk.ID, finishers)
		}
	})

	t.Run("heal", func(t *testing.T) {
		var down []string
		for _, w := range s.containers["worker"] {
			if inspect(t, w).State.Status != "running" {
				down = append(down, w)
			}
		}
		if len(down) == 0 {
			t.Fatal("no worker is down after SIGKILL and SIGTERM: the restart policy or the test changed; nothing to heal")
		}
		if changes, err := s.env.Plan(t.Context()); err != nil || !changes {
			t.Errorf("plan with workers %v down: changes %v (err %v), want changes", down, changes, err)
		}
		if err := s.env.Apply(t.Context()); err != nil {
			t.Fatal(err)
		}
		healed = true
		s.waitHealthy(t, 2*time.Minute)
		for _, w := range s.containers["worker"] {
			if st := inspect(t, w).State.Status; st != "running" {
				t.Errorf("after apply, worker %s is %s", w, st)
			}
		}
		if changes, err := s.env.Plan(t.Context()); err != nil || changes {
			t.Errorf("plan after the healing apply: changes %v (err %v), want none (no drift)", changes, err)
		}
	})

	t.Run("partition", func(t *testing.T) {
		nets := s.networks(t)
		since := time.Now()
		tk, victim := running(t, 5000)
		restarts := inspect(t, victim).RestartCount
		cut := time.Now()
		docker(t, "network", "disconnect", nets["data"], victim)
		connected := false
		defer func() {
			if !connected {
				_, _ = dockerE("network", "connect", nets["data"], victim)
			}
		}()
		rerun := c.waitState(t, tk.ID, recoveryBound, func(tk task) bool { return tk.Attempts >= 2 })
		restarted := time.Since(cut)
		// Reconnected once the task runs again and the victim's own 5 s
		// attempt has ended, unrecorded.
		time.Sleep(time.Until(cut.Add(6 * time.Second)))
		docker(t, "network", "connect", nets["data"], victim)
		connected = true
		reconnected := time.Since(cut)
		done := c.waitCompleted(t, []string{tk.ID}, time.Minute)[tk.ID]
		if done.Attempts != 2 || done.Result == nil {
			t.Errorf("task %s: %d attempts, result %s; want completed with a result on attempt 2", tk.ID, done.Attempts, done.Result)
		}
		// The victim finds its attempt superseded, exits, and Docker starts it again.
		deadline := time.Now().Add(time.Minute)
		for !restartedHealthy(inspect(t, victim), restarts) {
			if time.Now().After(deadline) {
				t.Fatalf("worker %s not restarted and healthy a minute after its reconnection (restarts %d)", victim, inspect(t, victim).RestartCount)
			}
			time.Sleep(500 * time.Millisecond)
		}
		rejoined := time.Since(cut)
		if finishers := s.workerOf(t, tk.ID, "task succeeded", since); len(finishers) != 1 || finishers[0] == victim {
			t.Errorf("task %s recorded as succeeded by %v, want one worker other than the cut-off %s", tk.ID, finishers, victim)
		}
		if again, _, err := c.get(t.Context(), tk.ID); err != nil || again.State != "completed" || again.Attempts != 2 ||
			!again.CompletedAt.Equal(*done.CompletedAt) || string(again.Result) != string(done.Result) {
			t.Errorf("task %s after the victim rejoined: %+v (%v), want unchanged %+v", tk.ID, again, err, done)
		}
		if active := s.activeTasks(t); len(active) != 0 {
			t.Errorf("tasks still active after the partition healed: %v", active)
		}
		t.Logf("task %s: worker %s cut off at %s; attempt %d started %s later; reconnected at +%s, completed at +%s; the worker restarted and was healthy at +%s",
			tk.ID, victim, cut.Format(time.TimeOnly), rerun.Attempts, restarted.Round(100*time.Millisecond), reconnected.Round(100*time.Millisecond),
			done.CompletedAt.Sub(cut).Round(100*time.Millisecond), rejoined.Round(100*time.Millisecond))
		s.record(reliabilityRow{Scenario: "WorkerFailover/partition", Fault: fmt.Sprintf("worker disconnected from the data network mid-task (5 s task), reconnected after %s", reconnected.Round(time.Second)),
			Expected: "the task runs again elsewhere within 15 s and completes once; the worker discards its late end, restarts and rejoins; nothing stays active",
			Observed: fmt.Sprintf("attempt 2 after %s, completed once (%d attempts); worker restarted, healthy at +%s", restarted.Round(100*time.Millisecond), done.Attempts, rejoined.Round(time.Second)),
			Recovery: restarted})
	})
}

// restartedHealthy reports whether a container restarted since it had
// restarts and is healthy again.
func restartedHealthy(c containerInfo, restarts int) bool {
	return c.RestartCount > restarts && c.State.Health != nil && c.State.Health.Status == "healthy"
}

// recoveryBound is how soon a task whose worker died must run again:
// taskstore.StaleLease after the worker's last heartbeat (at most 5 s
// before it died), a recoverer pass each second, and a margin.
const recoveryBound = 15 * time.Second

// activeTasks lists the tasks asynq holds active, in every queue.
func (s *stack) activeTasks(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, q := range queues {
		out = append(out, strings.Fields(s.redisCLI(t, "LRANGE", "asynq:{"+q+"}:active", "0", "-1"))...)
	}
	return out
}
