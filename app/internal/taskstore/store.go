// Package taskstore keeps tasks in Redis: asynq holds the queues, payloads,
// results and retry state; a small hash per task (calcgrid:task:{id}) holds
// what asynq does not track (request id, creation and start times, attempts,
// progress, the cancel flag) and lives as long as asynq keeps the result.
package taskstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// Errors the API maps to statuses; any other error means Redis is
// unreachable or refused the write (503).
var (
	ErrNotFound  = errors.New("task not found")
	ErrQueueFull = errors.New("queue is full")
	ErrKeyReused = errors.New("idempotency key was already used for a different submission")
	ErrFinished  = errors.New("task has already finished")
	ErrCursor    = errors.New("invalid cursor")
)

// idNamespace makes task ids UUIDv5 of the idempotency key: the same key
// always names the same task, which asynq's TaskID option keeps unique.
var idNamespace = uuid.MustParse("6f0f7c0e-4a47-4d8e-9a43-8f3f3b1d52a1")

// CancelChannel is the pub/sub channel on which cancellations of running
// tasks are announced to workers.
const CancelChannel = "calcgrid:cancel"

func metaKey(id string) string { return "calcgrid:task:" + id }

// Fields of the metadata hash.
const (
	fQueue       = "queue"
	fRequestID   = "request_id"
	fCreatedAt   = "created_at"
	fFingerprint = "fingerprint"
	fAttempts    = "attempts"
	fStartedAt   = "started_at"
	fProgress    = "progress"
	fCancelledAt = "cancelled_at"
	fEndedAt     = "ended_at"
)

type meta struct {
	queue, requestID, fingerprint     string
	createdAt, startedAt, cancelledAt time.Time
	endedAt                           time.Time
	attempts                          int
	progress                          float64
}

func parseMeta(h map[string]string) meta {
	m := meta{queue: h[fQueue], requestID: h[fRequestID], fingerprint: h[fFingerprint]}
	m.createdAt, _ = time.Parse(time.RFC3339Nano, h[fCreatedAt])
	m.startedAt, _ = time.Parse(time.RFC3339Nano, h[fStartedAt])
	m.cancelledAt, _ = time.Parse(time.RFC3339Nano, h[fCancelledAt])
	m.endedAt, _ = time.Parse(time.RFC3339Nano, h[fEndedAt])
	m.attempts, _ = strconv.Atoi(h[fAttempts])
	m.progress, _ = strconv.ParseFloat(h[fProgress], 64)
	return m
}

// TimeoutGrace is how long after a task's own timeout asynq's deadline
// comes. The worker ends a timed-out attempt itself at the task's timeout, so
// it can mark the timeout final (asynq, ending the attempt on its own
// deadline, would retry it).
const TimeoutGrace = 2 * time.Second

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// Store reads and writes tasks.
type Store struct {
	rdb       redis.UniversalClient
	client    *asynq.Client
	inspector *asynq.Inspector
	retention time.Duration
	mem       memoryCache
}

// New returns a Store on rdb keeping finished tasks for retention. The caller
// closes rdb.
func New(rdb redis.UniversalClient, retention time.Duration) *Store {
	return &Store{
		rdb:       rdb,
		client:    asynq.NewClientFromRedisClient(rdb),
		inspector: asynq.NewInspectorFromRedisClient(rdb),
		retention: retention,
	}
}

// Redis is the client the store uses (the worker's asynq server shares it).
func (s *Store) Redis() redis.UniversalClient { return s.rdb }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// Submission is a validated task to enqueue.
type Submission struct {
	Type string
	// Payload is the prepared payload the handler runs (defaults filled in,
	// including a random seed when none was given).
	Payload json.RawMessage
	// Submitted is the payload as the client sent it: what makes two
	// submissions under one idempotency key "the same". Comparing Payload
	// instead would reject an identical retry whose drawn seed differs.
	Submitted json.RawMessage
	Queue     string
	// MaxRetry and Timeout are already resolved against the type's defaults.
	MaxRetry int
	Timeout  time.Duration
	// Key identifies the submission: the same key never creates two tasks.
	Key       string
	RequestID string
}

