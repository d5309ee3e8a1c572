package tests

import (
	"math"
	"strconv"
	"testing"
	"time"
)

// scenarioLimits: a burst of CPU-bound tasks OOM-kills no container, and each
// container's memory and CPU limits, log rotation and restart policy are the
// ones the environment's variables ask for.
func (s *stack) scenarioLimits(t *testing.T) {
	v := s.vars(t)
	c := s.client(t, v)

	var ids []string
	for range 2 * v.Worker.Replicas * v.Worker.Concurrency {
		tk, _ := c.submit(t, submission{Type: "diagnostic.cpu", Payload: map[string]any{"ms": 1500}})
		ids = append(ids, tk.ID)
	}
	c.waitCompleted(t, ids, 2*time.Minute)

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
