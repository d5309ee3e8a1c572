package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// metric is one measure, each run's value per system.
type metric struct {
	Key    string               `json:"key"`
	Title  string               `json:"title"`
	Unit   string               `json:"unit"`
	Higher bool                 `json:"higher_is_better"`
	Values map[string][]float64 `json:"values"`
	// Goal, when set: calcgrid ÷ baseline at least (Higher) or at most
	// GoalRatio, and calcgrid's median at most GoalMax or at least GoalMin.
	GoalRatio float64 `json:"goal_ratio,omitempty"`
	GoalMax   float64 `json:"goal_max,omitempty"`
	GoalMin   float64 `json:"goal_min,omitempty"`
	// GoalZero: every calcgrid run must be 0.
	GoalZero bool `json:"goal_zero,omitempty"`
}

type results struct {
	Started  time.Time         `json:"started"`
	Seconds  float64           `json:"seconds"`
	Machine  map[string]string `json:"machine"`
	Settings map[string]any    `json:"settings"`
	Metrics  []*metric         `json:"metrics"`
	Idle     []idleRow         `json:"idle"`
	Notes    []string          `json:"notes"`
}

func (r *results) metric(key string) *metric {
	for _, m := range r.Metrics {
		if m.Key == key {
			return m
		}
	}
	return nil
}

// add records one run's value of key for system; define declares key first.
func (r *results) add(key, system string, v float64) {
	m := r.metric(key)
	if m == nil {
		panic("calcbench: undeclared metric " + key)
	}
	m.Values[system] = append(m.Values[system], v)
}

func (r *results) define(m metric) {
	if r.metric(m.Key) == nil {
		m.Values = map[string][]float64{}
		r.Metrics = append(r.Metrics, &m)
	}
}

func (r *results) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	r.Notes = append(r.Notes, s)
	fmt.Println("  note:", s)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile is the nearest-rank p-th percentile of v.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func cell(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	if len(v) == 1 {
		return num(v[0])
	}
	return fmt.Sprintf("%s (%s–%s)", num(median(v)), num(slices.Min(v)), num(slices.Max(v)))
}

// verdict says whether m meets its goal, "" when it has none.
func (m *metric) verdict() string {
	c := m.Values["calcgrid"]
	if len(c) == 0 || (m.GoalRatio == 0 && m.GoalMax == 0 && m.GoalMin == 0 && !m.GoalZero) {
		return ""
	}
	var goals []string
	ok := true
	if m.GoalRatio != 0 {
		b := m.Values["baseline"]
		if len(b) == 0 || median(b) == 0 {
			return "no baseline"
		}
		r := median(c) / median(b)
		if m.Higher {
			goals, ok = append(goals, fmt.Sprintf("≥ %s×", num(m.GoalRatio))), ok && r >= m.GoalRatio
		} else {
			goals, ok = append(goals, fmt.Sprintf("≤ %s×", num(m.GoalRatio))), ok && r <= m.GoalRatio
		}
	}
	if m.GoalMax != 0 {
		goals, ok = append(goals, "≤ "+num(m.GoalMax)), ok && median(c) <= m.GoalMax
	}
	if m.GoalMin != 0 {
		goals, ok = append(goals, "≥ "+num(m.GoalMin)), ok && median(c) >= m.GoalMin
	}
	if m.GoalZero {
		goals, ok = append(goals, "0"), ok && slices.Max(c) == 0
	}
	mark := "missed"
	if ok {
		mark = "met"
	}
	return strings.Join(goals, ", ") + ": " + mark
}

// markdown writes the side-by-side table.
func (r *results) markdown(w io.Writer) {
	fmt.Fprintf(w, "| measure | unit | calcgrid median (min–max) | baseline median (min–max) | calcgrid ÷ baseline | goal |\n")
	fmt.Fprintf(w, "|---|---|---:|---:|---:|---|\n")
	for _, m := range r.Metrics {
		ratio := "–"
		if c, b := m.Values["calcgrid"], m.Values["baseline"]; len(c) > 0 && len(b) > 0 && median(b) != 0 {
			ratio = fmt.Sprintf("%.2f×", median(c)/median(b))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", m.Title, m.Unit, cell(m.Values["calcgrid"]), cell(m.Values["baseline"]), ratio, m.verdict())
	}
	if len(r.Idle) > 0 {
		fmt.Fprintf(w, "\nIdle workers: what waiting costs, and what it buys\n\n")
		fmt.Fprintf(w, "| system | idle setting | Redis cmds/s | Redis CPU %% | workers CPU %% | submit → started p50 / p99 ms | submit → completed p99 ms |\n")
		fmt.Fprintf(w, "|---|---|---:|---:|---:|---:|---:|\n")
		for _, i := range r.Idle {
			fmt.Fprintf(w, "| %s | %s | %.0f | %.1f | %.1f | %.2f / %.2f | %.2f |\n", i.System, i.Setting, i.CommandsPerS, i.RedisCPU, i.WorkerCPU, i.StartedP50, i.StartedP99, i.CompletedP99)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

// save writes dir/<timestamp>.json and dir/<timestamp>.md.
func (r *results) save(dir string) (string, error) {
	r.Seconds = time.Since(r.Started).Seconds()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := filepath.Join(dir, r.Started.UTC().Format("20060102T150405Z"))
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".json", b, 0o644); err != nil {
		return "", err
	}
	f, err := os.Create(base + ".md")
	if err != nil {
		return "", err
	}
	defer f.Close()
	fmt.Fprintf(f, "`make bench` on %s (%s cores, %s, %s), %s, %.0f s.\n\n",
		r.Machine["host"], r.Machine["cores"], r.Machine["cpu"], runtime.Version(), r.Started.UTC().Format("2006-01-02 15:04 UTC"), r.Seconds)
	r.markdown(f)
	return base + ".json", nil
}

// machineFacts are what the README's table names: cores and CPU model.
func machineFacts() map[string]string {
	host, _ := os.Hostname()
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return map[string]string{"host": host, "cores": fmt.Sprint(runtime.NumCPU()), "cpu": cpu, "go": runtime.Version()}
}