func (s Submission) fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00", s.Type, s.Queue, s.MaxRetry, s.Timeout)
	h.Write(s.Submitted)
	return hex.EncodeToString(h.Sum(nil))
}

// IDFor is the task id a submission key maps to.
func IDFor(key string) string { return uuid.NewSHA1(idNamespace, []byte(key)).String() }

// Submit enqueues sub unless its key already names a task, in which case it
// returns that task and created=false. maxPending bounds the queue backlog.
func (s *Store) Submit(ctx context.Context, sub Submission, maxPending int) (t Task, created bool, err error) {
	id := IDFor(sub.Key)
	fp := sub.fingerprint()
	if t, err := s.existing(ctx, id, fp); !errors.Is(err, ErrNotFound) {
		return t, false, err
	}
	if err := s.admitStorage(ctx); err != nil {
		return Task{}, false, err
	}
	pending, err := s.pending(sub.Queue)
	if err != nil {
		return Task{}, false, err
	}
	if pending >= maxPending {
		return Task{}, false, fmt.Errorf("%w: %s holds %d pending tasks (limit %d)", ErrQueueFull, sub.Queue, pending, maxPending)
	}
	// Concurrent submissions of one key race here: the first writer's
	// metadata wins field by field (HSETNX in one transaction), and asynq
	// lets exactly one of them enqueue the id.
	key := metaKey(id)
	var first *redis.BoolCmd
	var storedFP *redis.StringCmd
	createdAt := now()
	if _, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		first = p.HSetNX(ctx, key, fQueue, sub.Queue)
		p.HSetNX(ctx, key, fRequestID, sub.RequestID)
		p.HSetNX(ctx, key, fCreatedAt, createdAt)
		p.HSetNX(ctx, key, fFingerprint, fp)
		p.Expire(ctx, key, s.retention)
		storedFP = p.HGet(ctx, key, fFingerprint)
		return nil
	}); err != nil {
		return Task{}, false, fmt.Errorf("store task metadata: %w", err)
	}
	if storedFP.Val() != fp {
		return Task{}, false, fmt.Errorf("%w (task %s)", ErrKeyReused, id)
	}
	task := asynq.NewTaskWithHeaders(sub.Type, sub.Payload, map[string]string{fRequestID: sub.RequestID})
	info, err := s.client.EnqueueContext(ctx, task,
		asynq.TaskID(id), asynq.Queue(sub.Queue), asynq.MaxRetry(sub.MaxRetry),
		asynq.Timeout(sub.Timeout+TimeoutGrace), asynq.Retention(s.retention))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		t, err := s.existing(ctx, id, fp)
		return t, false, err
	}
	if err != nil {
		if first.Val() {
			// Leave nothing behind (Redis refuses writes when out of
			// memory, but not deletes).
			cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			s.rdb.Del(cleanup, key)
		}
		return Task{}, false, fmt.Errorf("enqueue: %w", err)
	}
	m, err := s.meta(ctx, id)
	if err != nil {
		return Task{}, false, err
	}
	return build(info, m), true, nil
}

// existing returns the task with id if it exists and was submitted with
// fingerprint fp.
func (s *Store) existing(ctx context.Context, id, fp string) (Task, error) {
	t, m, err := s.load(ctx, id)
	if err != nil {
		return Task{}, err
	}
	if m.fingerprint != fp {
		return Task{}, fmt.Errorf("%w (task %s)", ErrKeyReused, id)
	}
	return t, nil
}

func (s *Store) pending(queue string) (int, error) {
	q, err := s.QueueInfo(queue)
	if err != nil {
		return 0, err
	}
	return q.Pending, nil
}

// QueueInfo reports a queue; one that never held a task is empty. (asynq
// creates queues on first use and reports unknown ones with an error it
// does not export.)
func (s *Store) QueueInfo(queue string) (*asynq.QueueInfo, error) {
	names, err := s.inspector.Queues()
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	if !slices.Contains(names, queue) {
		return &asynq.QueueInfo{Queue: queue}, nil
	}
	info, err := s.inspector.GetQueueInfo(queue)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", queue, err)
	}
	return info, nil
}

