// Package auth is calcgrid's access control: API keys and the tenants
// they belong to, their scopes and limits, kept in Redis, and the check of
// a presented secret.
//
// A key's secret is "cgk_" and 32 random bytes (crypto/rand) in unpadded
// base64url. Only its SHA-256 is stored: with 256 bits of entropy no
// dictionary or brute-force search of the hash is feasible, so a slow
// password hash (bcrypt, argon2) would add latency to every request and no
// protection. A secret is found by its hash (the Redis lookup) and the
// stored hash is compared again in constant time (crypto/subtle).
//
// Revocation deletes the key's records: the next request with its secret
// fails. Nothing is cached across requests, so there is no window in which
// a revoked or expired key still works.
package auth

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// Scope is a permission a key holds.
type Scope string

// The scopes.
const (
	// ScopeSubmit allows POST /v1/tasks.
	ScopeSubmit Scope = "submit"
	// ScopeRead allows reading tasks, task types and queues.
	ScopeRead Scope = "read"
	// ScopeCancel allows DELETE /v1/tasks/{id}.
	ScopeCancel Scope = "cancel"
	// ScopeAdmin allows /v1/admin/*.
	ScopeAdmin Scope = "admin"
)

// Scopes returns every scope, in a new slice each call.
func Scopes() []Scope { return []Scope{ScopeSubmit, ScopeRead, ScopeCancel, ScopeAdmin} }

// ScopeNames returns every scope's name.
func ScopeNames() []string {
	var out []string
	for _, s := range Scopes() {
		out = append(out, string(s))
	}
	return out
}

// Tenants every deployment has without a record.
const (
	// DefaultTenant owns every task while authentication is off, and the
	// tasks submitted before it was turned on.
	DefaultTenant = "default"
	// AdminTenant is the bootstrap admin token's tenant.
	AdminTenant = "admin"
)

// namePattern is what tenant and key names must match.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidName reports whether s is a valid tenant or key name.
func ValidName(s string) bool { return namePattern.MatchString(s) }

// NameRule describes ValidName for error messages.
const NameRule = "must be 1 to 63 lowercase letters, digits or '-', starting with a letter or digit"

// Errors callers map to statuses.
var (
	// ErrUnauthenticated: no key, an unknown, expired or revoked one (401).
	ErrUnauthenticated = errors.New("missing or invalid API key")
	// ErrNotFound: no such key or tenant (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the tenant exists, or still has keys (409).
	ErrConflict = errors.New("conflict")
)

// Key is an API key as the admin API shows it; the secret is never stored.
type Key struct {
	ID            string     `json:"id"`
	Tenant        string     `json:"tenant"`
	Name          string     `json:"name"`
	Scopes        []Scope    `json:"scopes"`
	RatePerSecond int        `json:"rate_per_second"`
	MaxPending    int        `json:"max_pending"`
	Priorities    []string   `json:"priorities"`
	ExpiresAt     *time.Time `json:"expires_at"`
	CreatedAt     time.Time  `json:"created_at"`
}

// Has reports whether the key holds scope.
func (k Key) Has(scope Scope) bool { return slices.Contains(k.Scopes, scope) }

// MaySubmitTo reports whether the key may submit to queue.
func (k Key) MaySubmitTo(queue string) bool {
	return len(k.Priorities) == 0 || slices.Contains(k.Priorities, queue)
}

// expired reports whether the key has expired at now.
func (k Key) expired(now time.Time) bool { return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) }

// Tenant is a tenant's record.
type Tenant struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Principal is who a request acts as.
type Principal struct {
	// Key is the key presented; its ID is empty for the bootstrap token and
	// while authentication is off (no per-key limits apply).
	Key Key
}

// Tenant is the tenant the request acts for.
func (p Principal) Tenant() string { return p.Key.Tenant }

// Anonymous is every request while authentication is off: tenant
// DefaultTenant with every scope and no limits.
func Anonymous() Principal {
	return Principal{Key: Key{Tenant: DefaultTenant, Scopes: Scopes()}}
}

