package tests

import (
	"os/exec"
	"strings"
	"testing"
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
	label := "label=calcgrid.env=" + env
	if ids := strings.Fields(docker(t, "ps", "-aq", "--filter", label)); len(ids) > 0 {
		t.Logf("removing %d leftover containers of %s", len(ids), env)
		docker(t, append([]string{"rm", "-f"}, ids...)...)
	}
	if ids := strings.Fields(docker(t, "network", "ls", "-q", "--filter", label)); len(ids) > 0 {
		t.Logf("removing %d leftover networks of %s", len(ids), env)
		docker(t, append([]string{"network", "rm"}, ids...)...)
	}
}

func volumeExists(t testing.TB, name string) bool {
	t.Helper()
	return exec.Command("docker", "volume", "inspect", name).Run() == nil
}
