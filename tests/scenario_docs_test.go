package tests

import "testing"

// scenarioDocs runs the `stack` shell examples of README.md and docs/*.md
// (marked <!-- example: stack -->, see docexamples_test.go) against the
// stack: each file's blocks in order in one bash process from the repo root,
// with CALCGRID set to the stack's endpoint and <repo>/.bin first on PATH
// (runExamples builds .bin/calcgrid first, as `make build` does, when it is
// missing). CALCGRID_ENDPOINT is set to the same endpoint, so that the CLI
// examples talk to this stack and not to the CLI's default address. A failure
// names the file and line of the block; a convention violation fails too.
func (s *stack) scenarioDocs(t *testing.T) {
	runExamples(t, repoRoot(t), exampleStack, []string{
		"CALCGRID=" + s.endpoint,
		"CALCGRID_ENDPOINT=" + s.endpoint,
	})
}
