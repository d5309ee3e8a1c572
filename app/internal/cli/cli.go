// Package cli is calcgrid's command-line client: the submit, get, wait,
// cancel, list, queues and types commands of the calcgrid binary. It talks
// to the API over HTTP only, through package client.
//
// Exit codes: 0 success (for submit --wait and wait: the task completed),
// 1 the task failed or was cancelled, or the API refused the request,
// 2 a usage error, 3 the API could not be reached, 130 interrupted while
// waiting with the task left running.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/calcgrid/calcgrid/app/internal/client"
)

// DefaultEndpoint is the dev environment's load balancer (http_port in
// environments/dev.tfvars; a test holds the two together).
const DefaultEndpoint = "http://127.0.0.1:18080"

// Exit codes.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitUnreachable = 3
	// ExitInterrupted: Ctrl-C while waiting, the task left running
	// (128 + SIGINT, as a shell reports a process killed by Ctrl-C).
	ExitInterrupted = 130
)

// Env is what the commands read and write besides the API.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Interrupts subscribes to Ctrl-C for as long as a command waits on a
	// task; stop ends the subscription. nil: Ctrl-C is never seen.
	Interrupts func() (c <-chan os.Signal, stop func())
	// Version goes into the User-Agent.
	Version string
}

// Main runs a client command with the process's standard streams,
// environment and signals and returns its exit code.
func Main(args []string, version string) int {
	return Run(context.Background(), args, Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Version: version,
		Interrupts: func() (<-chan os.Signal, func()) {
			c := make(chan os.Signal, 1)
			signal.Notify(c, os.Interrupt)
			return c, func() { signal.Stop(c) }
		},
	})
}

// Handles reports whether name is a client command.
func Handles(name string) bool {
	return slices.ContainsFunc(newRoot(&state{}).Commands(), func(c *cobra.Command) bool { return c.Name() == name })
}

// Summary lists the client commands, one "  name  short help" line each,
// for the binary's usage text.
func Summary() string {
	var b strings.Builder
	for _, c := range newRoot(&state{}).Commands() {
		fmt.Fprintf(&b, "  %-9s %s\n", c.Name(), c.Short)
	}
	return b.String()
}

// Run runs one client command (args[0] is its name) and returns its exit
// code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	st := &state{env: env}
	root := newRoot(st)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var ce commandError
	if !errors.As(err, &ce) {
		// cobra's own: an unknown flag, a missing argument.
		return usage(env.Stderr, cmd, err)
	}
	err = ce.error
	var (
		ue usageError
		te taskEnded
		ie interrupted
		p  *client.Problem
	)
	switch {
	case errors.As(err, &ue):
		return usage(env.Stderr, cmd, err)
	case errors.As(err, &te):
		fmt.Fprintf(env.Stderr, "calcgrid: %v\n", err)
		return ExitFailed
	case errors.As(err, &ie):
		fmt.Fprintf(env.Stderr, "calcgrid: %v\n", err)
		return ExitInterrupted
	case errors.As(err, &p):
		printProblem(env.Stderr, p)
		if errors.Is(err, client.ErrUnreachable) {
			return ExitUnreachable
		}
		return ExitFailed
	case errors.Is(err, client.ErrUnreachable):
		fmt.Fprintf(env.Stderr, "calcgrid: %v\n(set --endpoint or CALCGRID_ENDPOINT to the API's URL)\n", err)
		return ExitUnreachable
	default:
		fmt.Fprintf(env.Stderr, "calcgrid: %v\n", err)
		return ExitFailed
	}
}

func usage(w io.Writer, cmd *cobra.Command, err error) int {
	name := "calcgrid"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	fmt.Fprintf(w, "calcgrid: %v\nRun '%s --help' for usage.\n", err, name)
	return ExitUsage
}

// printProblem shows an API error as its title, detail and one line per
// invalid field; never the document itself.
func printProblem(w io.Writer, p *client.Problem) {
	fmt.Fprintf(w, "calcgrid: %s (HTTP %d)", p.Title, p.Status)
	if p.Detail != "" {
		fmt.Fprintf(w, ": %s", p.Detail)
	}
	fmt.Fprintln(w)
	for _, f := range p.Errors {
		fmt.Fprintf(w, "  %s: %s\n", f.Field, f.Message)
	}
	if p.RequestID != "" {
		fmt.Fprintf(w, "  (request id %s)\n", p.RequestID)
	}
}

// commandError marks an error returned by a command's own code, as opposed
// to cobra's parsing of the command line.
type commandError struct{ error }

func (e commandError) Unwrap() error { return e.error }

// usageError is a bad command line found by a command itself.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// taskEnded is a waited-for task that failed or was cancelled.
type taskEnded struct{ task client.Task }

func (e taskEnded) Error() string {
	if e.task.Error != "" {
		return fmt.Sprintf("task %s %s: %s", e.task.ID, e.task.State, e.task.Error)
	}
	return fmt.Sprintf("task %s %s", e.task.ID, e.task.State)
}

// interrupted is Ctrl-C while waiting, the task left running.
type interrupted struct{ id string }

func (e interrupted) Error() string {
	return fmt.Sprintf("stopped waiting; task %s keeps running (resume with: calcgrid wait %s)", e.id, e.id)
}
