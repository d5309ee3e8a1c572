package monitor_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/calcgrid/calcgrid/app/internal/config"
)

// fillQueue puts a task of queue low in every state the dashboard shows
// and returns their ids by state.
func fillQueue(t *testing.T, redis config.Redis) map[string]string {
	t.Helper()
	c := asynq.NewClient(as(redis, "api"))
	defer c.Close()
	ids := map[string]string{}
	for state, opts := range map[string][]asynq.Option{
		"pending":   nil,
		"scheduled": {asynq.ProcessIn(time.Hour)},
	} {
		info, err := c.Enqueue(asynq.NewTask("diagnostic.noop", []byte("{}")), append(opts, asynq.Queue("low"))...)
		if err != nil {
			t.Fatal(err)
		}
		ids[state] = info.ID
	}
	return ids
}

// readPages are the dashboard's read-only calls (asynqmon v0.7.2's router):
// what the dashboard must show whether or not it may change anything.
func readPages(ids map[string]string) []request {
	var pages []request
	for _, path := range []string{
		"/api/queues", "/api/queues/low", "/api/queue_stats",
		"/api/queues/low/active_tasks", "/api/queues/low/pending_tasks", "/api/queues/low/scheduled_tasks",
		"/api/queues/low/retry_tasks", "/api/queues/low/archived_tasks", "/api/queues/low/completed_tasks",
		"/api/queues/low/groups", "/api/queues/low/groups/g/aggregating_tasks",
		"/api/queues/low/tasks/" + ids["pending"],
		"/api/servers", "/api/scheduler_entries", "/api/redis_info", "/metrics", "/healthz", "/",
	} {
		pages = append(pages, request{method: "GET", path: path, wantStatus: 200})
	}
	return pages
}

// TestDashboardAsReadOnlyUser: with monitor.readonly the stack's dashboard
// logs in with the read-only rules; every page still shows, and the Redis
// user itself cannot change a queue, whatever the dashboard lets through.
func TestDashboardAsReadOnlyUser(t *testing.T) {
	redis := startRedis(t, "monitor-readonly")
	ids := fillQueue(t, redis)
	base := startMonitor(t, config.Monitor{Redis: redis, ReadOnly: true})
	for _, rq := range readPages(ids) {
		t.Run(rq.method+rq.path, func(t *testing.T) { rq.do(t, base) })
	}

	in := asynq.NewInspector(as(redis, "monitor-readonly"))
	defer in.Close()
	for name, write := range map[string]func() error{
		"pause":  func() error { return in.PauseQueue("low") },
		"delete": func() error { return in.DeleteTask("low", ids["pending"]) },
		"run":    func() error { return in.RunTask("low", ids["scheduled"]) },
	} {
		if err := write(); !denied(err) {
			t.Errorf("%s as monitor-readonly: %v, want a permission error", name, err)
		}
	}
	info, err := asynq.NewInspector(as(redis, "admin")).GetQueueInfo("low")
	if err != nil {
		t.Fatal(err)
	}
	if info.Paused || info.Pending != 1 || info.Scheduled != 1 {
		t.Errorf("read-only user changed the queue: paused=%v pending=%d scheduled=%d", info.Paused, info.Pending, info.Scheduled)
	}
}

// TestDashboardAsReadWriteUser: without monitor.readonly the dashboard's
// user reads every page and pauses, resumes, runs, archives and deletes.
func TestDashboardAsReadWriteUser(t *testing.T) {
	redis := startRedis(t, "monitor")
	ids := fillQueue(t, redis)
	base := startMonitor(t, config.Monitor{Redis: redis})
	for _, rq := range readPages(ids) {
		t.Run(rq.method+rq.path, func(t *testing.T) { rq.do(t, base) })
	}
	for _, rq := range []request{
		{method: "POST", path: "/api/queues/low:pause", wantStatus: 204},
		{method: "POST", path: "/api/queues/low:resume", wantStatus: 204},
		{method: "POST", path: "/api/queues/low/scheduled_tasks/" + ids["scheduled"] + ":run", wantStatus: 204},
		{method: "POST", path: "/api/queues/low/pending_tasks/" + ids["pending"] + ":archive", wantStatus: 204},
		{method: "POST", path: "/api/queues/low/archived_tasks/" + ids["pending"] + ":run", wantStatus: 204},
		{method: "DELETE", path: "/api/queues/low/pending_tasks/" + ids["scheduled"], wantStatus: 204},
		{method: "DELETE", path: "/api/queues/low/pending_tasks:delete_all", wantStatus: 200},
		{method: "DELETE", path: "/api/queues/low", wantStatus: 204},
	} {
		t.Run(rq.method+rq.path, func(t *testing.T) { rq.do(t, base) })
	}
	queues, err := asynq.NewInspector(as(redis, "admin")).Queues()
	if err != nil || slices.Contains(queues, "low") {
		t.Errorf("queues after the dashboard deleted low: %v, %v", queues, err)
	}
}

// denied reports whether err is Redis refusing the user a command: NOPERM,
// or its wording when the command was called from a Lua script.
func denied(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "NOPERM") || strings.Contains(err.Error(), "can't run this command"))
}
