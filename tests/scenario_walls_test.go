package tests

import (
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// scenarioWalls: every container runs as a non-root user on a read-only root
// filesystem, with every capability dropped, no-new-privileges, memory, CPU
// and process limits, a health check and log rotation; only nginx, the
// dashboard and Prometheus publish ports, on 127.0.0.1; the networks are
// what each role needs. Then connection attempts between the stack's own
// containers, by address on every network the target is on: the walls
// hold, and the paths the stack needs are open (so a failed attempt means
// a wall, not a broken probe). nginx, the dashboard and Prometheus share the
// edge network they are published from, so they are not walled from each
// other. Last, no password is in what `docker inspect`, the images' history,
// the logs or the repository show.
func (s *stack) scenarioWalls(t *testing.T) {
	info := map[string]containerInfo{}
	for _, name := range s.allContainers() {
		info[name] = inspect(t, name)
	}
	publishers := []string{s.containers["loadbalancer"][0], s.containers["monitor"][0], s.containers["prometheus"][0]}

	t.Run("containers", func(t *testing.T) {
		for name, h := range info {
			hc := h.HostConfig
			var problems []string
			if u := strings.SplitN(h.Config.User, ":", 2)[0]; u == "" || u == "0" || u == "root" {
				problems = append(problems, fmt.Sprintf("user %q", h.Config.User))
			}
			if !hc.ReadonlyRootfs {
				problems = append(problems, "writable root filesystem")
			}
			if !slices.Contains(hc.CapDrop, "ALL") {
				problems = append(problems, fmt.Sprintf("capabilities dropped %v, want ALL", hc.CapDrop))
			}
			if !slices.Contains(hc.SecurityOpt, "no-new-privileges:true") || hc.Privileged {
				problems = append(problems, fmt.Sprintf("security options %v, privileged %v", hc.SecurityOpt, hc.Privileged))
			}
			if hc.Memory <= 0 || hc.NanoCpus <= 0 || hc.PidsLimit == nil || *hc.PidsLimit <= 0 {
				problems = append(problems, fmt.Sprintf("limits memory %d, cpus %d, pids %v", hc.Memory, hc.NanoCpus, hc.PidsLimit))
			}
			if h.Config.Healthcheck == nil || len(h.Config.Healthcheck.Test) == 0 {
				problems = append(problems, "no health check")
			}
			if hc.LogConfig.Config["max-size"] == "" || hc.LogConfig.Config["max-file"] == "" {
				problems = append(problems, fmt.Sprintf("log rotation %v", hc.LogConfig.Config))
			}
			for port, binds := range hc.PortBindings {
				if !slices.Contains(publishers, name) {
					problems = append(problems, "publishes "+port)
				}
				for _, b := range binds {
					if b.HostIp != "127.0.0.1" {
						problems = append(problems, fmt.Sprintf("publishes %s on %q", port, b.HostIp))
					}
				}
			}
			if slices.Contains(publishers, name) && len(hc.PortBindings) != 1 {
				problems = append(problems, fmt.Sprintf("publishes %d ports, want 1", len(hc.PortBindings)))
			}
			if len(problems) > 0 {
				t.Errorf("%s: %s", name, strings.Join(problems, "; "))
			}
		}
	})

	t.Run("networks", func(t *testing.T) {
		nets := s.networks(t)
		want := map[string][]string{ // network => roles on it
			"edge": {"loadbalancer", "monitor", "prometheus"},
			"app":  {"api", "loadbalancer", "prometheus"},
			"data": {"api", "prometheus", "redis", "worker"},
			"dash": {"monitor", "prometheus", "redis"},
		}
		for purpose, roles := range want {
			name := nets[purpose]
			internal := docker(t, "network", "inspect", "-f", "{{.Internal}}", name)
			if (internal == "true") != (purpose != "edge") {
				t.Errorf("network %s: internal %s; only edge may route out", name, internal)
			}
			var got []string
			for role, names := range s.containers {
				for _, n := range names {
					if _, ok := info[n].NetworkSettings.Networks[name]; ok && !slices.Contains(got, role) {
						got = append(got, role)
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, roles) {
				t.Errorf("network %s joins %v, want %v", name, got, roles)
			}
		}
	})

	t.Run("reachability", func(t *testing.T) {
		first := func(role string) string { return s.containers[role][0] }
		// addrs are every address:port of the target's, one per network.
		addrs := func(target string, port int) []string {
			var out []string
			for _, n := range info[target].NetworkSettings.Networks {
				out = append(out, fmt.Sprintf("%s:%d", n.IPAddress, port))
			}
			return out
		}
		// connect tries a TCP connection from inside a container: the app
		// image has only calcgrid (probe tcp://), nginx's has bash,
		// Prometheus's wget (its paths are open ones, to HTTP servers).
		connect := func(from, addr string) error {
			var cmd *exec.Cmd
			switch {
			case slices.Contains(s.containers["loadbalancer"], from):
				host, port, _ := strings.Cut(addr, ":")
				cmd = exec.Command("docker", "exec", from, "timeout", "3", "bash", "-c", "exec 3<>/dev/tcp/"+host+"/"+port)
			case slices.Contains(s.containers["prometheus"], from):
				cmd = exec.Command("docker", "exec", from, "wget", "-q", "-T", "3", "-O", "/dev/null", "http://"+addr+"/healthz")
			default:
				cmd = exec.Command("docker", "exec", from, "/usr/local/bin/calcgrid", "probe", "tcp://"+addr)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
			}
			return nil
		}
		for _, c := range []struct {
			from, to string
			port     int
			open     bool
		}{
			{first("worker"), first("redis"), 6379, true},
			{first("monitor"), first("redis"), 6379, true},
			{first("loadbalancer"), first("api"), 8080, true},
			{first("prometheus"), first("api"), 8080, true},
			{first("prometheus"), first("worker"), 9090, true},
			// The API shares the data network with the workers but listens
			// on its app-network address only.
			{first("worker"), first("api"), 8080, false},
			{first("worker"), first("loadbalancer"), 8080, false},
			{first("worker"), first("monitor"), 5555, false},
			{first("api"), first("monitor"), 5555, false},
			{first("monitor"), first("api"), 8080, false},
			{first("monitor"), first("worker"), 9090, false},
			{first("loadbalancer"), first("redis"), 6379, false},
			{first("loadbalancer"), first("worker"), 9090, false},
		} {
			opened := false
			var errs []string
			for _, addr := range addrs(c.to, c.port) {
				start := time.Now()
				err := connect(c.from, addr)
				if err == nil {
					opened = true
					t.Logf("%s → %s (%s) connected", c.from, c.to, addr)
				} else {
					errs = append(errs, fmt.Sprintf("%s: %v after %s", addr, err, time.Since(start).Round(time.Millisecond)))
				}
			}
			switch {
			case c.open && !opened:
				t.Errorf("%s cannot reach %s on port %d, which the stack needs: %v", c.from, c.to, c.port, errs)
			case !c.open && opened:
				t.Errorf("%s reaches %s on port %d: the wall between them is missing", c.from, c.to, c.port)
			case !c.open:
				t.Logf("%s → %s:%d blocked (%s)", c.from, c.to, c.port, strings.Join(errs, "; "))
			}
		}
	})

	t.Run("secrets", s.scanSecrets)
}

// scanSecrets looks for every password of the environment where anyone who
// may run docker, read the logs or clone the repository would see it. The
// passwords are read where the roles read them, the files on their secrets
// volumes (modules/container), with the Redis image (the app images have no
// shell); Redis admin's and the dashboard's must equal the outputs.
func (s *stack) scanSecrets(t *testing.T) {
	t.Helper()
	redisImage := inspect(t, s.containers["redis"][0]).Image
	secrets := map[string]string{} // volume/file => password
	for _, vol := range strings.Fields(docker(t, "volume", "ls", "-q", "--filter", "label=calcgrid.env="+s.env.Name, "--filter", "label=calcgrid.secrets=true")) {
		out := docker(t, "run", "--rm", "--network", "none", "-v", vol+":/s:ro", "--entrypoint", "sh", redisImage, "-c",
			`for f in /s/*password; do printf '%s\t%s\n' "${f#/s/}" "$(cat "$f")"; done`)
		for line := range strings.Lines(out) {
			file, pw, ok := strings.Cut(strings.TrimSpace(line), "\t")
			if !ok || pw == "" {
				t.Fatalf("volume %s: unreadable line %q", vol, line)
			}
			secrets[vol+"/"+file] = pw
		}
	}
	distinct := map[string]bool{}
	for _, pw := range secrets {
		distinct[pw] = true
	}
	if len(distinct) != 5 {
		t.Fatalf("%d distinct passwords on the secrets volumes, want 5 (Redis admin, api, worker, monitor; dashboard): %v", len(distinct), slices.Sorted(maps.Keys(secrets)))
	}
	for file, output := range map[string]string{
		s.containers["redis"][0] + "-secrets/admin-password":     "redis_password",
		s.containers["monitor"][0] + "-secrets/monitor-password": "monitor_password",
	} {
		if secrets[file] != s.output(t, output) {
			t.Fatalf("control: %s is not the output %s", file, output)
		}
	}
	redis := s.containers["redis"][0]
	if got := docker(t, "exec", redis, "stat", "-c", "%a %u", "/run/secrets/admin-password"); got != "444 0" {
		t.Errorf("/run/secrets/admin-password in %s: mode and owner %q, want 444 0 (root's, read-only)", redis, got)
	}

	leaks := func(where, text string) {
		for name, pw := range secrets {
			if strings.Contains(text, pw) {
				t.Errorf("%s shows the %s password", where, name)
			}
		}
	}
	// Every container of the environment, the never-started secrets writers
	// (modules/container) included.
	names := strings.Fields(docker(t, "ps", "-a", "--format", "{{.Names}}", "--filter", "label=calcgrid.env="+s.env.Name))
	if len(names) <= len(s.allContainers()) {
		t.Fatalf("%d containers labelled calcgrid.env=%s, want the %d of the stack and their secrets writers", len(names), s.env.Name, len(s.allContainers()))
	}
	images := map[string]bool{}
	for _, name := range names {
		leaks("docker inspect "+name, docker(t, "inspect", name))
		logs, err := exec.Command("docker", "logs", name).CombinedOutput()
		if err != nil {
			t.Fatalf("docker logs %s: %v", name, err)
		}
		leaks("docker logs "+name, string(logs))
		images[inspect(t, name).Image] = true
	}
	for img := range images {
		leaks("docker history "+img, docker(t, "history", "--no-trunc", "--format", "{{.CreatedBy}}", img))
		leaks("docker image inspect "+img, docker(t, "image", "inspect", img))
	}
	// Tracked and untracked files, not the ignored ones (the state, .bin).
	for pw := range distinct {
		out, err := exec.Command("git", "-C", "..", "grep", "--untracked", "-l", "-F", "-e", pw).Output()
		var exit *exec.ExitError
		switch {
		case err == nil:
			t.Errorf("the repository holds a password of this environment in %s", strings.TrimSpace(string(out)))
		case !errors.As(err, &exit) || exit.ExitCode() != 1: // 1: no match
			t.Fatalf("git grep: %v", err)
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("%d passwords of %s: none in docker inspect or logs of %d containers, the history of %d images, or the repository",
		len(distinct), s.env.Name, len(names), len(images))
}
