package tests

import (
	"testing"
	"time"
)

// scenarioPriority: with every worker slot busy on low-priority sleeps, a
// high-priority task submitted after more low ones starts before them.
//
// Workers weigh the queues (high 6 : low 1 by default) rather than draining
// them strictly, so each freed slot takes the high task first with
// probability 6/7. The assertion allows at most two low tasks to start first,
// which a correct weighting fails with probability (1/7)³ ≈ 0.3%, while a
// worker that ignores priority (FIFO) would start all of them first.
func (s *stack) scenarioPriority(t *testing.T) {
	const lowAhead = 2
	v := s.vars(t)
	c := s.client(t, v)
	slots := v.Worker.Replicas * v.Worker.Concurrency

	sleep := func(ms int, priority string) submission {
		return submission{Type: "diagnostic.sleep", Payload: map[string]any{"ms": ms}, Priority: priority}
	}
	var busy []string
	for range slots {
		tk, _ := c.submit(t, sleep(3000, "low"))
		busy = append(busy, tk.ID)
	}
	for _, id := range busy {
		c.waitState(t, id, 20*time.Second, func(tk task) bool { return tk.StartedAt != nil })
	}
	var waiting []string
	for range 2 * slots {
		tk, _ := c.submit(t, sleep(300, "low"))
		waiting = append(waiting, tk.ID)
	}
	high, _ := c.submit(t, sleep(100, "high"))

	done := c.waitCompleted(t, append(append(append([]string{}, busy...), waiting...), high.ID), 2*time.Minute)
	highStart := *done[high.ID].StartedAt
	before := 0
	for _, id := range waiting {
		if done[id].StartedAt.Before(highStart) {
			before++
		}
	}
	t.Logf("%d slots; %d of %d low tasks queued before the high one started ahead of it", slots, before, len(waiting))
	if before > lowAhead {
		t.Errorf("%d of %d low tasks submitted before the high task started before it (high started %s); want at most %d",
			before, len(waiting), highStart.Format(time.RFC3339Nano), lowAhead)
	}
}
