package taskstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The worker's side of the metadata: attempts, start and end times,
// progress, the cancel flag and announcements. None of these writes
// creates metadata that is gone: a task whose record expired stays gone.

// Start is what a worker learns as it starts an attempt.
type Start struct {
	// Payload is the task's prepared payload; nil once it is gone.
	Payload []byte
	// Cancelled reports a task cancelled before this attempt started: it
	// must not run (nor count as started).
	Cancelled bool
	// Replay is the final state an earlier attempt recorded before its
	// worker stopped, ahead of asynq: the attempt ends so again instead of
	// running (the payload is gone).
	Replay State
	// Attempt is the attempt this start belongs to, the fence of every
	// later write of it: once another attempt has started (the task was
	// recovered from a worker presumed dead), this one's progress is
	// dropped and its end refused with ErrSuperseded.
	Attempt int
}

// ErrSuperseded refuses the end of an attempt after a later attempt of the
// same task started: its worker was presumed dead (Recover) while it ran.
var ErrSuperseded = errors.New("a later attempt of the task has started")

// startScript records the start of an attempt and reads its payload.
//
//	KEYS: metadata, payload
var startScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 0 then
	return {"gone"}
end
redis.call("PERSIST", KEYS[1])
local h = redis.call("HMGET", KEYS[1], "outcome", "cancelled_at", "created_at", "started_at", "attempts")
local attempt = tonumber(h[5]) or 0
if h[1] then
	return {"replay", attempt, h[1]}
elseif h[2] then
	return {"cancelled", attempt}
end
attempt = redis.call("HINCRBY", KEYS[1], "attempts", 1)
if not h[4] then
	local t = redis.call("TIME")
	local now = math.max(tonumber(t[1] .. string.format("%06d", t[2])), tonumber(h[3]) or 0)
	redis.call("HSET", KEYS[1], "started_at", string.format("%d", now))
end
redis.call("HSET", KEYS[1], "progress", "0")
return {"run", attempt, redis.call("GET", KEYS[2])}
`)

// Started records the start of an attempt of task id (its metadata loses
// any TTL: the task is live again) and returns its payload. ErrNotFound
// means the task's record is gone.
func (s *Store) Started(ctx context.Context, id string) (Start, error) {
	res, err := startScript.Run(ctx, s.rdb, []string{metaKey(id), payloadKey(id)}).Slice()
	if err != nil {
		return Start{}, fmt.Errorf("record start of task %s: %w", id, err)
	}
	if res[0] == "gone" {
		return Start{}, fmt.Errorf("%w: %s (its record expired or was deleted)", ErrNotFound, id)
	}
	n, _ := res[1].(int64)
	st := Start{Attempt: int(n)}
	switch res[0] {
	case "replay":
		replay, _ := res[2].(string)
		st.Replay = State(replay)
	case "cancelled":
		st.Cancelled = true
	default:
		if p, ok := res[2].(string); ok {
			st.Payload = []byte(p)
		}
	}
	return st, nil
}

// progressScript stores a running attempt's progress unless its metadata is
// gone or a later attempt started; the hash keeps its TTL.
//
//	ARGV: fraction, attempt
var progressScript = redis.NewScript(`
if tonumber(redis.call("HGET", KEYS[1], "attempts")) == tonumber(ARGV[2]) then
	redis.call("HSET", KEYS[1], "progress", ARGV[1])
end
return 0
`)

// SetProgress stores the fraction done of attempt of task id.
func (s *Store) SetProgress(ctx context.Context, id string, attempt int, fraction float64) error {
	return progressScript.Run(ctx, s.rdb, []string{metaKey(id)}, strconv.FormatFloat(fraction, 'f', -1, 64), attempt).Err()
}

// Superseded reports whether a later attempt of task id than attempt has
// started. A task whose record is gone has none.
func (s *Store) Superseded(ctx context.Context, id string, attempt int) (bool, error) {
	n, err := s.rdb.HGet(ctx, metaKey(id), fAttempts).Int()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read attempts of task %s: %w", id, err)
	}
	return n != attempt, nil
}

// endScript records that an attempt brought its task to a final state, a
// moment before asynq records it: the result (in asynq's task hash, where
// asynq's ResultWriter puts it), the end time (the first one, at the
// precision of the other times; asynq keeps whole seconds), the outcome,
// and the retention of that state; the payload goes. A task flagged for
// cancellation that ends otherwise than completed ends cancelled, as the
// API shows it. The attempt must be the latest one: a worker presumed dead
// whose task runs again elsewhere records nothing (-1).
//
//	KEYS: metadata, payload
//	ARGV: outcome, the TTLs in ms of completed, failed, cancelled, attempt,
//	      then the result, if any
var endScript = redis.NewScript(asynqPrefixLua + finishedLua + `
local attempts = redis.call("HGET", KEYS[1], "attempts")
if attempts and tonumber(attempts) ~= tonumber(ARGV[5]) then
	return -1
