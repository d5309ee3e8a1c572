package tests

import (
	"encoding/json"
	"testing"

	"github.com/gruntwork-io/terratest/modules/terraform"
	test_structure "github.com/gruntwork-io/terratest/modules/test-structure"
)

// TestStack applies the dev workspace once and runs every scenario against
// it as a subtest. Stages can be skipped to keep the stack between runs:
//
//	SKIP_teardown=1 go test -run TestStack ./...        # deploy, validate, keep
//	SKIP_deploy=1 SKIP_teardown=1 go test -run TestStack # validate again
//	SKIP_deploy=1 SKIP_validate=1 go test -run TestStack # tear it down
func TestStack(t *testing.T) {
	defer test_structure.RunTestStage(t, "teardown", func() { teardownStack(t) })
	test_structure.RunTestStage(t, "deploy", func() { deployStack(t) })

	test_structure.RunTestStage(t, "validate", func() {
		s := loadStack(t)
		// Scenarios that disturb the stack come last; each restores it
		// (healthy again) before the next one starts.
		t.Run("Health", s.scenarioHealth)
		t.Run("EndToEnd", s.scenarioEndToEnd)
		t.Run("Routing", s.scenarioRouting)
		t.Run("Priority", s.scenarioPriority)
		t.Run("Limits", s.scenarioLimits)
		t.Run("Promotion", s.scenarioPromotion)
		t.Run("APIFailover", s.scenarioAPIFailover)
		t.Run("WorkerFailover", s.scenarioWorkerFailover)
		t.Run("RedisRestart", s.scenarioRedisRestart)
	})
}

// stack is what the scenarios know about the applied environment.
type stack struct {
	opts       *terraform.Options
	endpoint   string
	containers map[string][]string
}

func loadStack(t *testing.T) *stack {
	opts := test_structure.LoadTerraformOptions(t, workDir(t))
	terraform.WorkspaceSelectOrNew(t, opts, env)
	return &stack{
		opts:       opts,
		endpoint:   terraform.Output(t, opts, "endpoint"),
		containers: containerNames(t, opts),
	}
}

// containerNames reads the root module's `containers` output: names by role.
func containerNames(t *testing.T, opts *terraform.Options) map[string][]string {
	var names map[string][]string
	if err := json.Unmarshal([]byte(terraform.OutputJson(t, opts, "containers")), &names); err != nil {
		t.Fatalf("output containers: %v", err)
	}
	return names
}
