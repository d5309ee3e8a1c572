package taskstore

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// TestRecover holds Recover to asynq v0.26.0: a task a real asynq server
// runs has a lease asynqLeaseTerm ahead; Recover leaves it while its lease
// is fresh, requeues it once its lease is StaleLease old exactly as
// asynq's own requeue leaves a task (same hash fields and state, head of
// pending, out of active and the leases), and stops after MaxRecoveries.
func TestRecover(t *testing.T) {
	const queue = tasks.QueueMedium
	s, rdb := newWorkerStore(t, KeepFor(time.Hour)) // who recovers in the stack
	ctx := t.Context()
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	api := New(rdb, KeepFor(time.Hour))
	ours, _, err := api.Submit(ctx, layoutSubmission("ours", queue), 100)
	if err != nil {
		t.Fatal(err)
	}
	theirs, _, err := api.Submit(ctx, layoutSubmission("theirs", queue), 100)
	if err != nil {
		t.Fatal(err)
	}

	mux := asynq.NewServeMux()
	mux.HandleFunc(layoutType, func(ctx context.Context, _ *asynq.Task) error {
		<-ctx.Done()
		return ctx.Err()
	})
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency: 2, Queues: map[string]int{queue: 1}, TaskCheckInterval: 20 * time.Millisecond,
		ShutdownTimeout: time.Millisecond, LogLevel: asynq.FatalLevel,
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			srv.Shutdown()
		}
	}()
	for _, id := range []string{ours.ID, theirs.ID} {
		await(t, inspector, queue, id, asynq.TaskStateActive)
		lease, err := rdb.ZScore(ctx, asynqLeases(queue), id).Result()
		if now := float64(time.Now().Unix()); err != nil || lease < now+asynqLeaseTerm.Seconds()-1 || lease > now+asynqLeaseTerm.Seconds()+1 {
			t.Fatalf("lease of active task %s: %v (%v), want now+%s in unix seconds", id, lease, err, asynqLeaseTerm)
		}
	}
	// Recovery wakes idle workers: once, when it requeued anything.
	wakes := rdb.Subscribe(ctx, WakeChannel)
	defer wakes.Close()
	if _, err := wakes.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Recover(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Recover with fresh leases: %v (%v), want none", got, err)
	}

	// Our task's worker missed its heartbeats: its lease was last extended
	// StaleLease ago.
	stale := float64(time.Now().Unix()) + (asynqLeaseTerm - StaleLease - time.Second).Seconds()
	rdb.ZAdd(ctx, asynqLeases(queue), redis.Z{Score: stale, Member: ours.ID})
	got, err := s.Recover(ctx)
	if err != nil || !slices.Equal(got, []Recovered{{ID: ours.ID, Queue: queue}}) {
		t.Fatalf("Recover with one stale lease: %v (%v), want %s", got, err, ours.ID)
	}
	select {
	case msg := <-wakes.Channel():
		if msg.Payload != queue {
			t.Errorf("wake-up for queue %q, want %q", msg.Payload, queue)
		}
	case <-time.After(2 * time.Second):
		t.Error("Recover requeued a task without a wake-up")
	}
	select {
	case msg := <-wakes.Channel():
		t.Errorf("a second wake-up, for queue %q: the Recover that requeued nothing sent one", msg.Payload)
	case <-time.After(100 * time.Millisecond):
	}
	// asynq's own requeue, for the other: shutting down with a running task.
	srv.Shutdown()
	stopped = true
	for _, id := range []string{ours.ID, theirs.ID} {
		h := rdb.HGetAll(ctx, asynqTaskKey(queue, id)).Val()
		if h["state"] != "pending" {
			t.Errorf("task %s state %q, want pending", id, h["state"])
		}
		if rdb.LPos(ctx, asynqActive(queue), id, redis.LPosArgs{}).Err() == nil || rdb.ZScore(ctx, asynqLeases(queue), id).Err() == nil {
			t.Errorf("task %s still active or leased after its requeue", id)
		}
	}
	if a, b := hkeys(t, rdb, asynqTaskKey(queue, ours.ID)), hkeys(t, rdb, asynqTaskKey(queue, theirs.ID)); !slices.Equal(a, b) {
		t.Errorf("fields after Recover %v, after asynq's requeue %v", a, b)
	}
	if p := rdb.LRange(ctx, asynqPending(queue), 0, -1).Val(); !slices.Equal(p, []string{ours.ID, theirs.ID}) {
		t.Errorf("pending %v, want both, next to run last (asynq pops the tail): [%s %s]", p, ours.ID, theirs.ID)
	}
	if n := rdb.HGet(ctx, metaKey(ours.ID), "recovered").Val(); n != "1" {
		t.Errorf("recovered count %q, want 1", n)
	}

	// A task recovered MaxRecoveries times is left to asynq's recoverer.
	rdb.HSet(ctx, metaKey(ours.ID), "recovered", MaxRecoveries)
	rdb.LRem(ctx, asynqPending(queue), 0, ours.ID)
	rdb.LPush(ctx, asynqActive(queue), ours.ID)
	rdb.ZAdd(ctx, asynqLeases(queue), redis.Z{Score: stale, Member: ours.ID})
	if got, err := s.Recover(ctx); err != nil || len(got) != 0 {
		t.Errorf("Recover of a task recovered %d times: %v (%v), want none", MaxRecoveries, got, err)
	}
}

