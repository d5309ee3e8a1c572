package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// Redis layout. One Redis, not Cluster: the scripts derive some key names
// from what they read, as taskstore's do.
const (
	// tenantsKey is a hash: tenant name → created_at (unix seconds).
	tenantsKey = "calcgrid:auth:tenants"
	// keysKey is the set of every key id.
	keysKey = "calcgrid:auth:keys"
	// keyPrefix + id is a key's hash (fields below).
	keyPrefix = "calcgrid:auth:key:"
	// secretPrefix + Hash(secret) holds the id of the secret's key.
	secretPrefix = "calcgrid:auth:secret:"
	// tenantKeysPrefix + tenant is the set of the tenant's key ids.
	tenantKeysPrefix = "calcgrid:auth:tenant-keys:"
)

func keyKey(id string) string            { return keyPrefix + id }
func secretKey(hash string) string       { return secretPrefix + hash }
func tenantKeysKey(tenant string) string { return tenantKeysPrefix + tenant }

// Fields of a key's hash; lists are comma-separated, times unix seconds.
const (
	fTenant     = "tenant"
	fName       = "name"
	fScopes     = "scopes"
	fRate       = "rate_per_second"
	fMaxPending = "max_pending"
	fPriorities = "priorities"
	fExpiresAt  = "expires_at"
	fCreatedAt  = "created_at"
	fHash       = "hash"
)

// Store keeps keys and tenants in Redis and checks presented secrets.
type Store struct {
	rdb       redis.UniversalClient
	adminHash []byte
	queues    []string
	now       func() time.Time
}

// NewStore returns a Store on rdb. adminToken is the bootstrap admin
// token ("" for none); queues are the names a key's priorities may hold.
func NewStore(rdb redis.UniversalClient, adminToken string, queues []string) *Store {
	s := &Store{rdb: rdb, queues: slices.Clone(queues), now: time.Now}
	if adminToken != "" {
		sum := sha256.Sum256([]byte(adminToken))
		s.adminHash = sum[:]
	}
	return s
}

// authScript finds a secret's key in one round trip.
//
//	KEYS: the secret's index entry
var authScript = redis.NewScript(`
local id = redis.call("GET", KEYS[1])
if not id then
	return false
end
return {id, redis.call("HGETALL", "` + keyPrefix + `" .. id)}
`)

// Authenticate returns the principal whose secret was presented, or
// ErrUnauthenticated when it names no live key: unknown, revoked (its
// records are gone) or expired. Any other error is Redis's.
func (s *Store) Authenticate(ctx context.Context, secret string) (Principal, error) {
	if secret == "" {
		return Principal{}, ErrUnauthenticated
	}
	sum := sha256.Sum256([]byte(secret))
	// The bootstrap token is compared in constant time, as hashes so that
	// its length does not leak either.
	if s.adminHash != nil && subtle.ConstantTimeCompare(sum[:], s.adminHash) == 1 {
		return bootstrap(), nil
	}
	if !strings.HasPrefix(secret, SecretPrefix) {
		return Principal{}, ErrUnauthenticated
	}
	hash := Hash(secret)
	res, err := authScript.Run(ctx, s.rdb, []string{secretKey(hash)}).Slice()
	if errors.Is(err, redis.Nil) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	id, _ := res[0].(string)
	fields, _ := res[1].([]any)
	h := map[string]string{}
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		v, _ := fields[i+1].(string)
		h[k] = v
	}
	// The lookup found the key by its hash; the stored hash is compared
	// again in constant time, so a stale or tampered index entry cannot
	// authenticate as another key.
	if subtle.ConstantTimeCompare([]byte(h[fHash]), []byte(hash)) != 1 {
		return Principal{}, ErrUnauthenticated
	}
	k := parseKey(id, h)
	if k.expired(s.now()) {
		return Principal{}, ErrUnauthenticated
	}
	return Principal{Key: k}, nil
}

