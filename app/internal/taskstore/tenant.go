package taskstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// DefaultTenant owns tasks submitted without one (authentication off) and
// those written before tasks had tenants.
const DefaultTenant = "default"

// Per-tenant and per-key records:
//
//   - calcgrid:tenant-tasks:{tenant} and calcgrid:key-tasks:{key id} are
//     sets of the ids of unfinished tasks (waiting or running), added by
//     the submission, removed when the task ends (endScript, cancelScript)
//     and pruned of any finished or gone task whenever they are counted,
//     so a task that ends by another path is not counted for long;
//   - calcgrid:tenant-completed:{tenant}:{day} counts the tasks that
//     completed on a UTC day (unix days), kept two days.
const (
	tenantTasksPrefix     = "calcgrid:tenant-tasks:"
	keyTasksPrefix        = "calcgrid:key-tasks:"
	tenantCompletedPrefix = "calcgrid:tenant-completed:"
	completedKeptS        = 2 * 24 * 3600
)

func tenantTasksKey(tenant string) string { return tenantTasksPrefix + tenant }
func keyTasksKey(keyID string) string     { return keyTasksPrefix + keyID }

// unfinishedLua counts the unfinished tasks in set (waiting, active),
// dropping finished and gone ones from it. It needs asynqPrefixLua.
const unfinishedLua = `local function unfinished(set)
	local waiting, active = 0, 0
	for _, id in ipairs(redis.call("SMEMBERS", set)) do
		local q = redis.call("HGET", "` + metaPrefix + `" .. id, "queue")
		local st = q and redis.call("HGET", qprefix(q) .. "t:" .. id, "state")
		if not st or st == "completed" or st == "archived" then
			redis.call("SREM", set, id)
		elseif st == "active" then
			active = active + 1
		else
			waiting = waiting + 1
		end
	end
	return waiting, active
end
`

// finishedLua removes a task that reached a final state from its tenant's
// and key's sets and, once when it completed, counts it in its tenant's
// day.
const finishedLua = `local function finished(meta, id, completed)
	local owner = redis.call("HMGET", meta, "tenant", "key")
	local tenant = owner[1] or "` + DefaultTenant + `"
	redis.call("SREM", "` + tenantTasksPrefix + `" .. tenant, id)
	if owner[2] and owner[2] ~= "" then
		redis.call("SREM", "` + keyTasksPrefix + `" .. owner[2], id)
	end
	if completed then
		local day = math.floor(tonumber(redis.call("TIME")[1]) / 86400)
		local k = "` + tenantCompletedPrefix + `" .. tenant .. ":" .. day
		redis.call("INCR", k)
		redis.call("EXPIRE", k, ` + "172800" + `)
	end
end
`

// Usage is what a tenant has in the system now.
type Usage struct {
	// Pending counts its tasks waiting to run (pending, scheduled, retry).
	Pending int `json:"pending"`
	// Active counts its running tasks.
	Active int `json:"active"`
	// CompletedToday counts its tasks completed since 00:00 UTC.
	CompletedToday int `json:"completed_today"`
}

// usageScript counts a tenant's unfinished tasks and reads its completed
// count of today.
//
//	KEYS: the tenant's set of unfinished tasks
//	ARGV: the tenant
var usageScript = redis.NewScript(asynqPrefixLua + unfinishedLua + `
local waiting, active = unfinished(KEYS[1])
local day = math.floor(tonumber(redis.call("TIME")[1]) / 86400)
local done = redis.call("GET", "` + tenantCompletedPrefix + `" .. ARGV[1] .. ":" .. day) or "0"
return {waiting, active, tonumber(done)}
`)

// Usage reports tenant's tasks.
func (s *Store) Usage(ctx context.Context, tenant string) (Usage, error) {
	res, err := usageScript.Run(ctx, s.rdb, []string{tenantTasksKey(tenant)}, tenant).Int64Slice()
	if err != nil {
		return Usage{}, fmt.Errorf("usage of tenant %s: %w", tenant, err)
	}
	return Usage{Pending: int(res[0]), Active: int(res[1]), CompletedToday: int(res[2])}, nil
}

