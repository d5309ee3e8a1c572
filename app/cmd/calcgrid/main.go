// Command calcgrid is the whole application in one binary: the HTTP API,
// the worker and the dashboard are roles chosen by the first argument.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/calcgrid/calcgrid/app/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

var usage = `calcgrid runs CPU-heavy financial calculations as tasks on a Redis-backed queue.

Usage: calcgrid <command> [flags]

Commands:
  api       serve the HTTP API (submit, inspect, list, cancel tasks)
  worker    run tasks from the high, medium and low queues
  monitor   serve the asynqmon dashboard
  probe     GET a URL and exit 0 on a 2xx answer (container health checks)
  version   print the version

Client commands (against --endpoint or CALCGRID_ENDPOINT, default ` + cli.DefaultEndpoint + `):
` + cli.Summary() + `
Run "calcgrid <command> --help" for a command's flags and CALCGRID_* variables.
`

func main() {
	if len(os.Args) > 1 && cli.Handles(os.Args[1]) {
		// The client takes Ctrl-C itself: while waiting on a task it asks
		// whether to cancel it.
		os.Exit(cli.Main(os.Args[1:], version))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code: 0 on
// success, 1 on failure, 2 on a usage or configuration error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "api":
		err = runAPI(ctx, rest, getenv, stderr)
	case "worker":
		err = runWorker(ctx, rest, getenv, stderr)
	case "monitor":
		err = runMonitor(ctx, rest, getenv, stderr)
	case "probe":
		err = probe(ctx, rest, stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "calcgrid: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "calcgrid: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "calcgrid: %v\n", err)
		return 1
	}
}

// usageError is a bad command line or environment.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
