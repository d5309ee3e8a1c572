// Package stack drives the calcgrid stack through Terraform or OpenTofu: it is
// the one place that knows which binary to run, how a workspace is selected,
// which var-files an environment is applied with, how the Redis volume is kept
// out of a destroy and how leftovers are found. The Makefile (through
// cmd/calcgrid-stack) and the terratest suite both go through it.
package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// BootstrapFile is where scripts/bootstrap.sh records what it found or built,
// relative to the repository root.
const BootstrapFile = ".cache/bootstrap.json"

// ImagesVarFile is the var-file with the four base-image variables, written
// beside BootstrapFile for plain `terraform apply` users.
const ImagesVarFile = ".cache/images.auto.tfvars.json"

// ErrNotBootstrapped means the bootstrap has not run in this checkout.
var ErrNotBootstrapped = errors.New("the bootstrap has not run in this checkout: run `make bootstrap`")

// Bootstrap is what the bootstrap decided: the IaC binary (found on PATH or
// built), the CLI configuration that points at a locally built provider
// mirror (empty when the registry answers), the base images and the Go
// settings the app image is built with.
type Bootstrap struct {
	TFBinary  string            `json:"tf_binary"`
	CLIConfig string            `json:"cli_config,omitempty"`
	Images    map[string]string `json:"images"`
	GoProxy   string            `json:"go_proxy"`
	GoFlags   string            `json:"go_flags"`
}

// LoadBootstrap reads BootstrapFile under root.
func LoadBootstrap(root string) (Bootstrap, error) {
	var b Bootstrap
	data, err := os.ReadFile(filepath.Join(root, BootstrapFile))
	if errors.Is(err, os.ErrNotExist) {
		return b, ErrNotBootstrapped
	}
	if err != nil {
		return b, fmt.Errorf("reading %s: %w", BootstrapFile, err)
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return b, fmt.Errorf("%s: %w (run `make bootstrap` again)", BootstrapFile, err)
	}
	if b.TFBinary == "" {
		return b, fmt.Errorf("%s names no tf_binary: run `make bootstrap` again", BootstrapFile)
	}
	return b, nil
}

// Write records b under root, with the images var-file beside it. Both files
// are replaced atomically so a reader never sees half of one.
func (b Bootstrap) Write(root string) error {
	if b.TFBinary == "" {
		return errors.New("bootstrap record without tf_binary")
	}
	if err := writeJSON(filepath.Join(root, BootstrapFile), b); err != nil {
		return err
	}
	return writeJSON(filepath.Join(root, ImagesVarFile), b.Images)
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// imageVariables are the root module's base-image variables; their defaults
// are the official images the bootstrap uses when a registry answers.
var imageVariables = []string{"redis_image", "nginx_image", "prometheus_image", "go_builder_image", "runtime_image"}

// ImageVariables returns the names of the root module's base-image variables.
func ImageVariables() []string { return append([]string(nil), imageVariables...) }

// OfficialImages reads the defaults of the base-image variables from the root
// module (terraform/variables.tf), the one place where they are pinned.
func OfficialImages(root string) (map[string]string, error) {
	p := hclparse.NewParser()
	path := filepath.Join(root, "terraform", "variables.tf")
	f, diags := p.ParseHCLFile(path)
	if diags.HasErrors() {
		return nil, fmt.Errorf("parsing %s: %w", path, diags)
	}
	content, diags := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "variable", LabelNames: []string{"name"}}}})
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s: %w", path, diags)
	}
	want := map[string]bool{}
	for _, v := range imageVariables {
		want[v] = true
	}
	images := map[string]string{}
	for _, block := range content.Blocks {
		name := block.Labels[0]
		if !want[name] {
			continue
		}
		attrs, _ := block.Body.JustAttributes()
		def, ok := attrs["default"]
		if !ok {
			return nil, fmt.Errorf("%s: variable %q has no default", path, name)
		}
		val, diags := def.Expr.Value(nil)
		if diags.HasErrors() || val.IsNull() || val.Type() != cty.String {
			return nil, fmt.Errorf("%s: variable %q: default is not a literal: %v", path, name, diags)
		}
		images[name] = val.AsString()
	}
	var missing []string
	for _, v := range imageVariables {
		if images[v] == "" {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("%s: no default for %v", path, missing)
	}
	return images, nil
}
