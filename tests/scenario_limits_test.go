package tests

import (
	"math"
	"strconv"
	"testing"
	"time"
)

// scenarioLimits: a burst of tasks that fill every worker slot with real
// allocations (Longstaff–Schwartz keeps every path in memory: 40 MB a task)
// OOM-kills and restarts no container, and each container's memory, CPU and
// pids limits, log rotation and restart policy are the ones the
// environment's variables ask for.
func (s *stack) scenarioLimits(t *testing.T) {
	v := s.vars(t)
	c := s.client(t, v)

	restarts := map[string]int{}
	for _, name := range s.allContainers() {
		restarts[name] = inspect(t, name).RestartCount
	}
	lsm := map[string]any{"style": "american", "kind": "put", "method": "monte_carlo", "spot": 36, "strike": 40,
		"rate": 0.06, "volatility": 0.2, "maturity_years": 1, "paths": 100000, "steps": 50, "seed": 1}
	var ids []string
	for range 2 * v.Worker.Replicas * v.Worker.Concurrency {
		tk, _ := c.submit(t, submission{Type: "option.price", Payload: lsm})
		ids = append(ids, tk.ID)
	}
	c.waitCompleted(t, ids, 3*time.Minute)

	want := map[string]struct {
		replicas int
		memoryMB float64
		cpus     float64
	}{
		"redis":        {1, v.Redis.MemoryMB, v.Redis.CPUs},
		"api":          {v.API.Replicas, v.API.MemoryMB, v.API.CPUs},
		"worker":       {v.Worker.Replicas, v.Worker.MemoryMB, v.Worker.CPUs},
		"loadbalancer": {1, v.Loadbalancer.MemoryMB, v.Loadbalancer.CPUs},
		"monitor":      {1, v.Monitor.MemoryMB, v.Monitor.CPUs},
	}
	// Each worker gives the Go runtime 90% of its container's memory as its
	// soft limit (GOMEMLIMIT), read from its cgroup.
	wantLimit := int64(float64(int64(v.Worker.MemoryMB)<<20) * 0.9)
	for _, name := range s.containers["worker"] {
		var got int64 = -1
		for _, l := range containerLogs(t, name, time.Time{}) {
			if l.Msg == "worker starting" {
				got = l.GoMemoryLimit
			}
		}
		if got != wantLimit {
			t.Errorf("%s: go_memory_limit_bytes %d in its start log, want %d (90%% of %v MB)", name, got, wantLimit, v.Worker.MemoryMB)
		}
	}

	for role, w := range want {
		names := s.containers[role]
		if len(names) != w.replicas {
			t.Errorf("%s: %d containers %v, want %d", role, len(names), names, w.replicas)
		}
		for _, name := range names {
			info := inspect(t, name)
			hc := info.HostConfig
			if info.State.OOMKilled {
				t.Errorf("%s was OOM-killed", name)
			}
			if info.RestartCount != restarts[name] {
				t.Errorf("%s restarted %d times during the burst", name, info.RestartCount-restarts[name])
			}
			if hc.PidsLimit == nil || *hc.PidsLimit <= 0 || *hc.PidsLimit > 4096 {
				t.Errorf("%s: pids limit %v, want a bound (1..4096)", name, hc.PidsLimit)
			}
			if mem := int64(w.memoryMB) << 20; hc.Memory != mem || hc.MemorySwap != mem {
				t.Errorf("%s: memory %d, swap %d bytes; want both %d (%v MB)", name, hc.Memory, hc.MemorySwap, mem, w.memoryMB)
			}
			if nano := int64(math.Round(w.cpus * 1e9)); hc.NanoCpus != nano {
				t.Errorf("%s: NanoCpus %d, want %d (%v CPUs)", name, hc.NanoCpus, nano, w.cpus)
			}
			if hc.RestartPolicy.Name != "unless-stopped" {
				t.Errorf("%s: restart policy %q, want unless-stopped", name, hc.RestartPolicy.Name)
			}
			lc := hc.LogConfig
			if lc.Type != "json-file" || lc.Config["max-size"] != v.LogMaxSize || lc.Config["max-file"] != strconv.Itoa(v.LogMaxFile) {
				t.Errorf("%s: logging %s %v, want json-file max-size=%s max-file=%d", name, lc.Type, lc.Config, v.LogMaxSize, v.LogMaxFile)
			}
		}
	}
}
