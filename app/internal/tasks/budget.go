package tasks

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Cost is what one payload asks of a worker slot, as its type estimates it
// (Spec.Cost) before the payload is accepted and again before it runs.
type Cost struct {
	// CPU is the computation in time of one core, at the measured throughput
	// of the type's kernel.
	CPU time.Duration
	// Memory is the most bytes the task holds at once.
	Memory int64
	// Work and Space say how CPU and Memory follow from the payload, in the
	// refusal messages.
	Work, Space Formula
}

// Formula is how one cost follows from a payload, with the payload's
// numbers: "paths × steps × 9 pricings (greeks) = 5e7 × 10000 × 9 = 4.5e12
// path-steps", and the payload fields that drive it, the one to lower first
// first (field names relative to the payload).
type Formula struct {
	Text   string
	Fields []string
}

// CostModel says in words how a type's work and memory grow with its
// payload, for GET /v1/task-types.
type CostModel struct {
	Work   string   `json:"work"`
	Memory string   `json:"memory"`
	Fields []string `json:"fields"`
}

// Budget is what one task may take of a worker in an environment. The zero
// Budget bounds work by 80% of each type's timeout on one core, and memory
// not at all.
type Budget struct {
	// CPU is the most computation one task may need, in time of one core
	// (0: what fits in 80% of its type's timeout).
	CPU time.Duration
	// Memory is the most bytes one task may hold: a worker slot's share
	// (0: no bound).
	Memory int64
	// SlotCPUs is the cores one worker slot can count on when every slot is
	// busy (0 counts as 1): a task must fit in timeoutShare of its type's
	// timeout at that rate, whatever CPU allows.
	SlotCPUs float64
}

// timeoutShare of a type's timeout is what a task's estimated CPU time may
// fill at its slot's share of cores: the rest absorbs an estimate that is a
// quarter short (the rates are the slowest measured; a loaded host is
// slower still).
const timeoutShare = 0.8

// Shares of a worker container's memory limit.
const (
	// GoMemoryShare of the container's limit is the Go runtime's soft limit
	// (GOMEMLIMIT, set by worker.LimitMemory): the garbage collector works
	// harder near it instead of letting the OOM killer end every task.
	GoMemoryShare = 0.9
	// slotShare of the soft limit is divided among the slots; the rest is
	// headroom for the idle process, payloads and results in flight, and
	// garbage the collector has not reached yet.
	slotShare = 0.8
)

// Worker is what the budgets derive from: one worker container's resources
// and how many tasks it runs at once, with optional overrides.
type Worker struct {
	MemoryLimit int64   // bytes (0: none)
	CPUs        float64 // cores (0: unknown)
	Concurrency int
	// TaskMemory overrides the derived memory per slot (0: derive).
	TaskMemory int64
	// TaskCPU is the work budget (0: what fits in 80% of each type's timeout).
	TaskCPU time.Duration
}

// SlotBudget derives the budget of one task from the worker it runs on:
// memory per slot = MemoryLimit × GoMemoryShare × slotShare / Concurrency,
// unless TaskMemory is given; cores per slot = CPUs / Concurrency. A
// TaskMemory that leaves the slots more than the Go runtime's soft limit is
// an error.
func SlotBudget(w Worker) (Budget, error) {
	if w.Concurrency < 1 {
		return Budget{}, fmt.Errorf("worker concurrency must be ≥ 1 (got %d)", w.Concurrency)
	}
	b := Budget{CPU: w.TaskCPU, Memory: w.TaskMemory, SlotCPUs: w.CPUs / float64(w.Concurrency)}
	soft := int64(float64(w.MemoryLimit) * GoMemoryShare)
	switch {
	case w.TaskMemory == 0 && w.MemoryLimit > 0:
		b.Memory = int64(float64(soft) * slotShare / float64(w.Concurrency))
	case w.TaskMemory > 0 && w.MemoryLimit > 0 && w.TaskMemory*int64(w.Concurrency) > soft:
		return Budget{}, fmt.Errorf("task memory %s × %d slots exceeds %.1f MiB, the Go memory limit of a %s worker (%.0f%%)",
			Bytes(w.TaskMemory), w.Concurrency, float64(soft)/(1<<20), Bytes(w.MemoryLimit), 100*GoMemoryShare)
	}
	return b, nil
}

