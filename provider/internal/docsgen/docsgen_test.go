package docsgen

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestDocsAreCurrent regenerates the docs into a temporary directory and
// fails when docs/ differs: a schema description or an example changed
// without `make provider-docs`.
func TestDocsAreCurrent(t *testing.T) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		t.Skip("needs the terraform/tofu binary the bootstrap chose in TF_ACC_TERRAFORM_PATH (make test-provider sets it)")
	}
	providerDir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "docs")
	var log bytes.Buffer
	if err := Generate(context.Background(), tf, providerDir, out, &log); err != nil {
		t.Fatalf("%v\n%s", err, lastLines(log.String(), 30))
	}
	want, got := tree(t, out), tree(t, filepath.Join(providerDir, "docs"))
	var stale []string
	for name, w := range want {
		if g, ok := got[name]; !ok {
			stale = append(stale, name+" is missing")
		} else if g != w {
			stale = append(stale, name+" differs")
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			stale = append(stale, name+" is not generated any more")
		}
	}
	if len(stale) > 0 {
		sort.Strings(stale)
		t.Errorf("provider/docs is not what the schema and examples/ give: %s\nrun `make provider-docs` and commit docs/",
			strings.Join(stale, "; "))
	}
}

func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
