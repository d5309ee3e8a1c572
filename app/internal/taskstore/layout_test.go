package taskstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/calcgrid/calcgrid/app/internal/redistest"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

const layoutType = "layout.t"

// newWorkerStore is newTestStore with the store logged in as the stack's
// worker user, the rdb as admin (to set up and inspect).
func newWorkerStore(t *testing.T, r Retention) (*Store, *redis.Client) {
	t.Helper()
	srv := redistest.StartACL(t)
	w := redis.NewClient(srv.Login("worker"))
	t.Cleanup(func() { w.Close() })
	return New(w, r), srv.Client()
}

func newTestStore(t *testing.T, r Retention) (*Store, *redis.Client) {
	t.Helper()
	srv := redistest.Start(t)
	rdb := srv.Client()
	return New(rdb, r), rdb
}

func layoutSubmission(key, queue string) Submission {
	return Submission{Type: layoutType, Payload: []byte(`{"p":1}`), Submitted: []byte(`{}`), Queue: queue,
		MaxRetry: 3, Timeout: 30 * time.Second, Key: key, RequestID: "req-" + key}
}

func hkeys(t *testing.T, rdb *redis.Client, key string) []string {
	t.Helper()
	k, err := rdb.HKeys(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(k)
	return k
}

// TestAsynqLayout pins what calcgrid's scripts assume of asynq v0.26.0's
// Redis layout: a task written by submitScript is what asynq's own client
// writes (the same message bytes, the same hash fields, list and set), asynq
// reads it back and runs it, cancelScript archives as asynq's Inspector
// does, and the zset scores the janitor reads mean what it assumes.
func TestAsynqLayout(t *testing.T) {
	const queue = tasks.QueueMedium
	s, rdb := newTestStore(t, Retention{Completed: 90 * time.Second, Failed: time.Hour, Cancelled: time.Hour})
	ctx := t.Context()
	client := asynq.NewClientFromRedisClient(rdb)
	inspector := asynq.NewInspectorFromRedisClient(rdb)

	// The message: byte for byte what asynq's client encodes.
	sub := layoutSubmission("ours", queue)
	mine, created, err := s.Submit(ctx, sub, 100)
	if err != nil || !created {
		t.Fatalf("Submit: %v (created %v)", err, created)
	}
	twin := "asynq-" + mine.ID
	if _, err := client.EnqueueContext(ctx, asynq.NewTaskWithHeaders(layoutType, nil, map[string]string{fRequestID: sub.RequestID}),
		asynq.TaskID(twin), asynq.Queue(queue), asynq.MaxRetry(sub.MaxRetry),
		asynq.Timeout(sub.Timeout+TimeoutGrace), asynq.Retention(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	theirs, err := rdb.HGet(ctx, asynqTaskKey(queue, twin), "msg").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := asynqMessage{Type: layoutType, ID: twin, Queue: queue, Headers: map[string]string{fRequestID: sub.RequestID},
		Retry: sub.MaxRetry, Timeout: sub.Timeout + TimeoutGrace, Retention: 90 * time.Second}.encode()
	if !bytes.Equal(want, theirs) {
		t.Errorf("encoded TaskMessage differs from asynq's:\n ours   %x\n asynq's %x", want, theirs)
	}

	// The records: the same hash fields, the pending list, the queue set.
	if a, b := hkeys(t, rdb, asynqTaskKey(queue, mine.ID)), hkeys(t, rdb, asynqTaskKey(queue, twin)); !slices.Equal(a, b) {
		t.Errorf("task hash fields %v, asynq writes %v", a, b)
	}
	if ids, _ := rdb.LRange(ctx, asynqPending(queue), 0, -1).Result(); !slices.Contains(ids, mine.ID) || !slices.Contains(ids, twin) {
		t.Errorf("%s holds %v, want both tasks", asynqPending(queue), ids)
	}
	if ok, _ := rdb.SIsMember(ctx, asynqQueues, queue).Result(); !ok {
		t.Errorf("%s lacks %s", asynqQueues, queue)
	}
	info, err := inspector.GetTaskInfo(queue, mine.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != layoutType || info.State != asynq.TaskStatePending || info.MaxRetry != 3 || info.Timeout != 32*time.Second ||
		info.Retention != 90*time.Second || info.Headers[fRequestID] != sub.RequestID || len(info.Payload) != 0 {
		t.Errorf("asynq reads our task as %+v", info)
	}

	// Cancelling a waiting task archives it as asynq's Inspector does.
	for _, st := range []string{"pending", "scheduled"} {
		a, b := "arch-"+st, "cancel-"+st
		for _, id := range []string{a, b} {
			opts := []asynq.Option{asynq.TaskID(id), asynq.Queue(queue)}
			if st == "scheduled" {
				opts = append(opts, asynq.ProcessIn(time.Hour))
			}
			if _, err := client.EnqueueContext(ctx, asynq.NewTask(layoutType, nil), opts...); err != nil {
				t.Fatal(err)
			}
			rdb.HSet(ctx, metaKey(id), fQueue, queue, fCreatedAt, "1")
		}
		if state, _ := rdb.HGet(ctx, asynqTaskKey(queue, a), "state").Result(); state != st {
			t.Fatalf("asynq put a task in %s, want %s", state, st)
		}
		if err := inspector.ArchiveTask(queue, a); err != nil {
			t.Fatal(err)
		}
		before := time.Now().Unix()
		got, err := s.Cancel(ctx, b)
		if err != nil || got.State != StateCancelled {
			t.Fatalf("cancel %s task: %+v, %v", st, got, err)
		}
		if x, y := hkeys(t, rdb, asynqTaskKey(queue, a)), hkeys(t, rdb, asynqTaskKey(queue, b)); !slices.Equal(x, y) {
			t.Errorf("%s task archived with fields %v, asynq's %v", st, y, x)
		}
		for _, id := range []string{a, b} {
			info, err := inspector.GetTaskInfo(queue, id)
			score, _ := rdb.ZScore(ctx, asynqZSet(queue, "archived"), id).Result()
			if err != nil || info.State != asynq.TaskStateArchived || int64(score) < before-1 || int64(score) > time.Now().Unix() {
				t.Errorf("%s task %s: %+v, %v, archived at %v", st, id, info, err, score)
			}
		}
		if n, _ := rdb.Exists(ctx, asynqZSet(queue, st)).Result(); st == "scheduled" && n != 0 {
			t.Errorf("%s still holds a task", asynqZSet(queue, st))
		}
	}

	// asynq runs our task (with its payload in calcgrid's key); the
	// completed zset scores the expiry, the archived one the archive
	// time, both in unix seconds.
	fail := layoutSubmission("fails", queue)
	fail.MaxRetry = 0
	failed, _, err := s.Submit(ctx, fail, 100)
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan string, 8)
	mux := asynq.NewServeMux()
	mux.HandleFunc(layoutType, func(ctx context.Context, task *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		p, _ := rdb.Get(ctx, payloadKey(id)).Result()
		ran <- id + " " + p
		if id == failed.ID {
			return fmt.Errorf("on purpose: %w", asynq.SkipRetry)
		}
		_, err := task.ResultWriter().Write([]byte(`{"ok":true}`))
		return err
	})
	started := time.Now().Unix()
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency: 1, Queues: map[string]int{queue: 1}, TaskCheckInterval: 20 * time.Millisecond, LogLevel: asynq.FatalLevel,
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	for _, id := range []string{mine.ID, failed.ID} {
		await(t, inspector, queue, id, asynq.TaskStateCompleted, asynq.TaskStateArchived)
	}
	close(ran)
	var runs []string
	for r := range ran {
		runs = append(runs, r)
	}
	if !slices.Contains(runs, mine.ID+` {"p":1}`) || !slices.Contains(runs, failed.ID+` {"p":1}`) {
		t.Errorf("runs %q, want both tasks with their payload", runs)
	}
	info, _ = inspector.GetTaskInfo(queue, mine.ID)
	score, _ := rdb.ZScore(ctx, asynqZSet(queue, "completed"), mine.ID).Result()
	if info.State != asynq.TaskStateCompleted || string(info.Result) != `{"ok":true}` || int64(score) != info.CompletedAt.Unix()+90 {
		t.Errorf("completed task %+v scored %v, want its completion + 90 s", info, score)
	}
	score, _ = rdb.ZScore(ctx, asynqZSet(queue, "archived"), failed.ID).Result()
	if int64(score) < started || int64(score) > time.Now().Unix() {
		t.Errorf("failed task archived at %v, want a unix second in [%d, now]", score, started)
	}

	// loadScript's decoding of asynq's hash (asynqTaskInfo) sees what the
	// Inspector sees, in every state these tasks reached.
	for _, id := range []string{mine.ID, failed.ID, twin, "arch-pending", "cancel-pending", "arch-scheduled", "cancel-scheduled"} {
		sameAsynqView(t, rdb, inspector, queue, id)
	}
}

// sameAsynqView fails unless asynqTaskInfo reads task id's hash as asynq's
// Inspector does, in every field build uses.
func sameAsynqView(t *testing.T, rdb *redis.Client, in *asynq.Inspector, queue, id string) {
	t.Helper()
	want, err := in.GetTaskInfo(queue, id)
	if err != nil {
		t.Fatal(err)
	}
	h, err := rdb.HGetAll(t.Context(), asynqTaskKey(queue, id)).Result()
	if err != nil {
		t.Fatal(err)
	}
	var result []byte
	if r, ok := h["result"]; ok {
		result = []byte(r)
	}
	got, err := asynqTaskInfo([]byte(h["msg"]), h["state"], result)
	if err != nil {
		t.Fatalf("task %s: %v", id, err)
	}
	if got.ID != want.ID || got.Type != want.Type || got.Queue != want.Queue || got.State != want.State ||
		got.MaxRetry != want.MaxRetry || got.Retried != want.Retried || got.LastErr != want.LastErr ||
		!got.LastFailedAt.Equal(want.LastFailedAt) || !got.CompletedAt.Equal(want.CompletedAt) || !bytes.Equal(got.Result, want.Result) {
		t.Errorf("task %s (%s) decoded as\n %+v\nasynq's Inspector reads\n %+v", id, want.State, got, want)
	}
}

func await(t *testing.T, in *asynq.Inspector, queue, id string, states ...asynq.TaskState) *asynq.TaskInfo {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := in.GetTaskInfo(queue, id)
		if err == nil && slices.Contains(states, info.State) {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s: %+v (%v), want %v", id, info, err, states)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRetentionRoundsUp: asynq keeps a completed task for whole seconds of
// retention, 0 meaning not at all.
func TestRetentionRoundsUp(t *testing.T) {
	for d, want := range map[time.Duration]int64{time.Second: 1, 1500 * time.Millisecond: 2, time.Millisecond: 1} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%s) = %d, want %d", d, got, want)
		}
	}
}
