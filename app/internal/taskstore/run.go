package taskstore

import (
	"context"
	"fmt"
	"strconv"

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
}

// startScript records the start of an attempt and reads its payload.
//
//	KEYS: metadata, payload
var startScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 0 then
	return {"gone"}
end
redis.call("PERSIST", KEYS[1])
local h = redis.call("HMGET", KEYS[1], "outcome", "cancelled_at", "created_at", "started_at")
if h[1] then
	return {"replay", h[1]}
elseif h[2] then
	return {"cancelled"}
end
redis.call("HINCRBY", KEYS[1], "attempts", 1)
if not h[4] then
	local t = redis.call("TIME")
	local now = math.max(tonumber(t[1] .. string.format("%06d", t[2])), tonumber(h[3]) or 0)
	redis.call("HSET", KEYS[1], "started_at", string.format("%d", now))
end
redis.call("HSET", KEYS[1], "progress", "0")
return {"run", redis.call("GET", KEYS[2])}
`)

// Started records the start of an attempt of task id (its metadata loses
// any TTL: the task is live again) and returns its payload. ErrNotFound
// means the task's record is gone.
func (s *Store) Started(ctx context.Context, id string) (Start, error) {
	res, err := startScript.Run(ctx, s.rdb, []string{metaKey(id), payloadKey(id)}).Slice()
	if err != nil {
		return Start{}, fmt.Errorf("record start of task %s: %w", id, err)
	}
	switch res[0] {
	case "gone":
		return Start{}, fmt.Errorf("%w: %s (its record expired or was deleted)", ErrNotFound, id)
	case "replay":
		st, _ := res[1].(string)
		return Start{Replay: State(st)}, nil
	case "cancelled":
		return Start{Cancelled: true}, nil
	}
	var st Start
	if p, ok := res[1].(string); ok {
		st.Payload = []byte(p)
	}
	return st, nil
}

// progressScript stores a running task's progress unless its metadata is
// gone; the hash keeps its TTL.
var progressScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 1 then
	redis.call("HSET", KEYS[1], "progress", ARGV[1])
end
return 0
`)

// SetProgress stores the fraction done of a running task.
func (s *Store) SetProgress(ctx context.Context, id string, fraction float64) error {
	return progressScript.Run(ctx, s.rdb, []string{metaKey(id)}, strconv.FormatFloat(fraction, 'f', -1, 64)).Err()
}

// endScript records that a task reached a final state, a moment before
// asynq records it: the end time (the first one, at the precision of the
// other times; asynq keeps whole seconds), the outcome, and the retention
// of that state; the payload goes. A task flagged for cancellation that
// ends otherwise than completed ends cancelled, as the API shows it.
//
//	KEYS: metadata, payload
//	ARGV: outcome, then the TTLs in ms of completed, failed, cancelled
var endScript = redis.NewScript(`
redis.call("DEL", KEYS[2])
if redis.call("EXISTS", KEYS[1]) == 0 then
	return 0
end
local outcome = ARGV[1]
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
local ttl = ARGV[4]
if outcome == "completed" then
	ttl = ARGV[2]
elseif outcome == "failed" then
	ttl = ARGV[3]
end
redis.call("PEXPIRE", KEYS[1], ttl)
return 1
`)

// Ended records that task id reached the final state outcome (completed,
// failed or cancelled), just before the worker hands it to asynq; see
// endScript.
func (s *Store) Ended(ctx context.Context, id string, outcome State) error {
	if !outcome.Finished() {
		return fmt.Errorf("end task %s: %s is not a final state", id, outcome)
	}
	args := append([]any{string(outcome)}, s.retention.ttls()...)
	if err := endScript.Run(ctx, s.rdb, []string{metaKey(id), payloadKey(id)}, args...).Err(); err != nil {
		return fmt.Errorf("record end of task %s: %w", id, err)
	}
	return nil
}

// WatchCancels calls fn with the id of every task cancelled while running,
// until ctx ends. ready is closed once the subscription is live.
func (s *Store) WatchCancels(ctx context.Context, ready chan<- struct{}, fn func(id string)) error {
	sub := s.rdb.Subscribe(ctx, CancelChannel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		return fmt.Errorf("subscribe to %s: %w", CancelChannel, err)
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
			fn(msg.Payload)
		}
	}
}
