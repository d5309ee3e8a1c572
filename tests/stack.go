// Package tests holds the terratest suite that brings a real calcgrid stack
// up with the root module in terraform/ and checks it from the outside.
package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gruntwork-io/terratest/modules/terraform"
	test_structure "github.com/gruntwork-io/terratest/modules/test-structure"
)

// env is the workspace the suite applies; one apply serves every scenario.
const env = "dev"

// volumeAddr is the Redis volume's address; it is protected by prevent_destroy
// and forgotten from the state before a destroy, like `make down` does.
const volumeAddr = "module.redis.docker_volume.data"

// repoRoot is the checkout the tests run in (tests/ is one level down).
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatalf("repository root: %v", err)
	}
	return root
}

// workDir keeps test_structure's saved stage data in the git-ignored cache,
// so SKIP_deploy / SKIP_teardown runs find the stack of an earlier run.
func workDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), ".cache", "terratest", env)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("work dir: %v", err)
	}
	return dir
}

// bootstrapEnv reads the settings scripts/bootstrap.sh leaves in
// .cache/env.sh (which binary, which CLI config, Go build settings) by
// sourcing it in bash, the same way scripts/stack.sh does.
func bootstrapEnv(t testing.TB, root string) map[string]string {
	t.Helper()
	names := []string{"TF_BINARY", "TF_CLI_CONFIG_FILE", "TF_VAR_go_proxy", "TF_VAR_go_flags", "PATH"}
	script := `f="$1"; shift; [[ -f "$f" ]] && source "$f"; for v in "$@"; do printf '%s=%s\0' "$v" "${!v-}"; done`
	out, err := exec.Command("bash", append([]string{"-c", script, "bash", filepath.Join(root, ".cache", "env.sh")}, names...)...).Output()
	if err != nil {
		t.Fatalf("reading .cache/env.sh: %v", err)
	}
	vars := map[string]string{}
	for _, kv := range bytes.Split(bytes.TrimRight(out, "\x00"), []byte{0}) {
		k, v, _ := strings.Cut(string(kv), "=")
		if v != "" {
			vars[k] = v
		}
	}
	return vars
}

// terraformBinary follows scripts/stack.sh: TF_BINARY, else terraform, else tofu.
func terraformBinary(t testing.TB, vars map[string]string) string {
	t.Helper()
	if b := vars["TF_BINARY"]; b != "" {
		return b
	}
	for _, name := range []string{"terraform", "tofu"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("neither terraform nor tofu found: run `make bootstrap`")
	return ""
}

// newOptions describes the dev stack the way `make up ENV=dev` applies it.
func newOptions(t testing.TB) *terraform.Options {
	t.Helper()
	root := repoRoot(t)
	vars := bootstrapEnv(t, root)
	varFiles := []string{filepath.Join(root, "environments", env+".tfvars")}
	if images := filepath.Join(root, ".cache", "images.auto.tfvars.json"); fileExists(images) {
		varFiles = append(varFiles, images)
	}
	envVars := map[string]string{}
	for _, k := range []string{"TF_CLI_CONFIG_FILE", "TF_VAR_go_proxy", "TF_VAR_go_flags", "PATH"} {
		if v, ok := vars[k]; ok {
			envVars[k] = v
		}
	}
	return &terraform.Options{
		TerraformDir:    filepath.Join(root, "terraform"),
		TerraformBinary: terraformBinary(t, vars),
		VarFiles:        varFiles,
		EnvVars:         envVars,
		NoColor:         true,
		// terratest passes -lock=false unless told otherwise; a concurrent
		// `make up ENV=dev` must wait for the state lock instead of racing.
		Lock: true,
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// deployStack removes leftovers of an interrupted run, then applies dev.
func deployStack(t *testing.T) {
	dir := workDir(t)
	opts := newOptions(t)
	removeLeftovers(t, env)
	test_structure.SaveString(t, dir, "volumeExisted", boolString(volumeExists(t, "calcgrid-"+env+"-redis-data")))
	test_structure.SaveTerraformOptions(t, dir, opts)
	terraform.Init(t, opts)
	terraform.WorkspaceSelectOrNew(t, opts, env)
	terraform.Apply(t, opts)
}

// teardownStack destroys dev and removes whatever is left by label. The Redis
// volume is deleted only when this run created it.
func teardownStack(t *testing.T) {
	dir := workDir(t)
	opts := test_structure.LoadTerraformOptions(t, dir)
	terraform.WorkspaceSelectOrNew(t, opts, env)
	if state, err := terraform.RunTerraformCommandE(t, opts, "state", "list"); err == nil && containsLine(state, volumeAddr) {
		terraform.RunTerraformCommand(t, opts, "state", "rm", volumeAddr)
	}
	terraform.Destroy(t, opts)
	removeLeftovers(t, env)
	if test_structure.LoadString(t, dir, "volumeExisted") == "false" {
		docker(t, "volume", "rm", "-f", "calcgrid-"+env+"-redis-data")
	}
	test_structure.CleanupTestDataFolder(t, dir)
}

func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
