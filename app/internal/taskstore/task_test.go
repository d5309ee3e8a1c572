package taskstore

import (
	"testing"

	"github.com/hibiken/asynq"
)

func TestStateOf(t *testing.T) {
	for _, c := range []struct {
		asynq     asynq.TaskState
		cancelled bool
		want      State
	}{
		{asynq.TaskStatePending, false, StatePending},
		{asynq.TaskStateScheduled, false, StateScheduled},
		{asynq.TaskStateActive, false, StateActive},
		{asynq.TaskStateRetry, false, StateRetry},
		{asynq.TaskStateCompleted, false, StateCompleted},
		{asynq.TaskStateArchived, false, StateFailed},
		{asynq.TaskStateArchived, true, StateCancelled},
		// Cancelled is final: a flagged task still waiting is not yet.
		{asynq.TaskStatePending, true, StatePending},
		{asynq.TaskStateRetry, true, StateRetry},
		// A running task is active until it stops; a finished one stays so.
		{asynq.TaskStateActive, true, StateActive},
		{asynq.TaskStateCompleted, true, StateCompleted},
	} {
		if got := stateOf(c.asynq, c.cancelled); got != c.want {
			t.Errorf("stateOf(%s, cancelled=%v) = %s, want %s", c.asynq, c.cancelled, got, c.want)
		}
	}
}

func TestCursor(t *testing.T) {
	c := cursor{Pair: 4, Page: 2, Limit: 50}
	got, err := decodeCursor(c.encode())
	if err != nil || got != c {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "xyz", cursor{Pair: -1, Page: 1, Limit: 1}.encode(), cursor{Page: 0, Limit: 1}.encode(), cursor{Page: 1, Limit: 5000}.encode()} {
		if _, err := decodeCursor(bad); err != ErrCursor {
			t.Errorf("decodeCursor(%q) = %v, want ErrCursor", bad, err)
		}
	}
}

func TestIDForIsStable(t *testing.T) {
	a, b, other := IDFor("k"), IDFor("k"), IDFor("k2")
	if a != b || a == other {
		t.Error("IDFor must map equal keys to equal ids and different keys to different ids")
	}
}
