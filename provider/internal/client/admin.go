package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Usage is a tenant's live task counts.
type Usage struct {
	Pending        int64 `json:"pending"`
	Active         int64 `json:"active"`
	CompletedToday int64 `json:"completed_today"`
}

// Tenant owns keys and, through them, tasks.
type Tenant struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Usage     Usage     `json:"usage"`
}

// Key is an API key as the admin API shows it: never its secret, except in
// CreatedKey.
type Key struct {
	ID            string     `json:"id"`
	Tenant        string     `json:"tenant"`
	Name          string     `json:"name"`
	Scopes        []string   `json:"scopes"`
	RatePerSecond int64      `json:"rate_per_second"`
	MaxPending    int64      `json:"max_pending"`
	Priorities    []string   `json:"priorities"`
	ExpiresAt     *time.Time `json:"expires_at"`
	CreatedAt     time.Time  `json:"created_at"`
}

// CreatedKey is the answer to CreateKey: the only one with the secret.
type CreatedKey struct {
	Key
	Secret string `json:"secret"`
}

// NewKey is the body of POST /v1/admin/keys: the tenant and the settings.
type NewKey struct {
	Tenant string `json:"tenant"`
	KeyUpdate
}

// KeyUpdate is the body of PATCH /v1/admin/keys/{id}, and a new key's
// settings. Every field is sent, so the key ends up exactly as configured:
// 0 and an empty list are answers (unlimited, all priorities), and a nil
// ExpiresAt is null (no expiry).
type KeyUpdate struct {
	Name          string     `json:"name"`
	Scopes        []string   `json:"scopes"`
	RatePerSecond int64      `json:"rate_per_second"`
	MaxPending    int64      `json:"max_pending"`
	Priorities    []string   `json:"priorities"`
	ExpiresAt     *time.Time `json:"expires_at"`
}

// Queue is one of calcgrid's queues: its settings and live counts.
type Queue struct {
	Name       string `json:"name"`
	Paused     bool   `json:"paused"`
	MaxPending int64  `json:"max_pending"`
	Weight     int64  `json:"weight"`
	Pending    int64  `json:"pending"`
	Active     int64  `json:"active"`
	Scheduled  int64  `json:"scheduled"`
	Retry      int64  `json:"retry"`
	Completed  int64  `json:"completed"`
}

// QueueUpdate is the body of PATCH /v1/admin/queues/{name}; nil fields are
// left as they are.
type QueueUpdate struct {
	Paused     *bool  `json:"paused,omitempty"`
	MaxPending *int64 `json:"max_pending,omitempty"`
	Weight     *int64 `json:"weight,omitempty"`
}

// TaskType is one entry of GET /v1/task-types; PayloadSchema is kept as the
// raw JSON Schema.
type TaskType struct {
	Name          string          `json:"name"`
	Description   string          `json:"description"`
	Queue         string          `json:"queue"`
	TimeoutS      int64           `json:"timeout_s"`
	MaxRetry      int64           `json:"max_retry"`
	PayloadSchema json.RawMessage `json:"payload_schema"`
}

// CreateTenant: POST /v1/admin/tenants (409 ErrConflict if it exists).
func (c *Client) CreateTenant(ctx context.Context, name string) (*Tenant, error) {
	var t Tenant
	return &t, c.do(ctx, http.MethodPost, "/v1/admin/tenants", map[string]string{"name": name}, &t)
}

// GetTenant: GET /v1/admin/tenants/{name} (404 ErrNotFound).
func (c *Client) GetTenant(ctx context.Context, name string) (*Tenant, error) {
	var t Tenant
	return &t, c.do(ctx, http.MethodGet, "/v1/admin/tenants/"+seg(name), nil, &t)
}

// ListTenants: GET /v1/admin/tenants.
func (c *Client) ListTenants(ctx context.Context) ([]Tenant, error) {
	var out struct {
		Tenants []Tenant `json:"tenants"`
	}
	return out.Tenants, c.do(ctx, http.MethodGet, "/v1/admin/tenants", nil, &out)
}

// DeleteTenant: DELETE /v1/admin/tenants/{name} (409 while it has live keys).
func (c *Client) DeleteTenant(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/admin/tenants/"+seg(name), nil, nil)
}

// CreateKey: POST /v1/admin/keys; the answer is the only one with the secret.
func (c *Client) CreateKey(ctx context.Context, k NewKey) (*CreatedKey, error) {
	var out CreatedKey
	return &out, c.do(ctx, http.MethodPost, "/v1/admin/keys", nonNilKey(k), &out)
}

// GetKey: GET /v1/admin/keys/{id} (404 ErrNotFound, also once revoked).
func (c *Client) GetKey(ctx context.Context, id string) (*Key, error) {
	var k Key
	return &k, c.do(ctx, http.MethodGet, "/v1/admin/keys/"+seg(id), nil, &k)
}

// ListKeys: GET /v1/admin/keys, of one tenant when tenant is not empty.
func (c *Client) ListKeys(ctx context.Context, tenant string) ([]Key, error) {
	var out struct {
		Keys []Key `json:"keys"`
	}
	path := "/v1/admin/keys"
	if tenant != "" {
		path += "?tenant=" + seg(tenant)
	}
	return out.Keys, c.do(ctx, http.MethodGet, path, nil, &out)
}

// UpdateKey: PATCH /v1/admin/keys/{id}.
func (c *Client) UpdateKey(ctx context.Context, id string, u KeyUpdate) (*Key, error) {
	if u.Scopes == nil {
		u.Scopes = []string{}
	}
	if u.Priorities == nil {
		u.Priorities = []string{}
	}
	var k Key
	return &k, c.do(ctx, http.MethodPatch, "/v1/admin/keys/"+seg(id), u, &k)
}

// RevokeKey: DELETE /v1/admin/keys/{id}; its secret fails with 401 at once.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/admin/keys/"+seg(id), nil, nil)
}

// Queues: GET /v1/admin/queues.
func (c *Client) Queues(ctx context.Context) ([]Queue, error) {
	var out struct {
		Queues []Queue `json:"queues"`
	}
	return out.Queues, c.do(ctx, http.MethodGet, "/v1/admin/queues", nil, &out)
}

// GetQueue: GET /v1/admin/queues/{name} (404 for a name that is no queue).
func (c *Client) GetQueue(ctx context.Context, name string) (*Queue, error) {
	var q Queue
	return &q, c.do(ctx, http.MethodGet, "/v1/admin/queues/"+seg(name), nil, &q)
}

// UpdateQueue: PATCH /v1/admin/queues/{name}.
func (c *Client) UpdateQueue(ctx context.Context, name string, u QueueUpdate) (*Queue, error) {
	var q Queue
	return &q, c.do(ctx, http.MethodPatch, "/v1/admin/queues/"+seg(name), u, &q)
}

// TaskTypes: GET /v1/task-types.
func (c *Client) TaskTypes(ctx context.Context) ([]TaskType, error) {
	var out struct {
		TaskTypes []TaskType `json:"task_types"`
	}
	return out.TaskTypes, c.do(ctx, http.MethodGet, "/v1/task-types", nil, &out)
}

// nonNilKey sends [] rather than null for empty lists: null is not "none".
func nonNilKey(k NewKey) NewKey {
	if k.Scopes == nil {
		k.Scopes = []string{}
	}
	if k.Priorities == nil {
		k.Priorities = []string{}
	}
	return k
}
