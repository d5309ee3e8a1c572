package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/calcgrid/calcgrid/app/internal/client"
)

// Environment variables read when the matching flag is not given.
const (
	envEndpoint = "CALCGRID_ENDPOINT"
	envAPIKey   = "CALCGRID_API_KEY"
)

// exitCodes ends the help of the commands that wait.
const exitCodes = "Exit codes: 0 success (submit --wait, wait: the task completed), 1 the task failed or was\n" +
	"cancelled, or the API refused the request, 2 usage error, 3 the API is unreachable,\n" +
	"130 Ctrl-C while waiting (the task keeps running)."

// maxPageSize is the API's largest list page.
const maxPageSize = 1000

// state is what the flags of the root command resolve to.
type state struct {
	env      Env
	endpoint string
	apiKey   string
	output   string
	api      *client.Client
}

func newRoot(st *state) *cobra.Command {
	root := &cobra.Command{
		Use:               "calcgrid",
		Short:             "calcgrid's command-line client",
		Long:              "Submit, follow, list and cancel calcgrid tasks over the HTTP API.\n\n" + exitCodes,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := st.resolve(cmd); err != nil {
				return commandError{err}
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&st.endpoint, "endpoint", DefaultEndpoint, "API base URL [$"+envEndpoint+"]")
	pf.StringVar(&st.apiKey, "api-key", "", "API key, sent as a bearer token [$"+envAPIKey+"]")
	pf.StringVarP(&st.output, "output", "o", "table", "output format: table or json")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	root.AddCommand(submitCmd(st), getCmd(st), waitCmd(st), cancelCmd(st), listCmd(st), queuesCmd(st), typesCmd(st))
	return root
}

// resolve applies the environment to flags not given and checks them.
func (st *state) resolve(cmd *cobra.Command) error {
	flags := cmd.Flags()
	if v := st.env.Getenv(envEndpoint); v != "" && !flags.Changed("endpoint") {
		st.endpoint = v
	}
	if v := st.env.Getenv(envAPIKey); v != "" && !flags.Changed("api-key") {
		st.apiKey = v
	}
	if st.output != "table" && st.output != "json" {
		return usagef("--output %q: want table or json", st.output)
	}
	api, err := client.New(st.endpoint, st.apiKey, "calcgrid-cli/"+st.env.Version)
	if err != nil {
		return usageError{err}
	}
	st.api = api
	return nil
}

// runE adapts a command's function, marking its errors as its own.
func runE(f func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := f(cmd.Context(), args); err != nil {
			return commandError{err}
		}
		return nil
	}
}

func submitCmd(st *state) *cobra.Command {
	var (
		sets     []string
		priority string
		key      string
		wait     bool
		cancel   bool
		maxRetry int
		timeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "submit TYPE [@FILE | - | JSON]",
		Short: "submit a task (--wait to follow it to the end)",
		Long: "Submit a task of TYPE (calcgrid types lists them). The payload is the JSON object in @FILE,\n" +
			"on standard input (-) or in the argument, with each --set field=value applied on top;\n" +
			"a value is JSON when it parses as JSON (numbers, true, arrays), else a string, and\n" +
			"dots set nested fields (--set barrier.level=120).\n\n" +
			"With --wait, a terminal shows a live bar with the task's progress, state and ETA, anything\n" +
			"else one line per change; Ctrl-C asks whether to cancel the task.\n\n" + exitCodes,
		Example: "  calcgrid submit option.price --set style=asian --set kind=call --set spot=100 --set strike=100 \\\n" +
			"      --set rate=0.05 --set volatility=0.2 --set maturity_years=1 --wait\n" +
			"  calcgrid submit portfolio.var @portfolio.json --priority high\n" +
			"  echo '{\"ms\": 2000}' | calcgrid submit diagnostic.sleep - --wait",
		Args: cobra.RangeArgs(1, 2),
	}
	f := cmd.Flags()
	f.StringArrayVar(&sets, "set", nil, "payload field=value (repeatable)")
	f.StringVar(&priority, "priority", "", "queue to run in: high, medium or low (default: the type's)")
	f.StringVar(&key, "idempotency-key", "", "submitting the same key again returns the existing task")
	f.IntVar(&maxRetry, "max-retry", 0, "retries after a failed attempt, 0 to 5 (default: the type's)")
	f.DurationVar(&timeout, "timeout", 0, "time one attempt may run, whole seconds, at most the type's (default: the type's)")
	f.BoolVar(&wait, "wait", false, "follow the task until it ends; exit 0 only if it completed")
	f.BoolVar(&cancel, "cancel-on-interrupt", false, "with --wait: Ctrl-C cancels the task without asking")
	cmd.RunE = runE(func(ctx context.Context, args []string) error {
		if cancel && !wait {
			return usagef("--cancel-on-interrupt applies with --wait only")
		}
		if f.Changed("idempotency-key") && key == "" {
			return usagef("--idempotency-key must not be empty")
		}
		source := ""
		if len(args) == 2 {
			source = args[1]
		}
		payload, err := buildPayload(source, sets, st.env.Stdin)
		if err != nil {
			return err
		}
		sub := client.Submission{Type: args[0], Payload: payload, IdempotencyKey: key}
		if f.Changed("priority") {
			sub.Priority = &priority
		}
		if f.Changed("max-retry") {
			sub.MaxRetry = &maxRetry
		}
		if f.Changed("timeout") {
			if timeout%time.Second != 0 {
				return usagef("--timeout %s: want whole seconds", timeout)
			}
			sub.TimeoutS = new(int(timeout / time.Second))
		}
		t, created, err := st.api.Submit(ctx, sub)
		if err != nil {
			return err
		}
		if !created {
			fmt.Fprintf(st.env.Stderr, "task %s already exists for this idempotency key; not submitted again\n", t.ID)
		}
		if !wait {
			return st.printTask(t)
		}
		return st.follow(ctx, t, cancel)
	})
	return cmd
}