func (s *Store) meta(ctx context.Context, id string) (meta, error) {
	h, err := s.rdb.HGetAll(ctx, metaKey(id)).Result()
	if err != nil {
		return meta{}, fmt.Errorf("read task %s: %w", id, err)
	}
	if h[fQueue] == "" {
		return meta{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return parseMeta(h), nil
}

// load reads asynq's record before the metadata, so that a task seen
// finished also shows the start its worker recorded.
func (s *Store) load(ctx context.Context, id string) (Task, meta, error) {
	queue, err := s.rdb.HGet(ctx, metaKey(id), fQueue).Result()
	if errors.Is(err, redis.Nil) {
		return Task{}, meta{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Task{}, meta{}, fmt.Errorf("read task %s: %w", id, err)
	}
	info, err := s.inspector.GetTaskInfo(queue, id)
	if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return Task{}, meta{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Task{}, meta{}, fmt.Errorf("read task %s: %w", id, err)
	}
	m, err := s.meta(ctx, id)
	if err != nil {
		return Task{}, meta{}, err
	}
	return build(info, m), m, nil
}

// Get returns the task with id.
func (s *Store) Get(ctx context.Context, id string) (Task, error) {
	t, _, err := s.load(ctx, id)
	return t, err
}

// Cancel stops a task: a waiting one leaves its queue at once, a running one
// is told to stop (its worker archives it without retry). It returns the
// task as it is now, which for a running task is still active.
func (s *Store) Cancel(ctx context.Context, id string) (Task, error) {
	t, err := s.Get(ctx, id)
	if err != nil {
		return Task{}, err
	}
	switch t.State {
	case StateCancelled:
		return t, nil
	case StateCompleted, StateFailed:
		return t, fmt.Errorf("%w: task %s is %s", ErrFinished, id, t.State)
	}
	// The flag comes first: a worker that starts the task from now on sees
	// it, and one already running it gets the message published below.
	key := metaKey(id)
	if _, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSetNX(ctx, key, fCancelledAt, now())
		p.Expire(ctx, key, s.retention)
		return nil
	}); err != nil {
		return Task{}, fmt.Errorf("cancel task %s: %w", id, err)
	}
	if t.State != StateActive {
		// Fails harmlessly when a worker has just picked the task up.
		_ = s.inspector.ArchiveTask(t.Queue, id)
	}
	if err := s.rdb.Publish(ctx, CancelChannel, id).Err(); err != nil {
		return Task{}, fmt.Errorf("cancel task %s: %w", id, err)
	}
	return s.Get(ctx, id)
}

// QueueStats describes one queue.
type QueueStats struct {
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

// Queues reports every queue; weights come from the caller's configuration.
func (s *Store) Queues(weights map[string]int) ([]QueueStats, error) {
	queues := tasks.Queues()
	out := make([]QueueStats, 0, len(queues))
	for _, name := range queues {
		q := QueueStats{Name: name, Weight: weights[name]}
		info, err := s.QueueInfo(name)
		if err != nil {
			return nil, err
		}
		q.Paused, q.Pending, q.Active, q.Scheduled = info.Paused, info.Pending, info.Active, info.Scheduled
		q.Retry, q.Failed, q.Completed = info.Retry, info.Archived, info.Completed
		q.ProcessedToday, q.FailedToday = info.Processed, info.Failed
		q.LatencyMS = info.Latency.Milliseconds()
		out = append(out, q)
	}
	return out, nil
}

// Filter selects tasks for List; empty fields match everything.
type Filter struct {
	State State
	Queue string
	Limit int
}

// cursor is the position of the next page: a (queue, asynq list) pair of the
// filter's sequence and a page number in it.
type cursor struct {
	Pair  int `json:"i"`
	Page  int `json:"p"`
	Limit int `json:"n"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Pair < 0 || c.Page < 1 || c.Limit < 1 || c.Limit > 1000 {
		return cursor{}, ErrCursor
	}
	return c, nil
}

type listPair struct {
	queue string
	state asynq.TaskState
}

// asynqStates is where each State lives in asynq; failed and cancelled
// tasks share the archive.
func asynqStates(s State) []asynq.TaskState {
	switch s {
	case StatePending:
		return []asynq.TaskState{asynq.TaskStatePending}
	case StateScheduled:
		return []asynq.TaskState{asynq.TaskStateScheduled}
	case StateActive:
		return []asynq.TaskState{asynq.TaskStateActive}
	case StateRetry:
		return []asynq.TaskState{asynq.TaskStateRetry}
	case StateCompleted:
		return []asynq.TaskState{asynq.TaskStateCompleted}
	case StateFailed, StateCancelled:
		return []asynq.TaskState{asynq.TaskStateArchived}
	}
	return []asynq.TaskState{asynq.TaskStatePending, asynq.TaskStateScheduled, asynq.TaskStateActive,
		asynq.TaskStateRetry, asynq.TaskStateCompleted, asynq.TaskStateArchived}
}

func (f Filter) pairs() []listPair {
	queues := tasks.Queues()
	if f.Queue != "" {
		queues = []string{f.Queue}
	}
	var out []listPair
	for _, q := range queues {
		for _, st := range asynqStates(f.State) {
			out = append(out, listPair{q, st})
		}
	}
	return out
}

func (s *Store) listPage(p listPair, page, size int) ([]*asynq.TaskInfo, error) {
	opts := []asynq.ListOption{asynq.Page(page), asynq.PageSize(size)}
	var infos []*asynq.TaskInfo
	var err error
	switch p.state {
	case asynq.TaskStatePending:
		infos, err = s.inspector.ListPendingTasks(p.queue, opts...)
	case asynq.TaskStateScheduled:
		infos, err = s.inspector.ListScheduledTasks(p.queue, opts...)
	case asynq.TaskStateActive:
		infos, err = s.inspector.ListActiveTasks(p.queue, opts...)
	case asynq.TaskStateRetry:
		infos, err = s.inspector.ListRetryTasks(p.queue, opts...)
	case asynq.TaskStateCompleted:
		infos, err = s.inspector.ListCompletedTasks(p.queue, opts...)
	default:
		infos, err = s.inspector.ListArchivedTasks(p.queue, opts...)
	}
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return nil, nil
	}
	return infos, err
}

// List returns a page of tasks and the cursor of the next page ("" after
// the last). Pages may hold fewer than Limit tasks; only an empty next
// cursor means the end. A cursor carries its own page size.
func (s *Store) List(ctx context.Context, f Filter, after string) ([]Task, string, error) {
	c := cursor{Page: 1, Limit: f.Limit}
	if after != "" {
		var err error
		if c, err = decodeCursor(after); err != nil {
			return nil, "", err
		}
	}
	pairs := f.pairs()
	out := []Task{}
	for c.Pair < len(pairs) {
		infos, err := s.listPage(pairs[c.Pair], c.Page, c.Limit)
		if err != nil {
			return nil, "", fmt.Errorf("list tasks: %w", err)
		}
		if len(infos) == c.Limit {
			c.Page++
		} else {
			c.Pair, c.Page = c.Pair+1, 1
		}
		page, err := s.withMeta(ctx, infos)
		if err != nil {
			return nil, "", err
		}
		for _, t := range page {
			if f.State == "" || t.State == f.State {
				out = append(out, t)
			}
		}
		if len(out) > 0 {
			break
		}
	}
	if c.Pair >= len(pairs) {
		return out, "", nil
	}
	return out, c.encode(), nil
}

// withMeta reads the metadata of infos in one round trip.
func (s *Store) withMeta(ctx context.Context, infos []*asynq.TaskInfo) ([]Task, error) {
	if len(infos) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(infos))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, info := range infos {
			cmds[i] = p.HGetAll(ctx, metaKey(info.ID))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read task metadata: %w", err)
	}
	out := make([]Task, len(infos))
	for i, info := range infos {
		out[i] = build(info, parseMeta(cmds[i].Val()))
	}
	return out, nil
}

// ValidState reports whether s names a state (for query validation).
func ValidState(s string) bool { return slices.Contains(States(), State(s)) }
