// Package taskstore keeps tasks in Redis: asynq holds the queues, results
// and retry state; calcgrid keeps, per task, a small metadata hash
// (calcgrid:task:{id}: request id, fingerprint, times, attempts, progress,
// the cancel flag) and, until the task ends, its payload
// (calcgrid:payload:{id}). Both are written in the same Lua script as
// asynq's record, live as long as it does, and a task is found only while
// both records exist.
//
// Every task belongs to a tenant (tenant.go): its id derives from the
// tenant and the idempotency key (Store.ID), the *For methods and
// Filter.Tenant see only the tenant's tasks, and per-tenant and per-API-key
// sets of unfinished tasks count usage and bound a key's max_pending.
package taskstore

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	// ErrKeyBusy: the submitting API key already has its max_pending
	// unfinished tasks.
	ErrKeyBusy = errors.New("too many unfinished tasks for this key")
	// ErrNotReplicated: a submission was not confirmed on the replicas
	// WaitForReplicas asks for, or the primary refused it for want of
	// replicas (NOREPLICAS) or is one no longer (READONLY, a failover).
	// The task may exist: the same idempotency key finds it.
	ErrNotReplicated = errors.New("submission not confirmed by the Redis replicas")
)

// idNamespace makes task ids UUIDv5 of the idempotency key: the same key
// always names the same task, which asynq's TaskID option keeps unique.
var idNamespace = uuid.MustParse("6f0f7c0e-4a47-4d8e-9a43-8f3f3b1d52a1")

// CancelChannel is the pub/sub channel on which cancellations of running
// tasks are announced to workers.
const CancelChannel = "calcgrid:cancel"

// WakeChannel is the pub/sub channel on which a queue's name is announced
// whenever a task becomes pending in it, from the same script that pushes
// it: an idle worker that waits for work instead of polling
// (worker.Options.IdleWait) takes it at once.
const WakeChannel = "calcgrid:wake"

const (
	metaPrefix    = "calcgrid:task:"
	payloadPrefix = "calcgrid:payload:"
)

func metaKey(id string) string    { return metaPrefix + id }
func payloadKey(id string) string { return payloadPrefix + id }

// Fields of the metadata hash. Times are unix microseconds from Redis's own
// clock (TIME), so that API and worker machines whose clocks differ still
// record created ≤ started ≤ ended; the scripts also enforce that order.
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
	// fNonce is random per Submit call: it tells the call that created a
	// task from any other, even one carrying the same request id.
	fNonce = "nonce"
	// fTenant owns the task (DefaultTenant when absent: tasks written
	// before tenants existed); fKey is the id of the API key that
	// submitted it ("" without one).
	fTenant = "tenant"
	fKey    = "key"
	// The scripts also keep "outcome": the final state a worker recorded
	// (completed, failed or cancelled) just before asynq records it; a task
	// run again after its worker died in between replays it instead of
	// running without its payload.
)

type meta struct {
	queue, requestID, fingerprint     string
	nonce, tenant                     string
	createdAt, startedAt, cancelledAt time.Time
	endedAt                           time.Time
	attempts                          int
	progress                          float64
}

func parseMeta(h map[string]string) meta {
	m := meta{queue: h[fQueue], requestID: h[fRequestID], fingerprint: h[fFingerprint], nonce: h[fNonce], tenant: h[fTenant]}
	if m.tenant == "" {
		m.tenant = DefaultTenant
	}
	m.createdAt = parseTime(h[fCreatedAt])
	m.startedAt = parseTime(h[fStartedAt])
	m.cancelledAt = parseTime(h[fCancelledAt])
	m.endedAt = parseTime(h[fEndedAt])
	m.attempts, _ = strconv.Atoi(h[fAttempts])
	m.progress, _ = strconv.ParseFloat(h[fProgress], 64)
	return m
}

