package taskstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// The worker's side of the metadata: attempts, start time, progress, the
// cancel flag and announcements.

// Started records the start of an attempt and reports whether the task was
// cancelled before it started.
func (s *Store) Started(ctx context.Context, id string) (cancelled bool, err error) {
	key := metaKey(id)
	var flag *redis.BoolCmd
	if _, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, key, fAttempts, 1)
		p.HSetNX(ctx, key, fStartedAt, now())
		p.HSet(ctx, key, fProgress, "0")
		p.Expire(ctx, key, s.retention)
		flag = p.HExists(ctx, key, fCancelledAt)
		return nil
	}); err != nil {
		return false, fmt.Errorf("record start of task %s: %w", id, err)
	}
	return flag.Val(), nil
}

// SetProgress stores the fraction done of a running task.
func (s *Store) SetProgress(ctx context.Context, id string, fraction float64) error {
	return s.rdb.HSet(ctx, metaKey(id), fProgress, strconv.FormatFloat(fraction, 'f', -1, 64)).Err()
}

// Ended records when a task reached a final state (completed, or failed
// for good), at the precision of its other times (asynq keeps whole
// seconds, which put completed_at before created_at), and restarts the
// metadata's retention: asynq starts the result's retention then, and the
// metadata must not expire before the result it describes.
func (s *Store) Ended(ctx context.Context, id string) error {
	key := metaKey(id)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSetNX(ctx, key, fEndedAt, now())
		p.Expire(ctx, key, s.retention)
		return nil
	})
	return err
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
