package taskstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

const noop = `{"type":"diagnostic.noop"}`

// hook lets a test see and alter the commands a client sends.
type hook struct {
	process func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error
}

func (h hook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { return h.process(ctx, cmd, next) }
}
func (h hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// isSubmit reports whether cmd runs the submission script (the only one
// given asynq's queue set).
func isSubmit(cmd redis.Cmder) bool {
	if n := cmd.Name(); n != "evalsha" && n != "eval" {
		return false
	}
	return slices.Contains(cmd.Args(), any("asynq:queues"))
}

// TestSubmitIsOneRoundTrip: admission costs no walk of asynq's Inspector —
// a submission is one script (the queue bound is an LLEN inside it), plus
// one INFO per 250 ms for the storage bound.
func TestSubmitIsOneRoundTrip(t *testing.T) {
	e := newEnv(t, taskstore.KeepFor(time.Hour))
	var mu sync.Mutex
	var cmds []string
	e.rdb.AddHook(hook{func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		mu.Lock()
		cmds = append(cmds, cmd.Name())
		mu.Unlock()
		return next(ctx, cmd)
	}})
	e.submit(noop, "warm") // loads the script, reads INFO
	mu.Lock()
	cmds = nil
	mu.Unlock()
	for i := range 20 {
		e.submit(noop, fmt.Sprint("k", i))
	}
	mu.Lock()
	defer mu.Unlock()
	evals, infos := 0, 0
	for _, c := range cmds {
		switch c {
		case "evalsha":
			evals++
		case "info":
			infos++
		default:
			t.Errorf("a submission sent %s", c)
		}
	}
	if evals != 20 || infos > 2 {
		t.Errorf("20 submissions sent %d scripts and %d INFO: %v", evals, infos, cmds)
	}
}

// TestSubmitWakes: the script that creates a task announces its queue on
// WakeChannel (in the same round trip, above); one that finds the key's
// task existing, or refuses, announces nothing.
func TestSubmitWakes(t *testing.T) {
	e := newEnv(t, taskstore.KeepFor(time.Hour))
	ctx := t.Context()
	wakes := e.rdb.Subscribe(ctx, taskstore.WakeChannel)
	defer wakes.Close()
	if _, err := wakes.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, body, key string
		maxPending      int
		want            string // queue announced, "" for none
	}{
		{"created", `{"type":"diagnostic.noop","priority":"low"}`, "a", 100, tasks.QueueLow},
		{"existing", `{"type":"diagnostic.noop","priority":"low"}`, "a", 100, ""},
		{"queue full", `{"type":"diagnostic.noop","priority":"low"}`, "b", 1, ""},
		{"created in another queue", `{"type":"diagnostic.noop","priority":"high"}`, "c", 100, tasks.QueueHigh},
	} {
		if _, _, err := e.store.Submit(ctx, e.sub(c.body, c.key), c.maxPending); err != nil && c.want != "" {
			t.Fatalf("%s: %v", c.name, err)
		}
		select {
		case msg := <-wakes.Channel():
			if msg.Payload != c.want {
				t.Errorf("%s: wake-up for %q, want %q", c.name, msg.Payload, c.want)
			}
		case <-time.After(200 * time.Millisecond):
			if c.want != "" {
				t.Errorf("%s: no wake-up, want one for %q", c.name, c.want)
			}
		}
	}
}