// parseTime reads a metadata time: unix microseconds, or RFC 3339 in
// records written before the scripts kept Redis's clock.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if us, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMicro(us).UTC()
	}
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// TimeoutGrace is how long after a task's own timeout asynq's deadline
// comes. The worker ends a timed-out attempt itself at the task's timeout, so
// it can mark the timeout final (asynq, ending the attempt on its own
// deadline, would retry it).
const TimeoutGrace = 2 * time.Second

// Retention is how long a task is kept after it reaches each final state:
// its asynq record (with the result) and its metadata, which expire
// together. asynq itself keeps archived (failed and cancelled) tasks at
// most 90 days and 10,000 per queue.
type Retention struct {
	Completed, Failed, Cancelled time.Duration
}

// KeepFor is a Retention of d in every final state.
func KeepFor(d time.Duration) Retention { return Retention{d, d, d} }

// ttls are the metadata TTLs of the final states, in milliseconds, as the
// scripts take them: completed, failed, cancelled. A finished task's
// metadata expires when its retention ends, and the task with it (a task
// is found only while both records exist); asynq's record follows within
// a sweep (Sweep, or asynq's own janitor for completed tasks).
func (r Retention) ttls() []any {
	return []any{r.Completed.Milliseconds(), r.Failed.Milliseconds(), r.Cancelled.Milliseconds()}
}

// Store reads and writes tasks.
type Store struct {
	rdb       redis.UniversalClient
	inspector *asynq.Inspector
	retention Retention
	mem       memoryCache
	idSecret  idSecret
	wait      waitReplicas
}

// waitReplicas is what WaitForReplicas set.
type waitReplicas struct {
	replicas int
	timeout  time.Duration
	// conn opens a connection of rdb's own: WAIT counts the replicas that
	// have the last write of the connection it is sent on.
	conn func() *redis.Conn
}

// WaitForReplicas makes Submit accept a task only once n replicas
// acknowledged its write (Redis WAIT, up to timeout), else answer
// ErrNotReplicated; n = 0 (the default) accepts it once the primary has
// it. It needs a client of one primary (a *redis.Client, which a
// Sentinel-watched one is too). Call it before the Store is used.
func (s *Store) WaitForReplicas(n int, timeout time.Duration) error {
	if n <= 0 {
		s.wait = waitReplicas{}
		return nil
	}
	c, ok := s.rdb.(interface{ Conn() *redis.Conn })
	if !ok {
		return fmt.Errorf("waiting for replicas needs a client of one primary, not %T", s.rdb)
	}
	if timeout < time.Millisecond {
		// WAIT takes whole milliseconds, and 0 waits forever.
		return fmt.Errorf("the replica wait timeout must be at least 1ms (got %s)", timeout)
	}
	s.wait = waitReplicas{replicas: n, timeout: timeout, conn: c.Conn}
	return nil
}

// New returns a Store on rdb keeping finished tasks for r. The caller
// closes rdb.
func New(rdb redis.UniversalClient, r Retention) *Store {
	return &Store{
		rdb:       rdb,
		inspector: asynq.NewInspectorFromRedisClient(rdb),
		retention: r,
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
	// Tenant owns the task: the key above is scoped to it (DefaultTenant
	// when empty).
	Tenant string
	// APIKeyID is the API key submitting ("" for none; not the idempotency
	// Key above); APIKeyMaxPending > 0 bounds that key's unfinished tasks
	// (ErrKeyBusy).
	APIKeyID         string
	APIKeyMaxPending int
}

func (s Submission) tenant() string {
	if s.Tenant == "" {
		return DefaultTenant
	}
	return s.Tenant
}

func (s Submission) fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00", s.Type, s.Queue, s.MaxRetry, s.Timeout)
	h.Write(s.Submitted)
	return hex.EncodeToString(h.Sum(nil))
}

// IDFor is the task id a submission key of DefaultTenant maps to on a
// Store without an id secret.
func IDFor(key string) string { return uuid.NewSHA1(idNamespace, []byte(key)).String() }

