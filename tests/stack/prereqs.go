package stack

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Purpose is what the prerequisites are for: bringing a stack up, or
// everything `make test` runs as well.
type Purpose string

const (
	ForUp    Purpose = "up"
	ForTest  Purpose = "test"
	ForBench Purpose = "bench"
)

// Prereq is one program from the distribution's packages that calcgrid
// needs, and when.
type Prereq struct {
	Command string // looked up on PATH
	// Module, when set, is a Python module the package provides: present
	// when Machine.PyImport can import it (Command is then the interpreter).
	Module  string
	Package string // the Debian package that provides it
	Why     string
	// Needed decides from the machine whether the program is needed now.
	Needed func(m Machine) bool
}

// Machine is what the prerequisites depend on; tests fill it by hand.
type Machine struct {
	Purpose  Purpose
	LookPath func(string) (string, error)
	Root     bool // may install packages itself
	// Sudo: not root, but sudo runs without a password (a hosted CI
	// runner), so packages are installed through `sudo -n apt-get`.
	Sudo bool
	// AirgapImages: base images must be built from Debian packages (no
	// image registry answers and some are not on the Docker host yet).
	AirgapImages bool
	// PyImport reports whether the baseline's Python can import a module
	// (nil: none can).
	PyImport func(module string) bool
}

// prereqs is every program calcgrid installs from the distribution when
// it is missing. Docker and Go are not here: they are the machine's own.
var prereqs = []Prereq{
	{"debootstrap", "", "debootstrap", "builds the Debian base of the air-gapped images (no image registry answers)",
		func(m Machine) bool { return m.AirgapImages }},
	{"redis-server", "", "redis-server", "the app's integration tests start private Redis servers (make test, make bench)",
		func(m Machine) bool { return m.Purpose == ForTest || m.Purpose == ForBench }},
	{"wrk", "", "wrk", "loads both APIs (make bench)", forBench},
	{"shellcheck", "", "shellcheck", "lints the shell scripts (make lint)",
		func(m Machine) bool { return m.Purpose == ForTest }},
	{"promtool", "", "prometheus", "checks the alerting rules and runs their unit tests (make lint)",
		func(m Machine) bool { return m.Purpose == ForTest }},
	{"chromium", "", "chromium", "drives the dashboard and Prometheus in a headless browser (stack suite)",
		func(m Machine) bool { return m.Purpose == ForTest }},
	// The FastAPI + Celery design make bench runs beside calcgrid
	// (bench/baseline), by the Python module each package provides.
	{"python3", "celery", "python3-celery", baselineWhy, forBench},
	{"python3", "fastapi", "python3-fastapi", baselineWhy, forBench},
	{"python3", "uvicorn", "python3-uvicorn", baselineWhy, forBench},
	{"python3", "uvloop", "python3-uvloop", baselineWhy, forBench},
	{"python3", "httptools", "python3-httptools", baselineWhy, forBench},
	{"python3", "redis", "python3-redis", baselineWhy, forBench},
}

func forBench(m Machine) bool { return m.Purpose == ForBench }

const baselineWhy = "the FastAPI + Celery baseline (make bench)"

// PrereqState is one prerequisite on one machine.
type PrereqState struct {
	Prereq
	Path   string // where it was found
	Needed bool
}

// Status is what doctor prints: found, not needed, missing, or will install.
func (s PrereqState) Status(m Machine) string {
	switch {
	case s.Path != "":
		return "found at " + s.Path
	case !s.Needed:
		return "not needed now"
	case m.mayInstall() && m.Root:
		return "missing: will install (apt-get install " + s.Package + ")"
	case m.mayInstall():
		return "missing: will install (sudo apt-get install " + s.Package + ")"
	default:
		return "MISSING: " + InstallCommand(m, []string{s.Package})
	}
}

func (m Machine) aptAvailable() bool {
	_, err := m.LookPath("apt-get")
	return err == nil
}

// mayInstall: packages can be installed here without asking anyone.
func (m Machine) mayInstall() bool { return (m.Root || m.Sudo) && m.aptAvailable() }

// aptGet is the command line of an apt-get call, through sudo when not root
// (with env: sudo does not pass DEBIAN_FRONTEND on).
func (m Machine) aptGet(args ...string) []string {
	if m.Root {
		return append([]string{"apt-get"}, args...)
	}
	return append([]string{"sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"}, args...)
}

