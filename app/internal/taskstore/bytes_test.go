package taskstore_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/diagnostic"
	"github.com/calcgrid/calcgrid/app/internal/finance"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// portfolio is a portfolio.var submission of n positions (about 200 bytes
// a position with its correlations).
func portfolio(n, i int) string {
	var pos, corr []string
	for j := range n {
		pos = append(pos, fmt.Sprintf(`{"name":"p%d","value":%d,"drift":0.01,"volatility":0.2}`, j, 100+(i+j)%50))
		row := make([]string, n)
		for k := range n {
			row[k] = "0"
			if k == j {
				row[k] = "1"
			}
		}
		corr = append(corr, "["+strings.Join(row, ",")+"]")
	}
	return fmt.Sprintf(`{"type":"portfolio.var","payload":{"positions":[%s],"correlation":[%s],"simulations":1000}}`,
		strings.Join(pos, ","), strings.Join(corr, ","))
}

// TestBytesPerTask measures what a task costs Redis while pending and once
// finished and kept for the retention, for small and for ~10 KB payloads,
// and checks that a finished task no longer pays for its payload:
//
//	go test -count=1 -v -run TestBytesPerTask ./app/internal/taskstore
func TestBytesPerTask(t *testing.T) {
	reg := tasks.NewRegistry()
	if err := finance.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := diagnostic.Register(reg); err != nil {
		t.Fatal(err)
	}
	finished := map[string]float64{}
	for _, c := range []struct {
		name  string
		n     int
		body  func(i int) string
		final taskstore.State
	}{
		{"noop", 1000, func(int) string { return `{"type":"diagnostic.noop"}` }, taskstore.StateCompleted},
		{"option.price", 1000, func(i int) string {
			return fmt.Sprintf(`{"type":"option.price","payload":{"style":"european","kind":"call","spot":%d,"strike":100,"rate":0.05,"volatility":0.2,"maturity_years":1}}`, 80+i%40)
		}, taskstore.StateCompleted},
		{"failed", 1000, func(int) string {
			return `{"type":"diagnostic.fail","payload":{"mode":"error","times":5},"max_retry":0}`
		}, taskstore.StateFailed},
		{"portfolio.var 50 positions", 200, func(i int) string { return portfolio(50, i) }, taskstore.StateCompleted},
	} {
		e := apptest.Start(t, reg, apptest.Options{MaxPending: 1_000_000})
		e.Submit(c.body(0)) // the queue's own keys exist before the baseline
		used, keys := usage(t, e)
		ids := make([]string, c.n)
		for i := range c.n {
			ids[i] = e.Submit(c.body(i)).ID
		}
		u, k := usage(t, e)
		pending := [2]float64{float64(u-used) / float64(c.n), float64(k-keys) / float64(c.n)}
		e.StartWorker(4, false)
		for _, id := range ids {
			e.Await(id, time.Minute, c.final)
		}
		u, k = usage(t, e)
		done := [2]float64{float64(u-used) / float64(c.n), float64(k-keys) / float64(c.n)}
		finished[c.name] = done[1]
		t.Logf("%-26s payload %5d B; bytes per task: pending %5.0f (keys %5.0f), %s %5.0f (keys %5.0f)",
			c.name, len(c.body(1)), pending[0], pending[1], c.final, done[0], done[1])
	}
	if grew := finished["portfolio.var 50 positions"] - finished["option.price"]; grew > 1000 {
		t.Errorf("a finished task with a ~%d B payload holds %.0f B more in its keys than a small one: is its payload kept?",
			len(portfolio(50, 1)), grew)
	}
}

// usage is Redis's used_memory (INFO, what maxmemory limits; it includes
// client buffers, hence some noise) and the sum of MEMORY USAGE over its
// keys (the records alone).
func usage(t *testing.T, e *apptest.Stack) (used, keys int64) {
	t.Helper()
	ctx := t.Context()
	rdb := e.Redis.Client()
	used, err := strconv.ParseInt(infoField(t, e, "used_memory"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		keys += rdb.MemoryUsage(ctx, iter.Val()).Val()
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return used, keys
}

func infoField(t *testing.T, e *apptest.Stack, field string) string {
	t.Helper()
	info, err := e.Redis.Client().Info(t.Context(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	t.Fatalf("INFO memory lacks %s", field)
	return ""
}
