package taskstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrStorageFull refuses a submission while Redis holds more than
// HighWater of its maxmemory: past that, writes would soon fail for every
// task (results, lease extensions), not only for new ones.
var ErrStorageFull = errors.New("task storage is full")

// HighWater is the share of Redis's maxmemory above which submissions are
// refused; the rest is headroom for the tasks already accepted.
const HighWater = 0.8

// memoryTTL is how long one reading of Redis's memory serves submissions:
// one INFO per interval, not one per request.
const memoryTTL = 250 * time.Millisecond

// Memory is Redis's memory use: used bytes and its maxmemory (0: no limit).
type Memory struct {
	Used, Max int64
	at        time.Time
}

// Ratio is used ÷ max, 0 when Redis has no limit.
func (m Memory) Ratio() float64 {
	if m.Max <= 0 {
		return 0
	}
	return float64(m.Used) / float64(m.Max)
}

// memoryCache holds the last reading.
type memoryCache struct {
	mu   sync.Mutex
	last Memory
}

// Memory reads Redis's memory use (INFO memory), at most once per memoryTTL.
func (s *Store) Memory(ctx context.Context) (Memory, error) {
	s.mem.mu.Lock()
	defer s.mem.mu.Unlock()
	if !s.mem.last.at.IsZero() && time.Since(s.mem.last.at) < memoryTTL {
		return s.mem.last, nil
	}
	info, err := s.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return Memory{}, fmt.Errorf("read Redis memory: %w", err)
	}
	m, err := parseMemory(info)
	if err != nil {
		return Memory{}, err
	}
	m.at = time.Now()
	s.mem.last = m
	return m, nil
}

func parseMemory(info string) (Memory, error) {
	var m Memory
	found := 0
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "used_memory":
			dst = &m.Used
		case "maxmemory":
			dst = &m.Max
		default:
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("INFO memory %s=%q: %w", k, v, err)
		}
		*dst = n
		found++
	}
	if found != 2 {
		return Memory{}, errors.New("INFO memory lacks used_memory or maxmemory")
	}
	return m, nil
}

// admitStorage refuses a new task while Redis is above HighWater.
func (s *Store) admitStorage(ctx context.Context) error {
	m, err := s.Memory(ctx)
	if err != nil {
		return err
	}
	if r := m.Ratio(); r > HighWater {
		return fmt.Errorf("%w: Redis uses %d of its %d bytes (%.0f%%, over the %.0f%% high-water mark); accepted tasks still run, and space returns as finished tasks expire",
			ErrStorageFull, m.Used, m.Max, 100*r, 100*HighWater)
	}
	return nil
}
