package taskstore

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"google.golang.org/protobuf/encoding/protowire"
)

// asynq's Redis layout, as of github.com/hibiken/asynq v0.26.0
// (internal/base), which calcgrid's scripts read and write so that a task's
// two records change in one atomic step. TestAsynqLayout pins every name and
// the message encoding to that version: bumping asynq fails it loudly.
//
// calcgrid runs on one Redis (not Cluster): like asynq's own scripts, those
// here derive some keys from a queue name they read.

// asynqQueues is the set of every queue name (asynq's base.AllQueues).
const asynqQueues = "asynq:queues"

// asynqPrefix starts every key of queue q (base.QueueKeyPrefix); Lua builds
// the same names from it as asynqPrefixLua.
func asynqPrefix(q string) string { return "asynq:{" + q + "}:" }

// asynqPrefixLua is asynqPrefix in the scripts.
const asynqPrefixLua = `local function qprefix(q) return "asynq:{" .. q .. "}:" end
`

// asynqTaskKey is asynq's hash of a task: fields msg (the encoded
// TaskMessage), state, pending_since and, once written, result.
func asynqTaskKey(q, id string) string { return asynqPrefix(q) + "t:" + id }

// asynqPending is the list of pending task ids (LPUSH in, RPOP out); the
// scheduled, retry, archived and completed zsets are asynqPrefix(q)+state.
// The archived zset scores the archive time and the completed one the
// expiry time, both in unix seconds.
func asynqPending(q string) string { return asynqPrefix(q) + "pending" }

// asynqActive is the list of tasks being worked on; asynqLeases scores
// each of them with its lease's expiry (unix seconds, the worker's clock),
// which asynqLeaseTerm after the grant and every heartbeat (5 s) extend.
func asynqActive(q string) string { return asynqPrefix(q) + "active" }
func asynqLeases(q string) string { return asynqPrefix(q) + "lease" }

// asynqLeaseTerm is how far ahead asynq sets a lease (rdb.LeaseDuration).
const asynqLeaseTerm = 30 * time.Second

// asynqZSet is the sorted set of tasks of queue q in state (scheduled,
// retry, archived, completed).
func asynqZSet(q, state string) string { return asynqPrefix(q) + state }

// asynqMessage is the part of asynq's TaskMessage calcgrid sets when it
// enqueues; every other field starts at its zero value, as asynq's
// Client.Enqueue leaves it (no deadline, no uniqueness, no group).
type asynqMessage struct {
	Type, ID, Queue string
	Payload         []byte
	Headers         map[string]string
	Retry           int
	Timeout         time.Duration
	Retention       time.Duration
}

// Field numbers of asynq's TaskMessage (internal/proto/asynq.proto).
const (
	pbType         = 1
	pbPayload      = 2
	pbID           = 3
	pbQueue        = 4
	pbRetry        = 5
	pbRetried      = 6
	pbErrorMsg     = 7
	pbTimeout      = 8
	pbLastFailedAt = 11
	pbRetention    = 12
	pbCompletedAt  = 13
	pbHeaders      = 15
)

// encode writes m as asynq's protobuf TaskMessage, byte for byte as asynq's
// client does (fields in number order, zero values omitted; map entries
// sorted by key, which protobuf-go leaves in any order, but asynq decodes
// either). Timeout and retention are whole seconds, rounded up: asynq keeps
// a completed task for Retention seconds, and 0 would mean not at all.
func (m asynqMessage) encode() []byte {
	var b []byte
	str := func(num protowire.Number, s string) {
		if s != "" {
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendString(b, s)
		}
	}
	varint := func(num protowire.Number, v int64) {
		if v != 0 {
			b = protowire.AppendTag(b, num, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v))
		}
	}
	str(pbType, m.Type)
	if len(m.Payload) > 0 {
		b = protowire.AppendTag(b, pbPayload, protowire.BytesType)
		b = protowire.AppendBytes(b, m.Payload)
	}
	str(pbID, m.ID)
	str(pbQueue, m.Queue)
	varint(pbRetry, int64(int32(m.Retry)))
	varint(pbTimeout, seconds(m.Timeout))
	varint(pbRetention, seconds(m.Retention))
	keys := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		var e []byte
		e = protowire.AppendTag(e, 1, protowire.BytesType)
		e = protowire.AppendString(e, k)
		e = protowire.AppendTag(e, 2, protowire.BytesType)
		e = protowire.AppendString(e, m.Headers[k])
		b = protowire.AppendTag(b, pbHeaders, protowire.BytesType)
		b = protowire.AppendBytes(b, e)
	}
	return b
}

// asynqStateNames maps the state field of asynq's task hash
// (base.TaskState.String) to asynq's exported state.
var asynqStateNames = map[string]asynq.TaskState{
	"active": asynq.TaskStateActive, "pending": asynq.TaskStatePending, "scheduled": asynq.TaskStateScheduled,
	"retry": asynq.TaskStateRetry, "archived": asynq.TaskStateArchived, "completed": asynq.TaskStateCompleted,
	"aggregating": asynq.TaskStateAggregating,
}

// asynqTaskInfo is what asynq's Inspector.GetTaskInfo makes of a task's hash
// (its msg, state and result fields), limited to the fields build reads:
// reading the hash in the script that also reads the metadata (loadScript)
// saves the Inspector's three round trips on every GET. Payload, headers,
// group, deadline and NextProcessAt are left out.
func asynqTaskInfo(msg []byte, state string, result []byte) (*asynq.TaskInfo, error) {
	st, ok := asynqStateNames[state]
	if !ok {
		return nil, fmt.Errorf("asynq task state %q: unknown", state)
	}
	info := &asynq.TaskInfo{State: st, Result: result}
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return nil, fmt.Errorf("asynq task message: %w", protowire.ParseError(n))
		}
		msg = msg[n:]
		var v uint64
		var b []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(msg)
		case protowire.BytesType:
			b, n = protowire.ConsumeBytes(msg)
		default:
			n = protowire.ConsumeFieldValue(num, typ, msg)
		}
		if n < 0 {
			return nil, fmt.Errorf("asynq task message field %d: %w", num, protowire.ParseError(n))
		}
		msg = msg[n:]
		switch num {
		case pbType:
			info.Type = string(b)
		case pbID:
			info.ID = string(b)
		case pbQueue:
			info.Queue = string(b)
		case pbRetry:
			info.MaxRetry = int(int32(v))
		case pbRetried:
			info.Retried = int(int32(v))
		case pbErrorMsg:
			info.LastErr = string(b)
		case pbLastFailedAt:
			info.LastFailedAt = unixOrZero(int64(v))
		case pbCompletedAt:
			info.CompletedAt = unixOrZero(int64(v))
		}
	}
	if info.ID == "" {
		return nil, errors.New("asynq task message: no id")
	}
	return info, nil
}

// unixOrZero is asynq's fromUnixTimeOrZero: 0 is no time.
func unixOrZero(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int64 {
	return int64(math.Ceil(d.Seconds()))
}

// asynqPaused exists while queue q is paused (base.PausedKey), holding the
// unix time of the pause.
func asynqPaused(q string) string { return asynqPrefix(q) + "paused" }
