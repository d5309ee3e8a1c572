// Package tests holds the terratest suite that brings a real calcgrid stack
// up with the root module in terraform/ and checks it from the outside. It
// drives the stack through package stack, the same driver as the Makefile.
package tests

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	driver "github.com/calcgrid/calcgrid/tests/stack"
	test_structure "github.com/gruntwork-io/terratest/modules/test-structure"
)

// env is the workspace the suite applies; one apply serves every scenario.
const env = "dev"

// repoRoot is the absolute path of the checkout the tests run in (tests/ is
// one level down).
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := driver.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// openRepo opens the checkout the tests run in.
func openRepo(t testing.TB) *driver.Repo {
	t.Helper()
	repo, err := driver.Open(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// openEnv returns the named environment of the checkout.
func openEnv(t testing.TB, name string) *driver.Env {
	t.Helper()
	e, err := openRepo(t).Env(name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// workDir keeps test_structure's saved stage data in the git-ignored cache,
// so SKIP_deploy / SKIP_teardown runs find the stack of an earlier run.
func workDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), ".cache", "terratest", env)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("work dir: %v", err)
	}
	return dir
}

// deployStack removes leftovers of an interrupted run (containers and
// networks labelled dev, tracked or not), then applies dev from scratch.
func deployStack(t *testing.T) {
	e := openEnv(t, env)
	removeLeftovers(t, env)
	test_structure.SaveString(t, workDir(t), "volumeExisted", boolString(e.VolumeExists(t.Context())))
	if err := e.Up(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// teardownStack destroys dev (keeping the Redis volume out of the destroy,
// like `make down`) and removes whatever is left by label. The volume is
// deleted only when this run created it.
func teardownStack(t *testing.T) {
	dir := workDir(t)
	e := openEnv(t, env)
	// Teardown must finish even when the test was interrupted.
	ctx := context.WithoutCancel(t.Context())
	if err := e.Down(ctx); err != nil {
		t.Error(err)
	}
	if test_structure.LoadString(t, dir, "volumeExisted") == "false" {
		if err := e.DestroyData(ctx); err != nil {
			t.Error(err)
		}
	}
	test_structure.CleanupTestDataFolder(t, dir)
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