// ID is the task id the submission key of tenant maps to. With an id secret
// (SetIDSecret) it is HMAC-SHA256(secret, tenant NUL key) shaped as a UUID
// (version 8): no one without the secret can derive a task's id from its
// key, and two tenants' equal keys name two tasks. Without one it is a
// UUIDv5 (IDFor for DefaultTenant, the ids of tasks written before tenants
// existed): fine while one tenant is everyone, which is what running
// without a secret is for (CALCGRID_AUTH=off).
func (s *Store) ID(ctx context.Context, tenant, key string) (string, error) {
	if tenant == "" {
		tenant = DefaultTenant
	}
	secret, err := s.secret(ctx)
	if err != nil {
		return "", err
	}
	if secret == nil {
		if tenant == DefaultTenant {
			return IDFor(key), nil
		}
		return uuid.NewSHA1(idNamespace, []byte(tenant+"\x00"+key)).String(), nil
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(tenant))
	m.Write([]byte{0})
	m.Write([]byte(key))
	var u uuid.UUID
	copy(u[:], m.Sum(nil))
	u[6] = u[6]&0x0f | 0x80 // version 8: custom
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u.String(), nil
}

// SetIDSecret makes task ids keyed hashes under secret (see ID). Call it
// before the Store is used; every API replica must hold the same secret.
func (s *Store) SetIDSecret(secret []byte) { s.idSecret.value = slices.Clone(secret) }

// UseSharedIDSecret makes task ids keyed hashes under a secret kept in
// Redis (sharedSecretKey), made by the first API that needs it and read by
// the others on their first submission: every replica keys ids alike
// without a secret to deploy. Anyone who can read it can read every task
// in Redis anyway. Call it before the Store is used.
func (s *Store) UseSharedIDSecret() { s.idSecret.shared = true }

// sharedSecretKey holds the shared id secret (hex).
const sharedSecretKey = "calcgrid:id-secret"

// idSecret is the secret task ids are keyed with.
type idSecret struct {
	shared bool
	mu     sync.Mutex
	value  []byte
}

