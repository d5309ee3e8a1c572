package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Label is the container and network label that names the environment.
const Label = "calcgrid.env"

// RemoveLeftovers deletes every Swarm service, container, network, secrets
// volume, Swarm secret and config labelled for env, tracked by Terraform or
// not: what an interrupted apply or a test that died left behind. It runs
// only where env is not meant to be up: after a destroy, and before the
// suite deploys from scratch. The services go first (else Swarm replaces
// the task containers removed), the secrets and configs after them.
func RemoveLeftovers(ctx context.Context, env string, log io.Writer) error {
	filter := "label=" + Label + "=" + env
	n, err := dockerSwarmNode(ctx)
	if err != nil {
		return err
	}
	manager := n.State == "active" && n.Manager
	if manager {
		if err := removeServices(ctx, env, log); err != nil {
			return err
		}
	}
	type kind struct {
		what     string
		list, rm []string
	}
	kinds := []kind{
		// -v: the anonymous volumes of images that declare VOLUME (the
		// secrets writers of redis and prometheus get one each).
		{"containers", []string{"ps", "-aq", "--filter", filter}, []string{"rm", "-f", "-v"}},
		{"networks", []string{"network", "ls", "-q", "--filter", filter}, []string{"network", "rm"}},
		// Each container's secrets (modules/container); never the Redis data.
		{"secrets volumes", []string{"volume", "ls", "-q", "--filter", filter, "--filter", "label=calcgrid.secrets=true"}, []string{"volume", "rm"}},
	}
	if manager {
		kinds = append(kinds,
			kind{"swarm secrets", []string{"secret", "ls", "-q", "--filter", filter}, []string{"secret", "rm"}},
			kind{"swarm configs", []string{"config", "ls", "-q", "--filter", filter}, []string{"config", "rm"}})
	}
	for _, kind := range kinds {
		out, err := exec.CommandContext(ctx, "docker", kind.list...).Output()
		if err != nil {
			return fmt.Errorf("docker %s: %w", strings.Join(kind.list, " "), err)
		}
		ids := strings.Fields(string(out))
		if len(ids) == 0 {
			continue
		}
		fmt.Fprintf(log, "removing %d leftover %s of %s\n", len(ids), kind.what, env)
		if out, err := exec.CommandContext(ctx, "docker", append(kind.rm, ids...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("docker %s: %w\n%s", strings.Join(kind.rm, " "), err, out)
		}
	}
	return nil
}

// removeServices removes env's Swarm services and waits until their task
// containers are gone: until then their networks and secrets are in use.
func removeServices(ctx context.Context, env string, log io.Writer) error {
	out, err := exec.CommandContext(ctx, "docker", "service", "ls", "-q", "--filter", "label="+Label+"="+env).Output()
	if err != nil {
		return fmt.Errorf("docker service ls: %w", err)
	}
	ids := strings.Fields(string(out))
	if len(ids) == 0 {
		return nil
	}
	fmt.Fprintf(log, "removing %d leftover swarm services of %s\n", len(ids), env)
	if out, err := exec.CommandContext(ctx, "docker", append([]string{"service", "rm"}, ids...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("docker service rm: %w\n%s", err, out)
	}
	deadline := time.Now().Add(time.Minute)
	for _, id := range ids {
		for {
			out, err := exec.CommandContext(ctx, "docker", "ps", "-aq", "--filter", "label=com.docker.swarm.service.id="+id).Output()
			if err == nil && len(strings.Fields(string(out))) == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the tasks of service %s still run a minute after its removal", id)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	return nil
}

// VolumeName is the environment's Redis volume, as modules/redis names it
// (the name must be known while nothing is applied, so no output can say it).
func (e *Env) VolumeName() string { return "calcgrid-" + e.Name + "-redis-data" }

// VolumeExists reports whether the environment's Redis volume exists.
func (e *Env) VolumeExists(ctx context.Context) bool {
	return exec.CommandContext(ctx, "docker", "volume", "inspect", e.VolumeName()).Run() == nil
}

// InitRoot initialises the root module once per Repo.
func (r *Repo) InitRoot(ctx context.Context) error { return r.initOnce(ctx, rootDir) }

// initOnce initialises dir (a root module) the first time this Repo uses it.
func (r *Repo) initOnce(ctx context.Context, dir string) error {
	r.initMu.Lock()
	defer r.initMu.Unlock()
	if r.initialised[dir] {
		return nil
	}
	if err := r.Init(ctx, dir); err != nil {
		return err
	}
	if r.initialised == nil {
		r.initialised = map[string]bool{}
	}
	r.initialised[dir] = true
	return nil
}

// Up applies the environment, waits until /healthz answers through nginx,
// then applies its tenants, keys and queue settings (terraform/control) when
// environments/control declares them. A running environment is left as it
// is where nothing changed.
func (e *Env) Up(ctx context.Context) error {
	if err := e.repo.InitRoot(ctx); err != nil {
		return err
	}
	if err := e.EnsureSwarm(ctx); err != nil {
		return err
	}
	if err := e.Apply(ctx); err != nil {
		return err
	}
	endpoint, err := e.Output(ctx, "endpoint")
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, endpoint+"/healthz", time.Minute); err != nil {
		return err
	}
	if !e.HasControl() {
		return nil
	}
	return e.ApplyControl(ctx)
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200 within %s (last: %s)", url, timeout, last)
		case <-time.After(time.Second):
		}
	}
}

// Down destroys the environment's containers and networks; the Redis volume
// stays. An environment that was never applied has only leftovers to remove.
func (e *Env) Down(ctx context.Context) error {
	if err := e.repo.InitRoot(ctx); err != nil {
		return err
	}
	exists, err := e.Exists(ctx)
	if err != nil {
		return err
	}
	if !exists {
		fmt.Fprintf(e.repo.Stdout, "workspace %s does not exist: nothing was applied there\n", e.Name)
		if err := RemoveLeftovers(ctx, e.Name, e.repo.Stdout); err != nil {
			return err
		}
	} else if err := e.Destroy(ctx); err != nil {
		return err
	}
	return e.ReleaseSwarm(ctx)
}

// DestroyData deletes the environment's Redis volumes (the first
// instance's and, with Redis HA, the others'); its containers must be gone
// first.
func (e *Env) DestroyData(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "docker", "ps", "-aq", "--filter", "label="+Label+"="+e.Name).Output()
	if err != nil {
		return fmt.Errorf("docker ps: %w", err)
	}
	if len(strings.Fields(string(out))) > 0 {
		return fmt.Errorf("%s still has containers: run `make down ENV=%s` first", e.Name, e.Name)
	}
	// With the containers gone, the Redis-role volumes left are the data
	// ones (the secrets volumes go with their containers).
	out, err = exec.CommandContext(ctx, "docker", "volume", "ls", "-q",
		"--filter", "label="+Label+"="+e.Name, "--filter", "label=calcgrid.role=redis").Output()
	if err != nil {
		return fmt.Errorf("docker volume ls: %w", err)
	}
	names := strings.Fields(string(out))
	if len(names) == 0 {
		fmt.Fprintf(e.repo.Stdout, "volume %s does not exist; nothing to delete\n", e.VolumeName())
		return nil
	}
	if out, err := exec.CommandContext(ctx, "docker", append([]string{"volume", "rm"}, names...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("docker volume rm %s: %w\n%s", strings.Join(names, " "), err, out)
	}
	fmt.Fprintf(e.repo.Stdout, "deleted volume %s\n", strings.Join(names, ", "))
	return nil
}

// Promote makes e run from's app image ID, without a rebuild, and applies
// from's queue settings to e's queues.
func (e *Env) Promote(ctx context.Context, from *Env) error {
	if from.Name == e.Name {
		return fmt.Errorf("FROM and TO are both %q", e.Name)
	}
	if err := e.repo.InitRoot(ctx); err != nil {
		return err
	}
	image, err := from.Output(ctx, "app_image")
	if err != nil {
		return fmt.Errorf("nothing to promote: %w", err)
	}
	if out, err := exec.CommandContext(ctx, "docker", "image", "inspect", image).CombinedOutput(); err != nil {
		return fmt.Errorf("image %s of %s is not on this Docker host: %w\n%s", image, from.Name, err, out)
	}
	fmt.Fprintf(e.repo.Stdout, "promoting %s's app image %s to %s (no rebuild)\n", from.Name, image, e.Name)
	if e.Vars == nil {
		e.Vars = map[string]string{}
	}
	e.Vars["app_image_override"] = image
	e.QueuesFrom = from.Name // keys stay per environment
	return e.Up(ctx)
}

// Status prints the environment's containers and, once applied, its outputs.
func (e *Env) Status(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "docker", "ps", "-a", "--filter", "label="+Label+"="+e.Name,
		"--format", `table {{.Names}}\t{{.Label "calcgrid.role"}}\t{{.Status}}\t{{.Ports}}`)
	cmd.Stdout, cmd.Stderr = e.repo.Stdout, e.repo.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("docker ps: %w", err)
	}
	if err := e.repo.InitRoot(ctx); err != nil {
		return err
	}
	if ok, err := e.Exists(ctx); err != nil || !ok {
		return err
	}
	fmt.Fprintln(e.repo.Stdout)
	for _, name := range []string{"endpoint", "monitor_url", "prometheus_url", "app_image"} {
		v, err := e.Output(ctx, name)
		if err != nil {
			v = "-"
		}
		fmt.Fprintf(e.repo.Stdout, "%-15s %s\n", name, v)
	}
	return nil
}

