package tests

// Browser checks: headless Chromium, driven through the DevTools protocol by
// chromedp, looks at the asynqmon dashboard and at Prometheus the way an
// operator would, and keeps a full-page screenshot of every page it checked
// under .cache/artifacts/. The checks take URLs, so a stack scenario (or any
// other caller) decides what they point at.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

const (
	// browserTimeout bounds the whole browser session of one test: when it
	// ends, the browser stops and every pending check fails.
	browserTimeout = 4 * time.Minute
	// pageTimeout bounds one wait on one page. asynqmon refreshes its data
	// every 8 s by default, so this leaves room for a few refreshes.
	pageTimeout = 45 * time.Second
	// browserWidth, browserHeight is the window, hence the screenshots' width.
	browserWidth, browserHeight = 1400, 1000
)

// browserCommands are the names Chromium goes by, in the order tried.
var browserCommands = []string{"chromium", "chromium-browser", "google-chrome"}

// newBrowser starts a headless Chromium for t and returns its chromedp
// context. The browser stops when t ends (t.Cleanup) or after
// browserTimeout, whichever comes first. A machine without Chromium fails the
// test: a check that cannot run has not passed.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range browserCommands {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatalf("no Chromium on PATH (looked for %s): the browser checks need it; install it with `apt-get install chromium` (make test's bootstrap does)",
			strings.Join(browserCommands, ", "))
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(browserWidth, browserHeight),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to start its sandbox as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	timeoutCtx, cancelTimeout := context.WithTimeout(context.Background(), browserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(timeoutCtx, opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close the browser gracefully, then make sure everything is gone.
		closeCtx, cancelClose := context.WithTimeout(ctx, 10*time.Second)
		if err := chromedp.Cancel(closeCtx); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("closing %s: %v", path, err)
		}
		cancelClose()
		cancel()
		cancelAlloc()
		cancelTimeout()
	})
	// The first Run starts the browser; its lifetime is that of timeoutCtx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// artifactDir is <repo root>/.cache/artifacts (git-ignored), created if
// need be; screenshots are kept there after the test.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), ".cache", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifact dir: %v", err)
	}
	return dir
}

// scenarioName names t's artifacts: the test's name without the top-level
// test (TestStack/dashboard gives "dashboard"), made safe for a file name.
func scenarioName(t *testing.T) string {
	name := t.Name()
	if _, sub, ok := strings.Cut(name, "/"); ok {
		name = sub
	}
	return unsafeFileChars.ReplaceAllString(name, "_")
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// screenshot saves a full-page PNG of the current page as
// <artifactDir>/<scenario>-<page>.png and logs its path.
func screenshot(t *testing.T, ctx context.Context, page string) error {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("screenshot of %s: %w", page, err)
	}
	path := filepath.Join(artifactDir(t), scenarioName(t)+"-"+page+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("screenshot of %s: %w", page, err)
	}
	t.Logf("screenshot of %s: %s", page, path)
	return nil
}

// shotOrFail saves the page's screenshot, then fails t with the message:
// what the page looked like when the check gave up is the best evidence.
func shotOrFail(t *testing.T, ctx context.Context, page, format string, args ...any) {
	t.Helper()
	if err := screenshot(t, ctx, page); err != nil {
		t.Log(err)
	}
	t.Fatalf(format, args...)
}

// waitPage polls the page's JavaScript function fn with args until it
// returns a truthy value (its result) or pageTimeout passes.
func waitPage[T any](ctx context.Context, fn string, args ...any) (T, error) {
	wctx, cancel := context.WithTimeout(ctx, pageTimeout+5*time.Second)
	defer cancel()
	return chromedp.Run(wctx, chromedp.PollFunction[T](fn,
		chromedp.WithPollingArgs(args...),
		chromedp.WithPollingInterval(250*time.Millisecond),
		chromedp.WithPollingTimeout(pageTimeout)))
}