// CheckPrereqs returns the state of every prerequisite on m.
func CheckPrereqs(m Machine) []PrereqState {
	var out []PrereqState
	for _, p := range prereqs {
		s := PrereqState{Prereq: p, Needed: p.Needed(m)}
		switch {
		case p.Module != "":
			if m.PyImport != nil && m.PyImport(p.Module) {
				s.Path = "python3 module " + p.Module
			}
		default:
			if path, err := m.LookPath(p.Command); err == nil {
				s.Path = path
			}
		}
		out = append(out, s)
	}
	return out
}

// Missing lists the packages of the needed prerequisites that are missing.
func Missing(states []PrereqState) []string {
	var pkgs []string
	for _, s := range states {
		if s.Needed && s.Path == "" && !slices.Contains(pkgs, s.Package) {
			pkgs = append(pkgs, s.Package)
		}
	}
	return pkgs
}

// InstallCommand is the exact command a user runs to install pkgs.
func InstallCommand(m Machine, pkgs []string) string {
	list := strings.Join(pkgs, " ")
	if !m.aptAvailable() {
		return "install " + list + " with this system's package manager (Debian/Ubuntu: apt-get install -y " + list + ")"
	}
	if m.Root {
		return "apt-get update && apt-get install -y --no-install-recommends " + list
	}
	return "sudo apt-get update && sudo apt-get install -y --no-install-recommends " + list
}

// EnsurePrereqs installs the missing prerequisites when it may (apt-get as
// root or through passwordless sudo), and otherwise fails at once with the
// command to run.
func EnsurePrereqs(ctx context.Context, m Machine, out io.Writer) error {
	missing := Missing(CheckPrereqs(m))
	if len(missing) == 0 {
		return nil
	}
	if !m.mayInstall() {
		return fmt.Errorf("missing %s; run:\n  %s", strings.Join(missing, ", "), InstallCommand(m, missing))
	}
	fmt.Fprintf(out, "    installing %s from the distribution's packages\n", strings.Join(missing, " "))
	for _, args := range [][]string{{"update", "-qq"}, append([]string{"install", "-y", "-qq", "--no-install-recommends"}, missing...)} {
		line := m.aptGet(args...)
		cmd := exec.CommandContext(ctx, line[0], line[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(line, " "), err, b)
		}
	}
	if still := Missing(CheckPrereqs(m)); len(still) > 0 {
		return fmt.Errorf("apt-get installed %s, but %s is still not on PATH", strings.Join(missing, " "), strings.Join(still, ", "))
	}
	return nil
}

// ImagesMode is where the base images come from: "registry" when an image
// registry answers, "airgap" when they are built from Debian's packages.
// The probe's outcome is remembered in .cache/bootstrap/images.mode
// (scripts/bootstrap.sh --recheck forgets it).
func ImagesMode(ctx context.Context, root string, official map[string]string) (string, error) {
	file := filepath.Join(root, ".cache", "bootstrap", "images.mode")
	if b, err := os.ReadFile(file); err == nil {
		if mode := strings.TrimSpace(string(b)); mode == "registry" || mode == "airgap" {
			return mode, nil
		}
	}
	// A bounded pull of the smallest official image decides.
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	mode := "airgap"
	if exec.CommandContext(ctx, "docker", "pull", official["redis_image"]).Run() == nil {
		mode = "registry"
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return "", err
	}
	return mode, os.WriteFile(file, []byte(mode+"\n"), 0o644)
}

// AirgapBaseImage is the air-gapped Debian base scripts/bootstrap.sh imports.
const AirgapBaseImage = "calcgrid-airgap/debian:bookworm"

// NeedsAirgapBase reports whether the Debian base must be built: some
// official image is missing, no registry answers, and neither the base image
// nor its rootfs tarball is there.
func NeedsAirgapBase(ctx context.Context, root string) (bool, error) {
	official, err := OfficialImages(root)
	if err != nil {
		return false, err
	}
	missing := false
	for _, img := range official {
		if !imagePresent(ctx, img) {
			missing = true
		}
	}
	if !missing {
		return false, nil
	}
	mode, err := ImagesMode(ctx, root, official)
	if err != nil || mode == "registry" {
		return false, err
	}
	if imagePresent(ctx, AirgapBaseImage) || fileExists(filepath.Join(root, ".cache", "images", "debian-bookworm.tar")) {
		return false, nil
	}
	return true, nil
}

func imagePresent(ctx context.Context, image string) bool {
	return exec.CommandContext(ctx, "docker", "image", "inspect", image).Run() == nil
}
