package taskstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// The janitor ends the retention of finished tasks: asynq deletes a
// completed task once its retention passes (its own janitor, about every
// 8 s) but keeps archived ones — failed and cancelled — up to 90 days.
// Sweep deletes either kind once its state's retention has passed, asynq's
// record together with calcgrid's metadata and payload in one step.

// sweepBatch bounds the tasks one script examines, so that a sweep never
// blocks Redis for long.
const sweepBatch = 100

// sweepScript deletes expired finished tasks of one queue: completed ones
// whose expiry (the completed zset's score) has passed, and archived ones
// archived (the archived zset's score) longer ago than the retention of
// their state (cancelled if flagged, else failed) or whose metadata has
// expired. Archived tasks are examined oldest first from offset on, at
// most batch of them, among those old enough for the shorter of the two
// retentions.
//
//	KEYS: completed zset, archived zset
//	ARGV: task key prefix, failed and cancelled retention in s, batch, offset
//
// It answers {completed deleted, archived examined, archived deleted}.
var sweepScript = redis.NewScript(`
local t = redis.call("TIME")
local now = tonumber(t[1])
local batch = tonumber(ARGV[4])
local function drop(id)
	local meta = "` + metaPrefix + `" .. id
	local owner = redis.call("HMGET", meta, "tenant", "key")
	-- A task whose metadata is gone has lost its tenant: it leaves
	-- default's set here, any other's when that set is next counted.
	redis.call("SREM", "` + tenantTasksPrefix + `" .. (owner[1] or "` + DefaultTenant + `"), id)
	if owner[2] and owner[2] ~= "" then
		redis.call("SREM", "` + keyTasksPrefix + `" .. owner[2], id)
	end
	redis.call("DEL", ARGV[1] .. id, meta, "` + payloadPrefix + `" .. id)
end
local completed = redis.call("ZRANGE", KEYS[1], "-inf", now, "BYSCORE", "LIMIT", 0, batch)
for _, id in ipairs(completed) do
	drop(id)
	redis.call("ZREM", KEYS[1], id)
end
local failed, cancelled = tonumber(ARGV[2]), tonumber(ARGV[3])
local archived = redis.call("ZRANGE", KEYS[2], "-inf", now - math.min(failed, cancelled), "BYSCORE",
	"LIMIT", tonumber(ARGV[5]), batch, "WITHSCORES")
local deleted = 0
for i = 1, #archived, 2 do
	local id = archived[i]
	local meta = "` + metaPrefix + `" .. id
	local keep = failed
	if redis.call("HEXISTS", meta, "cancelled_at") == 1 then
		keep = cancelled
	end
	if redis.call("EXISTS", meta) == 0 or tonumber(archived[i + 1]) + keep <= now then
		drop(id)
		redis.call("ZREM", KEYS[2], id)
		deleted = deleted + 1
	end
end
return {#completed, #archived / 2, deleted}
`)

// sweepRounds bounds the scripts one Sweep runs per queue.
const sweepRounds = 50

// Sweep deletes the finished tasks whose retention has passed, in every
// queue, and reports how many. Workers run it periodically; concurrent
// sweeps are harmless.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	total := 0
	failed, cancelled := seconds(s.retention.Failed), seconds(s.retention.Cancelled)
	for _, q := range tasks.Queues() {
		keys := []string{asynqZSet(q, "completed"), asynqZSet(q, "archived")}
		offset := int64(0)
		for range sweepRounds {
			res, err := sweepScript.Run(ctx, s.rdb, keys, asynqPrefix(q)+"t:", failed, cancelled, sweepBatch, offset).Int64Slice()
			if err != nil {
				return total, fmt.Errorf("sweep queue %s: %w", q, err)
			}
			total += int(res[0] + res[2])
			// Archived tasks kept for the longer retention stay in place:
			// the next round looks past them.
			offset += res[1] - res[2]
			if res[0] < sweepBatch && res[1] < sweepBatch {
				break
			}
		}
	}
	return total, nil
}
