package tests

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	driver "github.com/calcgrid/calcgrid/tests/stack"
)

// scenarioPromotion: staging comes up beside dev (`make up ENV=staging`,
// with its API keys: accessControl runs there, and redisFailover, on the
// Redis HA staging runs),
// `make promote FROM=dev TO=staging` makes staging run dev's app image ID,
// both are healthy, and `make down ENV=staging` leaves dev's containers
// untouched. The Makefile targets go through the same driver as the suite.
func (s *stack) scenarioPromotion(t *testing.T) {
	const to = "staging"
	staging := openEnv(t, to)
	root, err := driver.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	volumeExisted := staging.VolumeExists(t.Context())
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
		run(t, "make", "down", "ENV="+to)
		if !volumeExisted {
			run(t, "make", "destroy-data", "ENV="+to)
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
	devImage := s.output(t, "app_image")
	selectedBefore := selectedWorkspace(t, root)

	run(t, "make", "up", "ENV="+to)
	t.Run("access control", func(t *testing.T) { accessControl(t, loadStack(t, to)) })
	run(t, "make", "promote", "FROM="+env, "TO="+to)
	if got := selectedWorkspace(t, root); got != selectedBefore {
		t.Errorf("the checkout's selected workspace changed from %q to %q: the driver must select workspaces per process (TF_WORKSPACE)", selectedBefore, got)
	}

	stagingStack := loadStack(t, to)
	if got := stagingStack.output(t, "app_image"); got != devImage {
		t.Errorf("staging app_image %s, want dev's %s", got, devImage)
	}
	stagingStack.waitHealthy(t, 2*time.Minute)
	t.Run("redis failover", func(t *testing.T) {
		var keys map[string]struct{ Secret string }
		if err := staging.ControlOutputJSON(t.Context(), "api_keys", &keys); err != nil {
			t.Fatal(err)
		}
		c := stagingStack.client(t, stagingStack.vars(t))
		c.key = keys["desk-a-pricer"].Secret
		redisFailover(t, stagingStack, c, s)
	})
	for _, role := range []string{"api", "worker", "monitor"} {
		for _, name := range stagingStack.containers[role] {
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

// selectedWorkspace is the checkout's own workspace selection (what a plain
// `terraform` in terraform/ would use), "default" when none was made.
func selectedWorkspace(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "terraform", ".terraform", "environment"))
	if errors.Is(err, os.ErrNotExist) {
		return "default"
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