// bootstrap is the principal of the bootstrap admin token.
func bootstrap() Principal {
	return Principal{Key: Key{Tenant: AdminTenant, Name: "bootstrap", Scopes: []Scope{ScopeAdmin}}}
}

// KeySpec is what an admin sets on a key; nil fields of a patch are left
// as they are.
type KeySpec struct {
	Tenant        *string
	Name          *string
	Scopes        *[]string
	RatePerSecond *int
	MaxPending    *int
	Priorities    *[]string
	// ExpiresAt: SetExpiry tells "null" (no expiry) from absence.
	ExpiresAt *time.Time
	SetExpiry bool
}

// Limits of a key's numbers.
const (
	maxRate       = 1_000_000
	maxKeyPending = 1_000_000
)

// validate checks spec for creation (create: tenant, name and scopes
// required) or a patch, against the queue names.
func (s KeySpec) validate(create bool, queues []string) error {
	var c tasks.Checks
	add := c.Add
	if create {
		if s.Tenant == nil {
			add("tenant", "is required")
		} else if !ValidName(*s.Tenant) {
			add("tenant", "%s", NameRule)
		}
		if s.Name == nil {
			add("name", "is required")
		}
		if s.Scopes == nil {
			add("scopes", "is required (one or more of %s)", strings.Join(ScopeNames(), ", "))
		}
	} else if s.Tenant != nil {
		add("tenant", "cannot be changed; create a key in the other tenant and revoke this one")
	}
	if s.Name != nil && !ValidName(*s.Name) {
		add("name", "%s", NameRule)
	}
	if s.Scopes != nil {
		if len(*s.Scopes) == 0 {
			add("scopes", "must hold at least one of %s", strings.Join(ScopeNames(), ", "))
		}
		for i, sc := range *s.Scopes {
			if !slices.Contains(ScopeNames(), sc) {
				add(fmt.Sprintf("scopes[%d]", i), "unknown scope %q (allowed: %s)", sc, strings.Join(ScopeNames(), ", "))
			}
		}
	}
	if s.RatePerSecond != nil && (*s.RatePerSecond < 0 || *s.RatePerSecond > maxRate) {
		add("rate_per_second", "must be ≥ 0 and ≤ %d (0: unlimited)", maxRate)
	}
	if s.MaxPending != nil && (*s.MaxPending < 0 || *s.MaxPending > maxKeyPending) {
		add("max_pending", "must be ≥ 0 and ≤ %d (0: unlimited)", maxKeyPending)
	}
	if s.Priorities != nil {
		for i, p := range *s.Priorities {
			if !slices.Contains(queues, p) {
				add(fmt.Sprintf("priorities[%d]", i), "unknown priority %q (allowed: %s)", p, strings.Join(queues, ", "))
			}
		}
	}
	if errs := c.Errors(); len(errs) > 0 {
		return &tasks.ValidationError{Errors: errs}
	}
	return nil
}

// apply sets spec's fields on k.
func (s KeySpec) apply(k *Key) {
	if s.Tenant != nil {
		k.Tenant = *s.Tenant
	}
	if s.Name != nil {
		k.Name = *s.Name
	}
	if s.Scopes != nil {
		k.Scopes = nil
		for _, sc := range Scopes() { // canonical order, no duplicates
			if slices.Contains(*s.Scopes, string(sc)) {
				k.Scopes = append(k.Scopes, sc)
			}
		}
	}
	if s.RatePerSecond != nil {
		k.RatePerSecond = *s.RatePerSecond
	}
	if s.MaxPending != nil {
		k.MaxPending = *s.MaxPending
	}
	if s.Priorities != nil {
		k.Priorities = []string{}
		for _, p := range *s.Priorities {
			if !slices.Contains(k.Priorities, p) {
				k.Priorities = append(k.Priorities, p)
			}
		}
	}
	if s.SetExpiry {
		k.ExpiresAt = nil
		if s.ExpiresAt != nil {
			t := s.ExpiresAt.UTC().Truncate(time.Second)
			k.ExpiresAt = &t
		}
	}
}
