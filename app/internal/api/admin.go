package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/calcgrid/calcgrid/app/internal/auth"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// The admin API (/v1/admin, scope admin): tenants, keys and queue
// settings, as openapi.yaml describes them.

// errUnknownQueue is a queue name calcgrid does not have (404).
var errUnknownQueue = errors.New("unknown queue")

// maxAdminBody bounds an admin request body.
const maxAdminBody = 64 << 10

// Bounds of a queue's settings.
const (
	maxQueuePending = 10_000_000
	maxQueueWeight  = 100
)

func (a *API) admin(r chi.Router) {
	r.Post("/tenants", a.createTenant)
	r.Get("/tenants", a.listTenants)
	r.Get("/tenants/{name}", a.getTenant)
	r.Delete("/tenants/{name}", a.deleteTenant)
	r.Post("/keys", a.createKey)
	r.Get("/keys", a.listKeys)
	r.Get("/keys/{id}", a.getKey)
	r.Patch("/keys/{id}", a.patchKey)
	r.Delete("/keys/{id}", a.revokeKey)
	r.Get("/queues", a.listQueues)
	r.Get("/queues/{name}", a.getQueue)
	r.Patch("/queues/{name}", a.patchQueue)
}

// decodeObject reads a JSON object body into its fields, refusing fields
// not in known and null for every field but those in nullable.
func decodeObject(w http.ResponseWriter, r *http.Request, known, nullable []string) (map[string]json.RawMessage, error) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, &malformedError{"send JSON with the header Content-Type: application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &malformedError{fmt.Sprintf("request body exceeds %d KiB", maxAdminBody>>10)}
		}
		return nil, &malformedError{"could not read the request body: " + err.Error()}
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return nil, &malformedError{"request body must be one JSON object"}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &malformedError{"request body must hold exactly one JSON object"}
	}
	var c tasks.Checks
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range fields {
			if !yield(k) {
				return
			}
		}
	}) {
		switch {
		case !slices.Contains(known, name):
			c.Add(name, "is not a known field (known: %s)", strings.Join(known, ", "))
		case string(fields[name]) == "null" && !slices.Contains(nullable, name):
			c.Add(name, "%s", tasks.NullMessage)
		}
	}
	if errs := c.Errors(); len(errs) > 0 {
		return nil, &tasks.ValidationError{Errors: errs}
	}
	return fields, nil
}

// field decodes fields[name] into *into when present; a value of the
// wrong JSON type is recorded in c.
func field[T any](c *tasks.Checks, fields map[string]json.RawMessage, name, kind string, into **T) {
	raw, ok := fields[name]
	if !ok {
		return
	}
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		c.Add(name, "must be %s", kind)
		return
	}
	*into = v
}

// tenantView is a tenant as the admin API shows it.
type tenantView struct {
	auth.Tenant
	Usage taskstore.Usage `json:"usage"`
}

