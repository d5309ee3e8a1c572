// Package tfarch checks the Terraform layout's one rule: only the root module
// (terraform/) composes modules; a module under modules/ may call the shared
// container module and nothing else.
package tfarch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// moduleCalls returns the source of every module block in dir's .tf files.
func moduleCalls(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	p := hclparse.NewParser()
	calls := map[string]string{}
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", f, diags)
		}
		content, _, diags := file.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "module", LabelNames: []string{"name"}}}})
		if diags.HasErrors() {
			t.Fatalf("%s: %v", f, diags)
		}
		for _, b := range content.Blocks {
			attrs, _ := b.Body.JustAttributes()
			src, ok := attrs["source"]
			if !ok {
				t.Fatalf("%s: module %q has no source", f, b.Labels[0])
			}
			v, diags := src.Expr.Value(nil)
			if diags.HasErrors() || v.Type() != cty.String {
				t.Fatalf("%s: module %q: source is not a literal string", f, b.Labels[0])
			}
			calls[b.Labels[0]] = v.AsString()
		}
	}
	return calls
}

func TestModulesCallOnlyTheContainerModule(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob(filepath.Join(root, "modules", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no modules under %s/modules (%v)", root, err)
	}
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		name := filepath.Base(dir)
		for call, src := range moduleCalls(t, dir) {
			if name == "container" || src != "../container" {
				t.Errorf("modules/%s calls module %q (source %q): only terraform/ composes modules; a module may call ../container only (and container nothing)", name, call, src)
			}
		}
	}
	for call, src := range moduleCalls(t, filepath.Join(root, "terraform")) {
		if !strings.HasPrefix(src, "../modules/") && !strings.HasPrefix(src, "./") {
			t.Errorf("terraform/ calls module %q from %q: the root module composes the modules under modules/ (and its own ./ children)", call, src)
		}
	}
}
