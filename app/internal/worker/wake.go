package worker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Waking an idle worker. asynq polls: after a round of its dequeue script
// that found every queue empty it sleeps about TaskCheckInterval and polls
// again, and its API has no way to wake it. So the client asynq gets
// carries idleHook, which holds the first call of the next round until a
// task may be there: a wake-up arrived (taskstore.WakeChannel, published by
// the script that makes a task pending) or IdleWait passed. An idle worker
// then polls every IdleWait instead of every interval, and takes a new task
// within a few round trips of its submission. Holding the next round's
// start rather than the empty round's end puts asynq's own sleep before
// the wait, not between the wake-up and the round that finds the task.
//
// Every idle worker wakes on every announcement and runs one round; one of
// them pops the task. Tasks made pending without an announcement — asynq's
// requeue at shutdown, another worker's forwarded retries, asynqmon's run,
// announcements lost while the subscription reconnects — wait at most
// IdleWait; this worker's own forwarded retries wake it (forwardScript).

// wake counts wake-ups: its generation changes on each.
type wake struct {
	mu  sync.Mutex
	gen uint64
	// changed is closed, and replaced, when gen changes: a waiter that read
	// gen under mu and then waits on the channel it read with it misses no
	// bump.
	changed chan struct{}
}

func newWake() *wake { return &wake{changed: make(chan struct{})} }

// bump records a wake-up.
func (w *wake) bump() {
	w.mu.Lock()
	w.gen++
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// generation is the current generation.
func (w *wake) generation() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gen
}

// wait blocks until the generation is no longer gen, d passes or stop is
// closed, and reports whether a wake-up ended it.
func (w *wake) wait(gen uint64, d time.Duration, stop <-chan struct{}) bool {
	w.mu.Lock()
	if w.gen != gen {
		w.mu.Unlock()
		return true
	}
	changed := w.changed
	w.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-changed:
		return true
	case <-t.C:
	case <-stop:
	}
	return false
}

// idleHook holds asynq's processor after a round of dequeue calls that
// found every queue empty, at the start of the next round, until a
// wake-up, idleWait or stop (see above).
//
// asynq (v0.26.0, rdb.Dequeue) runs its dequeue script once per queue, in
// one goroutine, until one answers a task; an empty queue answers nil
// (redis.Nil). Each round asks every queue, so queues consecutive nil
// answers end a round that found nothing.
type idleHook struct {
	wake     *wake
	queues   int
	idleWait time.Duration
	stop     <-chan struct{}

	mu sync.Mutex
	// empty counts the nil answers of the current round; gen is the
	// generation when it began: a wake-up after that may concern a queue
	// the round already asked. idle: the last round found every queue
	// empty.
	empty int
	gen   uint64
	idle  bool
}

var _ redis.Hook = (*idleHook)(nil)

func (h *idleHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *idleHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *idleHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		switch scriptOf(cmd) {
		case dequeueScript:
			return h.dequeue(ctx, next, cmd)
		case forwardScript:
			err := next(ctx, cmd)
			// Due retries and scheduled tasks moved to pending: this
			// worker's own forwarder made them, and no one announced them.
			if c, ok := cmd.(*redis.Cmd); ok && err == nil {
				if n, _ := c.Int64(); n > 0 {
					h.wake.bump()
				}
			}
			return err
		}
		return next(ctx, cmd)
	}
}

func (h *idleHook) dequeue(ctx context.Context, next redis.ProcessHook, cmd redis.Cmder) error {
	h.mu.Lock()
	if h.empty == 0 {
		if h.idle {
			gen := h.gen
			h.mu.Unlock()
			h.wake.wait(gen, h.idleWait, h.stop)
			h.mu.Lock()
			h.idle = false
		}
		h.gen = h.wake.generation()
	}
	h.mu.Unlock()
	err := next(ctx, cmd)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !errors.Is(err, redis.Nil) {
		// A task, or an error (asynq ends the round on either).
		h.empty = 0
		return err
	}
	h.empty++
	if h.empty == h.queues {
		h.empty, h.idle = 0, true
	}
	return err
}

type script int

const (
	otherCommand script = iota
	dequeueScript
	forwardScript
)

// scriptOf recognises asynq's (v0.26.0) scripts by their keys, without
// allocating: every command the client sends passes here.
//
//	dequeue (rdb.Dequeue):  asynq:{Q}:pending, asynq:{Q}:paused, asynq:{Q}:active, asynq:{Q}:lease
//	forward (rdb.forward):  asynq:{Q}:scheduled or asynq:{Q}:retry, asynq:{Q}:pending
func scriptOf(cmd redis.Cmder) script {
	args := cmd.Args()
	if len(args) < 5 {
		return otherCommand
	}
	if name, _ := args[0].(string); name != "evalsha" && name != "eval" {
		return otherCommand
	}
	n, _ := args[2].(int)
	if len(args) < 3+n {
		return otherCommand
	}
	first, _ := args[3].(string)
	switch n {
	case 4:
		q, ok := strings.CutSuffix(first, "pending")
		if ok && isQueuePrefix(q) && hasKey(args[4], q, "paused") && hasKey(args[5], q, "active") && hasKey(args[6], q, "lease") {
			return dequeueScript
		}
	case 2:
		q, ok := strings.CutSuffix(first, "scheduled")
		if !ok {
			q, ok = strings.CutSuffix(first, "retry")
		}
		if ok && isQueuePrefix(q) && hasKey(args[4], q, "pending") {
			return forwardScript
		}
	}
	return otherCommand
}

// isQueuePrefix reports whether p is an asynq queue's key prefix,
// asynq:{Q}:.
func isQueuePrefix(p string) bool {
	return strings.HasPrefix(p, "asynq:{") && strings.HasSuffix(p, "}:")
}

// hasKey reports whether arg is the key prefix+name.
func hasKey(arg any, prefix, name string) bool {
	k, _ := arg.(string)
	return len(k) == len(prefix)+len(name) && strings.HasPrefix(k, prefix) && strings.HasSuffix(k, name)
}