func (a *API) tenantView(r *http.Request, t auth.Tenant) (tenantView, error) {
	ctx, cancel := storeContext(r)
	defer cancel()
	u, err := a.Store.Usage(ctx, t.Name)
	return tenantView{Tenant: t, Usage: u}, err
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request) {
	fields, err := decodeObject(w, r, []string{"name"}, nil)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var c tasks.Checks
	var name *string
	field(&c, fields, "name", "a string", &name)
	if name == nil && len(c.Errors()) == 0 {
		c.Add("name", "is required")
	}
	if errs := c.Errors(); len(errs) > 0 {
		validationProblem(w, r, errs...)
		return
	}
	ctx, cancel := storeContext(r)
	defer cancel()
	t, err := a.Auth.CreateTenant(ctx, *name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.audit(r, "tenant created", slog.String("tenant", t.Name))
	writeJSON(w, http.StatusCreated, tenantView{Tenant: t})
}

func (a *API) listTenants(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := storeContext(r)
	defer cancel()
	ts, err := a.Auth.Tenants(ctx)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]tenantView, 0, len(ts))
	for _, t := range ts {
		v, err := a.tenantView(r, t)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string][]tenantView{"tenants": out})
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := storeContext(r)
	defer cancel()
	t, err := a.Auth.Tenant(ctx, chi.URLParam(r, "name"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	v, err := a.tenantView(r, t)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) deleteTenant(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := storeContext(r)
	defer cancel()
	name := chi.URLParam(r, "name")
	if err := a.Auth.DeleteTenant(ctx, name); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.audit(r, "tenant deleted", slog.String("tenant", name))
	w.WriteHeader(http.StatusNoContent)
}

// keyFields are the fields of a key request.
var keyFields = []string{"tenant", "name", "scopes", "rate_per_second", "max_pending", "priorities", "expires_at"}

// keySpec decodes a key request body.
func keySpec(w http.ResponseWriter, r *http.Request) (auth.KeySpec, error) {
	fields, err := decodeObject(w, r, keyFields, []string{"expires_at"})
	if err != nil {
		return auth.KeySpec{}, err
	}
	var spec auth.KeySpec
	var c tasks.Checks
	field(&c, fields, "tenant", "a string", &spec.Tenant)
	field(&c, fields, "name", "a string", &spec.Name)
	field(&c, fields, "scopes", "a list of strings", &spec.Scopes)
	field(&c, fields, "rate_per_second", "a whole number", &spec.RatePerSecond)
	field(&c, fields, "max_pending", "a whole number", &spec.MaxPending)
	field(&c, fields, "priorities", "a list of strings", &spec.Priorities)
	if raw, ok := fields["expires_at"]; ok {
		spec.SetExpiry = true
		if string(raw) != "null" {
			var t time.Time
			if err := json.Unmarshal(raw, &t); err != nil {
				c.Add("expires_at", "must be null or an RFC 3339 time such as 2030-01-01T00:00:00Z")
			} else {
				spec.ExpiresAt = &t
			}
		}
	}
	if errs := c.Errors(); len(errs) > 0 {
		return auth.KeySpec{}, &tasks.ValidationError{Errors: errs}
	}
	return spec, nil
}

// createdKey is a new key with its secret, shown this once.
type createdKey struct {
	auth.Key
	Secret string `json:"secret"`
}

func (a *API) createKey(w http.ResponseWriter, r *http.Request) {
	spec, err := keySpec(w, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	ctx, cancel := storeContext(r)
	defer cancel()
	k, secret, err := a.Auth.CreateKey(ctx, spec)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.audit(r, "key created", slog.String("key_id", k.ID), slog.String("tenant", k.Tenant))
	w.Header().Set("Location", "/v1/admin/keys/"+k.ID)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createdKey{Key: k, Secret: secret})
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := storeContext(r)
	defer cancel()
	ks, err := a.Auth.Keys(ctx, r.URL.Query().Get("tenant"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]auth.Key{"keys": ks})
}

func (a *API) getKey(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := storeContext(r)
	defer cancel()
	k, err := a.Auth.Key(ctx, chi.URLParam(r, "id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, k)
}

func (a *API) patchKey(w http.ResponseWriter, r *http.Request) {
	spec, err := keySpec(w, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	ctx, cancel := storeContext(r)
	defer cancel()
	k, err := a.Auth.UpdateKey(ctx, chi.URLParam(r, "id"), spec)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.audit(r, "key updated", slog.String("key_id", k.ID), slog.String("tenant", k.Tenant))
	writeJSON(w, http.StatusOK, k)
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := storeContext(r)
	defer cancel()
	id := chi.URLParam(r, "id")
	if err := a.Auth.RevokeKey(ctx, id); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.Store.ForgetKey(ctx, id); err != nil {
		// The key is revoked; only a record of its tasks is left over.
		a.Logger.LogAttrs(r.Context(), slog.LevelWarn, "could not drop a revoked key's task record",
			slog.String("key_id", id), slog.String("error", err.Error()))
	}
	a.audit(r, "key revoked", slog.String("key_id", id))
	w.WriteHeader(http.StatusNoContent)
}

// queueView is a queue as the admin API shows it.
type queueView struct {
	Name       string `json:"name"`
	Paused     bool   `json:"paused"`
	MaxPending int    `json:"max_pending"`
	Weight     int    `json:"weight"`
	Pending    int    `json:"pending"`
	Active     int    `json:"active"`
	Scheduled  int    `json:"scheduled"`
	Retry      int    `json:"retry"`
	Completed  int    `json:"completed"`
}

func (a *API) queueView(r *http.Request, name string) (queueView, error) {
	if !slices.Contains(tasks.Queues(), name) {
		return queueView{}, fmt.Errorf("%w %q (queues: %s)", errUnknownQueue, name, strings.Join(tasks.Queues(), ", "))
	}
	ctx, cancel := storeContext(r)
	defer cancel()
	qs, err := a.Store.QueueSettings(ctx, name)
	if err != nil {
		return queueView{}, err
	}
	info, err := a.Store.QueueInfo(name)
	if err != nil {
		return queueView{}, err
	}
	v := queueView{Name: name, Paused: qs.Paused, MaxPending: a.MaxPending, Weight: a.Weights[name],
		Pending: info.Pending, Active: info.Active, Scheduled: info.Scheduled, Retry: info.Retry, Completed: info.Completed}
	if qs.MaxPending > 0 {
		v.MaxPending = qs.MaxPending
	}
	if qs.Weight > 0 {
		v.Weight = qs.Weight
	}
	return v, nil
}

func (a *API) listQueues(w http.ResponseWriter, r *http.Request) {
	out := []queueView{}
	for _, name := range tasks.Queues() {
		v, err := a.queueView(r, name)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string][]queueView{"queues": out})
}

func (a *API) getQueue(w http.ResponseWriter, r *http.Request) {
	v, err := a.queueView(r, chi.URLParam(r, "name"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) patchQueue(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if _, err := a.queueView(r, name); errors.Is(err, errUnknownQueue) {
		a.writeError(w, r, err)
		return
	}
	fields, err := decodeObject(w, r, []string{"paused", "max_pending", "weight"}, nil)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var c tasks.Checks
	var paused *bool
	var maxPending, weight *int
	field(&c, fields, "paused", "true or false", &paused)
	field(&c, fields, "max_pending", "a whole number", &maxPending)
	field(&c, fields, "weight", "a whole number", &weight)
	if maxPending != nil {
		c.IntRange("max_pending", int64(*maxPending), 0, maxQueuePending)
	}
	if weight != nil {
		c.IntRange("weight", int64(*weight), 1, maxQueueWeight)
	}
	if errs := c.Errors(); len(errs) > 0 {
		validationProblem(w, r, errs...)
		return
	}
	ctx, cancel := storeContext(r)
	defer cancel()
	if paused != nil {
		if err := a.Store.Pause(ctx, name, *paused); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	if err := a.Store.SetQueueSettings(ctx, name, maxPending, weight); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.audit(r, "queue updated", slog.String("queue", name), slog.Any("settings", fields))
	v, err := a.queueView(r, name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// audit logs an admin change with who made it (never a secret).
func (a *API) audit(r *http.Request, msg string, attrs ...slog.Attr) {
	p := principal(r.Context())
	attrs = append(attrs, slog.String("request_id", requestID(r.Context())),
		slog.String("by_key", p.Key.ID), slog.String("by_tenant", p.Tenant()))
	a.Logger.LogAttrs(r.Context(), slog.LevelInfo, msg, attrs...)
}
