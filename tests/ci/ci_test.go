// Package ci checks the hosted CI's configuration against the repository:
// every GitHub action is pinned by commit with its release named, and the
// Renovate rules (.github/renovate.json) find every pin they are meant to
// keep current, so a renamed variable or a reworded line cannot silently
// drop a dependency from the updates. actionlint (make lint) checks the
// workflows' syntax and expressions.
package ci

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/calcgrid/calcgrid/tests/stack"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := stack.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestActionsPinnedByCommit: each `uses:` of a workflow names an action at a
// full commit SHA followed by the release it is (`# v1.2.3`), or a local one.
func TestActionsPinnedByCommit(t *testing.T) {
	r := root(t)
	files, _ := filepath.Glob(filepath.Join(r, ".github", "workflows", "*.y*ml"))
	if len(files) == 0 {
		t.Fatal("no workflow in .github/workflows")
	}
	uses := regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*(\S+)(.*)$`)
	pinned := regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40}$`)
	release := regexp.MustCompile(`^\s+# v\d+\.\d+\.\d+$`)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			m := uses.FindStringSubmatch(line)
			if m == nil || strings.HasPrefix(m[1], "./") {
				continue
			}
			n++
			if !pinned.MatchString(m[1]) || !release.MatchString(m[2]) {
				t.Errorf("%s:%d: %q: want owner/repo@<40-hex commit> # vX.Y.Z", filepath.Base(f), i+1, strings.TrimSpace(line))
			}
		}
	}
	if n == 0 {
		t.Error("the workflows use no action at all")
	}
}

type renovate struct {
	CustomManagers []struct {
		Description         string
		ManagerFilePatterns []string
		MatchStrings        []string
	}
}

// found is what Renovate's regex managers extract from the repository:
// "depName=currentValue" by file, relative to the root.
func found(t *testing.T, r string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r, ".github", "renovate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg renovate
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf(".github/renovate.json: %v", err)
	}
	out := map[string][]string{}
	for _, m := range cfg.CustomManagers {
		var patterns []*regexp.Regexp
		for _, p := range m.ManagerFilePatterns {
			// Renovate writes a regex pattern between slashes.
			if len(p) < 2 || p[0] != '/' || p[len(p)-1] != '/' {
				t.Fatalf("manager %q: file pattern %q is not /regex/", m.Description, p)
			}
			patterns = append(patterns, regexp.MustCompile(p[1:len(p)-1]))
		}
		var matchers []*regexp.Regexp
		for _, s := range m.MatchStrings {
			re, err := regexp.Compile(s)
			if err != nil {
				t.Fatalf("manager %q: %v", m.Description, err)
			}
			matchers = append(matchers, re)
		}
		err := filepath.WalkDir(r, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(r, path)
			if d.IsDir() {
				if strings.HasPrefix(d.Name(), ".") && rel != "." && rel != ".github" {
					return filepath.SkipDir // .git, .bin, .cache
				}
				return nil
			}
			if !slices.ContainsFunc(patterns, func(p *regexp.Regexp) bool { return p.MatchString(filepath.ToSlash(rel)) }) {
				return nil
			}
			text, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, re := range matchers {
				for _, sm := range re.FindAllStringSubmatch(string(text), -1) {
					out[rel] = append(out[rel], sm[re.SubexpIndex("depName")]+"="+sm[re.SubexpIndex("currentValue")])
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestRenovateFindsEveryPin: the official images (read from
// terraform/variables.tf the way the bootstrap reads them) and app/Dockerfile's
// image build arguments, each exactly once, nothing else there; and every
// version pinned in scripts/lint.sh.
func TestRenovateFindsEveryPin(t *testing.T) {
	r := root(t)
	got := found(t, r)
	official, err := stack.OfficialImages(r)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, img := range official {
		name, tag, _ := strings.Cut(img, ":")
		want = append(want, name+"="+tag)
	}
	slices.Sort(want)
	vars := slices.Sorted(slices.Values(got[filepath.Join("terraform", "variables.tf")]))
	if !slices.Equal(vars, want) {
		t.Errorf("terraform/variables.tf: Renovate finds %q, want the official images %q", vars, want)
	}

	dockerfile, err := os.ReadFile(filepath.Join(r, "app", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	args := regexp.MustCompile(`(?m)^ARG \w+_IMAGE=\S+`).FindAllString(string(dockerfile), -1)
	if n := len(got[filepath.Join("app", "Dockerfile")]); n != len(args) || n == 0 {
		t.Errorf("app/Dockerfile: Renovate finds %q, want one for each of %q", got[filepath.Join("app", "Dockerfile")], args)
	}

	lint, err := os.ReadFile(filepath.Join(r, "scripts", "lint.sh"))
	if err != nil {
		t.Fatal(err)
	}
	pins := regexp.MustCompile(`(?m)^\w+_version=\S+`).FindAllString(string(lint), -1)
	if n := len(got[filepath.Join("scripts", "lint.sh")]); n != len(pins) || n == 0 {
		t.Errorf("scripts/lint.sh: Renovate finds %q, want one for each of %q", got[filepath.Join("scripts", "lint.sh")], pins)
	}
}
