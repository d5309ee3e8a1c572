package stack

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// VolumeAddress is the Redis volumes' resource address (one instance each,
// [0] to [2] with Redis HA). They are protected by prevent_destroy; Down
// forgets them from the state first, so the data stays.
const VolumeAddress = "module.redis.docker_volume.data"

// Repo is one checkout with its bootstrap record.
type Repo struct {
	Root string
	Boot Bootstrap
	// Stdout and Stderr receive the output of the commands run (os.Stdout
	// and os.Stderr for the CLI, the test log for the suite).
	Stdout, Stderr io.Writer

	initMu      sync.Mutex
	initialised map[string]bool // root module folders initialised by this Repo
}

// FindRoot returns the repository root at or above dir: the folder that holds
// terraform/ and environments/.
func FindRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if isDir(filepath.Join(d, "terraform")) && isDir(filepath.Join(d, "environments")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no calcgrid checkout (terraform/ and environments/) at or above %s", dir)
		}
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Open loads root's bootstrap record.
func Open(root string) (*Repo, error) {
	b, err := LoadBootstrap(root)
	if err != nil {
		return nil, err
	}
	return &Repo{Root: root, Boot: b, Stdout: os.Stdout, Stderr: os.Stderr}, nil
}

// Environments lists the environments with a file in environments/.
func (r *Repo) Environments() []string {
	files, _ := filepath.Glob(filepath.Join(r.Root, "environments", "*.tfvars"))
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".tfvars"))
	}
	slices.Sort(names)
	return names
}

// Env returns the environment name, refusing one without a tfvars file.
func (r *Repo) Env(name string) (*Env, error) {
	if name == "" {
		return nil, fmt.Errorf("missing environment (have: %s)", strings.Join(r.Environments(), ", "))
	}
	if !slices.Contains(r.Environments(), name) {
		return nil, fmt.Errorf("unknown environment %q: no environments/%s.tfvars (have: %s)", name, name, strings.Join(r.Environments(), ", "))
	}
	return &Env{repo: r, Name: name}, nil
}

// Env is one environment: a workspace of the root module with its var-file.
type Env struct {
	repo *Repo
	Name string
	// Vars are extra -var settings for apply, plan and destroy (promotion's
	// app_image_override).
	Vars map[string]string
	// QueuesFrom names the environment whose queue settings the control
	// apply uses (promotion's FROM); empty: this one's.
	QueuesFrom string
	// ControlArgs are extra -var settings of the control apply (tests).
	ControlArgs []string
}

// environ is the environment of every IaC command: the bootstrap's CLI
// configuration and Go settings, .bin/ on PATH, and the workspace selected
// for this process only (TF_WORKSPACE), so the checkout's own selection never
// changes.
func (r *Repo) environ(workspace string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "TF_WORKSPACE" || k == "TF_CLI_CONFIG_FILE" || k == "PATH"
	})
	env = append(env, "PATH="+filepath.Join(r.Root, ".bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	if r.Boot.CLIConfig != "" {
		env = append(env, "TF_CLI_CONFIG_FILE="+r.Boot.CLIConfig)
	} else if c := os.Getenv("TF_CLI_CONFIG_FILE"); c != "" && fileExists(c) {
		env = append(env, "TF_CLI_CONFIG_FILE="+c)
	}
	if workspace != "" {
		env = append(env, "TF_WORKSPACE="+workspace)
	}
	return append(env, "TF_VAR_go_proxy="+r.Boot.GoProxy, "TF_VAR_go_flags="+r.Boot.GoFlags, "TF_IN_AUTOMATION=1")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TF runs the IaC binary in dir (relative to the root) with args, output to
// the repo's writers. workspace may be empty (module tests, fmt).
func (r *Repo) TF(ctx context.Context, dir, workspace string, args ...string) error {
	cmd := r.tfCmd(ctx, dir, workspace, args...)
	cmd.Stdout, cmd.Stderr = r.Stdout, r.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", filepath.Base(r.Boot.TFBinary), strings.Join(args, " "), err)
	}
	return nil
}

// tfOutput runs the IaC binary and returns its standard output; standard
// error is part of the error.
func (r *Repo) tfOutput(ctx context.Context, dir, workspace string, stdin string, args ...string) ([]byte, error) {
	cmd := r.tfCmd(ctx, dir, workspace, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", filepath.Base(r.Boot.TFBinary), strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

func (r *Repo) tfCmd(ctx context.Context, dir, workspace string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.Boot.TFBinary, append([]string{"-chdir=" + filepath.Join(r.Root, dir)}, args...)...)
	cmd.Env = r.environ(workspace)
	return cmd
}

// Init initialises dir (relative to the root); its output is shown only on
// failure.
func (r *Repo) Init(ctx context.Context, dir string) error {
	out, err := r.tfOutput(ctx, dir, "", "", "init", "-input=false", "-no-color")
	if err != nil {
		return fmt.Errorf("init %s (provider mirror missing? run `make bootstrap`): %w\n%s", dir, err, out)
	}
	return nil
}

// rootDir is the root module, relative to the repository root.
const rootDir = "terraform"

// tf runs the root module in the environment's workspace.
func (e *Env) tf(ctx context.Context, args ...string) error {
	return e.repo.TF(ctx, rootDir, e.Name, args...)
}

func (e *Env) output(ctx context.Context, stdin string, args ...string) ([]byte, error) {
	return e.repo.tfOutput(ctx, rootDir, e.Name, stdin, args...)
}

// VarArgs are the -var-file and -var arguments every apply, plan and destroy
// of the environment takes: its tfvars, the bootstrap's images, the Docker
// host's capacity (for the capacity check) and Vars.
func (e *Env) VarArgs(ctx context.Context) ([]string, error) {
	args := []string{"-var-file=" + filepath.Join(e.repo.Root, "environments", e.Name+".tfvars")}
	if len(e.repo.Boot.Images) > 0 {
		args = append(args, "-var-file="+filepath.Join(e.repo.Root, ImagesVarFile))
	}
	mem, cpus, err := hostCapacity(ctx)
	if err != nil {
		return nil, err
	}
	args = append(args, fmt.Sprintf("-var=host_memory_mb=%d", mem), fmt.Sprintf("-var=host_cpus=%d", cpus))
	keys := make([]string, 0, len(e.Vars))
	for k := range e.Vars {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, "-var="+k+"="+e.Vars[k])
	}
	return args, nil
}