// TestQueueBoundUnderConcurrency: 20 submitters at once never push a queue
// past its bound: each round admits exactly up to the limit.
func TestQueueBoundUnderConcurrency(t *testing.T) {
	e := newEnv(t, taskstore.KeepFor(time.Hour))
	const submitters, step = 20, 3
	for round := 1; round <= 10; round++ {
		limit := round * step
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, submitters)
		for i := range submitters {
			wg.Go(func() {
				<-start
				_, _, errs[i] = e.store.Submit(t.Context(), e.sub(noop, fmt.Sprintf("r%d-%d", round, i)), limit)
			})
		}
		close(start)
		wg.Wait()
		accepted := 0
		for _, err := range errs {
			switch {
			case err == nil:
				accepted++
			case !errors.Is(err, taskstore.ErrQueueFull):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		pending, err := e.rdb.LLen(t.Context(), "asynq:{medium}:pending").Result()
		if err != nil {
			t.Fatal(err)
		}
		if accepted != step || pending != int64(limit) {
			t.Fatalf("round %d (limit %d): %d of %d submitters accepted, %d pending; want %d and %d",
				round, limit, accepted, submitters, pending, step, limit)
		}
	}
}

// TestSubmitOutcomeUnknown: a submission whose reply is lost (a timeout
// after Redis ran the script) is resolved by reading the key back: the
// task is answered as created, found, and runs; so is one whose script
// go-redis ran again after a timeout. One whose script never ran is
// reported as unknown and leaves nothing; a retry creates it.
func TestSubmitOutcomeUnknown(t *testing.T) {
	e := newEnv(t, taskstore.KeepFor(time.Hour))
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	var lose, drop, twice bool
	e.rdb.AddHook(hook{func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		switch {
		case twice && isSubmit(cmd):
			if err := next(ctx, cmd); err != nil {
				return err
			}
			return next(ctx, cmd) // go-redis retrying a call that timed out
		case lose && isSubmit(cmd):
			if err := next(ctx, cmd); err != nil {
				return err
			}
			return timeout // the script ran; its reply is lost
		case drop && isSubmit(cmd):
			return timeout // the script never reached Redis
		}
		return next(ctx, cmd)
	}})
	e.submit(noop, "warm") // loads the script

	lose = true
	task, created, err := e.store.Submit(t.Context(), e.sub(noop, "lost-reply"), 100)
	lose = false
	if err != nil || !created || task.State != taskstore.StatePending {
		t.Fatalf("reply lost: %+v, created %v, %v; want the pending task, created", task, created, err)
	}

	twice = true
	retried, created, err := e.store.Submit(t.Context(), e.sub(noop, "ran twice"), 100)
	twice = false
	if err != nil || !created {
		t.Fatalf("script run twice: %+v, created %v, %v; want the task, created", retried, created, err)
	}
	// Another request (even with the same request id) finds it existing.
	again := e.sub(noop, "ran twice")
	again.RequestID = retried.RequestID
	if _, created, err := e.store.Submit(t.Context(), again, 100); err != nil || created {
		t.Fatalf("same key again: created %v, %v; want the existing task", created, err)
	}

	drop = true
	_, _, err = e.store.Submit(t.Context(), e.sub(noop, "dropped"), 100)
	drop = false
	if err == nil || !strings.Contains(err.Error(), "outcome unknown") {
		t.Fatalf("script never ran: %v, want outcome unknown", err)
	}
	id := taskstore.IDFor("dropped")
	if _, err := e.store.Get(t.Context(), id); !errors.Is(err, taskstore.ErrNotFound) {
		t.Fatalf("after a submission that never ran: %v, want not found", err)
	}
	for _, k := range []string{"calcgrid:task:" + id, "calcgrid:payload:" + id, "asynq:{medium}:t:" + id} {
		if e.exists(k) {
			t.Errorf("%s exists after a submission that never ran", k)
		}
	}
	dropped := e.submit(noop, "dropped")

	e.startWorker(2)
	for _, id := range []string{task.ID, retried.ID, dropped.ID} {
		e.awaitState(id, 10*time.Second, taskstore.StateCompleted)
	}
}