// TestAttemptFence: once a later attempt has started, an earlier one's
// progress is dropped and its end refused, whatever it reports; the later
// one ends the task with its own result.
func TestAttemptFence(t *testing.T) {
	const queue = tasks.QueueMedium
	s, rdb := newTestStore(t, KeepFor(time.Hour))
	ctx := t.Context()
	task, _, err := s.Submit(ctx, layoutSubmission("fenced", queue), 100)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Started(ctx, task.ID)
	if err != nil || first.Attempt != 1 {
		t.Fatalf("first start: %+v (%v), want attempt 1", first, err)
	}
	second, err := s.Started(ctx, task.ID)
	if err != nil || second.Attempt != 2 || second.Payload == nil {
		t.Fatalf("second start: %+v (%v), want attempt 2 with the payload", second, err)
	}
	if err := s.SetProgress(ctx, task.ID, first.Attempt, 0.9); err != nil {
		t.Fatal(err)
	}
	if p := rdb.HGet(ctx, metaKey(task.ID), fProgress).Val(); p != "0" {
		t.Errorf("progress %q after the superseded attempt's write, want the later attempt's 0", p)
	}
	if sup, err := s.Superseded(ctx, task.ID, first.Attempt); err != nil || !sup {
		t.Errorf("Superseded(first) = %v (%v), want true", sup, err)
	}
	for _, outcome := range []State{StateCompleted, StateFailed} {
		err := s.Ended(ctx, task.ID, End{Attempt: first.Attempt, Outcome: outcome, Result: []byte(`"late"`)})
		if !errors.Is(err, ErrSuperseded) {
			t.Errorf("end %s of the superseded attempt: %v, want ErrSuperseded", outcome, err)
		}
	}
	if h := rdb.HGetAll(ctx, metaKey(task.ID)).Val(); h["outcome"] != "" || h[fEndedAt] != "" || !rdb.HExists(ctx, asynqTaskKey(queue, task.ID), "msg").Val() {
		t.Errorf("after refused ends: metadata %v, want no outcome nor end", h)
	}
	if rdb.Exists(ctx, payloadKey(task.ID)).Val() != 1 {
		t.Error("a refused end dropped the payload the later attempt runs")
	}
	if sup, err := s.Superseded(ctx, task.ID, second.Attempt); err != nil || sup {
		t.Errorf("Superseded(second) = %v (%v), want false", sup, err)
	}
	if err := s.Ended(ctx, task.ID, End{Attempt: second.Attempt, Outcome: StateCompleted, Result: []byte(`"mine"`)}); err != nil {
		t.Fatal(err)
	}
	if r := rdb.HGet(ctx, asynqTaskKey(queue, task.ID), "result").Val(); r != `"mine"` {
		t.Errorf("result %q, want the later attempt's", r)
	}
}
