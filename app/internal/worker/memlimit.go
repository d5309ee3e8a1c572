package worker

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// CgroupFiles locates what describes the process's cgroups.
type CgroupFiles struct {
	// Root is where the cgroup hierarchies are mounted: cgroup v2's unified
	// one, or v1's one directory per controller.
	Root string
	// Self lists the cgroup the process is in, per hierarchy.
	Self string
}

// Cgroups are the files of Linux: /sys/fs/cgroup and /proc/self/cgroup.
func Cgroups() CgroupFiles {
	return CgroupFiles{Root: "/sys/fs/cgroup", Self: "/proc/self/cgroup"}
}

// ContainerMemoryLimit reads the memory limit that applies to the process:
// the smallest of its own cgroup's and every ancestor's, as cgroup v2's
// memory.max or v1's memory/…/memory.limit_in_bytes. The process's cgroup is
// read from cg.Self; directories of it that are not under cg.Root (a
// container that sees only its own cgroup, mounted as the root) are skipped,
// so a container reads its own limit and a process in a nested cgroup on a
// host reads its cgroup's. ok is false when there is no limit.
func ContainerMemoryLimit(cg CgroupFiles) (limit int64, ok bool, err error) {
	v2, v1 := "/", "/"
	self, err := os.ReadFile(cg.Self)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, false, err
	}
	for line := range strings.Lines(string(self)) {
		id, rest, _ := strings.Cut(strings.TrimSpace(line), ":")
		controllers, dir, found := strings.Cut(rest, ":")
		switch {
		case !found:
		case id == "0" && controllers == "":
			v2 = dir
		case slices.Contains(strings.Split(controllers, ","), "memory"):
			v1 = dir
		}
	}
	for _, h := range []struct{ mount, dir, file string }{
		{cg.Root, v2, "memory.max"},
		{filepath.Join(cg.Root, "memory"), v1, "memory.limit_in_bytes"},
	} {
		// From the process's cgroup up to the root of the hierarchy.
		for dir := path.Clean("/" + h.dir); ; dir = path.Dir(dir) {
			n, limited, err := readLimit(filepath.Join(h.mount, filepath.FromSlash(dir), h.file))
			if err != nil {
				return 0, false, err
			}
			if limited && (!ok || n < limit) {
				limit, ok = n, true
			}
			if dir == "/" {
				break
			}
		}
	}
	return limit, ok, nil
}

// readLimit reads one limit file; a missing file or "max" is no limit.
func readLimit(file string) (int64, bool, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", file, err)
	}
	// cgroup v1 reports "no limit" as a huge page-rounded number.
	if n <= 0 || n >= 1<<62 {
		return 0, false, nil
	}
	return n, true, nil
}

// LimitMemory sets the Go runtime's soft memory limit to tasks.GoMemoryShare
// of the container's, unless GOMEMLIMIT says otherwise or there is no limit:
// the garbage collector then works harder near it instead of letting the
// kernel's OOM killer end every running task at once. It returns the limit
// set (0 for none).
func LimitMemory(cg CgroupFiles, getenv func(string) string) (int64, error) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, nil // the runtime read it at start
	}
	limit, ok, err := ContainerMemoryLimit(cg)
	if err != nil || !ok {
		return 0, err
	}
	soft := int64(float64(limit) * tasks.GoMemoryShare)
	debug.SetMemoryLimit(soft)
	return soft, nil
}