// WorkLimit is the most CPU a task with the given timeout may need: the
// budget's CPU, or what fits in timeoutShare of the timeout at SlotCPUs,
// whichever is less. byTimeout tells which.
func (b Budget) WorkLimit(timeout time.Duration) (limit time.Duration, byTimeout bool) {
	fit := time.Duration(float64(timeout) * timeoutShare * b.slotCPUs())
	if b.CPU > 0 && b.CPU <= fit {
		return b.CPU, false
	}
	return fit, true
}

func (b Budget) slotCPUs() float64 {
	if b.SlotCPUs <= 0 {
		return 1
	}
	return b.SlotCPUs
}

// Check returns an error for each bound c exceeds, on the first field of
// the formula concerned (relative to the payload), naming the fields, the
// estimate and the bound.
func (b Budget) Check(typeName string, timeout time.Duration, c Cost) []FieldError {
	var errs []FieldError
	if limit, byTimeout := b.WorkLimit(timeout); c.CPU > limit {
		bound := fmt.Sprintf("the work budget of this environment: %s of one core a task", Duration(limit))
		if byTimeout {
			bound = fmt.Sprintf("what a %s task can do within %.0f%% of its %s timeout: %s of one core at %s core%s per task slot",
				typeName, 100*timeoutShare, Duration(timeout), Duration(limit), trimFloat(b.slotCPUs()), plural(b.slotCPUs()))
		}
		errs = append(errs, FieldError{Field: first(c.Work.Fields), Message: fmt.Sprintf("%s needs about %s of one core, more than %s; lower %s",
			c.Work.Text, Duration(c.CPU), bound, alternatives(c.Work.Fields))})
	}
	if b.Memory > 0 && c.Memory > b.Memory {
		errs = append(errs, FieldError{Field: first(c.Space.Fields), Message: fmt.Sprintf("%s needs about %s of memory, more than the %s per task slot of this environment's workers (its memory budget); lower %s",
			c.Space.Text, Bytes(c.Memory), Bytes(b.Memory), alternatives(c.Space.Fields))})
	}
	return errs
}

func first(fields []string) string {
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}

// alternatives words fields as "paths", "paths or steps", "a, b or c".
func alternatives(fields []string) string {
	switch len(fields) {
	case 0:
		return "the payload's sizes"
	case 1:
		return fields[0]
	}
	return strings.Join(fields[:len(fields)-1], ", ") + " or " + fields[len(fields)-1]
}

func plural(v float64) string {
	if v == 1 {
		return ""
	}
	return "s"
}

// trimFloat words v with three significant digits at most, without an
// exponent for the values budgets and estimates print (below 10^6).
func trimFloat(v float64) string {
	digits := 0
	switch {
	case v < 10:
		digits = 2
	case v < 100:
		digits = 1
	}
	s := strconv.FormatFloat(v, 'f', digits, 64)
	if digits > 0 {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// Duration words a duration of one core for people: "45 s", "7.5 minutes",
// "3.2 hours", "52 days".
func Duration(d time.Duration) string {
	switch s := d.Seconds(); {
	case s < 10:
		return trimFloat(math.Ceil(s*10)/10) + " s"
	case s < 120:
		return strconv.Itoa(int(math.Ceil(s))) + " s"
	case s < 2*3600:
		return trimFloat(s/60) + " minutes"
	case s < 2*86400:
		return trimFloat(s/3600) + " hours"
	default:
		return trimFloat(s/86400) + " days"
	}
}

// Bytes words a size in binary units: "512 KiB", "138 MiB", "1.2 GiB".
func Bytes(n int64) string {
	v, unit := float64(n), "bytes"
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	if unit == "bytes" {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	return trimFloat(v) + " " + unit
}

// Count words a count exactly below a million and as 4.5e12 above.
func Count(v float64) string {
	if v < 1e6 && v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	mantissa, exp, _ := strings.Cut(strconv.FormatFloat(v, 'g', 3, 64), "e+")
	return mantissa + "e" + strings.TrimLeft(exp, "0")
}
