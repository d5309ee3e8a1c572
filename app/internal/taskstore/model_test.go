package taskstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// A kind of submission in the model test: the diagnostic task it runs and
// the final state it reaches when nobody cancels it.
type kind struct {
	name, body string
	final      taskstore.State
	retries    bool // has a failed attempt before its final state
	attempts   int  // attempts when it ends uncancelled
}

var kinds = []kind{
	{"ok", `{"type":"diagnostic.noop","max_retry":0}`, taskstore.StateCompleted, false, 1},
	{"fail", `{"type":"diagnostic.fail","payload":{"mode":"error","times":100},"max_retry":1}`, taskstore.StateFailed, true, 2},
	{"flaky", `{"type":"diagnostic.fail","payload":{"mode":"error","times":1},"max_retry":2}`, taskstore.StateCompleted, true, 2},
	{"slow", `{"type":"diagnostic.sleep","payload":{"ms":700},"max_retry":0}`, taskstore.StateCompleted, false, 1},
}

// gen is the model of one task a key named: what the test knows of it.
type gen struct {
	id      string
	kind    kind
	created time.Time
	// flagged: a cancel was accepted while the task was live.
	flagged bool
	// last is the last state seen; lastLive when a live state was last
	// seen (a lower bound of the time it ended).
	last     taskstore.State
	lastLive time.Time
	// final is the first answer that showed the task finished (its
	// completed_at is unknown when that answer was Cancel's 409), seen by
	// finalSeen at the latest.
	final     *taskstore.Task
	finalSeen time.Time
	gone      bool
}

// model is what the test expects of the store.
type model struct {
	t     *testing.T
	ret   taskstore.Retention
	keys  map[string]*gen
	trace []string
	// seen counts what the run exercised, by event.
	events map[string]int
}

// Bounds of a finished task's disappearance: asynq scores whole seconds,
// the janitor sweeps every 100 ms, and a loaded machine needs slack.
const (
	expiryEarly = time.Second
	expiryLate  = time.Second + 2*time.Second
)

func (m *model) retention(s taskstore.State) time.Duration {
	switch s {
	case taskstore.StateCompleted:
		return m.ret.Completed
	case taskstore.StateFailed:
		return m.ret.Failed
	}
	return m.ret.Cancelled
}

func (m *model) fail(format string, args ...any) {
	m.t.Helper()
	tail := m.trace[max(0, len(m.trace)-40):]
	m.t.Fatalf("%s\nlast operations:\n  %s", fmt.Sprintf(format, args...), strings.Join(tail, "\n  "))
}