// navigate opens u and waits for its load event.
func navigate(t *testing.T, ctx context.Context, u string) {
	t.Helper()
	nctx, cancel := context.WithTimeout(ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(nctx, chromedp.Navigate(u)); err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
}

// pageText is the start of the page's visible text, for failure messages.
func pageText(ctx context.Context) string {
	ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ectx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(page text unavailable: " + err.Error() + ")"
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// queues are calcgrid's queues, highest priority first: the dashboard must
// always list them.
var queues = []string{"high", "medium", "low"}

// asynqmonStatus maps a task state to asynqmon's status of a queue's task
// list (its ?status= values, ui/src/views/TasksView.tsx validStatus):
// calcgrid's API states failed and cancelled are both asynq's "archived"
// (taskstore stateOf); the other calcgrid states carry asynq's names.
func asynqmonStatus(state string) (string, bool) {
	switch state {
	case "failed", "cancelled":
		return "archived", true
	case "active", "pending", "aggregating", "scheduled", "retry", "archived", "completed":
		return state, true
	}
	return "", false
}

// readQueueSizes reads asynqmon's queues table: queue name to the text of
// its "Size" column; null until the table and that column are there.
const readQueueSizes = `function() {
	const table = document.querySelector('table[aria-label="queues overview table"]');
	if (!table) return null;
	const heads = Array.from(table.querySelectorAll('thead th')).map(th => th.innerText.trim());
	const col = heads.indexOf('Size');
	if (col < 0) return null;
	const out = {};
	for (const tr of table.querySelectorAll('tbody tr')) {
		if (tr.cells.length <= col) continue;
		out[tr.cells[0].innerText.trim()] = tr.cells[col].innerText.trim();
	}
	return out;
}`

// checkDashboard checks the asynqmon dashboard at dashboardURL (its root,
// as `calcgrid monitor` serves it) as a signed-in operator sees it. Every
// request, the UI's XHRs included, carries `Authorization: Basic` for
// user:password (network.SetExtraHTTPHeaders; credentials in a URL do not
// reach XHRs); an empty user sends none.
//
//  1. Queues page (/): the queues table lists high, medium and low, and for
//     every queue in want its "Size" column equals want[queue]. asynqmon lists
//     only the queues asynq knows (the set asynq:queues, to which a queue is
//     added by its first enqueue), so each of the three must have had a task
//     since Redis was last emptied. Size is asynq's QueueInfo.Size; asynq
//     v0.26 computes it as pending + active + scheduled + retry + archived +
//     completed (+ aggregating, which calcgrid does not use). In terms of calcgrid's GET /v1/queues that is pending + active +
//     scheduled + retry + failed + completed: completed tasks still retained
//     count. The check waits (up to pageTimeout, through the dashboard's own
//     refreshes) until the page shows exactly these figures. Screenshot
//     "queues".
//  2. Task list (/queues/<queue>?status=<status>): the list of the task's
//     queue in taskState shows the task. taskState is asynqmon's status
//     (active, pending, scheduled, retry, archived, completed, aggregating)
//     or calcgrid's API state (failed and cancelled mean archived). The
//     task's queue is the one whose asynqmon API (/api/queues/<q>/tasks/<id>)
//     knows taskID. asynqmon's lists show only the part of the id before its
//     first "-" (uuidPrefix), so the check waits until the list's status
//     chip is the selected one and a row's id cell shows exactly that prefix.
//     Screenshot "tasks-<status>".
//  3. Task page (/queues/<queue>/tasks/<id>): shows the full id and state
//     <status>. Screenshot "task".
func checkDashboard(t *testing.T, ctx context.Context, dashboardURL, user, password string, want map[string]int, taskID, taskState string) {
	t.Helper()
	base := strings.TrimRight(dashboardURL, "/")
	status, ok := asynqmonStatus(taskState)
	if !ok {
		t.Fatalf("checkDashboard: task state %q has no asynqmon task list", taskState)
	}
	if user != "" {
		auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
		if err := setExtraHeaders(ctx, network.Headers{"Authorization": auth}); err != nil {
			t.Fatalf("set the Authorization header: %v", err)
		}
		// The tab goes on to other sites (Prometheus): not with these credentials.
		defer func() {
			if err := setExtraHeaders(ctx, network.Headers{}); err != nil {
				t.Errorf("clear the Authorization header: %v", err)
			}
		}()
	}

	// 1. The queues table.
	start := time.Now()
	navigate(t, ctx, base+"/")
	wctx, cancel := context.WithTimeout(ctx, pageTimeout)
	err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(`table[aria-label="queues overview table"] tbody tr`)))
	cancel()
	if err != nil {
		shotOrFail(t, ctx, "queues", "dashboard %s: no queues table within %s: %v\npage: %s", base+"/", pageTimeout, err, pageText(ctx))
	}
	wantText := map[string]string{}
	for _, q := range queues {
		wantText[q] = "" // must be listed, any size
	}
	for q, n := range want {
		wantText[q] = strconv.Itoa(n)
	}
	matches := `function(want) {
		const got = (` + readQueueSizes + `)();
		if (!got) return null;
		for (const [q, n] of Object.entries(want)) {
			if (!(q in got) || (n !== "" && got[q] !== n)) return null;
		}
		return got;
	}`
	got, err := waitPage[map[string]string](ctx, matches, wantText)
	if err != nil {
		seen, _ := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`(`+readQueueSizes+`)()`))
		shotOrFail(t, ctx, "queues", "dashboard queues table: Size column %v, want %v (high, medium and low listed) within %s: %v",
			seen, want, pageTimeout, err)
	}
	t.Logf("dashboard queues page: Size column %v as wanted (%s)", got, time.Since(start).Round(time.Millisecond))
	if err := screenshot(t, ctx, "queues"); err != nil {
		t.Error(err)
	}

	// 2. The task in its queue's list of that state.
	start = time.Now()
	queue, apiState := findTaskQueue(t, base, user, password, taskID, want)
	listURL := base + "/queues/" + url.PathEscape(queue) + "?status=" + url.QueryEscape(status)
	prefix, _, _ := strings.Cut(taskID, "-")
	label := strings.ToUpper(status[:1]) + status[1:]
	navigate(t, ctx, listURL)
	listed := `function(prefix, label) {
		const chip = Array.from(document.querySelectorAll('.MuiChip-colorPrimary'))
			.find(c => c.innerText.trim().startsWith(label));
		if (!chip) return false;
		return Array.from(document.querySelectorAll('tbody th[scope="row"]'))
			.some(th => th.innerText.trim() === prefix);
	}`
	_, err = waitPage[bool](ctx, listed, prefix, label)
	page := "tasks-" + status
	if err != nil {
		shotOrFail(t, ctx, page, "dashboard %s: task %s (shown as %s; asynqmon API says state %q) not listed under %s within %s: %v\npage: %s",
			listURL, taskID, prefix, apiState, label, pageTimeout, err, pageText(ctx))
	}
	t.Logf("dashboard %s lists task %s as %s (%s)", listURL, taskID, prefix, time.Since(start).Round(time.Millisecond))
	if err := screenshot(t, ctx, page); err != nil {
		t.Error(err)
	}

	// 3. The task's own page: the full id and the state.
	start = time.Now()
	taskURL := base + "/queues/" + url.PathEscape(queue) + "/tasks/" + url.PathEscape(taskID)
	navigate(t, ctx, taskURL)
	shown := `function(id, state) {
		const value = key => {
			const row = Array.from(document.querySelectorAll('div'))
				.find(d => d.children.length === 2 && d.children[0].innerText.trim() === key);
			return row ? row.children[1].innerText.trim() : null;
		};
		return value('ID:') === id && value('State:') === state;
	}`
	_, err = waitPage[bool](ctx, shown, taskID, status)
	if err != nil {
		shotOrFail(t, ctx, "task", "dashboard %s: no ID %s with State %s within %s: %v\npage: %s",
			taskURL, taskID, status, pageTimeout, err, pageText(ctx))
	}
	t.Logf("dashboard %s shows task %s %s (%s)", taskURL, taskID, status, time.Since(start).Round(time.Millisecond))
	if err := screenshot(t, ctx, "task"); err != nil {
		t.Error(err)
	}
}

