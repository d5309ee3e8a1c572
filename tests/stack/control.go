package stack

import (
	"context"
	"fmt"
	"path/filepath"
)

// controlDir is the root module of what runs inside a stack (tenants, API
// keys, queue settings), applied after the stack in the same workspace.
const controlDir = "terraform/control"

// ControlVarFile is the environment's tenants and keys; an environment
// without one (dev, whose API does not authenticate) has no control apply.
func (e *Env) ControlVarFile() string {
	return filepath.Join(e.repo.Root, "environments", "control", e.Name+".tfvars")
}

// queuesVarFile is an environment's queue settings, which promotion carries
// to the next environment.
func (e *Env) queuesVarFile(from string) string {
	return filepath.Join(e.repo.Root, "environments", "control", from+".queues.tfvars")
}

// HasControl reports whether the environment declares tenants and keys.
func (e *Env) HasControl() bool { return fileExists(e.ControlVarFile()) }

// controlArgs are the var-files of a control apply, plan or destroy: the
// environment's keys and the queue settings of QueuesFrom when it has some
// (promotion), else its own, then ControlArgs.
func (e *Env) controlArgs() []string {
	args := []string{"-var-file=" + e.ControlVarFile()}
	q := e.queuesVarFile(e.Name)
	if e.QueuesFrom != "" && fileExists(e.queuesVarFile(e.QueuesFrom)) {
		q = e.queuesVarFile(e.QueuesFrom)
	}
	if fileExists(q) {
		args = append(args, "-var-file="+q)
	}
	return append(args, e.ControlArgs...)
}

// DestroyControl destroys what terraform/control manages, or only targets
// (resource addresses) when given.
func (e *Env) DestroyControl(ctx context.Context, targets ...string) error {
	if err := e.repo.initOnce(ctx, controlDir); err != nil {
		return err
	}
	args := append([]string{"destroy", "-input=false", "-auto-approve"}, e.controlArgs()...)
	for _, t := range targets {
		args = append(args, "-target="+t)
	}
	return e.repo.TF(ctx, controlDir, e.Name, args...)
}

// ApplyControl applies terraform/control to the running stack.
func (e *Env) ApplyControl(ctx context.Context) error {
	if err := e.repo.initOnce(ctx, controlDir); err != nil {
		return err
	}
	fmt.Fprintf(e.repo.Stdout, "applying %s's tenants, keys and queue settings (%s)\n", e.Name, controlDir)
	return e.repo.TF(ctx, controlDir, e.Name, append([]string{"apply", "-input=false", "-auto-approve"}, e.controlArgs()...)...)
}

// PlanControl plans terraform/control and reports whether it has changes
// (drift: a setting changed outside Terraform).
func (e *Env) PlanControl(ctx context.Context) (changes bool, err error) {
	if err := e.repo.initOnce(ctx, controlDir); err != nil {
		return false, err
	}
	return e.repo.planChanges(ctx, controlDir, e.Name, e.controlArgs())
}

// ControlOutputJSON decodes an output of the environment's control state.
func (e *Env) ControlOutputJSON(ctx context.Context, name string, v any) error {
	return e.repo.outputJSON(ctx, controlDir, e.Name, name, v)
}
