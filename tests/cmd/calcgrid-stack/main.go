// Command calcgrid-stack is the Makefile's entry to the stack driver
// (package stack): `make up`, `down`, `status`, `logs`, `promote`,
// `destroy-data`, `test-modules`, `test-stack` and the bootstrap's record.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/calcgrid/calcgrid/tests/stack"
)

const usage = `usage: calcgrid-stack COMMAND [ARGS]

  up ENV                 apply ENV (workspace ENV, environments/ENV.tfvars), wait for health
  down ENV               destroy ENV's containers and networks; the Redis volume stays
  destroy-data ENV       delete ENV's Redis volume (after down)
  status ENV             containers, health, endpoints
  output ENV NAME        print one output of ENV's root module (endpoint, app_image, ...)
  logs ENV [ROLE]        follow logs (api|worker|redis|loadbalancer|monitor)
  promote FROM TO        run FROM's app image ID in TO, without a rebuild
  test-modules           test every module with mocked providers
  validate               validate every module and the root module
  test-stack [REGEX]     the terratest suite; REGEX picks scenarios (default: all)
  tf DIR ARGS...         the bootstrap's terraform/tofu in DIR (relative to the root)
  tf-binary              print the path of the bootstrap's terraform/tofu (for the
                         provider's acceptance tests and docs: TF_ACC_TERRAFORM_PATH)
  prereqs [-for up|test|bench] [-install]
                         the distribution's programs calcgrid needs: found, missing, will
                         install; -install installs them (root with apt-get) or fails at once
                         with the command to run
  official-images        the root module's pinned base images, as KEY=IMAGE lines
  record-bootstrap ...   (bootstrap.sh) record its decisions in .cache/bootstrap.json
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	var usageErr usageError
	switch {
	case errors.As(err, &usageErr):
		fmt.Fprintf(os.Stderr, "calcgrid-stack: %v\n\n%s", err, usage)
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "calcgrid-stack: %v\n", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{errors.New("missing command")}
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := stack.FindRoot(wd)
	if err != nil {
		return err
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "official-images":
		images, err := stack.OfficialImages(root)
		if err != nil {
			return err
		}
		for _, k := range stack.ImageVariables() {
			fmt.Printf("%s=%s\n", k, images[k])
		}
		return nil
	case "record-bootstrap":
		return recordBootstrap(root, args)
	case "tf-binary":
		b, err := stack.LoadBootstrap(root)
		if err != nil {
			return err
		}
		fmt.Println(b.TFBinary)
		return nil
	case "prereqs":
		return prereqs(ctx, root, args)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return nil
	}

	repo, err := stack.Open(root)
	if err != nil {
		return err
	}
	env := func(i int) (*stack.Env, error) {
		if i >= len(args) {
			return repo.Env("")
		}
		return repo.Env(args[i])
	}
	start := time.Now()
	// The commands of one environment, named by the first argument.
	perEnv := map[string]func(e *stack.Env) error{
		"up": func(e *stack.Env) error {
			if err := e.Up(ctx); err != nil {
				return err
			}
			return printEndpoints(ctx, e, repo, start)
		},
		"down": func(e *stack.Env) error {
			if err := e.Down(ctx); err != nil {
				return err
			}
			fmt.Printf("%s is down in %s (the Redis volume stays; make destroy-data ENV=%s deletes it)\n", e.Name, time.Since(start).Round(time.Second), e.Name)
			return nil
		},
		"destroy-data": func(e *stack.Env) error { return e.DestroyData(ctx) },
		"output": func(e *stack.Env) error {
			if len(args) != 2 {
				return usageError{errors.New("output takes ENV and the output's name")}
			}
			v, err := e.Output(ctx, args[1])
			if err != nil {
				return err
			}
			fmt.Println(v)
			return nil
		},
		"status": func(e *stack.Env) error { return e.Status(ctx) },
		"logs": func(e *stack.Env) error {
			role := ""
			if len(args) > 1 {
				role = args[1]
			}
			return e.Logs(ctx, role)
		},
	}
	if f, ok := perEnv[cmd]; ok {
		e, err := env(0)
		if err != nil {
			return err
		}
		return f(e)
	}
	switch cmd {
	case "promote":
		if len(args) != 2 {
			return usageError{errors.New("promote takes FROM and TO")}
		}
		from, err := env(0)
		if err != nil {
			return err
		}
		to, err := env(1)
		if err != nil {
			return err
		}
		if err := to.Promote(ctx, from); err != nil {
			return err
		}
		return printEndpoints(ctx, to, repo, start)
	case "test-modules":
		return repo.TestModules(ctx)
	case "validate":
		return repo.Validate(ctx)
	case "test-stack":
		run := "" // the suite's default: every scenario
		if len(args) > 0 {
			run = args[0]
		}
		return repo.TestStack(ctx, run)
	case "tf":
		if len(args) < 1 {
			return usageError{errors.New("tf takes DIR and the arguments")}
		}
		return repo.TF(ctx, args[0], "", args[1:]...)
	}
	return usageError{fmt.Errorf("unknown command %q", cmd)}
}

func printEndpoints(ctx context.Context, e *stack.Env, repo *stack.Repo, start time.Time) error {
	bearer := "" // curl's key, where the API requires one
	if e.HasControl() {
		bearer = ` -H "Authorization: Bearer $CALCGRID_API_KEY"`
	}
	out := map[string]string{}
	for _, name := range []string{"endpoint", "monitor_url", "monitor_user", "prometheus_url", "app_image"} {
		v, err := e.Output(ctx, name)
		if err != nil {
			return err
		}
		out[name] = v
	}
	fmt.Printf(`
