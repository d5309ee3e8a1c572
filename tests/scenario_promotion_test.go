package tests

import (
	"encoding/json"
	"maps"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/terraform"
)

// scenarioPromotion: staging comes up beside dev, `make promote FROM=dev
// TO=staging` makes staging run dev's app image ID, both are healthy, and
// destroying staging leaves dev's containers untouched.
func (s *stack) scenarioPromotion(t *testing.T) {
	const to = "staging"
	root := repoRoot(t)
	volume := "calcgrid-" + to + "-redis-data"
	volumeExisted := volumeExists(t, volume)
	run := func(t *testing.T, name string, args ...string) {
		t.Helper()
		start := time.Now()
		cmd := exec.Command(name, args...) // also runs from Cleanup, after t.Context() ends
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		t.Logf("%s %s: %s", name, strings.Join(args, " "), time.Since(start).Round(time.Second))
	}
	down := func(t *testing.T) {
		run(t, "scripts/stack.sh", "down", to)
		if !volumeExisted {
			run(t, "scripts/stack.sh", "destroy-data", to)
		}
	}
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			down(t)
		}
		removeLeftovers(t, to)
	})

	devBefore := map[string]containerInfo{}
	for _, name := range s.allContainers() {
		devBefore[name] = inspect(t, name)
	}
	devImage := terraform.Output(t, s.opts, "app_image")

	run(t, "scripts/stack.sh", "up", to)
	run(t, "make", "promote", "FROM="+env, "TO="+to)

	// Staging's own state, selected for these commands only.
	stagingOpts := *s.opts
	stagingOpts.EnvVars = maps.Clone(s.opts.EnvVars)
	stagingOpts.EnvVars["TF_WORKSPACE"] = to
	if got := terraform.Output(t, &stagingOpts, "app_image"); got != devImage {
		t.Errorf("staging app_image %s, want dev's %s", got, devImage)
	}
	var staging map[string][]string
	if err := json.Unmarshal([]byte(terraform.OutputJson(t, &stagingOpts, "containers")), &staging); err != nil {
		t.Fatalf("staging output containers: %v", err)
	}
	stagingStack := &stack{opts: &stagingOpts, endpoint: terraform.Output(t, &stagingOpts, "endpoint"), containers: staging}
	stagingStack.waitHealthy(t, 2*time.Minute)
	for _, role := range []string{"api", "worker", "monitor"} {
		for _, name := range staging[role] {
			if img := inspect(t, name).Image; img != devImage {
				t.Errorf("staging %s runs image %s, want dev's %s", name, img, devImage)
			}
		}
	}
	s.waitHealthy(t, time.Minute)

	down(t)
	destroyed = true
	if left := docker(t, "ps", "-aq", "--filter", "label=calcgrid.env="+to); left != "" {
		t.Errorf("containers of %s left after its destroy: %s", to, left)
	}
	s.waitHealthy(t, time.Minute)
	for name, before := range devBefore {
		after := inspect(t, name)
		if after.ID != before.ID || !after.State.StartedAt.Equal(before.State.StartedAt) {
			t.Errorf("dev container %s changed while staging came and went (id %.12s→%.12s, started %s→%s)",
				name, before.ID, after.ID, before.State.StartedAt, after.State.StartedAt)
		}
	}
}