// secret returns the id secret, nil for none, loading a shared one once.
func (s *Store) secret(ctx context.Context) ([]byte, error) {
	s.idSecret.mu.Lock()
	defer s.idSecret.mu.Unlock()
	if s.idSecret.value != nil || !s.idSecret.shared {
		return s.idSecret.value, nil
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	if err := s.rdb.SetNX(ctx, sharedSecretKey, hex.EncodeToString(b[:]), 0).Err(); err != nil {
		return nil, fmt.Errorf("create the id secret: %w", err)
	}
	v, err := s.rdb.Get(ctx, sharedSecretKey).Result()
	if err != nil {
		return nil, fmt.Errorf("read the id secret: %w", err)
	}
	secret, err := hex.DecodeString(v)
	if err != nil || len(secret) < 32 {
		return nil, fmt.Errorf("the id secret in %s is not 32 bytes in hex", sharedSecretKey)
	}
	s.idSecret.value = secret
	return secret, nil
}

// submitScript accepts a submission in one atomic step: asynq's record
// (what asynq's client.Enqueue writes: the task hash, the pending list, the
// queue set), calcgrid's metadata and the payload, or nothing.
//
//	KEYS: metadata, payload, asynq's task key and pending list in the
//	      submission's queue, asynq's queue set, the tenant's and the API
//	      key's sets of unfinished tasks, the queue's settings
//	ARGV: id, queue, fingerprint, request id, encoded TaskMessage, payload,
//	      max pending, nonce, tenant, API key id, the key's max pending,
//	      "1" to rewrite a replayed task's fingerprint (else "0"), then
//	      every queue name
//
// It answers {0, fingerprint} when the key already names a task (both
// records exist), {1, pending, limit} when the queue is full (the queue's
// max_pending setting, else ARGV's; 0 admits nothing), {4, unfinished}
// when the API key has its max pending unfinished tasks, {2, created_at} once
// accepted (and the queue's name published on WakeChannel, in the same
// step, so that an idle worker wakes without a second round trip). A
// replay rewrites its task's fingerprint as it is when ARGV[12] asks: Redis's
// WAIT waits for the connection's last write, and without one the replay
// would be confirmed on replicas that may lack the task. A record
// the key left behind alone — metadata whose asynq task is gone, or a
// finished asynq task whose metadata expired — belongs to no visible task:
// it is removed and the key reused. A live asynq task without
// metadata is refused ({3, state}): nothing calcgrid writes leaves one.
var submitScript = redis.NewScript(asynqPrefixLua + unfinishedLua + `
local id = ARGV[1]
local old = redis.call("HGET", KEYS[1], "queue")
if old and redis.call("EXISTS", qprefix(old) .. "t:" .. id) == 1 then
	local fp = redis.call("HGET", KEYS[1], "fingerprint")
	if ARGV[12] == "1" and fp then
		redis.call("HSET", KEYS[1], "fingerprint", fp)
	end
	return {0, fp}
end
for i = 13, #ARGV do
	local p = qprefix(ARGV[i])
	local state = redis.call("HGET", p .. "t:" .. id, "state")
	if state == "completed" or state == "archived" then
		redis.call("ZREM", p .. state, id)
		redis.call("DEL", p .. "t:" .. id)
	elseif state then
		return {3, state}
	end
end
local limit = tonumber(ARGV[7])
if limit > 0 then
	local set = tonumber(redis.call("HGET", KEYS[8], "max_pending"))
	if set and set > 0 then
		limit = set
	end
end
local pending = redis.call("LLEN", KEYS[4])
if pending >= limit then
	return {1, pending, limit}
end
-- The key's set holds at least its unfinished tasks (ended ones leave it
-- as they end): only a set at the limit needs counting.
if tonumber(ARGV[11]) > 0 and redis.call("SCARD", KEYS[7]) >= tonumber(ARGV[11]) then
	local waiting, active = unfinished(KEYS[7])
	if waiting + active >= tonumber(ARGV[11]) then
		return {4, waiting + active}
	end
end
local t = redis.call("TIME")
local now = t[1] .. string.format("%06d", t[2])
redis.call("DEL", KEYS[1], KEYS[2])
redis.call("HSET", KEYS[1], "queue", ARGV[2], "request_id", ARGV[4], "created_at", now, "fingerprint", ARGV[3],
	"nonce", ARGV[8], "tenant", ARGV[9], "key", ARGV[10])
redis.call("SET", KEYS[2], ARGV[6])
redis.call("HSET", KEYS[3], "msg", ARGV[5], "state", "pending", "pending_since", now .. "000")
redis.call("LPUSH", KEYS[4], id)
redis.call("SADD", KEYS[5], ARGV[2])
redis.call("SADD", KEYS[6], id)
if ARGV[10] ~= "" then
	redis.call("SADD", KEYS[7], id)
end
redis.call("PUBLISH", "` + WakeChannel + `", ARGV[2])
return {2, now}
`)

// Submit enqueues sub unless its key already names a task, in which case it
// returns that task and created=false. maxPending bounds the queue backlog,
// checked inside the same atomic step, so concurrent submitters cannot
// overshoot it.
func (s *Store) Submit(ctx context.Context, sub Submission, maxPending int) (t Task, created bool, err error) {
	id, err := s.ID(ctx, sub.tenant(), sub.Key)
	if err != nil {
		return Task{}, false, err
	}
	fp := sub.fingerprint()
	// A full Redis still answers for keys that name a task: the script
	// then admits nothing new (a limit of 0).
	limit, full := maxPending, s.admitStorage(ctx)
	if full != nil {
		if !errors.Is(full, ErrStorageFull) {
			return Task{}, false, full
		}
		limit = 0
	}
	msg := asynqMessage{
		Type: sub.Type, ID: id, Queue: sub.Queue, Headers: map[string]string{fRequestID: sub.RequestID},
		Retry: sub.MaxRetry, Timeout: sub.Timeout + TimeoutGrace, Retention: s.retention.Completed,
	}
	keys := []string{metaKey(id), payloadKey(id), asynqTaskKey(sub.Queue, id), asynqPending(sub.Queue), asynqQueues,
		tenantTasksKey(sub.tenant()), keyTasksKey(sub.APIKeyID), queueSettingsKey(sub.Queue)}
	nonce := newNonce()
	touch := "0"
	if s.wait.replicas > 0 {
		touch = "1"
	}
	args := []any{id, sub.Queue, fp, sub.RequestID, msg.encode(), []byte(sub.Payload), limit, nonce,
		sub.tenant(), sub.APIKeyID, max(0, sub.APIKeyMaxPending), touch}
	for _, q := range tasks.Queues() {
		args = append(args, q)
	}
	// A key whose task expires between the script and the read of the
	// existing task is free again: one more round settles it.
	for range 2 {
		res, err := s.submit(ctx, id, fp, keys, args)
		if err != nil {
			t, created, err := s.resolveSubmit(ctx, id, sub, nonce, err)
			if err == nil && s.wait.replicas > 0 {
				// Read back, so written, but never waited for.
				return Task{}, false, fmt.Errorf("%w: task %s was written, its replication is unknown", ErrNotReplicated, id)
			}
			return t, created, err
		}
		code, _ := res[0].(int64)
		switch code {
		case 0:
			if res[1] != fp {
				return Task{}, false, fmt.Errorf("%w (task %s)", ErrKeyReused, id)
			}
			t, created, err := s.existing(ctx, id, sub, nonce)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			return t, created, err
		case 1:
			if full != nil {
				return Task{}, false, full
			}
			return Task{}, false, fmt.Errorf("%w: %s holds %v pending tasks (limit %v)", ErrQueueFull, sub.Queue, res[1], res[2])
		case 4:
			return Task{}, false, fmt.Errorf("%w: it has %v unfinished tasks (limit %d)", ErrKeyBusy, res[1], sub.APIKeyMaxPending)
		case 2:
			created, _ := res[1].(string)
			return build(&asynq.TaskInfo{
				ID: id, Queue: sub.Queue, Type: sub.Type, State: asynq.TaskStatePending, MaxRetry: sub.MaxRetry,
			}, meta{queue: sub.Queue, requestID: sub.RequestID, fingerprint: fp, tenant: sub.tenant(), createdAt: parseTime(created)}), true, nil
		default:
			return Task{}, false, fmt.Errorf("%w (task %s is %v in asynq but has no metadata)", ErrKeyReused, id, res[1])
		}
	}
	return Task{}, false, fmt.Errorf("submit task %s: its key was reused and freed again meanwhile; retry", id)
}

// submit runs submitScript. With WaitForReplicas it runs it on a
// connection of its own and, when the script wrote the task or rewrote a
// replayed one (its fingerprint matching), sends WAIT on the same
// connection: a second round trip, which waiting for a replica costs
// anyway. A task not confirmed is ErrNotReplicated; the script's answer
// still comes back, for the caller to tell nothing else is wrong.
func (s *Store) submit(ctx context.Context, id, fp string, keys []string, args []any) ([]any, error) {
	if s.wait.replicas == 0 {
		return submitScript.Run(ctx, s.rdb, keys, args...).Slice()
	}
	conn := s.wait.conn()
	defer conn.Close()
	// Run sends EVALSHA and, on NOSCRIPT (a promoted replica has no
	// scripts cached), EVAL, on conn both.
	res, err := submitScript.Run(ctx, conn, keys, args...).Slice()
	if err != nil {
		return nil, err
	}
	if code, _ := res[0].(int64); !(code == 2 || code == 0 && res[1] == fp) {
		return res, nil
	}
	n, err := conn.Wait(ctx, s.wait.replicas, s.wait.timeout).Result()
	if err != nil {
		return res, fmt.Errorf("%w: task %s was written; waiting for %d replicas failed: %w", ErrNotReplicated, id, s.wait.replicas, err)
	}
	if n < int64(s.wait.replicas) {
		return res, fmt.Errorf("%w: task %s was written; %d of %d replicas acknowledged it within %s", ErrNotReplicated, id, n, s.wait.replicas, s.wait.timeout)
	}
	return res, nil
}

// replicationRefused reports whether Redis refused a write for its
// replication: NOREPLICAS (a primary with min-replicas-to-write has too few
// replicas) or READONLY (the node was demoted, as a failover does).
func replicationRefused(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	return strings.HasPrefix(msg, "NOREPLICAS") || strings.HasPrefix(msg, "READONLY")
}

// resolveSubmit answers a submission whose script failed. Redis's error
// replies (out of memory, a script error) mean nothing was written. Any
// other error (a timeout, a dropped connection) leaves the outcome
// unknown: the script ran entirely or not at all, so reading the key back
// tells which; the record is never deleted, since it may be a task a
// worker already runs.
func (s *Store) resolveSubmit(ctx context.Context, id string, sub Submission, nonce string, err error) (Task, bool, error) {
	if errors.Is(err, ErrNotReplicated) {
		return Task{}, false, err
	}
	if replicationRefused(err) {
		return Task{}, false, fmt.Errorf("%w: Redis refused task %s: %w", ErrNotReplicated, id, err)
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return Task{}, false, fmt.Errorf("enqueue task %s: %w", id, err)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readBackTimeout)
	defer cancel()
	t, created, lerr := s.existing(rctx, id, sub, nonce)
	if errors.Is(lerr, ErrKeyReused) {
		return Task{}, false, lerr
	}
	if lerr != nil {
		return Task{}, false, fmt.Errorf("enqueue task %s: outcome unknown (%w); retry with the same idempotency key", id, err)
	}
	return t, created, nil
}

// newNonce returns 8 random bytes in hex.
func newNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// readBackTimeout bounds reading back a submission whose outcome is
// unknown, past the caller's own deadline (which may be what ran out): the
// script's try and its retry (500 ms each) and this stay under the 2 s in
// which an API cut off from Redis answers 503.
const readBackTimeout = 750 * time.Millisecond

// existing returns the task with id if it exists and was submitted as sub,
// and whether the Submit call with nonce created it: go-redis retries a
// timed-out call once, after which the call that created a task finds it
// existing.
func (s *Store) existing(ctx context.Context, id string, sub Submission, nonce string) (Task, bool, error) {
	t, m, err := s.load(ctx, id)
	if err != nil {
		return Task{}, false, err
	}
	if m.fingerprint != sub.fingerprint() {
		return Task{}, false, fmt.Errorf("%w (task %s)", ErrKeyReused, id)
	}
	return t, m.nonce == nonce, nil
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

// loadScript reads a task's metadata and asynq's record of it in one step,
// so that a task seen finished also shows the start its worker recorded,
// and in one round trip instead of four (HGET of the queue, then asynq's
// Inspector.GetTaskInfo's SISMEMBER and script, then HGETALL).
//
//	KEYS: metadata
//	ARGV: id
//
// It answers {} unless both records exist (not nil: RESP3 would make Lua's
// false a boolean), else {msg, state, result or "", the metadata as HGETALL
// gives it}.
var loadScript = redis.NewScript(asynqPrefixLua + `
local q = redis.call("HGET", KEYS[1], "queue")
if not q then
	return {}
end
local t = redis.call("HMGET", qprefix(q) .. "t:" .. ARGV[1], "msg", "state", "result")
if not t[1] then
	return {}
end
return {t[1], t[2], t[3] or "", redis.call("HGETALL", KEYS[1])}
`)

// load reads a task; it is found only while both its records exist.
func (s *Store) load(ctx context.Context, id string) (Task, meta, error) {
	reply, err := loadScript.Run(ctx, s.rdb, []string{metaKey(id)}, id).Slice()
	if err != nil {
		return Task{}, meta{}, fmt.Errorf("read task %s: %w", id, err)
	}
	if len(reply) == 0 {
		return Task{}, meta{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	info, m, err := parseLoad(reply)
	if err != nil {
		return Task{}, meta{}, fmt.Errorf("read task %s: %w", id, err)
	}
	if m.queue != info.Queue { // expired and submitted again meanwhile
		return Task{}, meta{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if !m.cancelledAt.IsZero() && waiting(info.State) {
		// Its attempt failed before it saw the cancel: archive it now
		// rather than show a cancel that is not final yet.
		if _, err := s.cancel(ctx, id); err != nil {
			return Task{}, meta{}, err
		}
		return s.load(ctx, id)
	}
	return build(info, m), m, nil
}

// parseLoad decodes loadScript's answer.
func parseLoad(reply []any) (*asynq.TaskInfo, meta, error) {
	if len(reply) != 4 {
		return nil, meta{}, fmt.Errorf("load script answered %d values, want 4", len(reply))
	}
	msg, _ := reply[0].(string)
	state, _ := reply[1].(string)
	result, _ := reply[2].(string)
	pairs, _ := reply[3].([]any)
	h := make(map[string]string, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		k, _ := pairs[i].(string)
		v, _ := pairs[i+1].(string)
		h[k] = v
	}
	var res []byte
	if result != "" {
		res = []byte(result)
	}
	info, err := asynqTaskInfo([]byte(msg), state, res)
	if err != nil {
		return nil, meta{}, err
	}
	return info, parseMeta(h), nil
}

// waiting reports whether a task in asynq state st waits to run.
func waiting(st asynq.TaskState) bool {
	return st == asynq.TaskStatePending || st == asynq.TaskStateScheduled || st == asynq.TaskStateRetry
}

// Get returns the task with id, whichever tenant owns it.
func (s *Store) Get(ctx context.Context, id string) (Task, error) {
	t, _, err := s.load(ctx, id)
	return t, err
}

// GetFor returns the task with id if tenant owns it: another tenant's task
// is ErrNotFound, exactly as a missing one.
func (s *Store) GetFor(ctx context.Context, tenant, id string) (Task, error) {
	t, m, err := s.load(ctx, id)
	if err != nil {
		return Task{}, err
	}
	if m.tenant != tenant {
		return Task{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return t, nil
}

// CancelFor cancels the task with id if tenant owns it (see Cancel);
// another tenant's task is ErrNotFound, exactly as a missing one. A task's
// tenant never changes: its id is derived from it (ID).
func (s *Store) CancelFor(ctx context.Context, tenant, id string) (Task, error) {
	m, err := s.meta(ctx, id)
	if err != nil {
		return Task{}, err
	}
	if m.tenant != tenant {
		return Task{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return s.Cancel(ctx, id)
}

// cancelScript sets a live task's cancel flag in one step with reading
// asynq's state, so that a task that ends meanwhile keeps its own final
// state: a finished one is never flagged. A waiting task (pending,
// scheduled, retry) is archived at once, as asynq's Inspector.ArchiveTask
// does, and ends cancelled with its payload dropped and its retention
// started; a running one only gets the flag (its worker stops it).
//
//	KEYS: metadata, payload
//	ARGV: id, the cancelled metadata TTL in ms
//
// It answers the state after the call: gone, completed, failed, cancelled
// or active.
var cancelScript = redis.NewScript(asynqPrefixLua + finishedLua + `
local id = ARGV[1]
local q = redis.call("HGET", KEYS[1], "queue")
if not q then
	return "gone"
end
local p = qprefix(q)
local state = redis.call("HGET", p .. "t:" .. id, "state")
local flagged = redis.call("HEXISTS", KEYS[1], "cancelled_at") == 1
if not state then
	return "gone"
elseif state == "completed" then
	return "completed"
elseif state == "archived" then
	if flagged then
		return "cancelled"
	end
	return "failed"
end
local t = redis.call("TIME")
local now = tonumber(t[1] .. string.format("%06d", t[2]))
for _, f in ipairs(redis.call("HMGET", KEYS[1], "created_at", "started_at")) do
	now = math.max(now, tonumber(f) or 0)
end
now = string.format("%d", now)
if not flagged then
	redis.call("HSET", KEYS[1], "cancelled_at", now)
end
if state == "active" then
	return "active"
elseif state == "pending" then
	redis.call("LREM", p .. "pending", 0, id)
elseif state == "scheduled" or state == "retry" then
	redis.call("ZREM", p .. state, id)
else
	return redis.error_reply("task " .. id .. " is " .. state .. " in asynq")
end
redis.call("ZADD", p .. "archived", t[1], id)
redis.call("HSET", p .. "t:" .. id, "state", "archived")
redis.call("HSET", KEYS[1], "ended_at", now, "outcome", "cancelled")
redis.call("PEXPIRE", KEYS[1], ARGV[2])
redis.call("DEL", KEYS[2])
finished(KEYS[1], id)
return "cancelled"
`)

// Cancel stops a task: a waiting one leaves its queue at once, a running one
// is told to stop (its worker archives it without retry). It returns the
// task as it is now, which for a running task is still active.
func (s *Store) Cancel(ctx context.Context, id string) (Task, error) {
	state, err := s.cancel(ctx, id)
	if err != nil {
		return Task{}, err
	}
	switch state {
	case "gone":
		return Task{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	case StateCompleted, StateFailed:
		return Task{}, fmt.Errorf("%w: task %s is %s", ErrFinished, id, state)
	case StateActive:
		if err := s.rdb.Publish(ctx, CancelChannel, id).Err(); err != nil {
			return Task{}, fmt.Errorf("cancel task %s: %w", id, err)
		}
	}
	return s.Get(ctx, id)
}

// cancel runs cancelScript on task id and returns its answer.
func (s *Store) cancel(ctx context.Context, id string) (State, error) {
	state, err := cancelScript.Run(ctx, s.rdb, []string{metaKey(id), payloadKey(id)}, id, s.retention.ttls()[2]).Text()
	if err != nil {
		return "", fmt.Errorf("cancel task %s: %w", id, err)
	}
	return State(state), nil
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
	// Tenant keeps only its tasks ("" keeps every tenant's). Pages are
	// read from asynq's lists and filtered, so a tenant with few tasks
	// among many may get short pages; only an empty cursor means the end.
	Tenant string
	Limit  int
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

// listPagesRead bounds the asynq pages one List call reads while it finds
// nothing to return (other tenants' tasks, other states): it then answers
// an empty page with a cursor rather than scan every task in one request.
// It exceeds the (queue, state) pairs, so an empty system lists in one call.
const listPagesRead = 24

// List returns a page of tasks and the cursor of the next page ("" after
// the last). Pages may hold fewer than Limit tasks, even none; only an
// empty next cursor means the end. A cursor carries its own page size.
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
	for read := 0; c.Pair < len(pairs) && read < listPagesRead; read++ {
		infos, err := s.listPage(pairs[c.Pair], c.Page, c.Limit)
		if err != nil {
			return nil, "", fmt.Errorf("list tasks: %w", err)
		}
		if len(infos) == c.Limit {
			c.Page++
		} else {
			c.Pair, c.Page = c.Pair+1, 1
		}
		page, err := s.withMeta(ctx, infos, f.Tenant)
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

// withMeta reads the metadata of infos in one round trip; a task whose
// metadata is gone (it is expiring) is left out, as Get would not find it,
// and so is one another tenant owns unless tenant is "".
func (s *Store) withMeta(ctx context.Context, infos []*asynq.TaskInfo, tenant string) ([]Task, error) {
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
	out := make([]Task, 0, len(infos))
	for i, info := range infos {
		if m := parseMeta(cmds[i].Val()); m.queue == info.Queue && (tenant == "" || m.tenant == tenant) {
			out = append(out, build(info, m))
		}
	}
	return out, nil
}

// ValidState reports whether s names a state (for query validation).
func ValidState(s string) bool { return slices.Contains(States(), State(s)) }
