package stack

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCalcgridProviderFromTheMirror: with the bootstrap's CLI config, `init`
// of the provider's own example installs
// registry.calcgrid.local/calcgrid/calcgrid from the local mirror (no
// registry serves it), with the bootstrap's terraform or tofu, and the
// installed provider serves its schema.
func TestCalcgridProviderFromTheMirror(t *testing.T) {
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(root)
	if errors.Is(err, ErrNotBootstrapped) {
		t.Skip("the bootstrap has not run in this checkout (make test runs it first)")
	}
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(root, "provider", "examples", "provider", "provider.tf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), example, 0o644); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := r.tfOutput(ctx, rel, "", "", "init", "-backend=false", "-input=false", "-no-color")
	if err != nil {
		t.Fatalf("init from the mirror (make bootstrap installs the provider): %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "registry.calcgrid.local/calcgrid/calcgrid") {
		t.Errorf("init did not install registry.calcgrid.local/calcgrid/calcgrid:\n%s", out)
	}
	schema, err := r.tfOutput(ctx, rel, "", "", "providers", "schema", "-json")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"calcgrid_api_key", "calcgrid_queue", "calcgrid_tenant", "calcgrid_task_types", "calcgrid_queues"} {
		if !strings.Contains(string(schema), `"`+want+`"`) {
			t.Errorf("the mirrored provider's schema has no %s", want)
		}
	}
}