// Logs follows the logs of the environment's running containers (of one role
// when role is not empty), each line prefixed with its container's name.
func (e *Env) Logs(ctx context.Context, role string) error {
	args := []string{"ps", "--format", "{{.Names}}", "--filter", "label=" + Label + "=" + e.Name}
	if role != "" {
		args = append(args, "--filter", "label=calcgrid.role="+role)
	}
	out, err := exec.CommandContext(ctx, "docker", args...).Output()
	if err != nil {
		return fmt.Errorf("docker ps: %w", err)
	}
	names := strings.Fields(string(out))
	if len(names) == 0 {
		return fmt.Errorf("no running containers for ENV=%s%s", e.Name, map[bool]string{true: " ROLE=" + role}[role != ""])
	}
	sort.Strings(names)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, n := range names {
		cmd := exec.CommandContext(ctx, "docker", "logs", "-f", "--tail", "20", n)
		w := &prefixWriter{prefix: n + " | ", out: e.repo.Stdout, mu: &mu}
		cmd.Stdout, cmd.Stderr = w, w
		wg.Add(1)
		go func() { defer wg.Done(); _ = cmd.Run() }()
	}
	wg.Wait()
	return ctx.Err()
}

// prefixWriter writes whole lines, each behind a prefix.
type prefixWriter struct {
	prefix string
	out    io.Writer
	mu     *sync.Mutex
	buf    []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		w.mu.Lock()
		fmt.Fprintf(w.out, "%s%s\n", w.prefix, w.buf[:i])
		w.mu.Unlock()
		w.buf = w.buf[i+1:]
	}
}