func parseKey(id string, h map[string]string) Key {
	k := Key{ID: id, Tenant: h[fTenant], Name: h[fName], Scopes: []Scope{}, Priorities: []string{}}
	for _, sc := range split(h[fScopes]) {
		k.Scopes = append(k.Scopes, Scope(sc))
	}
	k.Priorities = append(k.Priorities, split(h[fPriorities])...)
	k.RatePerSecond, _ = strconv.Atoi(h[fRate])
	k.MaxPending, _ = strconv.Atoi(h[fMaxPending])
	if n, err := strconv.ParseInt(h[fExpiresAt], 10, 64); err == nil {
		t := time.Unix(n, 0).UTC()
		k.ExpiresAt = &t
	}
	n, _ := strconv.ParseInt(h[fCreatedAt], 10, 64)
	k.CreatedAt = time.Unix(n, 0).UTC()
	return k
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// fields renders k's record (without the hash) for HSET.
func (k Key) fields() []any {
	scopes := make([]string, len(k.Scopes))
	for i, sc := range k.Scopes {
		scopes[i] = string(sc)
	}
	expires := ""
	if k.ExpiresAt != nil {
		expires = strconv.FormatInt(k.ExpiresAt.Unix(), 10)
	}
	return []any{fTenant, k.Tenant, fName, k.Name, fScopes, strings.Join(scopes, ","),
		fRate, k.RatePerSecond, fMaxPending, k.MaxPending, fPriorities, strings.Join(k.Priorities, ","),
		fExpiresAt, expires, fCreatedAt, k.CreatedAt.Unix()}
}

// createKeyScript writes a new key unless its tenant is gone.
//
//	KEYS: the key's hash, its secret's index entry, the key set, the
//	      tenant's key set, the tenants hash
//	ARGV: id, tenant, then the hash's field/value pairs
var createKeyScript = redis.NewScript(`
if redis.call("HEXISTS", KEYS[5], ARGV[2]) == 0 then
	return 0
end
redis.call("HSET", KEYS[1], unpack(ARGV, 3))
redis.call("SET", KEYS[2], ARGV[1])
redis.call("SADD", KEYS[3], ARGV[1])
redis.call("SADD", KEYS[4], ARGV[1])
return 1
`)

// CreateKey creates a key from spec and returns it with its secret, which
// is not kept: it cannot be shown again.
func (s *Store) CreateKey(ctx context.Context, spec KeySpec) (Key, string, error) {
	if err := spec.validate(true, s.queues); err != nil {
		return Key{}, "", err
	}
	k := Key{ID: newKeyID(), Priorities: []string{}, CreatedAt: s.now().UTC().Truncate(time.Second)}
	spec.apply(&k)
	secret := NewSecret()
	hash := Hash(secret)
	args := append([]any{k.ID, k.Tenant}, k.fields()...)
	args = append(args, fHash, hash)
	n, err := createKeyScript.Run(ctx, s.rdb,
		[]string{keyKey(k.ID), secretKey(hash), keysKey, tenantKeysKey(k.Tenant), tenantsKey}, args...).Int()
	if err != nil {
		return Key{}, "", fmt.Errorf("create key: %w", err)
	}
	if n == 0 {
		return Key{}, "", &tasks.ValidationError{Errors: []tasks.FieldError{{Field: "tenant", Message: fmt.Sprintf("unknown tenant %q (create it first)", k.Tenant)}}}
	}
	return k, secret, nil
}

// Key returns the key with id; a revoked key is not found.
func (s *Store) Key(ctx context.Context, id string) (Key, error) {
	h, err := s.rdb.HGetAll(ctx, keyKey(id)).Result()
	if err != nil {
		return Key{}, fmt.Errorf("read key %s: %w", id, err)
	}
	if h[fTenant] == "" {
		return Key{}, fmt.Errorf("%w: key %s", ErrNotFound, id)
	}
	return parseKey(id, h), nil
}

// Keys lists the keys, of one tenant unless tenant is "", sorted by
// creation.
func (s *Store) Keys(ctx context.Context, tenant string) ([]Key, error) {
	set := keysKey
	if tenant != "" {
		set = tenantKeysKey(tenant)
	}
	ids, err := s.rdb.SMembers(ctx, set).Result()
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, keyKey(id))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := []Key{}
	for i, id := range ids {
		if h := cmds[i].Val(); h[fTenant] != "" {
			out = append(out, parseKey(id, h))
		}
	}
	slices.SortFunc(out, func(a, b Key) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// updateKeyScript rewrites a key's fields unless it was revoked.
//
//	KEYS: the key's hash
//	ARGV: field/value pairs
var updateKeyScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 0 then
	return 0
end
redis.call("HSET", KEYS[1], unpack(ARGV))
return 1
`)

// UpdateKey applies a patch to key id and returns the key as it is now.
// The tenant cannot change (a validation error).
func (s *Store) UpdateKey(ctx context.Context, id string, patch KeySpec) (Key, error) {
	if err := patch.validate(false, s.queues); err != nil {
		return Key{}, err
	}
	k, err := s.Key(ctx, id)
	if err != nil {
		return Key{}, err
	}
	patch.apply(&k)
	n, err := updateKeyScript.Run(ctx, s.rdb, []string{keyKey(id)}, k.fields()...).Int()
	if err != nil {
		return Key{}, fmt.Errorf("update key %s: %w", id, err)
	}
	if n == 0 {
		return Key{}, fmt.Errorf("%w: key %s", ErrNotFound, id)
	}
	return k, nil
}

// revokeScript deletes a key's records: its secret fails from the next
// request on.
//
//	KEYS: the key's hash, the key set
//	ARGV: id
var revokeScript = redis.NewScript(`
local h = redis.call("HMGET", KEYS[1], "hash", "tenant")
if not h[1] then
	return 0
end
redis.call("DEL", "` + secretPrefix + `" .. h[1], KEYS[1])
redis.call("SREM", KEYS[2], ARGV[1])
redis.call("SREM", "` + tenantKeysPrefix + `" .. h[2], ARGV[1])
return 1
`)

// RevokeKey revokes key id at once.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	n, err := revokeScript.Run(ctx, s.rdb, []string{keyKey(id), keysKey}, id).Int()
	if err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: key %s", ErrNotFound, id)
	}
	return nil
}

// CreateTenant creates tenant name; ErrConflict if it exists.
func (s *Store) CreateTenant(ctx context.Context, name string) (Tenant, error) {
	if !ValidName(name) {
		return Tenant{}, &tasks.ValidationError{Errors: []tasks.FieldError{{Field: "name", Message: NameRule}}}
	}
	t := Tenant{Name: name, CreatedAt: s.now().UTC().Truncate(time.Second)}
	ok, err := s.rdb.HSetNX(ctx, tenantsKey, name, t.CreatedAt.Unix()).Result()
	if err != nil {
		return Tenant{}, fmt.Errorf("create tenant %s: %w", name, err)
	}
	if !ok {
		return Tenant{}, fmt.Errorf("%w: tenant %s exists", ErrConflict, name)
	}
	return t, nil
}

// Tenant returns tenant name.
func (s *Store) Tenant(ctx context.Context, name string) (Tenant, error) {
	v, err := s.rdb.HGet(ctx, tenantsKey, name).Result()
	if errors.Is(err, redis.Nil) {
		return Tenant{}, fmt.Errorf("%w: tenant %s", ErrNotFound, name)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("read tenant %s: %w", name, err)
	}
	return parseTenant(name, v), nil
}

func parseTenant(name, created string) Tenant {
	n, _ := strconv.ParseInt(created, 10, 64)
	return Tenant{Name: name, CreatedAt: time.Unix(n, 0).UTC()}
}

// Tenants lists the tenants by name.
func (s *Store) Tenants(ctx context.Context) ([]Tenant, error) {
	h, err := s.rdb.HGetAll(ctx, tenantsKey).Result()
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	out := make([]Tenant, 0, len(h))
	for name, created := range h {
		out = append(out, parseTenant(name, created))
	}
	slices.SortFunc(out, func(a, b Tenant) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// deleteTenantScript deletes a tenant that has no keys.
//
//	KEYS: the tenants hash, the tenant's key set
//	ARGV: name
var deleteTenantScript = redis.NewScript(`
if redis.call("HEXISTS", KEYS[1], ARGV[1]) == 0 then
	return 0
end
if redis.call("SCARD", KEYS[2]) > 0 then
	return -1
end
redis.call("HDEL", KEYS[1], ARGV[1])
return 1
`)

// DeleteTenant deletes tenant name: ErrConflict while it has keys. Its
// tasks stay until their retention ends.
func (s *Store) DeleteTenant(ctx context.Context, name string) error {
	n, err := deleteTenantScript.Run(ctx, s.rdb, []string{tenantsKey, tenantKeysKey(name)}, name).Int()
	switch {
	case err != nil:
		return fmt.Errorf("delete tenant %s: %w", name, err)
	case n == 0:
		return fmt.Errorf("%w: tenant %s", ErrNotFound, name)
	case n < 0:
		return fmt.Errorf("%w: tenant %s still has keys; revoke them first", ErrConflict, name)
	}
	return nil
}
