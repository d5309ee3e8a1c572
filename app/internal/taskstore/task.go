package taskstore

import (
	"encoding/json"
	"time"

	"github.com/hibiken/asynq"
)

// State is where a task is in its life; the API reports it verbatim.
type State string

// The states of a task.
const (
	StatePending   State = "pending"
	StateScheduled State = "scheduled"
	StateActive    State = "active"
	StateRetry     State = "retry"
	StateCompleted State = "completed"
	StateFailed    State = "failed"
	StateCancelled State = "cancelled"
)

// States returns every state in lifecycle order, in a new slice each call.
func States() []State {
	return []State{StatePending, StateScheduled, StateActive, StateRetry, StateCompleted, StateFailed, StateCancelled}
}

// Finished reports whether s is final.
func (s State) Finished() bool {
	return s == StateCompleted || s == StateFailed || s == StateCancelled
}

// Task is a submitted task as the API shows it. Queue (high, medium or low)
// goes out as "priority", the name under which clients choose it when they
// submit.
type Task struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Queue       string          `json:"priority"`
	State       State           `json:"state"`
	Attempts    int             `json:"attempts"`
	MaxRetry    int             `json:"max_retry"`
	Progress    float64         `json:"progress"`
	Result      json.RawMessage `json:"result,omitempty"`
	Error       string          `json:"error,omitempty"`
	RequestID   string          `json:"request_id"`
	CreatedAt   time.Time       `json:"created_at"`
	StartedAt   *time.Time      `json:"started_at"`
	CompletedAt *time.Time      `json:"completed_at"`
}

// stateOf maps asynq's view plus calcgrid's cancel flag to a State. A task
// shows cancelled once asynq archived it with the flag set, which is final;
// a flagged task still waiting (its running attempt failed before it saw
// the cancel) shows its asynq state until it is archived, which Get does at
// once (load) and its worker at its next start. One that completed before
// the cancel took effect stays completed.
func stateOf(s asynq.TaskState, cancelled bool) State {
	switch s {
	case asynq.TaskStateActive:
		return StateActive
	case asynq.TaskStateCompleted:
		return StateCompleted
	case asynq.TaskStateScheduled:
		return StateScheduled
	case asynq.TaskStateRetry:
		return StateRetry
	case asynq.TaskStateArchived:
		if cancelled {
			return StateCancelled
		}
		return StateFailed
	default:
		return StatePending
	}
}

// endTime is when a finished task ended: the worker's record, or asynq's
// whole-second time for a task whose worker could not write it, never
// before the task was created or started.
func endTime(m meta, asynqTime time.Time) *time.Time {
	if !m.endedAt.IsZero() {
		return &m.endedAt
	}
	if asynqTime.IsZero() {
		return nil
	}
	t := asynqTime
	for _, earlier := range []time.Time{m.createdAt, m.startedAt} {
		if t.Before(earlier) {
			t = earlier
		}
	}
	return &t
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// build combines asynq's task info with the metadata calcgrid keeps.
func build(info *asynq.TaskInfo, m meta) Task {
	t := Task{
		ID:        info.ID,
		Type:      info.Type,
		Queue:     info.Queue,
		State:     stateOf(info.State, !m.cancelledAt.IsZero()),
		Attempts:  m.attempts,
		MaxRetry:  info.MaxRetry,
		Progress:  m.progress,
		RequestID: m.requestID,
		CreatedAt: m.createdAt,
		StartedAt: timePtr(m.startedAt),
	}
	switch t.State {
	case StateActive:
		// asynq marks a task active a moment before the worker records it.
		t.Attempts = max(t.Attempts, info.Retried+1)
	case StateCompleted:
		t.Progress = 1
		t.Result = json.RawMessage(info.Result)
		t.CompletedAt = endTime(m, info.CompletedAt)
	case StateFailed:
		t.CompletedAt = endTime(m, info.LastFailedAt)
	case StateCancelled:
		// When the cancel was accepted (the scripts keep it ≥ started_at),
		// which no later step changes.
		t.CompletedAt = timePtr(m.cancelledAt)
	}
	if !t.State.Finished() || t.State == StateFailed {
		t.Error = info.LastErr
	}
	if len(t.Result) > 0 && !json.Valid(t.Result) {
		t.Result = nil
	}
	return t
}
