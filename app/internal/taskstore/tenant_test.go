package taskstore_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// TestTenantIDs: with an id secret, ids are keyed hashes: stable per
// (tenant, key), different across tenants, and not the unkeyed UUIDv5
// anyone could compute; without one, default's ids are as before.
func TestTenantIDs(t *testing.T) {
	e := newEnv(t, taskstore.KeepFor(time.Hour))
	ctx := t.Context()
	plain := taskstore.New(e.rdb, e.retention)
	if id, _ := plain.ID(ctx, taskstore.DefaultTenant, "k"); id != taskstore.IDFor("k") {
		t.Errorf("default tenant without a secret: %s, want %s", id, taskstore.IDFor("k"))
	}
	keyed := taskstore.New(e.rdb, e.retention)
	keyed.SetIDSecret([]byte("0123456789abcdef0123456789abcdef"))
	other := taskstore.New(e.rdb, e.retention)
	other.SetIDSecret([]byte("another secret, another id space"))
	a1, _ := keyed.ID(ctx, "a", "k")
	a2, _ := keyed.ID(ctx, "a", "k")
	b, _ := keyed.ID(ctx, "b", "k")
	d, _ := keyed.ID(ctx, taskstore.DefaultTenant, "k")
	o, _ := other.ID(ctx, "a", "k")
	if a1 != a2 || a1 == b || d == taskstore.IDFor("k") || a1 == o {
		t.Errorf("keyed ids: a %s %s, b %s, default %s, other secret %s", a1, a2, b, d, o)
	}
	// A shared secret is made once and used by every store that shares it.
	s1, s2 := taskstore.New(e.rdb, e.retention), taskstore.New(e.rdb, e.retention)
	s1.UseSharedIDSecret()
	s2.UseSharedIDSecret()
	x, err1 := s1.ID(ctx, "a", "k")
	y, err2 := s2.ID(ctx, "a", "k")
	if err1 != nil || err2 != nil || x != y || x == a1 {
		t.Errorf("shared secret ids: %s %v, %s %v", x, err1, y, err2)
	}
}

// TestTenantScope: GetFor, CancelFor and List see only the tenant's tasks;
// the same key in two tenants makes two tasks; Usage counts them.
func TestTenantScope(t *testing.T) {
	e := newEnv(t, taskstore.KeepFor(time.Hour))
	ctx := t.Context()
	e.store.UseSharedIDSecret()
	submit := func(tenant string) taskstore.Task {
		s := e.sub(`{"type":"diagnostic.noop"}`, "same")
		s.Tenant = tenant
		task, created, err := e.store.Submit(ctx, s, 100)
		if err != nil || !created {
			t.Fatalf("submit as %s: %v %v", tenant, created, err)
		}
		return task
	}
	a, b := submit("a"), submit("b")
	if a.ID == b.ID {
		t.Fatal("one task for two tenants")
	}
	if _, err := e.store.GetFor(ctx, "b", a.ID); !errors.Is(err, taskstore.ErrNotFound) {
		t.Errorf("b reads a's task: %v", err)
	}
	if _, err := e.store.CancelFor(ctx, "b", a.ID); !errors.Is(err, taskstore.ErrNotFound) {
		t.Errorf("b cancels a's task: %v", err)
	}
	if got, err := e.store.GetFor(ctx, "a", a.ID); err != nil || got.State != taskstore.StatePending {
		t.Errorf("a reads its task: %+v %v", got, err)
	}
	page, _, err := e.store.List(ctx, taskstore.Filter{Tenant: "b", Limit: 10}, "")
	if err != nil || len(page) != 1 || page[0].ID != b.ID {
		t.Errorf("b's list: %+v %v", page, err)
	}
	if u, err := e.store.Usage(ctx, "a"); err != nil || u != (taskstore.Usage{Pending: 1}) {
		t.Errorf("a's usage: %+v %v", u, err)
	}
	if _, err := e.store.CancelFor(ctx, "a", a.ID); err != nil {
		t.Fatal(err)
	}
	if u, err := e.store.Usage(ctx, "a"); err != nil || u != (taskstore.Usage{}) {
		t.Errorf("a's usage after cancelling: %+v %v", u, err)
	}
	if n := e.rdb.Exists(ctx, "calcgrid:tenant-tasks:a").Val(); n != 0 {
		t.Errorf("a cancelled task is still in its tenant's set")
	}
}

// TestListSkipsOtherTenantsInBoundedSteps: a tenant's list pages past
// other tenants' tasks a bounded number of asynq pages per call (empty
// pages with a cursor), and following the cursors finds all its own.
func TestListSkipsOtherTenantsInBoundedSteps(t *testing.T) {
	e := newEnv(t, taskstore.KeepFor(time.Hour))
	ctx := t.Context()
	submit := func(tenant, key string) taskstore.Task {
		s := e.sub(`{"type":"diagnostic.noop"}`, key)
		s.Tenant = tenant
		task, _, err := e.store.Submit(ctx, s, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return task
	}
	own := submit("b", "first")
	for i := range 40 {
		submit("a", fmt.Sprint(i))
	}
	var found []string
	calls, empty := 0, 0
	for cursor := ""; ; calls++ {
		page, next, err := e.store.List(ctx, taskstore.Filter{Tenant: "b", Limit: 1}, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			empty++
		}
		for _, task := range page {
			found = append(found, task.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(found) != 1 || found[0] != own.ID {
		t.Errorf("b's tasks listed: %v, want [%s]", found, own.ID)
	}
	if empty == 0 {
		t.Errorf("%d calls read past 40 of a's tasks without an empty page", calls)
	}
}