// ForgetKey drops the record of API key keyID's unfinished tasks, once the
// key is revoked.
func (s *Store) ForgetKey(ctx context.Context, keyID string) error {
	if err := s.rdb.Del(ctx, keyTasksKey(keyID)).Err(); err != nil {
		return fmt.Errorf("forget key %s: %w", keyID, err)
	}
	return nil
}

// Queue settings an admin sets, in calcgrid:queue:{name} (a hash with
// max_pending and weight; absent fields mean the environment's defaults).
// The API reads max_pending inside the submission script; workers read
// the weights when they start (QueueWeights).
const queueSettingsPrefix = "calcgrid:queue:"

func queueSettingsKey(queue string) string { return queueSettingsPrefix + queue }

// QueueSettings are a queue's admin settings; 0 means the environment's
// default.
type QueueSettings struct {
	MaxPending int
	Weight     int
	Paused     bool
}

// QueueSettings reads queue's settings and whether it is paused.
func (s *Store) QueueSettings(ctx context.Context, queue string) (QueueSettings, error) {
	var h *redis.SliceCmd
	var paused *redis.IntCmd
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		h = p.HMGet(ctx, queueSettingsKey(queue), "max_pending", "weight")
		paused = p.Exists(ctx, asynqPaused(queue))
		return nil
	}); err != nil {
		return QueueSettings{}, fmt.Errorf("read settings of queue %s: %w", queue, err)
	}
	var qs QueueSettings
	vals := h.Val()
	qs.MaxPending, _ = strconv.Atoi(fmt.Sprint(vals[0]))
	qs.Weight, _ = strconv.Atoi(fmt.Sprint(vals[1]))
	qs.Paused = paused.Val() == 1
	return qs, nil
}

// SetQueueSettings stores queue's max_pending and weight (nil: unchanged;
// 0: the environment's default).
func (s *Store) SetQueueSettings(ctx context.Context, queue string, maxPending, weight *int) error {
	var set []any
	var del []string
	for _, f := range []struct {
		name string
		v    *int
	}{{"max_pending", maxPending}, {"weight", weight}} {
		switch {
		case f.v == nil:
		case *f.v == 0:
			del = append(del, f.name)
		default:
			set = append(set, f.name, *f.v)
		}
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if len(set) > 0 {
			p.HSet(ctx, queueSettingsKey(queue), set...)
		}
		if len(del) > 0 {
			p.HDel(ctx, queueSettingsKey(queue), del...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set settings of queue %s: %w", queue, err)
	}
	return nil
}

// Pause pauses queue (workers take none of its tasks from the next poll
// on; running ones finish) or resumes it, as asynq's Inspector.PauseQueue
// and UnpauseQueue do; pausing a paused queue or resuming a running one
// changes nothing.
func (s *Store) Pause(ctx context.Context, queue string, paused bool) error {
	var err error
	if paused {
		err = s.inspector.PauseQueue(queue)
	} else {
		err = s.inspector.UnpauseQueue(queue)
	}
	if err == nil {
		return nil
	}
	// asynq refuses to pause a paused queue, or resume a running one, with
	// an error it does not export: already as asked is success.
	n, rerr := s.rdb.Exists(ctx, asynqPaused(queue)).Result()
	if rerr == nil && (n == 1) == paused {
		return nil
	}
	return fmt.Errorf("pause queue %s (%v): %w", queue, paused, err)
}

// QueueWeights returns weights with each queue's admin weight, where one
// is set, in place of the given one.
func (s *Store) QueueWeights(ctx context.Context, weights map[string]int) (map[string]int, error) {
	out := make(map[string]int, len(weights))
	for q, w := range weights {
		qs, err := s.QueueSettings(ctx, q)
		if err != nil {
			return nil, err
		}
		out[q] = w
		if qs.Weight > 0 {
			out[q] = qs.Weight
		}
	}
	return out, nil
}
