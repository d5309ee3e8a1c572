package worker

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestContainerMemoryLimit(t *testing.T) {
	const v1Unlimited = "9223372036854771712\n"
	for _, tc := range []struct {
		name  string
		self  string            // /proc/self/cgroup ("" for none)
		files map[string]string // under the cgroup root
		limit int64
		ok    bool
	}{
		{"v2 limit", "0::/\n", map[string]string{"memory.max": "402653184\n"}, 402653184, true},
		{"v2 unlimited", "0::/\n", map[string]string{"memory.max": "max\n"}, 0, false},
		{"v1 limit", "4:memory:/\n", map[string]string{"memory/memory.limit_in_bytes": "402653184\n"}, 402653184, true},
		{"v1 unlimited", "4:memory:/\n", map[string]string{"memory/memory.limit_in_bytes": v1Unlimited}, 0, false},
		{"no cgroup files", "", nil, 0, false},
		{"no /proc/self/cgroup: the root's", "", map[string]string{"memory.max": "402653184\n"}, 402653184, true},
		// A process in a cgroup below the root, on a host or in a container
		// that sees the whole hierarchy: its own cgroup's limit, not the root's.
		{"v2 nested", "0::/test/job\n", map[string]string{
			"memory.max": "max\n", "test/memory.max": "max\n", "test/job/memory.max": "402653184\n",
		}, 402653184, true},
		{"v1 nested", "9:name=systemd:/\n4:memory:/process_api/7a5d/calcgrid-test-1\n1:cpu:/\n0::/\n", map[string]string{
			"memory/memory.limit_in_bytes":                                      v1Unlimited,
			"memory/process_api/7a5d/memory.limit_in_bytes":                     v1Unlimited,
			"memory/process_api/7a5d/calcgrid-test-1/memory.limit_in_bytes":     "402653184\n",
			"cpu/process_api/7a5d/calcgrid-test-1/cpu.cfs_quota_us":             "-1\n",
			"memory/process_api/7a5d/calcgrid-test-1/memory.usage_in_bytes":     "1\n",
			"memory/process_api/other/calcgrid-test-2/memory.limit_in_bytes":    "1\n",
			"memory/process_api/7a5d/calcgrid-test-1/sub/memory.limit_in_bytes": "1\n",
		}, 402653184, true},
		// An ancestor's smaller limit is the one that applies.
		{"v2 parent smaller", "0::/a/b\n", map[string]string{"a/memory.max": "268435456\n", "a/b/memory.max": "402653184\n"}, 268435456, true},
		{"v1 controllers joined", "5:cpu,memory:/a\n", map[string]string{"memory/a/memory.limit_in_bytes": "402653184\n"}, 402653184, true},
		// Docker on cgroup v1 without a cgroup namespace: /proc/self/cgroup
		// names the host's path, but the container's cgroup is mounted as
		// the root.
		{"v1 container", "4:memory:/docker/0123abcd\n", map[string]string{"memory/memory.limit_in_bytes": "402653184\n"}, 402653184, true},
		{"v2 escape stays under the root", "0::/../../etc\n", map[string]string{"memory.max": "402653184\n"}, 402653184, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cg := CgroupFiles{Root: filepath.Join(dir, "cgroup"), Self: filepath.Join(dir, "self")}
			if tc.self != "" {
				if err := os.WriteFile(cg.Self, []byte(tc.self), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for f, content := range tc.files {
				p := filepath.Join(cg.Root, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			limit, ok, err := ContainerMemoryLimit(cg)
			if err != nil || limit != tc.limit || ok != tc.ok {
				t.Errorf("ContainerMemoryLimit = %d, %v, %v; want %d, %v", limit, ok, err, tc.limit, tc.ok)
			}
		})
	}
}

func TestLimitMemoryRespectsGOMEMLIMIT(t *testing.T) {
	prev := debug.SetMemoryLimit(-1) // -1 reads without changing
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	dir := t.TempDir()
	cg := CgroupFiles{Root: dir, Self: filepath.Join(dir, "no-such-file")}
	if err := os.WriteFile(filepath.Join(dir, "memory.max"), []byte("1073741824"), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := LimitMemory(cg, func(k string) string { return map[string]string{"GOMEMLIMIT": "512MiB"}[k] })
	if err != nil || set != 0 {
		t.Errorf("with GOMEMLIMIT set: LimitMemory set %d (%v), want nothing", set, err)
	}
	set, err = LimitMemory(cg, func(string) string { return "" })
	if err != nil || set != 966367641 {
		t.Errorf("LimitMemory of a 1 GiB container: %d (%v), want 90%% = 966367641", set, err)
	}
}