func (m *model) log(format string, args ...any) {
	m.trace = append(m.trace, time.Now().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
}

func (m *model) count(event string) { m.events[event]++ }

// finals are the final states g may reach.
func (g *gen) finals() []taskstore.State {
	f := []taskstore.State{g.kind.final}
	if g.flagged {
		f = []taskstore.State{taskstore.StateCancelled}
		if g.kind.final == taskstore.StateCompleted {
			f = append(f, taskstore.StateCompleted) // finished before it saw the cancel
		}
	}
	return f
}

// earliestEnd is the earliest a record of g may be gone: its retention
// from the end it showed, else from when it was last seen live.
func (m *model) earliestEnd(g *gen) time.Time {
	if g.final != nil && g.final.CompletedAt != nil {
		return g.final.CompletedAt.Add(m.retention(g.final.State) - expiryEarly)
	}
	if g.final != nil {
		return g.lastLive.Add(m.retention(g.final.State) - expiryEarly)
	}
	shortest := time.Duration(1 << 62)
	for _, s := range g.finals() {
		shortest = min(shortest, m.retention(s))
	}
	return g.lastLive.Add(shortest - expiryEarly)
}

// latestEnd is when g must be gone, if it is known to have finished.
func (m *model) latestEnd(g *gen) (time.Time, bool) {
	if g.final == nil {
		return time.Time{}, false
	}
	return g.finalSeen.Add(m.retention(g.final.State) + expiryLate), true
}

// gone checks a 404 for key observed within [before, after].
func (m *model) gone(key string, g *gen, after time.Time) {
	m.t.Helper()
	if g == nil || g.gone {
		return
	}
	if after.Before(m.earliestEnd(g)) {
		m.fail("%s: task %s (%s, last %s) gone at %s, before its retention could end (%s)",
			key, g.id, g.kind.name, g.last, after.Format("15:04:05.000"), m.earliestEnd(g).Format("15:04:05.000"))
	}
	g.gone = true
	m.count("expired")
}

// allowed reports whether g may show state next after its last state.
func (g *gen) allowed(next taskstore.State) bool {
	if g.final != nil {
		return next == g.final.State
	}
	if next.Finished() {
		return slices.Contains(g.finals(), next)
	}
	switch next {
	case taskstore.StateActive:
		return true
	case taskstore.StatePending:
		// A retry becomes pending when due; a flagged waiting task is
		// archived by the read that finds it.
		return !g.flagged && (g.last == taskstore.StatePending || g.kind.retries)
	case taskstore.StateRetry:
		return !g.flagged && g.kind.retries
	}
	return false
}

// seen checks an answer showing task for key, observed within [before,
// after].
func (m *model) seen(key string, g *gen, task taskstore.Task, before, after time.Time) {
	m.t.Helper()
	switch {
	case g == nil:
		m.fail("%s: found %+v, but the key never named a task", key, task)
	case g.gone:
		m.fail("%s: task %s is back (%s) after it was gone", key, g.id, task.State)
	case task.ID != g.id || !task.CreatedAt.Equal(g.created):
		m.fail("%s: found %s created %s, want %s created %s", key, task.ID, task.CreatedAt, g.id, g.created)
	}
	if end, ok := m.latestEnd(g); ok && before.After(end) {
		m.fail("%s: task %s (%s) still found at %s, after its retention ended (%s)", key, g.id, g.final.State,
			before.Format("15:04:05.000"), end.Format("15:04:05.000"))
	}
	if !g.allowed(task.State) {
		m.fail("%s: task %s (%s, flagged %v) went %s → %s", key, g.id, g.kind.name, g.flagged, g.last, task.State)
	}
	if task.StartedAt != nil && task.StartedAt.Before(task.CreatedAt) ||
		task.CompletedAt != nil && task.CompletedAt.Before(task.CreatedAt) ||
		task.CompletedAt != nil && task.StartedAt != nil && task.CompletedAt.Before(*task.StartedAt) {
		m.fail("%s: times out of order: %+v", key, task)
	}
	if task.State.Finished() {
		if task.CompletedAt == nil {
			m.fail("%s: finished without completed_at: %+v", key, task)
		}
		if g.final != nil && g.final.CompletedAt != nil {
			f := g.final
			if f.Attempts != task.Attempts || !f.CompletedAt.Equal(*task.CompletedAt) || !bytes.Equal(f.Result, task.Result) ||
				f.Error != task.Error || !equalTime(f.StartedAt, task.StartedAt) {
				m.fail("%s: a final state changed:\n  was %+v\n  now %+v", key, *f, task)
			}
		} else {
			if g.final == nil {
				g.finalSeen = after
			}
			g.final = &task
			m.count(fmt.Sprintf("%s %s (flagged %v)", g.kind.name, task.State, g.flagged))
			m.checkFinal(key, g)
		}
	} else {
		g.lastLive = before
	}
	g.last = task.State
}

// checkFinal checks the attempts a finished task made.
func (m *model) checkFinal(key string, g *gen) {
	m.t.Helper()
	f := g.final
	if f.State == g.kind.final && f.State != taskstore.StateCancelled && f.Attempts != g.kind.attempts {
		m.fail("%s: %s task %s after %d attempts, want %d: %+v", key, g.kind.name, f.State, f.Attempts, g.kind.attempts, *f)
	}
	if f.State == taskstore.StateCompleted && len(f.Result) == 0 {
		m.fail("%s: completed without a result: %+v", key, *f)
	}
}

func equalTime(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}

// TestModel drives random interleavings of submissions (the same and other
// keys, the same and other payloads), cancels and reads against a worker
// completing, failing and retrying tasks, with a retention short enough
// that tasks expire during the run, and checks every answer against a
// small model: the same key names one task while it is kept, and a new one
// after; states only move forward; a final state never changes until the
// task disappears, which happens within its state's retention (never while
// it is live); times are in order.
//
//	go test -count=1 -v -run TestModel ./app/internal/taskstore  (CALCGRID_MODEL_SEED=n replays a run)
func TestModel(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("CALCGRID_MODEL_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (CALCGRID_MODEL_SEED=%d replays this run's choices)", seed, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	m := &model{t: t, keys: map[string]*gen{}, events: map[string]int{},
		ret: taskstore.Retention{Completed: 2 * time.Second, Failed: 3 * time.Second, Cancelled: 2 * time.Second}}
	e := newEnv(t, m.ret)
	e.startWorker(4)
	ctx := t.Context()
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5"}

	submit := func(key string, k kind) {
		g := m.keys[key]
		before := time.Now()
		task, created, err := e.store.Submit(ctx, e.sub(k.body, key), 10000)
		after := time.Now()
		m.log("submit %s %s → created %v %s %v", key, k.name, created, task.State, err)
		if err == nil && created {
			if g != nil && !g.gone {
				m.gone(key, g, after) // the old task must have been allowed to go
			}
			if task.ID != taskstore.IDFor(key) || task.State != taskstore.StatePending {
				m.fail("%s: created %+v", key, task)
			}
			if g != nil && !task.CreatedAt.After(g.created) {
				m.fail("%s: new task created %s, not after the old one (%s)", key, task.CreatedAt, g.created)
			}
			m.keys[key] = &gen{id: task.ID, kind: k, created: task.CreatedAt, last: taskstore.StatePending, lastLive: before}
			if g != nil {
				m.count("key reused after expiry")
			}
			return
		}
		if g == nil || g.gone {
			m.fail("%s: submission not accepted (created %v, %v) for a free key", key, created, err)
		}
		if errors.Is(err, taskstore.ErrKeyReused) {
			if k.name == g.kind.name {
				m.fail("%s: the same submission is refused as another: %v", key, err)
			}
			m.count("key reused by another submission: refused")
			return
		}
		if err != nil {
			m.fail("%s: submit: %v", key, err)
		}
		if k.name != g.kind.name {
			m.fail("%s: submission %s answered with the task of %s: %+v", key, k.name, g.kind.name, task)
		}
		m.count("same submission again: existing task")
		m.seen(key, g, task, before, after)
	}

	cancel := func(key string) {
		g := m.keys[key]
		id := taskstore.IDFor(key)
		before := time.Now()
		task, err := e.store.Cancel(ctx, id)
		after := time.Now()
		m.log("cancel %s → %s %v", key, task.State, err)
		if g != nil && !g.gone {
			answer := string(task.State)
			switch {
			case errors.Is(err, taskstore.ErrNotFound):
				answer = "not found"
			case errors.Is(err, taskstore.ErrFinished):
				answer = "already finished"
			}
			m.count(fmt.Sprintf("cancel %s → %s", g.last, answer))
		}
		switch {
		case errors.Is(err, taskstore.ErrNotFound):
			m.gone(key, g, after)
		case errors.Is(err, taskstore.ErrFinished):
			if g == nil || g.gone {
				m.fail("%s: cancel says finished for no task: %v", key, err)
			}
			state := taskstore.StateCompleted
			if strings.HasSuffix(err.Error(), string(taskstore.StateFailed)) {
				state = taskstore.StateFailed
			}
			if !g.allowed(state) {
				m.fail("%s: task %s (%s, flagged %v) went %s → %s (cancel: %v)", key, g.id, g.kind.name, g.flagged, g.last, state, err)
			}
			if g.final == nil {
				g.final, g.finalSeen = &taskstore.Task{State: state}, after
			}
		case err != nil:
			m.fail("%s: cancel: %v", key, err)
		default:
			if g != nil && !g.gone && g.final == nil {
				g.flagged = true
			}
			if task.State != taskstore.StateCancelled && task.State != taskstore.StateActive && !task.State.Finished() {
				m.fail("%s: cancel answered %s", key, task.State)
			}
			m.seen(key, g, task, before, after)
		}
	}

	get := func(key string) {
		g := m.keys[key]
		before := time.Now()
		task, err := e.store.Get(ctx, taskstore.IDFor(key))
		after := time.Now()
		m.log("get %s → %s %v", key, task.State, err)
		switch {
		case errors.Is(err, taskstore.ErrNotFound):
			m.gone(key, g, after)
		case err != nil:
			m.fail("%s: get: %v", key, err)
		default:
			m.seen(key, g, task, before, after)
		}
	}

	ops := 0
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); ops++ {
		key := keys[rng.IntN(len(keys))]
		switch r := rng.IntN(100); {
		case r < 25:
			k := kinds[rng.IntN(len(kinds))]
			if g := m.keys[key]; g != nil && rng.IntN(2) == 0 {
				k = g.kind // the same submission again
			}
			submit(key, k)
		case r < 40:
			cancel(key)
		case r < 85:
			get(key)
		default:
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		}
	}
	// Every task finishes and expires; then nothing of it is left.
	for key := range m.keys {
		for deadline := time.Now().Add(20 * time.Second); !m.keys[key].gone; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				m.fail("%s: task %s still found 20 s after the run", key, m.keys[key].id)
			}
			get(key)
		}
	}
	t.Logf("%d operations on %d keys", ops, len(keys))
	events := make([]string, 0, len(m.events))
	for ev, n := range m.events {
		events = append(events, fmt.Sprintf("%4d  %s", n, ev))
	}
	slices.Sort(events)
	t.Logf("events:\n%s", strings.Join(events, "\n"))
	for _, pattern := range []string{"calcgrid:payload:*", "asynq:{*}:t:*"} {
		if left, _ := e.rdb.Keys(ctx, pattern).Result(); len(left) > 0 {
			m.fail("after every task expired, Redis still holds %v", left)
		}
	}
	left, _ := e.rdb.Keys(ctx, "calcgrid:task:*").Result()
	for _, k := range left {
		if ttl, _ := e.rdb.PTTL(ctx, k).Result(); ttl <= 0 {
			m.fail("metadata %s outlived its task without a TTL (%s)", k, ttl)
		}
	}
}