end
redis.call("DEL", KEYS[2])
if redis.call("EXISTS", KEYS[1]) == 0 then
	return 0
end
local outcome = ARGV[1]
local id = string.sub(KEYS[1], ` + strconv.Itoa(len(metaPrefix)+1) + `)
if ARGV[6] then
	redis.call("HSET", qprefix(redis.call("HGET", KEYS[1], "queue")) .. "t:" .. id, "result", ARGV[6])
end
local h = redis.call("HMGET", KEYS[1], "cancelled_at", "ended_at", "created_at", "started_at")
if outcome ~= "completed" and h[1] then
	outcome = "cancelled"
end
if not h[2] then
	local t = redis.call("TIME")
	local now = tonumber(t[1] .. string.format("%06d", t[2]))
	now = math.max(now, tonumber(h[3]) or 0, tonumber(h[4]) or 0)
	redis.call("HSET", KEYS[1], "ended_at", string.format("%d", now))
end
redis.call("HSET", KEYS[1], "outcome", outcome)
finished(KEYS[1], id, outcome == "completed" and not h[2])
local ttl = ARGV[4]
if outcome == "completed" then
	ttl = ARGV[2]
elseif outcome == "failed" then
	ttl = ARGV[3]
end
redis.call("PEXPIRE", KEYS[1], ttl)
return 1
`)

// End is how an attempt ended its task.
type End struct {
	// Attempt is the attempt's Start.Attempt.
	Attempt int
	// Outcome is completed, failed or cancelled.
	Outcome State
	// Result is the encoded result of a completed task (nil for none).
	Result []byte
}

// Ended records that task id reached a final state, just before the worker
// hands it to asynq; see endScript. ErrSuperseded means a later attempt
// has started: this one must leave the task to it.
func (s *Store) Ended(ctx context.Context, id string, end End) error {
	if !end.Outcome.Finished() {
		return fmt.Errorf("end task %s: %s is not a final state", id, end.Outcome)
	}
	args := append([]any{string(end.Outcome)}, s.retention.ttls()...)
	args = append(args, end.Attempt)
	if end.Result != nil {
		args = append(args, end.Result)
	}
	n, err := endScript.Run(ctx, s.rdb, []string{metaKey(id), payloadKey(id)}, args...).Int()
	if err != nil {
		return fmt.Errorf("record end of task %s: %w", id, err)
	}
	if n < 0 {
		return fmt.Errorf("end attempt %d of task %s: %w", end.Attempt, id, ErrSuperseded)
	}
	return nil
}

// Watch calls handlers[ch] with the payload of every message published on
// each channel ch it names (CancelChannel: the id of a task cancelled while
// running; WakeChannel: a queue a task became pending in), until ctx ends.
// All channels share one subscription, so one connection. ready is closed
// once the subscription is live. A message published while the connection
// is down is lost (go-redis subscribes again when it reconnects).
func (s *Store) Watch(ctx context.Context, ready chan<- struct{}, handlers map[string]func(payload string)) error {
	channels := slices.Sorted(maps.Keys(handlers))
	sub := s.rdb.Subscribe(ctx, channels...)
	defer sub.Close()
	// Subscribe answers one confirmation per channel.
	for range channels {
		if _, err := sub.Receive(ctx); err != nil {
			return fmt.Errorf("subscribe to %s: %w", strings.Join(channels, ", "), err)
		}
	}
	close(ready)
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-ch:
			if !ok {
				return nil
			}
			if fn := handlers[msg.Channel]; fn != nil {
				fn(msg.Payload)
			}
		}
	}
}