// hostCapacity is the Docker host's memory in MB and its CPUs.
func hostCapacity(ctx context.Context) (memMB int64, cpus int, err error) {
	out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.MemTotal}} {{.NCPU}}").Output()
	if err != nil {
		return 0, 0, fmt.Errorf("docker info (is the Docker engine running?): %w", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("docker info: unexpected %q", out)
	}
	mem, err1 := strconv.ParseInt(f[0], 10, 64)
	n, err2 := strconv.Atoi(f[1])
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("docker info %q: %w", out, err)
	}
	return mem / 1024 / 1024, n, nil
}

// Exists reports whether the environment's workspace exists.
func (e *Env) Exists(ctx context.Context) (bool, error) {
	out, err := e.repo.tfOutput(ctx, rootDir, "", "", "workspace", "list")
	if err != nil {
		return false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "*")) == e.Name {
			return true, nil
		}
	}
	return false, nil
}

// Apply applies the environment; the workspace is created by the first
// apply (TF_WORKSPACE), never by `workspace new`, which would change the
// checkout's selection.
func (e *Env) Apply(ctx context.Context) error {
	args, err := e.VarArgs(ctx)
	if err != nil {
		return err
	}
	return e.tf(ctx, append([]string{"apply", "-input=false", "-auto-approve"}, args...)...)
}

// Plan plans the environment and reports whether it has changes.
func (e *Env) Plan(ctx context.Context) (changes bool, err error) {
	args, err := e.VarArgs(ctx)
	if err != nil {
		return false, err
	}
	return e.repo.planChanges(ctx, rootDir, e.Name, args)
}

// planChanges plans dir in workspace and reports whether it has changes.
func (r *Repo) planChanges(ctx context.Context, dir, workspace string, args []string) (bool, error) {
	err := r.TF(ctx, dir, workspace, append([]string{"plan", "-input=false", "-detailed-exitcode"}, args...)...)
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 2 {
		return true, nil
	}
	return false, err
}

// Destroy removes the environment's containers and networks and keeps the
// Redis volume, then removes whatever is left by label.
func (e *Env) Destroy(ctx context.Context) error {
	out, err := e.output(ctx, "", "state", "list")
	if err == nil && slices.ContainsFunc(strings.Fields(string(out)), func(a string) bool { return strings.HasPrefix(a, VolumeAddress) }) {
		fmt.Fprintf(e.repo.Stdout, "keeping the Redis data volumes (make destroy-data ENV=%s deletes them)\n", e.Name)
		if err := e.tf(ctx, "state", "rm", VolumeAddress); err != nil {
			return err
		}
	}
	args, err := e.VarArgs(ctx)
	if err != nil {
		return err
	}
	if err := e.tf(ctx, append([]string{"destroy", "-input=false", "-auto-approve"}, args...)...); err != nil {
		return err
	}
	return RemoveLeftovers(ctx, e.Name, e.repo.Stdout)
}

// Output returns a string output of the applied environment.
func (e *Env) Output(ctx context.Context, name string) (string, error) {
	var v string
	err := e.OutputJSON(ctx, name, &v)
	return v, err
}

// OutputJSON decodes an output of the applied environment into v. All
// outputs are read as one JSON document: `output NAME` of an environment
// without outputs (destroyed) prints a warning on standard output and exits 0.
func (e *Env) OutputJSON(ctx context.Context, name string, v any) error {
	return e.repo.outputJSON(ctx, rootDir, e.Name, name, v)
}

func (r *Repo) outputJSON(ctx context.Context, dir, workspace, name string, v any) error {
	out, err := r.tfOutput(ctx, dir, workspace, "", "output", "-json")
	if err != nil {
		return err
	}
	var all map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(out, &all); err != nil {
		return fmt.Errorf("output -json: %w", err)
	}
	o, ok := all[name]
	if !ok {
		return fmt.Errorf("%s (%s) has no output %q: it is not applied (make up ENV=%s)", workspace, dir, name, workspace)
	}
	return json.Unmarshal(o.Value, v)
}

// Console evaluates an expression with the environment's variables (tfvars
// plus defaults) and decodes its JSON value into v. expr must be a
// jsonencode(...) call.
func (e *Env) Console(ctx context.Context, expr string, v any) error {
	args, err := e.VarArgs(ctx)
	if err != nil {
		return err
	}
	out, err := e.output(ctx, expr+"\n", append([]string{"console"}, args...)...)
	if err != nil {
		return err
	}
	// console prints the string as an HCL literal: a quoted JSON document.
	var doc string
	if err := json.Unmarshal(bytes.TrimSpace(out), &doc); err != nil {
		return fmt.Errorf("console output %q: %w", out, err)
	}
	return json.Unmarshal([]byte(doc), v)
}
