package tests

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// TestReadmeStorageArithmetic holds the README's storage arithmetic
// (Reliability, Storage) to its inputs: the bytes per completed task it
// states, each environment's maxmemory and nginx rate limit in
// environments/*.tfvars, and the default retention in terraform/variables.tf.
// Every environment is named, with its own figures, and how long it takes
// to reach the 80 % mark at its rate limit is 0.8 × maxmemory ÷ (rate ×
// bytes per task), to the rounding of "about".
func TestReadmeStorageArithmetic(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	fig := readmeStorageFigures(t)
	// The arithmetic takes the upper bound of bytes per completed task.
	m := regexp.MustCompile(`At\s+([\d.]+)\s+KB\s+a\s+task`).FindStringSubmatch(readme)
	if m == nil {
		t.Fatal(`README.md: no "At N KB a task" in the storage arithmetic`)
	}
	kb, _ := strconv.ParseFloat(m[1], 64)
	if bytes := fig.Completed[1]; kb*1000 != bytes {
		t.Errorf("README.md computes with %v KB a task, but states up to %v bytes per completed task", kb, bytes)
	}
	perTask := kb * 1000

	envs, err := filepath.Glob("../environments/*.tfvars")
	if err != nil || len(envs) == 0 {
		t.Fatalf("no environments/*.tfvars (%v)", err)
	}
	mib := func(mb float64) float64 { return mb * (1 << 20) } // Redis's "mb" in maxmemory
	for _, path := range envs {
		name := strings.TrimSuffix(filepath.Base(path), ".tfvars")
		maxMB, rps := tfvarsNumber(t, path, "redis", "maxmemory_mb"), tfvarsNumber(t, path, "loadbalancer", "rate_limit_rps")
		re := regexp.MustCompile(`([\d.]+)\s+(min|h)\s+in\s+` + name + `\s+\((\d+)\s+MB,\s+(\d+)\s+r/s\)`)
		m := re.FindStringSubmatch(readme)
		if m == nil {
			t.Errorf("README.md: no %q (how long %s holds at its rate limit)", re, name)
			continue
		}
		stated, _ := strconv.ParseFloat(m[1], 64)
		if m[2] == "h" {
			stated *= 60
		}
		if mb, _ := strconv.ParseFloat(m[3], 64); mb != maxMB {
			t.Errorf("README.md: %s has %v MB; environments/%s.tfvars redis.maxmemory_mb = %v", name, mb, name, maxMB)
		}
		if r, _ := strconv.ParseFloat(m[4], 64); r != rps {
			t.Errorf("README.md: %s at %v r/s; environments/%s.tfvars loadbalancer.rate_limit_rps = %v", name, r, name, rps)
		}
		minutes := 0.8 * mib(maxMB) / (rps * perTask) / 60
		if math.Abs(stated-minutes) > 0.1*minutes {
			t.Errorf("README.md: %s reaches the mark in %s %s; 0.8 × %v MB ÷ (%v/s × %v B) is %.1f min", name, m[1], m[2], maxMB, rps, perTask, minutes)
		}
	}

	// Sustained, the retention bounds the rate.
	m = regexp.MustCompile(`about\s+([\d.]+)\s+task/s\s+in\s+prod\s+with\s+the\s+default\s+(\d+)\s+h`).FindStringSubmatch(readme)
	if m == nil {
		t.Fatal(`README.md: no "about N task/s in prod with the default H h"`)
	}
	vars, err := os.ReadFile("../terraform/variables.tf")
	if err != nil {
		t.Fatal(err)
	}
	def := regexp.MustCompile(`completed_hours\s*=\s*optional\(number,\s*(\d+)\)`).FindSubmatch(vars)
	if def == nil || string(def[1]) != m[2] {
		t.Errorf("README.md: default retention %s h; terraform/variables.tf: %q", m[2], def)
	}
	hours, _ := strconv.ParseFloat(m[2], 64)
	stated, _ := strconv.ParseFloat(m[1], 64)
	prod := tfvarsNumber(t, "../environments/prod.tfvars", "redis", "maxmemory_mb")
	if rate := 0.8 * mib(prod) / (hours * 3600 * perTask); math.Abs(stated-rate) > 0.1*rate {
		t.Errorf("README.md: prod sustains about %v task/s; 0.8 × %v MB ÷ (%v h × %v B) is %.2f", stated, prod, hours, perTask, rate)
	}
}

// tfvarsNumber reads object.field from a tfvars file.
func tfvarsNumber(t *testing.T, path, object, field string) float64 {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCLFile(path)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", path, diags)
	}
	attrs, diags := f.Body.JustAttributes()
	if diags.HasErrors() {
		t.Fatalf("%s: %v", path, diags)
	}
	a, ok := attrs[object]
	if !ok {
		t.Fatalf("%s sets no %s", path, object)
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.Type().IsObjectType() || !v.Type().HasAttribute(field) {
		t.Fatalf("%s: %s.%s is not a literal number (%v)", path, object, field, diags)
	}
	n := v.GetAttr(field)
	if n.Type() != cty.Number || n.IsNull() {
		t.Fatalf("%s: %s.%s is not a number", path, object, field)
	}
	f64, _ := n.AsBigFloat().Float64()
	return f64
}
