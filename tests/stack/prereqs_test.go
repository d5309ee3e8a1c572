package stack

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pathWithout returns a PATH of one folder holding links to every program on
// the current PATH except the named ones: the machine as a user without them
// has it.
func pathWithout(t *testing.T, missing ...string) string {
	t.Helper()
	dir := t.TempDir()
	skip := map[string]bool{}
	for _, m := range missing {
		skip[m] = true
	}
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			link := filepath.Join(dir, e.Name())
			if skip[e.Name()] || e.IsDir() || fileExists(link) {
				continue
			}
			if err := os.Symlink(filepath.Join(d, e.Name()), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func lookIn(path string) func(string) (string, error) {
	return func(name string) (string, error) {
		p := filepath.Join(path, name)
		if fileExists(p) {
			return p, nil
		}
		return "", exec.ErrNotFound
	}
}

func TestPrereqDecisions(t *testing.T) {
	none := func(string) (string, error) { return "", exec.ErrNotFound }
	aptOnly := func(name string) (string, error) {
		if name == "apt-get" {
			return "/usr/bin/apt-get", nil
		}
		return "", exec.ErrNotFound
	}
	for _, tc := range []struct {
		name        string
		m           Machine
		wantMissing []string
		wantErr     string // from EnsurePrereqs without installing
	}{
		{"up, images from a registry", Machine{Purpose: ForUp, LookPath: none}, nil, ""},
		{"up, air-gapped images, no apt", Machine{Purpose: ForUp, LookPath: none, AirgapImages: true},
			[]string{"debootstrap"}, "install debootstrap with this system's package manager"},
		{"up, air-gapped images, apt but not root", Machine{Purpose: ForUp, LookPath: aptOnly, AirgapImages: true},
			[]string{"debootstrap"}, "sudo apt-get update && sudo apt-get install -y --no-install-recommends debootstrap"},
		{"test, registry", Machine{Purpose: ForTest, LookPath: aptOnly},
			[]string{"redis-server", "shellcheck", "prometheus", "chromium"}, "sudo apt-get update && sudo apt-get install -y --no-install-recommends redis-server shellcheck prometheus chromium"},
		{"test, air-gapped", Machine{Purpose: ForTest, LookPath: none, AirgapImages: true},
			[]string{"debootstrap", "redis-server", "shellcheck", "prometheus", "chromium"}, "install debootstrap redis-server shellcheck prometheus chromium"},
		{"test, passwordless sudo but no apt", Machine{Purpose: ForTest, LookPath: none, Sudo: true},
			[]string{"redis-server", "shellcheck", "prometheus", "chromium"}, "with this system's package manager"},
		{"bench, no Python modules", Machine{Purpose: ForBench, LookPath: aptOnly},
			[]string{"redis-server", "wrk", "python3-celery", "python3-fastapi", "python3-uvicorn", "python3-uvloop", "python3-httptools", "python3-redis"},
			"sudo apt-get install -y --no-install-recommends redis-server wrk python3-celery"},
		{"bench, only uvloop missing", Machine{Purpose: ForBench, LookPath: func(string) (string, error) { return "/usr/bin/x", nil },
			PyImport: func(m string) bool { return m != "uvloop" }}, []string{"python3-uvloop"}, "apt-get install -y --no-install-recommends python3-uvloop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Missing(CheckPrereqs(tc.m))
			if strings.Join(got, " ") != strings.Join(tc.wantMissing, " ") {
				t.Errorf("missing %v, want %v", got, tc.wantMissing)
			}
			err := EnsurePrereqs(t.Context(), tc.m, os.Stdout)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("EnsurePrereqs: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("EnsurePrereqs: %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

// TestBootstrapStopsBeforeBuilding runs scripts/bootstrap.sh --for test on a
// PATH without redis-server and apt-get: it must stop at the prerequisites
// step, before it looks at (or builds) Terraform, the provider or an image,
// and say what to install.
func TestBootstrapStopsBeforeBuilding(t *testing.T) {
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "bash", filepath.Join(root, "scripts", "bootstrap.sh"), "--for", "test")
	cmd.Env = append(os.Environ(), "PATH="+pathWithout(t, "redis-server", "apt-get"))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("bootstrap without redis-server: %v, want a failure\n%s", err, out)
	}
	for _, want := range []string{"prerequisites", "missing redis-server", "with this system's package manager", "nothing was built"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("bootstrap output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "IaC binary") {
		t.Errorf("bootstrap went on past the prerequisites:\n%s", out)
	}
	t.Logf("stopped after %s", took.Round(time.Millisecond))
}

// TestBootstrapInstallsAsRoot: as root with apt-get, the missing programs are
// installed by apt-get (a stand-in apt-get records the calls here).
func TestBootstrapInstallsAsRoot(t *testing.T) {
	path := pathWithout(t, "redis-server", "apt-get")
	log := filepath.Join(t.TempDir(), "apt.log")
	stub := "#!/bin/sh\necho \"$*\" >>" + log + "\n"
	if err := os.WriteFile(filepath.Join(path, "apt-get"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	m := Machine{Purpose: ForTest, LookPath: lookIn(path), Root: true}
	t.Setenv("PATH", path)
	err := EnsurePrereqs(context.Background(), m, os.Stdout)
	if err == nil || !strings.Contains(err.Error(), "still not on PATH") {
		t.Errorf("EnsurePrereqs with a stand-in apt-get: %v, want 'still not on PATH'", err)
	}
	b, _ := os.ReadFile(log)
	if !strings.Contains(string(b), "install -y -qq --no-install-recommends redis-server") {
		t.Errorf("apt-get calls %q, want an install of redis-server", b)
	}
}

// TestInstallsThroughSudo: not root but with passwordless sudo (a hosted CI
// runner), the missing programs are installed by `sudo -n … apt-get` (a
// stand-in sudo records the calls here).
func TestInstallsThroughSudo(t *testing.T) {
	path := pathWithout(t, "redis-server", "shellcheck", "promtool", "apt-get", "sudo")
	log := filepath.Join(t.TempDir(), "sudo.log")
	for name, script := range map[string]string{
		"sudo":    "#!/bin/sh\necho \"$*\" >>" + log + "\n",
		"apt-get": "#!/bin/sh\nexit 1\n", // must not be called without sudo
	} {
		if err := os.WriteFile(filepath.Join(path, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := Machine{Purpose: ForTest, LookPath: lookIn(path), Sudo: true}
	if got := CheckPrereqs(m); !strings.Contains(stateOf(got, "promtool").Status(m), "will install (sudo apt-get install prometheus)") {
		t.Errorf("status %q, want a sudo install", stateOf(got, "promtool").Status(m))
	}
	t.Setenv("PATH", path)
	err := EnsurePrereqs(t.Context(), m, os.Stdout)
	if err == nil || !strings.Contains(err.Error(), "still not on PATH") {
		t.Errorf("EnsurePrereqs with a stand-in sudo: %v, want 'still not on PATH'", err)
	}
	b, _ := os.ReadFile(log)
	want := "-n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server shellcheck prometheus"
	if !strings.Contains(string(b), want) {
		t.Errorf("sudo calls %q, want %q", b, want)
	}
}

func stateOf(states []PrereqState, command string) PrereqState {
	for _, s := range states {
		if s.Command == command {
			return s
		}
	}
	return PrereqState{}
}
