package tests

import (
	"os"
	"regexp"
	"strings"
	"testing"

	driver "github.com/calcgrid/calcgrid/tests/stack"
	test_structure "github.com/gruntwork-io/terratest/modules/test-structure"
)

// scenario is one named check of the applied stack.
type scenario struct {
	name string
	run  func(*stack, *testing.T)
}

// scenarios run in this order: the ones that disturb the stack come last, and
// each of those leaves it healthy again for the next one.
var scenarios = []scenario{
	{"Health", (*stack).scenarioHealth},
	{"Walls", (*stack).scenarioWalls},
	{"EndToEnd", (*stack).scenarioEndToEnd},
	{"Routing", (*stack).scenarioRouting},
	{"Priority", (*stack).scenarioPriority},
	{"Docs", (*stack).scenarioDocs},
	{"Browser", (*stack).scenarioBrowser},
	{"StorageGrowth", (*stack).scenarioStorageGrowth},
	{"Limits", (*stack).scenarioLimits},
	{"Promotion", (*stack).scenarioPromotion},
	{"Monitoring", (*stack).scenarioMonitoring},
	{"Edge", (*stack).scenarioEdge},
	{"APIFailover", (*stack).scenarioAPIFailover},
	{"WorkerFailover", (*stack).scenarioWorkerFailover},
	{"RedisRestart", (*stack).scenarioRedisRestart},
}

// selected returns the scenarios whose names match the regular expression in
// CALCGRID_SCENARIOS (all when it is empty); a pattern that matches none is
// an error, so a typo never deploys a stack to check nothing.
func selected(pattern string) ([]scenario, error) {
	if pattern == "" {
		pattern = "."
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	var out []scenario
	var names []string
	for _, s := range scenarios {
		names = append(names, s.name)
		if re.MatchString(s.name) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, &noMatchError{pattern, strings.Join(names, ", ")}
	}
	return out, nil
}

type noMatchError struct{ pattern, names string }

func (e *noMatchError) Error() string {
	return "RUN=" + e.pattern + " matches no scenario; have: " + e.names
}

// TestStack applies the dev workspace once and runs the selected scenarios
// against it as subtests. Stages can be skipped to keep the stack between
// runs:
//
//	SKIP_teardown=1 go test -run TestStack ./...        # deploy, validate, keep
//	SKIP_deploy=1 SKIP_teardown=1 go test -run TestStack # validate again
//	SKIP_deploy=1 SKIP_validate=1 go test -run TestStack # tear it down
func TestStack(t *testing.T) {
	chosen, err := selected(os.Getenv(driver.Scenarios))
	if err != nil {
		t.Fatal(err)
	}
	defer test_structure.RunTestStage(t, "teardown", func() { teardownStack(t) })
	test_structure.RunTestStage(t, "deploy", func() { deployStack(t) })

	test_structure.RunTestStage(t, "validate", func() {
		s := loadStack(t, env)
		for _, sc := range chosen {
			t.Run(sc.name, func(t *testing.T) { sc.run(s, t) })
		}
		writeReliability(t, s.report, len(chosen) == len(scenarios))
	})
}

// stack is what the scenarios know about the applied environment.
type stack struct {
	env        *driver.Env
	endpoint   string
	containers map[string][]string
	report     *reliabilityReport
}

func loadStack(t *testing.T, name string) *stack {
	e := openEnv(t, name)
	endpoint, err := e.Output(t.Context(), "endpoint")
	if err != nil {
		t.Fatal(err)
	}
	var names map[string][]string
	if err := e.OutputJSON(t.Context(), "containers", &names); err != nil {
		t.Fatalf("output containers: %v", err)
	}
	return &stack{env: e, endpoint: endpoint, containers: names, report: &reliabilityReport{}}
}

// networks reads the environment's Docker networks by purpose (edge, app,
// data, dash).
func (s *stack) networks(t *testing.T) map[string]string {
	t.Helper()
	var nets map[string]string
	if err := s.env.OutputJSON(t.Context(), "networks", &nets); err != nil {
		t.Fatal(err)
	}
	return nets
}

// output reads one string output of the applied environment.
func (s *stack) output(t *testing.T, name string) string {
	t.Helper()
	v, err := s.env.Output(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
