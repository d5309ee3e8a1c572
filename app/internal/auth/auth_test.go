package auth

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

func TestSecretAndID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := NewSecret()
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
		if !strings.HasPrefix(s, SecretPrefix) || err != nil || len(raw) != 32 {
			t.Fatalf("secret %q: want cgk_ and 32 bytes of unpadded base64url", s)
		}
		id := newKeyID()
		if !regexp.MustCompile(`^key_[a-z2-7]{26}$`).MatchString(id) {
			t.Fatalf("key id %q", id)
		}
		if seen[s] || seen[id] {
			t.Fatal("repeated secret or id")
		}
		seen[s], seen[id] = true, true
	}
	if h := Hash("x"); h != "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" {
		t.Errorf("Hash is not hex SHA-256: %s", h)
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimiter()
	l.now = func() time.Time { return now }
	for _, c := range []struct {
		name    string
		key     Key
		advance time.Duration
		allowed bool
		retry   int
	}{
		{"no id: unlimited", Key{RatePerSecond: 1}, 0, true, 0},
		{"rate 0: unlimited", Key{ID: "z"}, 0, true, 0},
		{"first", Key{ID: "a", RatePerSecond: 2}, 0, true, 0},
		{"burst of 2", Key{ID: "a", RatePerSecond: 2}, 0, true, 0},
		{"bucket empty", Key{ID: "a", RatePerSecond: 2}, 0, false, 1},
		{"half a second later", Key{ID: "a", RatePerSecond: 2}, 500 * time.Millisecond, true, 0},
		{"other key", Key{ID: "b", RatePerSecond: 2}, 0, true, 0},
		{"rate 1", Key{ID: "c", RatePerSecond: 1}, 0, true, 0},
		{"rate 1 again", Key{ID: "c", RatePerSecond: 1}, 0, false, 1},
		{"rate raised: new bucket", Key{ID: "c", RatePerSecond: 5}, 0, true, 0},
	} {
		now = now.Add(c.advance)
		ok, d := l.Allow(c.key)
		if ok != c.allowed || (!ok && RetryAfter(d) != c.retry) {
			t.Errorf("%s: allowed %v after %s, want %v, retry %d", c.name, ok, d, c.allowed, c.retry)
		}
	}
	for i := range sweepAbove + 10 {
		l.Allow(Key{ID: "k" + string(rune(i)), RatePerSecond: 1})
	}
	now = now.Add(2 * time.Second)
	l.Allow(Key{ID: "fresh", RatePerSecond: 1})
	if n := len(l.buckets); n > sweepAbove {
		t.Errorf("%d idle buckets kept", n)
	}
}

func TestKeySpecValidate(t *testing.T) {
	str := func(s string) *string { return &s }
	list := func(s ...string) *[]string { return &s }
	num := func(n int) *int { return &n }
	queues := []string{"high", "medium", "low"}
	for _, c := range []struct {
		name   string
		spec   KeySpec
		create bool
		fields []string
	}{
		{"valid", KeySpec{Tenant: str("a"), Name: str("k-1"), Scopes: list("read")}, true, nil},
		{"missing all", KeySpec{}, true, []string{"tenant", "name", "scopes"}},
		{"bad names", KeySpec{Tenant: str("-a"), Name: str("K"), Scopes: list("read")}, true, []string{"tenant", "name"}},
		{"long name", KeySpec{Tenant: str("a"), Name: str(strings.Repeat("a", 64)), Scopes: list("read")}, true, []string{"name"}},
		{"unknown scope", KeySpec{Tenant: str("a"), Name: str("k"), Scopes: list("read", "root")}, true, []string{"scopes[1]"}},
		{"limits", KeySpec{RatePerSecond: num(-1), MaxPending: num(-1)}, false, []string{"rate_per_second", "max_pending"}},
		{"priority", KeySpec{Priorities: list("urgent")}, false, []string{"priorities[0]"}},
		{"tenant patch", KeySpec{Tenant: str("b")}, false, []string{"tenant"}},
		{"empty patch", KeySpec{}, false, nil},
	} {
		err := c.spec.validate(c.create, queues)
		var got []string
		if ve, ok := err.(*tasks.ValidationError); ok {
			for _, f := range ve.Errors {
				got = append(got, f.Field)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if strings.Join(got, ",") != strings.Join(c.fields, ",") {
			t.Errorf("%s: fields %v, want %v", c.name, got, c.fields)
		}
	}
}
