package stack

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOfficialImagesFromRootModule(t *testing.T) {
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	images, err := OfficialImages(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ImageVariables() {
		if images[k] == "" {
			t.Errorf("no official image for %s", k)
		}
	}
}

func TestBootstrapRecordRoundTrip(t *testing.T) {
	root := t.TempDir()
	if _, err := LoadBootstrap(root); err != ErrNotBootstrapped {
		t.Fatalf("LoadBootstrap of an empty checkout: %v, want ErrNotBootstrapped", err)
	}
	want := Bootstrap{
		TFBinary:  "/opt/tf \"quoted\"/terraform",
		CLIConfig: filepath.Join(root, ".cache", "cli.tfrc"),
		Images:    map[string]string{"redis_image": "r", "nginx_image": "n", "go_builder_image": "g", "runtime_image": "x"},
		GoProxy:   "https://proxy.example,direct",
		GoFlags:   "-mod=mod",
	}
	if err := want.Write(root); err != nil {
		t.Fatal(err)
	}
	got, err := LoadBootstrap(root)
	if err != nil {
		t.Fatal(err)
	}
	if got.TFBinary != want.TFBinary || got.CLIConfig != want.CLIConfig || got.GoProxy != want.GoProxy ||
		got.GoFlags != want.GoFlags || !maps.Equal(got.Images, want.Images) {
		t.Errorf("round trip: %+v, want %+v", got, want)
	}
	if _, err := os.Stat(filepath.Join(root, ImagesVarFile)); err != nil {
		t.Errorf("images var-file: %v", err)
	}
}

// TestWorkspaceNeverSelected: every command of an environment carries its
// workspace in TF_WORKSPACE, so the checkout's selection never changes.
func TestWorkspaceNeverSelected(t *testing.T) {
	r := &Repo{Root: t.TempDir(), Boot: Bootstrap{TFBinary: "/bin/true"}}
	t.Setenv("TF_WORKSPACE", "prod")
	env := r.environ("staging")
	n := 0
	for _, kv := range env {
		if strings.HasPrefix(kv, "TF_WORKSPACE=") {
			n++
			if kv != "TF_WORKSPACE=staging" {
				t.Errorf("environ has %s, want TF_WORKSPACE=staging", kv)
			}
		}
	}
	if n != 1 {
		t.Errorf("environ has %d TF_WORKSPACE entries, want 1", n)
	}
}
