package diagnostic

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

func registry(t *testing.T) *tasks.Registry {
	t.Helper()
	r := tasks.NewRegistry()
	if err := Register(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func run(t *testing.T, ctx context.Context, name, payload string) (any, error) {
	t.Helper()
	def, ok := registry(t).Lookup(name)
	if !ok {
		t.Fatalf("%s not registered", name)
	}
	p, err := def.Prepare(json.RawMessage(payload))
	if err != nil {
		t.Fatalf("prepare %s: %v", payload, err)
	}
	return def.Handle(ctx, p, tasks.Discard{})
}

func TestDefaults(t *testing.T) {
	def, _ := registry(t).Lookup("diagnostic.fail")
	got, err := def.Prepare(nil)
	if err != nil || string(got) != `{"mode":"error","times":1}` {
		t.Errorf("prepared defaults = %s, %v", got, err)
	}
}

func TestFailThenSucceed(t *testing.T) {
	ctx := context.Background()
	if _, err := run(t, tasks.WithAttempt(ctx, 2), "diagnostic.fail", `{"times":2}`); !errors.Is(err, errDiagnostic) {
		t.Errorf("attempt 2 of 2 failing: %v", err)
	}
	res, err := run(t, tasks.WithAttempt(ctx, 3), "diagnostic.fail", `{"times":2}`)
	if err != nil || res.(Attempted).Attempt != 3 {
		t.Errorf("attempt 3: %v, %v", res, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("panic mode did not panic")
		}
	}()
	_, _ = run(t, ctx, "diagnostic.fail", `{"mode":"panic"}`)
}

func TestStopsWhenCancelled(t *testing.T) {
	for _, name := range []string{"diagnostic.sleep", "diagnostic.cpu"} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		_, err := run(t, ctx, name, `{"ms":10000}`)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
			t.Errorf("%s: %v after %s, want to stop at the deadline", name, err, time.Since(start))
		}
	}
}