// setExtraHeaders makes every later request of the tab, XHRs included,
// carry headers (and only these extra ones).
func setExtraHeaders(ctx context.Context, headers network.Headers) error {
	return chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: headers})
		return err
	}))
}

// findTaskQueue asks asynqmon's API (GET /api/queues/<q>/tasks/<id>) which
// of the queues (high, medium, low and those of want) holds the task, and
// returns that queue and the state asynqmon reports.
func findTaskQueue(t *testing.T, base, user, password, taskID string, want map[string]int) (queue, state string) {
	t.Helper()
	names := slices.Clone(queues)
	for q := range want {
		if !slices.Contains(names, q) {
			names = append(names, q)
		}
	}
	var tried []string
	for _, q := range names {
		u := base + "/api/queues/" + url.PathEscape(q) + "/tasks/" + url.PathEscape(taskID)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		var info struct {
			Queue string `json:"queue"`
			State string `json:"state"`
		}
		err = json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && err == nil {
			return q, info.State
		}
		tried = append(tried, fmt.Sprintf("%s: %d", q, resp.StatusCode))
	}
	t.Fatalf("dashboard API: no queue holds task %s (%s)", taskID, strings.Join(tried, ", "))
	return "", ""
}

// metricName is the metric an expression starts with.
var metricName = regexp.MustCompile(`^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:$|[{\[\s])`)

// checkPrometheusGraph opens Prometheus's expression browser at
// <prometheusURL>/graph?g0.expr=<expr>&g0.tab=1 (the table tab of the React
// UI of v2.x, the console tab of the classic UI to which Debian's 2.42
// redirects) and waits until the results table shows at least one series of
// expr: a table cell containing the metric name expr starts with followed by
// "{". expr must therefore keep the metric name in its result (a selector,
// optionally with a comparison filter); an aggregation or a function drops
// it. Screenshot "prometheus".
func checkPrometheusGraph(t *testing.T, ctx context.Context, prometheusURL, expr string) {
	t.Helper()
	m := metricName.FindStringSubmatch(expr)
	if m == nil {
		t.Fatalf("checkPrometheusGraph: %q does not start with a metric name", expr)
	}
	name := m[1]
	start := time.Now()
	u := strings.TrimRight(prometheusURL, "/") + "/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1"
	navigate(t, ctx, u)
	series := `function(prefix) {
		return Array.from(document.querySelectorAll('td'))
			.some(td => td.innerText.includes(prefix));
	}`
	_, err := waitPage[bool](ctx, series, name+"{")
	if err != nil {
		shotOrFail(t, ctx, "prometheus", "Prometheus %s: no series %s{…} within %s: %v\npage: %s", u, name, pageTimeout, err, pageText(ctx))
	}
	t.Logf("Prometheus %s shows series of %s (%s)", u, expr, time.Since(start).Round(time.Millisecond))
	if err := screenshot(t, ctx, "prometheus"); err != nil {
		t.Error(err)
	}
}