func getCmd(st *state) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "show a task: state, progress, result or error",
		Args:  cobra.ExactArgs(1),
		RunE: runE(func(ctx context.Context, args []string) error {
			if err := checkID(args[0]); err != nil {
				return err
			}
			t, err := st.api.Get(ctx, args[0])
			if err != nil {
				return err
			}
			return st.printTask(t)
		}),
	}
}

func waitCmd(st *state) *cobra.Command {
	var cancel bool
	cmd := &cobra.Command{
		Use:   "wait ID",
		Short: "follow a task until it ends; exit 0 only if it completed",
		Long: "Follow task ID until it completes, fails or is cancelled: a live bar with its progress,\n" +
			"state and ETA on a terminal, else one line per change. Ctrl-C asks whether to cancel it.\n\n" + exitCodes,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().BoolVar(&cancel, "cancel-on-interrupt", false, "Ctrl-C cancels the task without asking")
	cmd.RunE = runE(func(ctx context.Context, args []string) error {
		if err := checkID(args[0]); err != nil {
			return err
		}
		t, err := st.api.Get(ctx, args[0])
		if err != nil {
			return err
		}
		return st.follow(ctx, t, cancel)
	})
	return cmd
}

// follow waits for t, prints it and fails unless it completed.
func (st *state) follow(ctx context.Context, t client.Task, cancelOnInterrupt bool) error {
	w := &waiter{api: st.api, env: st.env, cancelOnInterrupt: cancelOnInterrupt}
	t, err := w.wait(ctx, t)
	if err != nil {
		return err
	}
	if err := st.printTask(t); err != nil {
		return err
	}
	if t.State != client.StateCompleted {
		return taskEnded{t}
	}
	return nil
}

func cancelCmd(st *state) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "cancel a pending or running task",
		Args:  cobra.ExactArgs(1),
		RunE: runE(func(ctx context.Context, args []string) error {
			if err := checkID(args[0]); err != nil {
				return err
			}
			t, err := st.api.Cancel(ctx, args[0])
			if err != nil {
				return err
			}
			if !t.State.Finished() {
				fmt.Fprintf(st.env.Stderr, "task %s is being stopped; it ends cancelled shortly (calcgrid wait %s)\n", t.ID, t.ID)
			}
			return st.printTask(t)
		}),
	}
}

func listCmd(st *state) *cobra.Command {
	var (
		stateFilter, queue string
		pageSize, limit    int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "list tasks, newest first (every page)",
		Args:  cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&stateFilter, "state", "", "only tasks in this state: pending, scheduled, active, retry, completed, failed or cancelled")
	f.StringVar(&queue, "queue", "", "only tasks in this queue: high, medium or low")
	f.IntVar(&limit, "limit", 0, "at most this many tasks (0: all)")
	f.IntVar(&pageSize, "page-size", 100, fmt.Sprintf("tasks per request, 1 to %d", maxPageSize))
	cmd.RunE = runE(func(ctx context.Context, _ []string) error {
		if pageSize < 1 || pageSize > maxPageSize {
			return usagef("--page-size %d: want 1 to %d", pageSize, maxPageSize)
		}
		if limit < 0 {
			return usagef("--limit %d: want 0 (all) or more", limit)
		}
		var all []client.Task
		at := map[string]int{} // index in all by id
		o := client.ListOptions{State: client.State(stateFilter), Queue: queue, Limit: pageSize}
		for {
			page, err := st.api.List(ctx, o)
			if err != nil {
				return err
			}
			// A task that changes state between two pages can be listed
			// twice (the API pages through one state's list after another):
			// keep its first place and its latest record.
			for _, t := range page.Tasks {
				if i, seen := at[t.ID]; seen {
					all[i] = t
					continue
				}
				at[t.ID] = len(all)
				all = append(all, t)
			}
			if page.NextCursor == "" || (limit > 0 && len(all) >= limit) {
				break
			}
			o.Cursor = page.NextCursor
		}
		if limit > 0 && len(all) > limit {
			all = all[:limit] // a cursor keeps the first request's page size
		}
		return st.printTasks(all)
	})
	return cmd
}

func queuesCmd(st *state) *cobra.Command {
	return &cobra.Command{
		Use:   "queues",
		Short: "show each queue's depth, throughput and latency",
		Args:  cobra.NoArgs,
		RunE: runE(func(ctx context.Context, _ []string) error {
			qs, err := st.api.Queues(ctx)
			if err != nil {
				return err
			}
			return st.printQueues(qs)
		}),
	}
}

func typesCmd(st *state) *cobra.Command {
	return &cobra.Command{
		Use:   "types [TYPE]",
		Short: "list the task types, or show one type's payload fields",
		Args:  cobra.MaximumNArgs(1),
		RunE: runE(func(ctx context.Context, args []string) error {
			types, err := st.api.TaskTypes(ctx)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				return st.printTypes(types)
			}
			i := slices.IndexFunc(types, func(t client.TaskType) bool { return t.Name == args[0] })
			if i < 0 {
				names := make([]string, len(types))
				for i, t := range types {
					names[i] = t.Name
				}
				return fmt.Errorf("unknown task type %q (known: %s)", args[0], strings.Join(names, ", "))
			}
			return st.printType(types[i])
		}),
	}
}

func checkID(id string) error {
	if strings.TrimSpace(id) == "" {
		return usagef("the task ID must not be empty")
	}
	return nil
}