// ModuleDirs are every module's folder, then the root modules' (the stack's
// and terraform/control), relative to the repository root.
func (r *Repo) ModuleDirs() []string {
	mains, _ := filepath.Glob(filepath.Join(r.Root, "modules", "*", "main.tf"))
	var out []string
	for _, m := range mains {
		rel, _ := filepath.Rel(r.Root, filepath.Dir(m))
		out = append(out, rel)
	}
	sort.Strings(out)
	return append(out, rootDir, controlDir)
}

// inEveryModule initialises every module folder and runs the IaC command
// args in it, in the "default" workspace (the root module's workspace guard
// is satisfied there by its tests' own override); every failing folder is
// reported, not only the first.
func (r *Repo) inEveryModule(ctx context.Context, args ...string) error {
	var failed []error
	for _, dir := range r.ModuleDirs() {
		fmt.Fprintf(r.Stdout, "==> %s %s\n", args[0], dir)
		if err := r.Init(ctx, dir); err != nil {
			failed = append(failed, err)
			continue
		}
		if err := r.TF(ctx, dir, "default", args...); err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", dir, err))
		}
	}
	return errors.Join(failed...)
}

// TestModules runs every module's tests (mocked providers).
func (r *Repo) TestModules(ctx context.Context) error {
	return r.inEveryModule(ctx, "test", "-no-color")
}

// Validate validates every module and the root module.
func (r *Repo) Validate(ctx context.Context) error {
	return r.inEveryModule(ctx, "validate", "-no-color")
}

// Scenarios is the environment variable that selects the stack suite's
// scenarios (a regular expression on their names).
const Scenarios = "CALCGRID_SCENARIOS"

// TestStack runs the terratest suite with the scenarios matching run.
func (r *Repo) TestStack(ctx context.Context, run string) error {
	cmd := exec.CommandContext(ctx, "go", "test", "-v", "-count=1", "-timeout", "60m", "-run", "^TestStack$", ".")
	cmd.Dir = filepath.Join(r.Root, "tests")
	cmd.Env = append(os.Environ(), Scenarios+"="+run)
	cmd.Stdout, cmd.Stderr = r.Stdout, r.Stderr
	return cmd.Run()
}
