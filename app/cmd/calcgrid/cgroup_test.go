package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// memoryCgroup is a cgroup with a memory limit, below the test's own cgroup
// (so that whatever accounts for the test also accounts for it), that a
// child process joins by writing its pid to Procs. cgroup v1 and v2 are
// both handled; v1 is what Docker 20.10 uses on this project's hosts.
type memoryCgroup struct {
	Dir   string
	Procs string
	v2    bool
}

// cgroupPrefix names the test's cgroups; the pid after it tells a leftover
// of an earlier run (its process gone) from one of a run going on.
const cgroupPrefix = "calcgrid-test-"

// newMemoryCgroup creates the cgroup with the given limit and removes it at
// cleanup, after whatever ran in it has ended. Without the rights to do so
// (not root, no memory controller) the test fails: it cannot run, which is
// a failure, never a skip.
func newMemoryCgroup(t *testing.T, limit int64) *memoryCgroup {
	t.Helper()
	parent, v2, err := ownMemoryCgroup()
	if err != nil {
		t.Fatalf("cannot place a process under a memory limit: %v (the test needs root and a cgroup memory controller, v1 or v2)", err)
	}
	removeLeftovers(t, parent)
	cg := &memoryCgroup{Dir: filepath.Join(parent, fmt.Sprintf("%s%d-%d", cgroupPrefix, os.Getpid(), time.Now().UnixNano())), v2: v2}
	cg.Procs = filepath.Join(cg.Dir, "cgroup.procs")
	if err := os.Mkdir(cg.Dir, 0o755); err != nil {
		t.Fatalf("create cgroup %s: %v (run the tests as root)", cg.Dir, err)
	}
	t.Cleanup(func() { cg.remove(t) })
	limitFile := "memory.limit_in_bytes"
	if v2 {
		limitFile = "memory.max"
	}
	if err := os.WriteFile(filepath.Join(cg.Dir, limitFile), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		t.Fatalf("set %s of %s: %v", limitFile, cg.Dir, err)
	}
	// No swap beside the limit, as Docker's memory_swap = memory.
	swapFile := "memory.memsw.limit_in_bytes"
	if v2 {
		swapFile = "memory.swap.max"
	}
	if _, err := os.Stat(filepath.Join(cg.Dir, swapFile)); err == nil {
		value := strconv.FormatInt(limit, 10)
		if v2 {
			value = "0"
		}
		if err := os.WriteFile(filepath.Join(cg.Dir, swapFile), []byte(value), 0o644); err != nil {
			t.Fatalf("set %s of %s: %v", swapFile, cg.Dir, err)
		}
	}
	return cg
}

// ownMemoryCgroup is the directory of the test process's memory cgroup, in
// which a child cgroup gets the memory controller.
func ownMemoryCgroup() (dir string, v2 bool, err error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", false, err
	}
	var v1Path, v2Path string
	for line := range strings.Lines(string(self)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		switch {
		case len(parts) != 3:
		case parts[0] == "0" && parts[1] == "":
			v2Path = parts[2]
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			v1Path = parts[2]
		}
	}
	if v1Path != "" {
		dir := filepath.Join("/sys/fs/cgroup/memory", v1Path)
		if _, err := os.Stat(filepath.Join(dir, "memory.limit_in_bytes")); err != nil {
			return "", false, fmt.Errorf("cgroup v1 memory controller at %s: %w", dir, err)
		}
		return dir, false, nil
	}
	if v2Path == "" {
		return "", false, errors.New("/proc/self/cgroup names no memory cgroup")
	}
	// cgroup v2: a child gets the memory controller when its parent lists it
	// in cgroup.subtree_control, which a cgroup with processes of its own
	// (ours) may not do, except the root.
	for _, dir := range []string{filepath.Join("/sys/fs/cgroup", v2Path), "/sys/fs/cgroup"} {
		ctl := filepath.Join(dir, "cgroup.subtree_control")
		b, err := os.ReadFile(ctl)
		if err != nil {
			continue
		}
		if slices.Contains(strings.Fields(string(b)), "memory") || os.WriteFile(ctl, []byte("+memory"), 0o644) == nil {
			return dir, true, nil
		}
	}
	return "", false, fmt.Errorf("no cgroup v2 directory above %s can give a child the memory controller", v2Path)
}

// removeLeftovers removes the cgroups of earlier runs whose process is gone
// (a run killed before its cleanup).
func removeLeftovers(t *testing.T, parent string) {
	t.Helper()
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), cgroupPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pid, _, _ := strings.Cut(rest, "-")
		if _, err := os.Stat(filepath.Join("/proc", pid)); err == nil {
			continue // its test is still running
		}
		if err := os.Remove(filepath.Join(parent, e.Name())); err != nil {
			t.Logf("leftover cgroup %s: %v", e.Name(), err)
		} else {
			t.Logf("removed the leftover cgroup %s", e.Name())
		}
	}
}

// remove deletes the cgroup once the processes in it have ended.
func (cg *memoryCgroup) remove(t *testing.T) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := os.Remove(cg.Dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("remove cgroup %s: %v", cg.Dir, err)
			return
		}
	}
}

// read returns a file of the cgroup, trimmed ("" if absent).
func (cg *memoryCgroup) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(cg.Dir, name))
	return strings.TrimSpace(string(b))
}

// Peak is the most memory the cgroup used (0 where the kernel does not say).
func (cg *memoryCgroup) Peak() int64 {
	name := "memory.max_usage_in_bytes"
	if cg.v2 {
		name = "memory.peak"
	}
	n, _ := strconv.ParseInt(cg.read(name), 10, 64)
	return n
}

// OOMKills counts the processes the kernel's OOM killer ended in the
// cgroup: v2's memory.events oom_kill, v1's memory.oom_control oom_kill
// (kernels since 4.13), and for v1 also whether it is under OOM now.
func (cg *memoryCgroup) OOMKills() (int, error) {
	name := "memory.oom_control"
	if cg.v2 {
		name = "memory.events"
	}
	kills, seen := 0, false
	for line := range strings.Lines(cg.read(name)) {
		key, value, _ := strings.Cut(strings.TrimSpace(line), " ")
		n, _ := strconv.Atoi(value)
		switch key {
		case "oom_kill":
			kills, seen = kills+n, true
		case "under_oom":
			kills += n
		}
	}
	if !seen {
		return 0, fmt.Errorf("%s of %s does not count OOM kills", name, cg.Dir)
	}
	return kills, nil
}
