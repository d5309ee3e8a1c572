package tests

import (
	"fmt"
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
// other.
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
}
