package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// swarmEnv is the environment on target swarm (environments/swarm.tfvars).
const swarmEnv = "swarm"

// TestSwarm applies the swarm environment through the driver (which
// initialises a single-node swarm when the engine is in none), checks it,
// and tears it down again, leaving the swarm when the driver made it. It
// tolerates leftovers of an interrupted run (removed first, by label).
// Not part of TestStack, which applies dev: run it on its own,
//
//	cd tests && go test -count=1 -v -timeout 20m -run '^TestSwarm$' .
func TestSwarm(t *testing.T) {
	e := openEnv(t, swarmEnv)
	removeLeftovers(t, swarmEnv)
	volumeExisted := e.VolumeExists(t.Context())
	var rollImages []string
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		e.Vars = nil
		if err := e.Down(ctx); err != nil {
			t.Error(err)
		}
		if !volumeExisted {
			if err := e.DestroyData(ctx); err != nil {
				t.Error(err)
			}
		}
		for _, img := range rollImages {
			_, _ = dockerE("image", "rm", img)
		}
	})
	start := time.Now()
	if err := e.Up(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Logf("make up ENV=swarm took %s", time.Since(start).Round(time.Second))
	s := loadStack(t, swarmEnv)
	var services map[string]string
	if err := e.OutputJSON(t.Context(), "services", &services); err != nil {
		t.Fatal(err)
	}
	c := s.client(t, s.vars(t))

	t.Run("Health", func(t *testing.T) { s.swarmHealth(t, c, services) })
	t.Run("WorkerKilled", func(t *testing.T) { s.swarmWorkerKilled(t, c, services["worker"]) })
	t.Run("RollingUpdate", func(t *testing.T) {
		s.swarmRollingUpdate(t, c, services, func(img string) { rollImages = append(rollImages, img) })
	})
}

// swarmHealth: every service runs its replicas, every task and edge
// container is healthy, /healthz answers through nginx from every API task
// in turn, and a diagnostic.noop completes.
func (s *stack) swarmHealth(t *testing.T, c *apiClient, services map[string]string) {
	if keys := mapKeys(services); !slices.Equal(slices.Sorted(slices.Values(keys)), []string{"api", "redis", "worker"}) {
		t.Fatalf("services = %v, want api, redis and worker", services)
	}
	s.waitServices(t, services, 2*time.Minute)
	for _, name := range s.allContainers() {
		if got := docker(t, "inspect", "-f", "{{.State.Health.Status}}", name); got != "healthy" {
			t.Errorf("container %s is %q, want healthy", name, got)
		}
	}
	seen := map[string]int{}
	for range 30 {
		r, err := c.send(t.Context(), http.MethodGet, "/healthz", nil, nil)
		if err != nil || r.status != http.StatusOK {
			t.Fatalf("GET /healthz through nginx: %v %d %s", err, r.status, r.body)
		}
		seen[r.upstream]++
	}
	for up := range seen {
		if !strings.HasPrefix(up, "calcgrid-swarm-api-") {
			t.Errorf("X-Upstream %q is no API task's name", up)
		}
	}
	if len(seen) < 3 {
		t.Errorf("30 requests reached %v: want each of the 3 API tasks", seen)
	}
	t.Logf("30 GET /healthz through nginx, by X-Upstream: %v", seen)
	tk, _ := c.submit(t, submission{Type: "diagnostic.noop", Payload: map[string]any{}})
	c.waitCompleted(t, []string{tk.ID}, 30*time.Second)
}

