package quant

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestForChunksPanic: a panic in one chunk's goroutine becomes forChunks'
// error (ErrPanic, with the value) instead of ending the process, and the
// other chunks stop.
func TestForChunksPanic(t *testing.T) {
	var ran atomic.Int64
	err := forChunks(t.Context(), 10_000, nil, func(c int) {
		ran.Add(1)
		if c == 3 {
			panic("index out of range in chunk 3")
		}
		time.Sleep(time.Millisecond)
	})
	if !errors.Is(err, ErrPanic) || !strings.Contains(err.Error(), "index out of range in chunk 3") {
		t.Fatalf("forChunks with a panicking chunk: %v, want ErrPanic naming the panic", err)
	}
	if n := ran.Load(); n >= 10_000 {
		t.Errorf("all %d chunks ran after the panic; want the others stopped", n)
	}
}
