package tests

import (
	"context"
	"testing"
	"time"
)

// scenarioWorkerFailover: a task whose worker is SIGKILLed completes on
// another worker (the recovery time is logged); a worker stopped with SIGTERM
// mid-task loses nothing; re-applying the workspace heals both: plan reports
// the drift and apply starts the workers again.
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

	// running submits a sleep and returns it with the worker that started it.
	running := func(t *testing.T, ms int) (task, string) {
		t.Helper()
		since := time.Now()
		tk, _ := c.submit(t, submission{Type: "diagnostic.sleep", Payload: map[string]any{"ms": ms}, Priority: "high"})
		c.waitState(t, tk.ID, 20*time.Second, func(tk task) bool { return tk.State == "active" })
		deadline := time.Now().Add(10 * time.Second)
		for {
			if ws := s.workerOf(t, tk.ID, "task started", since); len(ws) == 1 {
				return tk, ws[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %s is active but no single worker logged its start", tk.ID)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	t.Run("SIGKILL", func(t *testing.T) {
		since := time.Now()
		tk, victim := running(t, 5000)
		killed := time.Now()
		docker(t, "kill", "--signal", "KILL", victim)
		done := c.waitCompleted(t, []string{tk.ID}, 4*time.Minute)[tk.ID]
		t.Logf("task %s: worker %s SIGKILLed at %s; completed %s later after %d attempts (recovery = lease expiry + recoverer pass)",
			tk.ID, victim, killed.Format(time.TimeOnly), done.CompletedAt.Sub(killed).Round(time.Second), done.Attempts)
		// asynq's 30 s lease + its 30 s skew margin + a recoverer pass each
		// minute bound the recovery at 120 s (README, Reliability); the task
		// then runs its 5 s again, and 25 s allow for a loaded host.
		if took := done.CompletedAt.Sub(killed); took > 150*time.Second {
			t.Errorf("task %s completed %s after its worker was killed: over the documented 120 s recovery + the task's 5 s + 25 s", tk.ID, took.Round(time.Second))
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
}
