package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// dequeueCmd is asynq's dequeue script call on queue q, as rdb.Dequeue
// sends it.
func dequeueCmd(q string) *redis.Cmd {
	p := "asynq:{" + q + "}:"
	return redis.NewCmd(context.Background(), "evalsha", "0123abcd", 4,
		p+"pending", p+"paused", p+"active", p+"lease", 1700000000, p+"t:")
}

func forwardCmd(q, from string) *redis.Cmd {
	p := "asynq:{" + q + "}:"
	return redis.NewCmd(context.Background(), "evalsha", "4567cdef", 2, p+from, p+"pending", 1700000000, p+"t:", 1, p+"g:")
}

func TestScriptOf(t *testing.T) {
	for _, c := range []struct {
		name string
		cmd  redis.Cmder
		want script
	}{
		{"dequeue", dequeueCmd("high"), dequeueScript},
		{"dequeue by EVAL", redis.NewCmd(context.Background(), "eval", "return nil", 4,
			"asynq:{low}:pending", "asynq:{low}:paused", "asynq:{low}:active", "asynq:{low}:lease", 1, "asynq:{low}:t:"), dequeueScript},
		{"forward due retries", forwardCmd("low", "retry"), forwardScript},
		{"forward scheduled", forwardCmd("low", "scheduled"), forwardScript},
		{"keys of two queues", redis.NewCmd(context.Background(), "evalsha", "x", 4,
			"asynq:{high}:pending", "asynq:{low}:paused", "asynq:{high}:active", "asynq:{high}:lease"), otherCommand},
		{"another asynq script", redis.NewCmd(context.Background(), "evalsha", "x", 2,
			"asynq:{high}:active", "asynq:{high}:lease", 1), otherCommand},
		{"a calcgrid script", redis.NewCmd(context.Background(), "evalsha", "x", 3,
			"asynq:{high}:lease", "asynq:{high}:active", "asynq:{high}:pending"), otherCommand},
		{"keys cut short", redis.NewCmd(context.Background(), "evalsha", "x", 4, "asynq:{high}:pending"), otherCommand},
		{"RPOPLPUSH", redis.NewCmd(context.Background(), "rpoplpush", "asynq:{high}:pending", "asynq:{high}:active"), otherCommand},
		{"GET", redis.NewStringCmd(context.Background(), "get", "k"), otherCommand},
		{"no arguments", redis.NewCmd(context.Background()), otherCommand},
	} {
		if got := scriptOf(c.cmd); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

// TestIdleHook feeds the hook sequences of answers and checks which calls
// it held for idleWait: only the first of a round after a round that found
// every queue empty, and not when a wake-up came since that round began.
// Answers are returned unchanged.
func TestIdleHook(t *testing.T) {
	const idleWait = 150 * time.Millisecond
	task, boom := "msg", errors.New("boom")
	type step struct {
		cmd    redis.Cmder
		answer any   // value, or
		err    error // error the server answers
		bump   bool  // a wake-up arrives before this step
		waits  bool
	}
	deq := dequeueCmd
	nilStep := func(waits bool) step { return step{cmd: deq("q"), err: redis.Nil, waits: waits} }
	empty := []step{nilStep(false), nilStep(false), nilStep(false)}
	then := func(first []step, rest ...step) []step { return append(append([]step{}, first...), rest...) }
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"after an empty round the next waits, at its start", then(empty, nilStep(true), nilStep(false), nilStep(false), nilStep(true))},
		{"a task resets the round", []step{nilStep(false), {cmd: deq("q"), answer: task}, nilStep(false), nilStep(false), nilStep(false), nilStep(true)}},
		{"an error resets the round", []step{nilStep(false), {cmd: deq("q"), err: boom}, nilStep(false), nilStep(false), nilStep(false), nilStep(true)}},
		{"a wake-up during the round: no wait", []step{nilStep(false), {cmd: deq("q"), err: redis.Nil, bump: true}, nilStep(false),
			nilStep(false), nilStep(false), nilStep(false), nilStep(true)}},
		{"a wake-up after the round: no wait", then(empty, step{cmd: deq("q"), err: redis.Nil, bump: true}, nilStep(false), nilStep(false), nilStep(true))},
		{"forwarded tasks wake", then(empty, step{cmd: forwardCmd("q", "retry"), answer: int64(2)}, nilStep(false))},
		{"nothing forwarded: no wake", then(empty, step{cmd: forwardCmd("q", "retry"), answer: int64(0)}, nilStep(true))},
		{"other commands pass and do not count", []step{nilStep(false), {cmd: redis.NewStringCmd(context.Background(), "get", "k"), err: redis.Nil},
			{cmd: redis.NewStringCmd(context.Background(), "get", "k"), answer: "v"}, nilStep(false), nilStep(false), nilStep(true)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWake()
			h := &idleHook{wake: w, queues: 3, idleWait: idleWait, stop: make(chan struct{})}
			for i, s := range c.steps {
				if s.bump {
					w.bump()
				}
				calls := 0
				process := h.ProcessHook(func(_ context.Context, cmd redis.Cmder) error {
					calls++
					if s.err != nil {
						cmd.SetErr(s.err)
						return s.err
					}
					switch c := cmd.(type) {
					case *redis.Cmd:
						c.SetVal(s.answer)
					case *redis.StringCmd:
						c.SetVal(s.answer.(string))
					}
					return nil
				})
				start := time.Now()
				err := process(context.Background(), s.cmd)
				took := time.Since(start)
				if calls != 1 || !errors.Is(err, s.err) || (s.err == nil && err != nil) {
					t.Fatalf("step %d: %d calls, error %v; want 1 call, error %v", i, calls, err, s.err)
				}
				if s.err == nil {
					var got any
					switch c := s.cmd.(type) {
					case *redis.Cmd:
						got = c.Val()
					case *redis.StringCmd:
						got = c.Val()
					}
					if got != s.answer {
						t.Errorf("step %d: answer %v, want %v", i, got, s.answer)
					}
				}
				if waited := took >= idleWait; waited != s.waits {
					t.Errorf("step %d: took %s, want a wait of %s: %v", i, took, idleWait, s.waits)
				}
			}
		})
	}
}

