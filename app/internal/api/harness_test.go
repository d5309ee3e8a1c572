package api_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/diagnostic"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// newEnv runs the API on a private redis-server with the diagnostic types.
func newEnv(t testing.TB, o apptest.Options) *apptest.Stack {
	t.Helper()
	reg := tasks.NewRegistry()
	if err := diagnostic.Register(reg); err != nil {
		t.Fatal(err)
	}
	return apptest.Start(t, reg, o)
}

func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("compact %s: %v", raw, err)
	}
	return b.String()
}
