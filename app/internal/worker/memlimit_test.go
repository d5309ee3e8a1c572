package worker

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestContainerMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		limit               int64
		ok                  bool
	}{
		{"v2 limit", "memory.max", "402653184\n", 402653184, true},
		{"v2 unlimited", "memory.max", "max\n", 0, false},
		{"v1 limit", "memory/memory.limit_in_bytes", "402653184\n", 402653184, true},
		{"v1 unlimited", "memory/memory.limit_in_bytes", "9223372036854771712\n", 0, false},
		{"no cgroup files", "", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.file != "" {
				p := filepath.Join(root, tc.file)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			limit, ok, err := ContainerMemoryLimit(root)
			if err != nil || limit != tc.limit || ok != tc.ok {
				t.Errorf("ContainerMemoryLimit = %d, %v, %v; want %d, %v", limit, ok, err, tc.limit, tc.ok)
			}
		})
	}
}

func TestLimitMemoryRespectsGOMEMLIMIT(t *testing.T) {
	prev := debug.SetMemoryLimit(-1) // -1 reads without changing
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "memory.max"), []byte("1073741824"), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := LimitMemory(root, func(k string) string { return map[string]string{"GOMEMLIMIT": "512MiB"}[k] })
	if err != nil || set != 0 {
		t.Errorf("with GOMEMLIMIT set: LimitMemory set %d (%v), want nothing", set, err)
	}
	set, err = LimitMemory(root, func(string) string { return "" })
	if err != nil || set != 966367641 {
		t.Errorf("LimitMemory of a 1 GiB container: %d (%v), want 90%% = 966367641", set, err)
	}
}