%s is up in %s
  endpoint     %s
  monitor      %s   (user %s; password:
               TF_WORKSPACE=%s %s -chdir=terraform output -raw monitor_password)
  prometheus   %s   (alerts: /alerts, targets: /targets)
  app image    %s

%s
  try (the CLI is .bin/calcgrid):
    .bin/calcgrid submit option.price --endpoint %s --wait \
      --set style=asian --set kind=call --set spot=100 --set strike=100 \
      --set rate=0.05 --set volatility=0.2 --set maturity_years=1
    curl -s %s%s/v1/queues
`, e.Name, time.Since(start).Round(time.Second), out["endpoint"], out["monitor_url"], out["monitor_user"],
		e.Name, filepath.Base(repo.Boot.TFBinary), out["prometheus_url"], out["app_image"], keys(e, repo),
		out["endpoint"], bearer, out["endpoint"])
	return nil
}

// keys says where an authenticating environment's API keys are: the CLI
// and curl below send CALCGRID_API_KEY.
func keys(e *stack.Env, repo *stack.Repo) string {
	if !e.HasControl() {
		return ""
	}
	return fmt.Sprintf(`  API keys     every request needs one (environments/control/%s.tfvars declares them):
    export CALCGRID_API_KEY=$(TF_WORKSPACE=%s %s -chdir=terraform/control output -json api_keys | jq -r '.["<name>"].secret')
`, e.Name, e.Name, filepath.Base(repo.Boot.TFBinary))
}

// recordBootstrap writes .cache/bootstrap.json from bootstrap.sh's findings.
func recordBootstrap(root string, args []string) error {
	fs := flag.NewFlagSet("record-bootstrap", flag.ContinueOnError)
	var b stack.Bootstrap
	fs.StringVar(&b.TFBinary, "tf-binary", "", "absolute path of terraform or tofu")
	fs.StringVar(&b.CLIConfig, "cli-config", "", "CLI configuration pointing at the provider mirror (empty: the registry answers)")
	fs.StringVar(&b.GoProxy, "go-proxy", "", "GOPROXY for the app image build")
	fs.StringVar(&b.GoFlags, "go-flags", "", "GOFLAGS for the app image build")
	b.Images = map[string]string{}
	fs.Func("image", "KEY=IMAGE, once per base-image variable", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" || v == "" {
			return fmt.Errorf("want KEY=IMAGE, got %q", s)
		}
		b.Images[k] = v
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if !filepath.IsAbs(b.TFBinary) {
		return usageError{fmt.Errorf("-tf-binary must be an absolute path, got %q", b.TFBinary)}
	}
	for _, k := range stack.ImageVariables() {
		if b.Images[k] == "" {
			return usageError{fmt.Errorf("missing -image %s=IMAGE", k)}
		}
	}
	return b.Write(root)
}

func prereqs(ctx context.Context, root string, args []string) error {
	fs := flag.NewFlagSet("prereqs", flag.ContinueOnError)
	purpose := fs.String("for", string(stack.ForUp), "up (make up), test (make test) or bench (make bench)")
	install := fs.Bool("install", false, "install what is missing, or fail with the command to run")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if p := stack.Purpose(*purpose); p != stack.ForUp && p != stack.ForTest && p != stack.ForBench {
		return usageError{fmt.Errorf("-for must be up, test or bench, got %q", *purpose)}
	}
	airgap, err := stack.NeedsAirgapBase(ctx, root)
	if err != nil {
		return err
	}
	m := stack.Machine{Purpose: stack.Purpose(*purpose), LookPath: exec.LookPath, Root: os.Geteuid() == 0, AirgapImages: airgap,
		PyImport: func(module string) bool {
			// The interpreter the baseline runs with (bench/baseline/python).
			return exec.CommandContext(ctx, filepath.Join(root, "bench", "baseline", "python"), "-c", "import "+module).Run() == nil
		}}
	// A hosted CI runner is not root but has passwordless sudo.
	m.Sudo = !m.Root && exec.CommandContext(ctx, "sudo", "-n", "true").Run() == nil
	if *install {
		return stack.EnsurePrereqs(ctx, m, os.Stdout)
	}
	states := stack.CheckPrereqs(m)
	for _, s := range states {
		name := s.Command
		if s.Module != "" {
			name += " " + s.Module
		}
		fmt.Printf("%-18s %s (%s)\n", name, s.Status(m), s.Why)
	}
	if missing := stack.Missing(states); len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return nil
}
