package auth

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/calcgrid/calcgrid/app/internal/redistest"
)

const token = "bootstrap-token-of-the-test"

func newStore(t *testing.T) *Store {
	t.Helper()
	srv := redistest.StartACL(t)
	rdb := redis.NewClient(srv.Login("api"))
	t.Cleanup(func() { rdb.Close() })
	return NewStore(rdb, token, []string{"high", "medium", "low"})
}

// TestAuthenticate: a key's secret authenticates while the key lives and
// is unexpired; the bootstrap token is admin only; an index entry pointing
// at another key does not authenticate (the stored hash is compared).
func TestAuthenticate(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if _, err := s.CreateTenant(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	tenant, name, scopes := "a", "k", []string{"read"}
	spec := KeySpec{Tenant: &tenant, Name: &name, Scopes: &scopes}
	k1, secret1, err := s.CreateKey(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	_, secret2, err := s.CreateKey(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(ctx, secret1)
	if err != nil || p.Key.ID != k1.ID || p.Tenant() != "a" || !p.Key.Has(ScopeRead) || p.Key.Has(ScopeSubmit) {
		t.Fatalf("Authenticate: %+v, %v", p, err)
	}
	if p, err := s.Authenticate(ctx, token); err != nil || p.Tenant() != AdminTenant || !p.Key.Has(ScopeAdmin) || p.Key.Has(ScopeRead) {
		t.Errorf("bootstrap token: %+v, %v", p, err)
	}
	// A forged index entry: the second secret's hash names the first key.
	s.rdb.Set(ctx, secretKey(Hash(secret2)), k1.ID, 0)
	if _, err := s.Authenticate(ctx, secret2); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("forged index entry: %v", err)
	}
	s.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	in := time.Now().Add(time.Hour)
	if _, err := s.UpdateKey(ctx, k1.ID, KeySpec{ExpiresAt: &in, SetExpiry: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, secret1); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("expired key: %v", err)
	}
	s.now = time.Now
	if _, err := s.Authenticate(ctx, secret1); err != nil {
		t.Errorf("key before expiry: %v", err)
	}
	if err := s.RevokeKey(ctx, k1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, secret1); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("revoked key: %v", err)
	}
	if n := s.rdb.Exists(ctx, keyKey(k1.ID), secretKey(Hash(secret1))).Val(); n != 0 {
		t.Errorf("a revoked key left %d records", n)
	}
	for _, bad := range []string{"", "cgk_", "nope", token[:len(token)-1]} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("Authenticate(%q): %v", bad, err)
		}
	}
}
