package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// benchEnv is the stack environment make bench applies
// (environments/bench.tfvars).
const benchEnv = "bench"

// stackDriver runs the stack driver (.bin/calcgrid-stack, built by the
// bootstrap): the one place that chooses the IaC binary, the workspace and
// the var-files.
func (b *bench) stackDriver(ctx context.Context, args ...string) (string, error) {
	log, err := os.OpenFile(filepath.Join(b.tmp, "stack.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	defer log.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(b.root, ".bin", "calcgrid-stack"), args...)
	cmd.Dir = b.root
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("calcgrid-stack %s: %w (see %s)", strings.Join(args, " "), err, log.Name())
	}
	fmt.Fprint(log, out.String())
	return strings.TrimSpace(out.String()), nil
}

// stack measures the submission path of the bench environment: through
// nginx to the three APIs, and straight to one API container on the app
// network, alternately, so that nginx's share shows.
func (b *bench) stack(ctx context.Context) error {
	fmt.Printf("  applying the %s environment (make up ENV=%s; minutes when its image is not built yet)\n", benchEnv, benchEnv)
	if _, err := b.stackDriver(ctx, "up", benchEnv); err != nil {
		return err
	}
	if !b.opts.keepStack {
		defer func() {
			// A fresh context: tear down even after Ctrl-C.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if _, err := b.stackDriver(ctx, "down", benchEnv); err == nil {
				_, _ = b.stackDriver(ctx, "destroy-data", benchEnv)
			}
		}()
	}
	endpoint, err := b.stackDriver(ctx, "output", benchEnv, "endpoint")
	if err != nil {
		return err
	}
	direct, err := apiContainerURL(ctx)
	if err != nil {
		return err
	}
	ids, err := enqueue(ctx, endpoint, noopBody, 2000, 16)
	if err != nil {
		return err
	}
	idsFile := filepath.Join(b.tmp, "stack-ids.txt")
	if err := writeLines(idsFile, ids); err != nil {
		return err
	}
	if _, err := terminal(ctx, endpoint, ids[len(ids)-1:], time.Minute); err != nil {
		return err
	}
	for _, m := range []metric{
		{Key: "stack_post16_direct", Title: "bench stack: `POST`, 16 conns, straight to one API container", Unit: "req/s", Higher: true},
		{Key: "stack_post16_nginx", Title: "bench stack: `POST`, 16 conns, through nginx (3 APIs)", Unit: "req/s", Higher: true},
		{Key: "stack_post16_share", Title: "bench stack: `POST` through nginx ÷ straight to one API", Unit: "×", Higher: true, GoalMin: 0.85},
		{Key: "stack_post16_nginx_p99", Title: "bench stack: `POST`, 16 conns, through nginx, p99", Unit: "ms", GoalMax: 5},
		{Key: "stack_get16_direct", Title: "bench stack: `GET`, 16 conns, straight to one API container", Unit: "req/s", Higher: true},
		{Key: "stack_get16_nginx", Title: "bench stack: `GET`, 16 conns, through nginx (3 APIs)", Unit: "req/s", Higher: true},
	} {
		b.res.define(m)
	}
	// As in the local rounds, the submission path alone: the stack's
	// workers would otherwise run what wrk submits on the same two cores.
	// The admin API pauses the queue (auth is off in this environment).
	if err := pauseQueue(ctx, endpoint, noopQueue, true); err != nil {
		return err
	}
	defer pauseQueue(context.WithoutCancel(ctx), endpoint, noopQueue, false)
	for r := range b.opts.rounds {
		urls := map[string]string{"direct": direct, "nginx": endpoint}
		order := []string{"direct", "nginx"}
		if r%2 == 1 {
			order = []string{"nginx", "direct"}
		}
		post := map[string]wrkResult{}
		for _, via := range order {
			p, err := wrk(ctx, b.root, b.tmp, "post", urls[via]+"/v1/tasks", 16, b.opts.wrkFor)
			if err != nil {
				return err
			}
			g, err := wrk(ctx, b.root, b.tmp, "get", urls[via], 16, b.opts.wrkFor, "BENCH_IDS="+idsFile)
			if err != nil {
				return err
			}
			post[via] = p
			b.res.add("stack_post16_"+via, "calcgrid", p.rate())
			b.res.add("stack_get16_"+via, "calcgrid", g.rate())
			fmt.Printf("  bench stack, %-6s POST %6.0f req/s (p99 %.1f ms), GET %6.0f req/s (p99 %.1f ms)\n", via,
				p.rate(), p.p99(), g.rate(), g.p99())
		}
		b.res.add("stack_post16_share", "calcgrid", post["nginx"].rate()/post["direct"].rate())
		b.res.add("stack_post16_nginx_p99", "calcgrid", post["nginx"].p99())
	}
	return nil
}

// pauseQueue pauses or resumes queue through the admin API.
func pauseQueue(ctx context.Context, base, queue string, paused bool) error {
	body := fmt.Sprintf(`{"paused":%t}`, paused)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, base+"/v1/admin/queues/"+queue, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("PATCH %s/v1/admin/queues/%s %s: %s: %s", base, queue, body, resp.Status, b)
	}
	return nil
}

// apiContainerURL is the first API container of the bench environment on
// its app network: a project container, reached from this host as nginx
// reaches it.
func apiContainerURL(ctx context.Context) (string, error) {
	name := "calcgrid-" + benchEnv + "-api-1"
	out, err := exec.CommandContext(ctx, "docker", "inspect", "--format",
		`{{range $n, $v := .NetworkSettings.Networks}}{{$n}} {{$v.IPAddress}}{{"\n"}}{{end}}`, name).Output()
	if err != nil {
		return "", fmt.Errorf("docker inspect %s: %w", name, err)
	}
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if net, ip, ok := strings.Cut(l, " "); ok && strings.HasSuffix(net, "-app") && ip != "" {
			return "http://" + ip + ":8080", nil
		}
	}
	return "", fmt.Errorf("%s has no address on the app network: %q", name, out)
}