// swarmWorkerKilled: a worker task's container SIGKILLed while it runs a
// diagnostic.sleep: the task runs again on another worker and completes,
// and Swarm starts a new task in the killed one's place.
func (s *stack) swarmWorkerKilled(t *testing.T, c *apiClient, service string) {
	since := time.Now()
	tk, _ := c.submit(t, submission{Type: "diagnostic.sleep", Payload: map[string]any{"ms": 5000}, Priority: "high"})
	c.waitState(t, tk.ID, 20*time.Second, func(tk task) bool { return tk.State == "active" })
	var victim string
	for deadline := time.Now().Add(10 * time.Second); victim == ""; {
		if ws := taskContainersLogging(t, service, tk.ID, "task started", since); len(ws) == 1 {
			victim = ws[0]
		} else if time.Now().After(deadline) {
			t.Fatalf("task %s is active but no single worker task logged its start (%v)", tk.ID, ws)
		} else {
			time.Sleep(200 * time.Millisecond)
		}
	}
	killed := time.Now()
	docker(t, "kill", "--signal", "KILL", victim)
	rerun := c.waitState(t, tk.ID, recoveryBound, func(tk task) bool { return tk.Attempts >= 2 })
	recovered := time.Since(killed)
	done := c.waitCompleted(t, []string{tk.ID}, time.Minute)[tk.ID]
	if finishers := taskContainersLogging(t, service, tk.ID, "task succeeded", since); len(finishers) != 1 || finishers[0] == victim {
		t.Errorf("task %s finished on %v, want one worker task other than the killed %s", tk.ID, finishers, victim)
	}
	// Swarm replaces the killed task with a new one (a new container).
	var replaced time.Duration
	for deadline := time.Now().Add(time.Minute); ; {
		running := serviceContainers(t, service)
		if len(running) == 3 && !slices.ContainsFunc(running, func(id string) bool { return strings.HasPrefix(victim, id) }) && allHealthy(running) {
			replaced = time.Since(killed)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after the kill, %s runs %v (killed %s)", service, running, victim)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("task %s: worker task container %.12s SIGKILLed; attempt %d started %s later, completed after %d attempts %s after the kill; Swarm's new task healthy after %s",
		tk.ID, victim, rerun.Attempts, recovered.Round(100*time.Millisecond), done.Attempts, done.CompletedAt.Sub(killed).Round(100*time.Millisecond), replaced.Round(100*time.Millisecond))
	if done.Attempts != 2 {
		t.Errorf("task %s completed after %d attempts, want 2 (the killed one counts)", tk.ID, done.Attempts)
	}
}

// swarmRollingUpdate applies the environment with a new app image ID (the
// same binary under a new label, as a promotion of a new build would) while
// a client submits and reads: no 5xx and no dropped connection, every 202
// completes, every API and worker task ends on the new image. It reports
// how long each service's roll took (Swarm's UpdateStatus) and hands the
// image it built to built, which deletes it after the teardown.
func (s *stack) swarmRollingUpdate(t *testing.T, c *apiClient, services map[string]string, built func(string)) {
	old := s.output(t, "app_image")
	tag := "calcgrid-app:swarm-roll"
	docker(t, "tag", old, tag+"-base")
	defer func() { _, _ = dockerE("image", "rm", tag+"-base") }()
	build := exec.Command("docker", "build", "-q", "-t", tag, "-")
	build.Stdin = strings.NewReader(fmt.Sprintf("FROM %s-base\nLABEL calcgrid.env=swarm calcgrid.roll=%d\n", tag, time.Now().UnixNano()))
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("docker build of the roll image: %v\n%s", err, out)
	}
	img := docker(t, "image", "inspect", "-f", "{{.Id}}", tag)
	built(img)
	if img == old {
		t.Fatalf("the roll image has the old ID %s", img)
	}

	// The load: a submission and a read of an earlier one every 100 ms.
	var (
		mu       sync.Mutex
		accepted []string
		statuses = map[int]int{}
		failures []string
	)
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			r, err := c.send(ctx, http.MethodPost, "/v1/tasks", submission{Type: "diagnostic.noop", Payload: map[string]any{}}, nil)
			mu.Lock()
			switch {
			case ctx.Err() != nil:
			case err != nil:
				failures = append(failures, err.Error())
			default:
				statuses[r.status]++
				var tk task
				if r.status == http.StatusAccepted && json.Unmarshal(r.body, &tk) == nil {
					accepted = append(accepted, tk.ID)
				} else if r.status >= 500 {
					failures = append(failures, fmt.Sprintf("POST %d %s (X-Upstream %q)", r.status, r.body, r.upstream))
				}
			}
			var read string
			if len(accepted) > 0 {
				read = accepted[rand.IntN(len(accepted))]
			}
			mu.Unlock()
			if read != "" {
				r, err := c.send(ctx, http.MethodGet, "/v1/tasks/"+read, nil, nil)
				mu.Lock()
				switch {
				case ctx.Err() != nil:
				case err != nil:
					failures = append(failures, err.Error())
				default:
					statuses[r.status]++
					if r.status != http.StatusOK {
						failures = append(failures, fmt.Sprintf("GET %s: %d %s (X-Upstream %q)", read, r.status, r.body, r.upstream))
					}
				}
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	time.Sleep(3 * time.Second) // load before the roll
	s.env.Vars = map[string]string{"app_image_override": img}
	applied := time.Now()
	err = s.env.Apply(t.Context())
	applyTook := time.Since(applied)
	// The provider's convergence check may return while Swarm still rolls:
	// the load runs until both services report their update completed.
	rolls := map[string]string{}
	if err == nil {
		rolls = waitRolled(t, []string{services["api"], services["worker"]}, 4*time.Minute)
	}
	rolled := time.Since(applied)
	time.Sleep(3 * time.Second) // and after it
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}

	for _, role := range []string{"api", "worker"} {
		for _, id := range serviceContainers(t, services[role]) {
			if got := inspect(t, id).Image; got != img {
				t.Errorf("%s task container %.12s runs %s after the roll, want %s", role, id, got, img)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	done := c.waitCompleted(t, accepted, time.Minute)
	t.Logf("rolling update to %.19s: apply returned after %s, both services rolled %s after it began; Swarm's rolls: api %s (start-first), worker %s (stop-first); during it %d submissions accepted, answers by status %v, all %d completed",
		img, applyTook.Round(100*time.Millisecond), rolled.Round(100*time.Millisecond), rolls["api"], rolls["worker"], len(accepted), statuses, len(done))
	for i, f := range failures {
		if i == 10 {
			t.Errorf("... %d failures in all", len(failures))
			break
		}
		t.Errorf("during the roll: %s", f)
	}
	for status := range statuses {
		if status >= 500 {
			t.Errorf("%d answers %d during the roll", statuses[status], status)
		}
	}
	if len(accepted) < 50 {
		t.Errorf("only %d submissions accepted: the load did not run through the roll", len(accepted))
	}
}

// waitRolled waits until each service's rolling update completed and
// returns how long each took, by Swarm's UpdateStatus.
func waitRolled(t *testing.T, services []string, timeout time.Duration) map[string]string {
	t.Helper()
	took := map[string]string{}
	deadline := time.Now().Add(timeout)
	for _, name := range services {
		for {
			var st struct {
				State       string
				StartedAt   time.Time
				CompletedAt time.Time
			}
			raw := docker(t, "service", "inspect", "-f", "{{json .UpdateStatus}}", name)
			if err := json.Unmarshal([]byte(raw), &st); err == nil && st.State == "completed" {
				took[strings.TrimPrefix(name, "calcgrid-swarm-")] = st.CompletedAt.Sub(st.StartedAt).Round(100 * time.Millisecond).String()
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: update status %s %s after the apply, want completed", name, raw, timeout)
				break
			}
			time.Sleep(time.Second)
		}
	}
	return took
}

// waitServices waits until every service runs all its replicas.
func (s *stack) waitServices(t *testing.T, services map[string]string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var pending []string
		for _, name := range services {
			got := docker(t, "service", "ls", "--filter", "name="+name, "--format", "{{.Name}} {{.Replicas}}")
			for _, line := range strings.Split(got, "\n") {
				f := strings.Fields(line)
				if len(f) < 2 || f[0] != name {
					continue
				}
				running, desired, _ := strings.Cut(f[1], "/")
				if running != desired {
					pending = append(pending, line)
				}
			}
		}
		if len(pending) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("services not converged within %s: %v", timeout, pending)
		}
		time.Sleep(time.Second)
	}
}

// serviceContainers lists the running task containers of a service (IDs).
func serviceContainers(t *testing.T, service string) []string {
	t.Helper()
	return strings.Fields(docker(t, "ps", "-q", "--no-trunc", "--filter", "label=com.docker.swarm.service.name="+service))
}

// allHealthy reports whether every container is running and healthy.
func allHealthy(ids []string) bool {
	for _, id := range ids {
		if st, err := dockerE("inspect", "-f", "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}", id); err != nil || st != "running/healthy" {
			return false
		}
	}
	return true
}

// taskContainersLogging finds the service's task containers (running or
// not) that logged msg for the task since.
func taskContainersLogging(t *testing.T, service, taskID, msg string, since time.Time) []string {
	t.Helper()
	var found []string
	for _, id := range strings.Fields(docker(t, "ps", "-aq", "--no-trunc", "--filter", "label=com.docker.swarm.service.name="+service)) {
		for _, l := range containerLogs(t, id, since) {
			if l.TaskID == taskID && l.Msg == msg {
				found = append(found, id)
				break
			}
		}
	}
	return found
}

func mapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
