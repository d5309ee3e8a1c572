package worker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryShare of the container's limit is given to the Go runtime as its
// soft limit: the garbage collector works harder near it instead of letting
// the kernel's OOM killer end every running task at once.
const memoryShare = 0.9

// ContainerMemoryLimit reads the memory limit of the cgroup the process runs
// in, under cgroupRoot (/sys/fs/cgroup): cgroup v2's memory.max, else v1's
// memory/memory.limit_in_bytes. ok is false when there is no limit.
func ContainerMemoryLimit(cgroupRoot string) (limit int64, ok bool, err error) {
	for _, f := range []string{"memory.max", filepath.Join("memory", "memory.limit_in_bytes")} {
		b, err := os.ReadFile(filepath.Join(cgroupRoot, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
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
			return 0, false, fmt.Errorf("%s: %w", f, err)
		}
		// cgroup v1 reports "no limit" as a huge page-rounded number.
		if n <= 0 || n >= 1<<62 {
			return 0, false, nil
		}
		return n, true, nil
	}
	return 0, false, nil
}

// LimitMemory sets the Go runtime's soft memory limit to memoryShare of the
// container's, unless GOMEMLIMIT says otherwise or there is no limit. It
// returns the limit set (0 for none).
func LimitMemory(cgroupRoot string, getenv func(string) string) (int64, error) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, nil // the runtime read it at start
	}
	limit, ok, err := ContainerMemoryLimit(cgroupRoot)
	if err != nil || !ok {
		return 0, err
	}
	soft := int64(float64(limit) * memoryShare)
	debug.SetMemoryLimit(soft)
	return soft, nil
}
