package taskstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// Recovery of the tasks of a dead worker. asynq leases each active task to
// its worker for 30 s and the worker's heartbeat extends the lease every
// 5 s; asynq's own recoverer requeues a task only 30 s after its lease has
// expired, and looks once a minute, so a killed worker's task waits 60 to
// 120 s. Recover requeues it once its lease has gone unextended for
// StaleLease: the heartbeat is the worker's liveness signal, its lease
// the per-task liveness record. asynq's recoverer stays as the backstop
// (and takes over a task recovered MaxRecoveries times, counting those
// runs against its retries, so that a task that kills its worker ends).
//
// While Redis itself is unreachable every lease goes stale at once; the
// workers call Recover only once they have reached Redis for StaleLease
// without a break (worker.recoverTasks), when live workers' heartbeats have
// extended their leases again.
//
// A worker that was only cut off, not dead, may still finish the attempt
// it had: each attempt is fenced by its number (Start.Attempt), and the
// end of an attempt after a later one started is refused (ErrSuperseded).

// StaleLease is how long a lease may go unextended before its task is
// recovered: asynq's heartbeat extends it every 5 s, and its scores are
// whole seconds, so a live worker's lease is at most 6 s old; 9 s is one
// missed heartbeat late by 3 s.
const StaleLease = 9 * time.Second

// MaxRecoveries is how many times Recover requeues one task; asynq's own
// recoverer handles it after that.
const MaxRecoveries = 3

// recoverBatch bounds the tasks one script examines.
const recoverBatch = 100

// recoverScript requeues the active tasks of one queue whose lease was last
// extended more than the stale age ago, as asynq's requeue does when a
// worker shuts down (the task goes to the head of pending; asynq's retry
// count is untouched, calcgrid's attempts count every start), unless the
// task was recovered max times already. Times are Redis's clock; asynq
// scores leases by the worker's, so hosts must keep their clocks within
// the 3 s margin of StaleLease.
//
//	KEYS: lease zset, active list, pending list
//	ARGV: stale age in s, asynq's lease in s, task key prefix, max, batch,
//	      queue
//
// It answers the ids it requeued, and publishes the queue on WakeChannel
// when there are any, so that idle workers take them at once.
var recoverScript = redis.NewScript(`
local now = tonumber(redis.call("TIME")[1])
local cutoff = now + tonumber(ARGV[2]) - tonumber(ARGV[1])
local ids = redis.call("ZRANGE", KEYS[1], "-inf", "(" .. cutoff, "BYSCORE", "LIMIT", 0, tonumber(ARGV[5]))
local recovered = {}
for _, id in ipairs(ids) do
	local meta = "` + metaPrefix + `" .. id
	if (tonumber(redis.call("HGET", meta, "recovered")) or 0) < tonumber(ARGV[4])
		and redis.call("LREM", KEYS[2], 0, id) > 0 then
		redis.call("ZREM", KEYS[1], id)
		redis.call("RPUSH", KEYS[3], id)
		redis.call("HSET", ARGV[3] .. id, "state", "pending")
		if redis.call("EXISTS", meta) == 1 then
			redis.call("HINCRBY", meta, "recovered", 1)
		end
		recovered[#recovered + 1] = id
	end
end
if #recovered > 0 then
	redis.call("PUBLISH", "` + WakeChannel + `", ARGV[6])
end
return recovered
`)

// Recovered is a task Recover requeued.
type Recovered struct {
	ID, Queue string
}

// Recover requeues, in every queue, the active tasks whose worker stopped
// extending their lease StaleLease ago (see above). Workers run it every
// second; concurrent runs are harmless (each task is requeued once).
func (s *Store) Recover(ctx context.Context) ([]Recovered, error) {
	var out []Recovered
	for _, q := range tasks.Queues() {
		keys := []string{asynqLeases(q), asynqActive(q), asynqPending(q)}
		ids, err := recoverScript.Run(ctx, s.rdb, keys, int(StaleLease.Seconds()), int(asynqLeaseTerm.Seconds()),
			asynqPrefix(q)+"t:", MaxRecoveries, recoverBatch, q).StringSlice()
		if err != nil {
			return out, fmt.Errorf("recover tasks of queue %s: %w", q, err)
		}
		for _, id := range ids {
			out = append(out, Recovered{ID: id, Queue: q})
		}
	}
	return out, nil
}