// TestProgressNeverResurrects: once a task's metadata is gone (expired),
// no worker write brings it back: not progress, not a start, not an end.
func TestProgressNeverResurrects(t *testing.T) {
	e := newEnv(t, taskstore.KeepFor(time.Hour))
	ctx := t.Context()
	task := e.submit(noop, "p")
	meta := "calcgrid:task:" + task.ID
	st, err := e.store.Started(ctx, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetProgress(ctx, task.ID, st.Attempt, 0.5); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.store.Get(ctx, task.ID); got.Progress != 0.5 {
		t.Fatalf("progress %v, want 0.5", got.Progress)
	}
	// An ended task's progress write keeps the metadata's TTL.
	if err := e.store.Ended(ctx, task.ID, taskstore.End{Attempt: st.Attempt, Outcome: taskstore.StateFailed}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetProgress(ctx, task.ID, st.Attempt, 0.75); err != nil {
		t.Fatal(err)
	}
	if ttl := e.rdb.PTTL(ctx, meta).Val(); ttl <= time.Hour-time.Minute || ttl > time.Hour {
		t.Errorf("metadata TTL after a late progress write: %s, want the failed retention", ttl)
	}

	e.rdb.Del(ctx, meta) // as if it expired
	if err := e.store.SetProgress(ctx, task.ID, st.Attempt, 0.9); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Started(ctx, task.ID); !errors.Is(err, taskstore.ErrNotFound) {
		t.Errorf("start of a task whose record is gone: %v, want not found", err)
	}
	if err := e.store.Ended(ctx, task.ID, taskstore.End{Attempt: st.Attempt, Outcome: taskstore.StateCompleted}); err != nil {
		t.Fatal(err)
	}
	if e.exists(meta) {
		t.Errorf("%s was written again after it expired: %v", meta, e.rdb.HGetAll(ctx, meta).Val())
	}
	if _, err := e.store.Get(ctx, task.ID); !errors.Is(err, taskstore.ErrNotFound) {
		t.Errorf("task without metadata: %v, want not found", err)
	}
}

// TestFinishedTaskDropsPayload: a task's payload lives in calcgrid's key,
// not in asynq's message, until the task is final; the result stays, and
// the metadata expires with the retention of its final state.
func TestFinishedTaskDropsPayload(t *testing.T) {
	ret := taskstore.Retention{Completed: time.Hour, Failed: 2 * time.Hour, Cancelled: 3 * time.Hour}
	e := newEnv(t, ret)
	ctx := t.Context()
	inspector := asynq.NewInspectorFromRedisClient(e.rdb)
	pending := e.submit(noop, "cancelled-pending")
	if info, err := inspector.GetTaskInfo(pending.Queue, pending.ID); err != nil || len(info.Payload) != 0 {
		t.Fatalf("asynq's message holds a payload: %+v, %v", info, err)
	}
	if p, _ := e.rdb.Get(ctx, "calcgrid:payload:"+pending.ID).Result(); p != "{}" {
		t.Fatalf("pending task's payload %q, want {}", p)
	}
	if _, err := e.store.Cancel(ctx, pending.ID); err != nil {
		t.Fatal(err)
	}
	e.startWorker(2)
	completed := e.submit(noop, "completed")
	failed := e.submit(`{"type":"diagnostic.fail","payload":{"times":5},"max_retry":0}`, "failed")
	active := e.submit(`{"type":"diagnostic.sleep","payload":{"ms":60000}}`, "cancelled-active")
	e.awaitState(active.ID, 10*time.Second, taskstore.StateActive)
	if _, err := e.store.Cancel(ctx, active.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id    string
		state taskstore.State
		keep  time.Duration
	}{
		{pending.ID, taskstore.StateCancelled, ret.Cancelled},
		{completed.ID, taskstore.StateCompleted, ret.Completed},
		{failed.ID, taskstore.StateFailed, ret.Failed},
		{active.ID, taskstore.StateCancelled, ret.Cancelled},
	} {
		got := e.awaitState(c.id, 10*time.Second, c.state)
		if e.exists("calcgrid:payload:" + c.id) {
			t.Errorf("%s task kept its payload", c.state)
		}
		if ttl := e.rdb.PTTL(ctx, "calcgrid:task:"+c.id).Val(); ttl <= c.keep-time.Minute || ttl > c.keep {
			t.Errorf("%s task's metadata TTL %s, want its retention %s", c.state, ttl, c.keep)
		}
		if c.state == taskstore.StateCompleted && string(got.Result) != `{"ok":true}` {
			t.Errorf("completed task's result %s", got.Result)
		}
	}
}

// TestReplayAfterWorkerDied: a worker that recorded a task's end (and so
// dropped its payload) but died before asynq recorded it leaves a live
// asynq task; the next attempt ends the same way instead of running (or
// failing for want of its payload).
func TestReplayAfterWorkerDied(t *testing.T) {
	e := newEnv(t, taskstore.KeepFor(time.Hour))
	ctx := t.Context()
	done := e.submit(noop, "completed")
	failed := e.submit(noop, "failed")
	for id, outcome := range map[string]taskstore.State{done.ID: taskstore.StateCompleted, failed.ID: taskstore.StateFailed} {
		st, err := e.store.Started(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var result []byte
		if outcome == taskstore.StateCompleted {
			result = []byte(`{"ok":true}`)
		}
		if err := e.store.Ended(ctx, id, taskstore.End{Attempt: st.Attempt, Outcome: outcome, Result: result}); err != nil {
			t.Fatal(err)
		}
	}
	e.startWorker(1)
	got := e.awaitState(done.ID, 10*time.Second, taskstore.StateCompleted)
	if got.Attempts != 1 || string(got.Result) != `{"ok":true}` {
		t.Errorf("replayed completion: %+v", got)
	}
	if got := e.awaitState(failed.ID, 10*time.Second, taskstore.StateFailed); got.Attempts != 1 {
		t.Errorf("replayed failure: %+v", got)
	}
}

// TestSweep: the janitor deletes archived tasks once their state's
// retention has passed — asynq's record, metadata and payload together —
// failed ones sooner than cancelled ones here, even behind more cancelled
// ones than one script examines, and orphans whose metadata is gone.
func TestSweep(t *testing.T) {
	e := newEnv(t, taskstore.Retention{Completed: time.Hour, Failed: time.Second, Cancelled: 3 * time.Second})
	ctx := t.Context()
	worker := e.as("worker") // who sweeps in the stack
	inspector := asynq.NewInspectorFromRedisClient(e.rdb)
	var cancelled []string
	for i := range 150 {
		task := e.submit(noop, fmt.Sprint("c", i))
		if _, err := e.store.Cancel(ctx, task.ID); err != nil {
			t.Fatal(err)
		}
		cancelled = append(cancelled, task.ID)
	}
	failed := e.submit(noop, "failed")
	orphan := e.submit(noop, "orphan")
	for _, id := range []string{failed.ID, orphan.ID} {
		if err := inspector.ArchiveTask(tasks.QueueMedium, id); err != nil {
			t.Fatal(err)
		}
	}
	e.rdb.Del(ctx, "calcgrid:task:"+orphan.ID)
	keysOf := func(id string) []string {
		return []string{"asynq:{medium}:t:" + id, "calcgrid:task:" + id, "calcgrid:payload:" + id}
	}
	gone := func(id string) bool {
		for _, k := range keysOf(id) {
			if e.exists(k) {
				return false
			}
		}
		_, err := e.rdb.ZScore(ctx, "asynq:{medium}:archived", id).Result()
		return errors.Is(err, redis.Nil)
	}
	start := time.Now()
	for !gone(failed.ID) || !gone(orphan.ID) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("failed and orphaned tasks still kept %s after their 1 s retention", time.Since(start))
		}
		if _, err := worker.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, id := range cancelled {
		if gone(id) {
			t.Fatalf("a cancelled task went with the failed ones, %s after they were archived (retention 3 s)", time.Since(start))
		}
	}
	for !gone(cancelled[len(cancelled)-1]) {
		if time.Since(start) > 8*time.Second {
			t.Fatalf("cancelled tasks still kept %s after their 3 s retention", time.Since(start))
		}
		if _, err := worker.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := e.rdb.ZCard(ctx, "asynq:{medium}:archived").Val(); n != 0 {
		t.Errorf("%d tasks left in the archive", n)
	}
	if left := e.rdb.Keys(ctx, "calcgrid:*").Val(); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestKeyFreedWhenEitherRecordIsGone: a task is found only while both its
// records exist, and its key is free again as soon as either is gone —
// asynq's (deleted by asynq's own janitor, or trimmed from its archive) or
// the metadata (expired) — whatever the leftover's queue.
func TestKeyFreedWhenEitherRecordIsGone(t *testing.T) {
	e := newEnv(t, taskstore.KeepFor(time.Hour))
	ctx := t.Context()
	for _, c := range []struct {
		name string
		drop func(id string)
	}{
		{"asynq record gone", func(id string) {
			e.rdb.Del(ctx, "asynq:{medium}:t:"+id)
			e.rdb.ZRem(ctx, "asynq:{medium}:archived", id)
		}},
		{"metadata gone", func(id string) { e.rdb.Del(ctx, "calcgrid:task:"+id) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := "k-" + c.name
			old := e.submit(noop, key)
			if _, err := e.store.Cancel(ctx, old.ID); err != nil {
				t.Fatal(err)
			}
			c.drop(old.ID)
			if _, err := e.store.Get(ctx, old.ID); !errors.Is(err, taskstore.ErrNotFound) {
				t.Fatalf("with one record gone: %v, want not found", err)
			}
			// Another submission (in another queue) under the same key.
			task, created, err := e.store.Submit(ctx, e.sub(`{"type":"diagnostic.noop","priority":"high"}`, key), 100)
			if err != nil || !created || task.State != taskstore.StatePending || task.Queue != tasks.QueueHigh {
				t.Fatalf("resubmission: %+v, created %v, %v", task, created, err)
			}
			if e.exists("asynq:{medium}:t:"+old.ID) || e.rdb.ZCard(ctx, "asynq:{medium}:archived").Val() != 0 {
				t.Errorf("the old task's asynq record is still there")
			}
			if got, err := e.store.Get(ctx, old.ID); err != nil || got.Queue != tasks.QueueHigh || got.State != taskstore.StatePending {
				t.Errorf("the key's task now: %+v, %v", got, err)
			}
		})
	}
}

// TestWaitingTaskOutlivesRetention: the retention starts when a task
// ends; one that waits (or runs) longer than that keeps its records.
func TestWaitingTaskOutlivesRetention(t *testing.T) {
	e := newEnv(t, taskstore.KeepFor(time.Second))
	task := e.submit(noop, "waits")
	time.Sleep(2500 * time.Millisecond)
	if got, err := e.store.Get(t.Context(), task.ID); err != nil || got.State != taskstore.StatePending {
		t.Fatalf("after waiting 2.5 s with a 1 s retention: %+v, %v; want it pending", got, err)
	}
	e.startWorker(1)
	e.awaitState(task.ID, 10*time.Second, taskstore.StateCompleted)
	e.await(task.ID, 10*time.Second, func(_ taskstore.Task, err error) bool { return errors.Is(err, taskstore.ErrNotFound) })
}

// TestTimesNeverOutOfOrder: every time comes from Redis's clock, and a
// clock that steps back (here by an hour after the submission) still
// yields created_at ≤ started_at ≤ completed_at.
func TestTimesNeverOutOfOrder(t *testing.T) {
	e := newEnv(t, taskstore.KeepFor(time.Hour))
	ctx := t.Context()
	later := fmt.Sprint(time.Now().Add(time.Hour).UnixMicro())
	ran, cancelled := e.submit(noop, "ran"), e.submit(noop, "cancelled")
	for _, id := range []string{ran.ID, cancelled.ID} {
		e.rdb.HSet(ctx, "calcgrid:task:"+id, "created_at", later)
	}
	st, err := e.store.Started(ctx, ran.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Ended(ctx, ran.ID, taskstore.End{Attempt: st.Attempt, Outcome: taskstore.StateFailed}); err != nil {
		t.Fatal(err)
	}
	e.rdb.HSet(ctx, "asynq:{medium}:t:"+ran.ID, "state", "archived") // as asynq would after the end
	if _, err := e.store.Cancel(ctx, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{ran.ID, cancelled.ID} {
		got, err := e.store.Get(ctx, id)
		if err != nil || got.CompletedAt == nil ||
			got.StartedAt != nil && (got.StartedAt.Before(got.CreatedAt) || got.CompletedAt.Before(*got.StartedAt)) ||
			got.CompletedAt.Before(got.CreatedAt) {
			t.Errorf("times out of order: %+v, %v", got, err)
		}
	}
}

// TestCancelledIsFinal: a task cancelled while running whose attempt then
// failed before it saw the cancel lands in asynq's retry set, flagged; it
// shows cancelled only once archived, which the first read does, so it
// never runs again and cancelled never turns back into another state.
func TestCancelledIsFinal(t *testing.T) {
	e := newEnv(t, taskstore.KeepFor(time.Hour))
	ctx := t.Context()
	task := e.submit(noop, "k")
	key := "asynq:{medium}:t:" + task.ID
	// asynq's dequeue, then the cancel, then asynq's retry of the attempt.
	e.rdb.LRem(ctx, "asynq:{medium}:pending", 0, task.ID)
	e.rdb.HSet(ctx, key, "state", "active")
	if got, err := e.store.Cancel(ctx, task.ID); err != nil || got.State != taskstore.StateActive {
		t.Fatalf("cancel while running: %+v, %v", got, err)
	}
	e.rdb.HSet(ctx, key, "state", "retry")
	e.rdb.ZAdd(ctx, "asynq:{medium}:retry", redis.Z{Score: float64(time.Now().Add(time.Minute).Unix()), Member: task.ID})
	got, err := e.store.Get(ctx, task.ID)
	if err != nil || got.State != taskstore.StateCancelled {
		t.Fatalf("flagged task in retry reads as %+v, %v; want cancelled", got, err)
	}
	info, err := asynq.NewInspectorFromRedisClient(e.rdb).GetTaskInfo(tasks.QueueMedium, task.ID)
	if err != nil || info.State != asynq.TaskStateArchived || e.rdb.ZCard(ctx, "asynq:{medium}:retry").Val() != 0 {
		t.Errorf("in asynq: %+v, %v; want archived, out of the retry set", info, err)
	}
}