// TestIdleHookStops: a worker stopping ends the wait at once, and a
// wake-up ends it early.
func TestIdleHookStops(t *testing.T) {
	for _, c := range []struct {
		name string
		end  func(w *wake, stop chan struct{})
	}{
		{"stop", func(_ *wake, stop chan struct{}) { close(stop) }},
		{"wake-up", func(w *wake, _ chan struct{}) { w.bump() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, stop := newWake(), make(chan struct{})
			h := &idleHook{wake: w, queues: 1, idleWait: time.Hour, stop: stop}
			process := h.ProcessHook(func(_ context.Context, cmd redis.Cmder) error {
				cmd.SetErr(redis.Nil)
				return redis.Nil
			})
			if err := process(context.Background(), dequeueCmd("q")); !errors.Is(err, redis.Nil) { // an empty round
				t.Fatalf("error %v, want redis.Nil", err)
			}
			time.AfterFunc(50*time.Millisecond, func() { c.end(w, stop) })
			start := time.Now()
			if err := process(context.Background(), dequeueCmd("q")); !errors.Is(err, redis.Nil) {
				t.Fatalf("error %v, want redis.Nil", err)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("the wait ended %s after it began, want ~50ms", took)
			}
		})
	}
}

// TestIdleHookFastPath: every command the worker's asynq client sends
// passes the hook; one that is not asynq's dequeue or forward script costs
// no allocation.
func TestIdleHookFastPath(t *testing.T) {
	h := &idleHook{wake: newWake(), queues: 3, idleWait: time.Hour}
	process := h.ProcessHook(func(context.Context, redis.Cmder) error { return nil })
	ctx := context.Background()
	for _, cmd := range []redis.Cmder{
		redis.NewStringCmd(ctx, "get", "k"),
		redis.NewCmd(ctx, "evalsha", "x", 2, "asynq:{high}:active", "asynq:{high}:lease", 1),
		redis.NewCmd(ctx, "evalsha", "x", 4, "asynq:{high}:pending", "asynq:{low}:paused", "asynq:{high}:active", "asynq:{high}:lease"),
	} {
		if n := testing.AllocsPerRun(100, func() { _ = process(ctx, cmd) }); n != 0 {
			t.Errorf("%v: %v allocations per call, want 0", cmd.Args(), n)
		}
	}
}
