package cli

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/client"
)

func TestBuildPayload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.json")
	if err := os.WriteFile(file, []byte(`{"style": "asian", "barrier": {"type": "up_and_out"}, "seed": 18446744073709551615}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		source string
		stdin  string
		sets   []string
		want   string // "" for no payload
	}{
		{"nothing", "", "", nil, ""},
		{"numbers, booleans, arrays, strings", "", "", []string{"spot=100", "rate=-0.05", "greeks=true",
			"kind=call", "list=[1,2]", `name="42"`, "empty="}, `{"empty":"","greeks":true,"kind":"call","list":[1,2],"name":"42","rate":-0.05,"spot":100}`},
		{"nested with dots", "", "", []string{"barrier.type=up_and_out", "barrier.level=120"},
			`{"barrier":{"level":120,"type":"up_and_out"}}`},
		{"file, exact numbers, sets on top", "@" + file, "", []string{"barrier.level=1e2", "style=barrier"},
			`{"barrier":{"level":1e2,"type":"up_and_out"},"seed":18446744073709551615,"style":"barrier"}`},
		{"stdin", "-", `{"ms": 5}`, nil, `{"ms":5}`},
		{"argument", `{"ms": 5}`, "", []string{"ms=6"}, `{"ms":6}`},
		{"last set wins", "", "", []string{"ms=1", "ms=2"}, `{"ms":2}`},
		{"value with =", "", "", []string{"name=a=b"}, `{"name":"a=b"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := buildPayload(c.source, c.sets, strings.NewReader(c.stdin))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestBuildPayloadErrors(t *testing.T) {
	for _, c := range []struct {
		source string
		sets   []string
		want   string
	}{
		{"", []string{"novalue"}, "want field=value"},
		{"", []string{"=1"}, "want field=value"},
		{"", []string{".a=1"}, "is not a field name"},
		{"", []string{"a.=1"}, "is not a field name"},
		{"", []string{"a=1", "a.b=2"}, "a is already set to a value that is not an object"},
		{"[1, 2]", nil, "must be a JSON object"},
		{"{} {}", nil, "more than one JSON value"},
		{"payload.json", nil, "a file is @path"},
	} {
		_, err := buildPayload(c.source, c.sets, strings.NewReader(""))
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("source %q, sets %q: got %v, want a usage error with %q", c.source, c.sets, err, c.want)
		}
	}
}

func TestETA(t *testing.T) {
	var e eta
	t0 := time.Now()
	active := func(p float64, attempts int) client.Task {
		return client.Task{State: client.StateActive, Progress: p, Attempts: attempts}
	}
	if _, known := e.update(t0, client.Task{State: client.StatePending}); known {
		t.Error("ETA of a pending task")
	}
	if _, known := e.update(t0, active(0.1, 1)); known {
		t.Error("ETA from one observation")
	}
	if left, known := e.update(t0.Add(2*time.Second), active(0.3, 1)); !known || left.Round(time.Millisecond) != 7*time.Second {
		t.Errorf("10%%/s with 70%% left: got %s %v, want 7s", left, known)
	}
	// A new attempt starts over: no ETA until it has moved.
	if _, known := e.update(t0.Add(3*time.Second), active(0.05, 2)); known {
		t.Error("ETA across attempts")
	}
	if left, known := e.update(t0.Add(4*time.Second), active(0.55, 2)); !known || left.Round(time.Millisecond) != 900*time.Millisecond {
		t.Errorf("50%%/s with 45%% left: got %s %v, want 900ms", left, known)
	}
}

// TestDefaultEndpointIsDev holds DefaultEndpoint to the dev environment's
// published port, the one place that sets it.
func TestDefaultEndpointIsDev(t *testing.T) {
	b, err := os.ReadFile("../../../environments/dev.tfvars")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^http_port\s*=\s*(\d+)\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no http_port in environments/dev.tfvars")
	}
	if want := "http://127.0.0.1:" + string(m[1]); DefaultEndpoint != want {
		t.Errorf("DefaultEndpoint = %s; dev publishes %s", DefaultEndpoint, want)
	}
}
