package tests

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	driver "github.com/calcgrid/calcgrid/tests/stack"
)

// docker runs the docker CLI and returns its trimmed output, failing the test
// with the command's output on error.
func docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// removeLeftovers deletes containers and networks labelled for env, e.g. from
// a run that was interrupted before its teardown.
func removeLeftovers(t testing.TB, env string) {
	t.Helper()
	if err := driver.RemoveLeftovers(context.WithoutCancel(t.Context()), env, os.Stdout); err != nil {
		t.Error(err)
	}
}
