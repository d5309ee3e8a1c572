package auth

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter enforces each key's rate_per_second: a token bucket per key
// (golang.org/x/time/rate, the Go team's implementation) with a burst of
// max(1, rate), in the memory of this API process.
//
// Why in memory and not in Redis: it adds no Redis round trip to a request
// (authentication already costs one) and no Lua of our own to get right.
// The price: each API replica keeps its own buckets, so behind a load
// balancer a key may reach up to replicas × rate_per_second in total. The
// limit protects the API and Redis from one noisy client, for which that
// bound is enough; a hard cross-replica quota would need a shared bucket
// in Redis.
type Limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	rate     int
	limiter  *rate.Limiter
	lastUsed time.Time
}

// sweepAbove is the number of buckets above which idle ones are dropped.
const sweepAbove = 1024

// NewLimiter returns an empty Limiter.
func NewLimiter() *Limiter {
	return &Limiter{buckets: map[string]*bucket{}, now: time.Now}
}

// Allow takes one token from key's bucket. When there is none it returns
// false and how long until there is. A key with no id (the bootstrap
// token, authentication off) or rate 0 is unlimited.
func (l *Limiter) Allow(k Key) (bool, time.Duration) {
	if k.ID == "" || k.RatePerSecond <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[k.ID]
	if b == nil || b.rate != k.RatePerSecond { // new key, or its rate was changed
		if len(l.buckets) >= sweepAbove {
			l.sweep(now)
		}
		b = &bucket{rate: k.RatePerSecond, limiter: rate.NewLimiter(rate.Limit(k.RatePerSecond), max(1, k.RatePerSecond))}
		l.buckets[k.ID] = b
	}
	b.lastUsed = now
	r := b.limiter.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep drops buckets idle for over a second: with a burst of max(1, rate)
// a bucket is full again after at most one idle second, the same as a new
// one, so dropping it changes no answer.
func (l *Limiter) sweep(now time.Time) {
	for id, b := range l.buckets {
		if now.Sub(b.lastUsed) > time.Second {
			delete(l.buckets, id)
		}
	}
}

// RetryAfter renders d as a Retry-After value: whole seconds, at least 1.
func RetryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
