package client

import (
	"encoding/json"
	"time"
)

// The shapes below are the wire format of openapi.yaml, declared here
// rather than imported from taskstore or api: the client depends on the HTTP
// contract only (taskstore brings asynq and Redis with it, and api the whole
// server). TestWireShapes decodes what the server's own types encode with
// unknown fields disallowed, so a field added there and not here turns red.

// State is where a task is in its life.
type State string

// The states a task can be in.
const (
	StatePending   State = "pending"
	StateScheduled State = "scheduled"
	StateActive    State = "active"
	StateRetry     State = "retry"
	StateCompleted State = "completed"
	StateFailed    State = "failed"
	StateCancelled State = "cancelled"
)

// Finished reports whether s is final: completed, failed or cancelled.
func (s State) Finished() bool {
	return s == StateCompleted || s == StateFailed || s == StateCancelled
}

// Task is a submitted task. Raw is the JSON the server sent, so that a
// client printing it passes on fields this version does not know.
type Task struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Priority    string          `json:"priority"`
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

	Raw json.RawMessage `json:"-"`
}

// Submission is the body of POST /v1/tasks. Nil and empty fields are not
// sent, so the server applies the type's defaults; a pointer field given,
// even empty or 0, is sent and validated.
type Submission struct {
	Type           string          `json:"type"`
	Payload        json.RawMessage `json:"payload,omitempty"`
	Priority       *string         `json:"priority,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	MaxRetry       *int            `json:"max_retry,omitempty"`
	TimeoutS       *int            `json:"timeout_s,omitempty"`
}

// ListOptions select and page GET /v1/tasks; empty fields are not sent.
type ListOptions struct {
	State  State
	Queue  string
	Limit  int
	Cursor string
}

// Page is one page of GET /v1/tasks; NextCursor is empty on the last.
type Page struct {
	Tasks      []Task
	NextCursor string
}

// Queue is one queue of GET /v1/queues.
type Queue struct {
	Name           string `json:"name"`
	Weight         int    `json:"weight"`
	Paused         bool   `json:"paused"`
	Pending        int    `json:"pending"`
	Active         int    `json:"active"`
	Scheduled      int    `json:"scheduled"`
	Retry          int    `json:"retry"`
	Failed         int    `json:"failed"`
	Completed      int    `json:"completed"`
	ProcessedToday int    `json:"processed_today"`
	FailedToday    int    `json:"failed_today"`
	LatencyMS      int64  `json:"latency_ms"`
}

// TaskType is one type of GET /v1/task-types. PayloadSchema is a JSON
// Schema, kept raw so that numbers keep their exact text.
type TaskType struct {
	Name          string          `json:"name"`
	Description   string          `json:"description"`
	Queue         string          `json:"queue"`
	TimeoutS      int             `json:"timeout_s"`
	MaxRetry      int             `json:"max_retry"`
	PayloadSchema json.RawMessage `json:"payload_schema"`

	Raw json.RawMessage `json:"-"`
}
