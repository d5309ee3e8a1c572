// Package docsgen renders the provider's registry docs (docs/) with
// tfplugindocs from the provider's schema and examples/. The schema comes
// from the terraform or tofu binary the bootstrap chose (`providers schema
// -json` against a freshly built provider), handed to tfplugindocs as
// --providers-schema, so tfplugindocs never looks for or downloads a
// Terraform of its own. tfplugindocs itself is the version pinned by the
// tool directive of this module's go.mod.
package docsgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/calcgrid/calcgrid/provider/internal/provider"
)

// tfplugindocs is the pinned tool (go.mod's tool directive).
const tfplugindocs = "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs"

// Generate writes the docs of the provider module in providerDir into
// outDir (any directory; docs/ of providerDir is the checked-in one).
// tfBinary is the terraform or tofu executable; log receives the tools'
// progress.
func Generate(ctx context.Context, tfBinary, providerDir, outDir string, log io.Writer) error {
	if tfBinary == "" {
		return errors.New("no terraform/tofu binary: pass the one the bootstrap chose (.bin/calcgrid-stack tf-binary)")
	}
	providerDir, err := filepath.Abs(providerDir)
	if err != nil {
		return err
	}
	outDir, err = filepath.Abs(outDir)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "calcgrid-docs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	schema, err := providerSchema(ctx, tfBinary, providerDir, work, log)
	if err != nil {
		return err
	}
	schemaFile := filepath.Join(work, "schema.json")
	if err := os.WriteFile(schemaFile, schema, 0o644); err != nil {
		return err
	}
	// tfplugindocs joins the rendered directory to the provider directory.
	rel, err := filepath.Rel(providerDir, outDir)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "run", tfplugindocs, "generate",
		"--provider-dir", providerDir,
		"--provider-name", "terraform-provider-calcgrid",
		"--rendered-provider-name", "calcgrid",
		"--providers-schema", schemaFile,
		"--rendered-website-dir", rel,
		"--website-temp-dir", filepath.Join(work, "website"),
	)
	cmd.Dir = providerDir
	return run(cmd, log)
}

// providerSchema builds the provider into a plugin directory, runs `init`
// and `providers schema -json` with tfBinary, and returns the schema JSON
// with the provider under the short name tfplugindocs looks for.
func providerSchema(ctx context.Context, tfBinary, providerDir, work string, log io.Writer) ([]byte, error) {
	const version = "0.0.1"
	plugin := filepath.Join(work, "plugins", provider.Address, version, runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-calcgrid_v"+version)
	build := exec.CommandContext(ctx, "go", "build", "-o", plugin, ".")
	build.Dir = providerDir
	if err := run(build, log); err != nil {
		return nil, err
	}
	root := filepath.Join(work, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	mainTF := fmt.Sprintf("terraform {\n  required_providers {\n    calcgrid = { source = %q }\n  }\n}\n", provider.Address)
	if err := os.WriteFile(filepath.Join(root, "main.tf"), []byte(mainTF), 0o644); err != nil {
		return nil, err
	}
	env := tfEnv()
	initCmd := exec.CommandContext(ctx, tfBinary, "init", "-backend=false", "-input=false", "-no-color", "-plugin-dir="+filepath.Join(work, "plugins"))
	initCmd.Dir, initCmd.Env = root, env
	if err := run(initCmd, log); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	schemaCmd := exec.CommandContext(ctx, tfBinary, "providers", "schema", "-json")
	schemaCmd.Dir, schemaCmd.Env, schemaCmd.Stdout, schemaCmd.Stderr = root, env, &out, log
	if err := schemaCmd.Run(); err != nil {
		return nil, fmt.Errorf("%s providers schema -json: %w", tfBinary, err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		return nil, fmt.Errorf("providers schema -json: %w", err)
	}
	var schemas map[string]json.RawMessage
	if err := json.Unmarshal(doc["provider_schemas"], &schemas); err != nil {
		return nil, fmt.Errorf("providers schema -json: provider_schemas: %w", err)
	}
	ours, ok := schemas[provider.Address]
	if !ok {
		return nil, fmt.Errorf("providers schema -json has no %s (has %v)", provider.Address, keys(schemas))
	}
	doc["provider_schemas"], _ = json.Marshal(map[string]json.RawMessage{"calcgrid": ours})
	return json.Marshal(doc)
}

// tfEnv is the environment without a TF_CLI_CONFIG_FILE that points
// nowhere (terraform only warns about it) and without checkpoint calls.
func tfEnv() []string {
	env := []string{"CHECKPOINT_DISABLE=1"}
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); k == "TF_CLI_CONFIG_FILE" {
			if _, err := os.Stat(v); err != nil {
				continue
			}
		}
		env = append(env, kv)
	}
	return env
}

func run(cmd *exec.Cmd, log io.Writer) error {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(log, &out), io.MultiWriter(log, &out)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, lastLines(out.String(), 20))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
