package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/calcgrid/calcgrid/app/internal/auth"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// problem is an RFC 9457 problem details document.
type problem struct {
	Type      string             `json:"type"`
	Title     string             `json:"title"`
	Status    int                `json:"status"`
	Detail    string             `json:"detail,omitempty"`
	Instance  string             `json:"instance,omitempty"`
	RequestID string             `json:"request_id,omitempty"`
	Errors    []tasks.FieldError `json:"errors,omitempty"`
}

// problemBase prefixes the problem type slugs.
const problemBase = "urn:calcgrid:problem:"

// Retry-After values, in seconds.
const (
	retryQueueFull   = "5"
	retryUnavailable = "2"
	// Space returns as finished tasks expire: minutes, not seconds.
	retryStorageFull = "30"
	// A replica catching up takes a moment; a failover takes Sentinel's
	// down-after plus an election, which clients retrying every 2 s ride
	// out in a few tries.
	retryNotReplicated = "2"
)

func writeProblem(w http.ResponseWriter, r *http.Request, status int, slug, title, detail string, errs []tasks.FieldError) {
	encode(w, "application/problem+json", status, problem{
		Type: problemBase + slug, Title: title, Status: status, Detail: detail,
		Instance: r.URL.Path, RequestID: requestID(r.Context()), Errors: errs,
	})
}

func validationProblem(w http.ResponseWriter, r *http.Request, errs ...tasks.FieldError) {
	writeProblem(w, r, http.StatusUnprocessableEntity, "validation", "Invalid request fields",
		"one or more fields are invalid; see errors", errs)
}

// writeError is the one place errors become HTTP statuses. Anything not
// recognised comes from Redis (down, timing out, out of memory): 503.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ve *tasks.ValidationError
	var me *malformedError
	var mbe *http.MaxBytesError
	var ue *unauthorizedError
	var fe *forbiddenError
	var rle *rateLimitedError
	switch {
	case errors.As(err, &ue):
		challenge := `Bearer realm="calcgrid"`
		if ue.tokenSent {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeProblem(w, r, http.StatusUnauthorized, "unauthorized", "Unauthorized", ue.Error(), nil)
	case errors.As(err, &fe):
		writeProblem(w, r, http.StatusForbidden, "forbidden", "Forbidden", fe.msg, nil)
	case errors.As(err, &rle):
		w.Header().Set("Retry-After", strconv.Itoa(auth.RetryAfter(rle.retry)))
		writeProblem(w, r, http.StatusTooManyRequests, "rate-limited", "Rate limit exceeded", rle.Error(), nil)
	case errors.Is(err, taskstore.ErrKeyBusy):
		w.Header().Set("Retry-After", retryQueueFull)
		writeProblem(w, r, http.StatusTooManyRequests, "too-many-pending", "Too many unfinished tasks", err.Error(), nil)
	case errors.Is(err, auth.ErrNotFound), errors.Is(err, errUnknownQueue):
		writeProblem(w, r, http.StatusNotFound, "not-found", "Not found", err.Error(), nil)
	case errors.Is(err, auth.ErrConflict):
		writeProblem(w, r, http.StatusConflict, "conflict", "Conflict", err.Error(), nil)
	case errors.As(err, &ve):
		validationProblem(w, r, ve.Errors...)
	case errors.As(err, &me):
		writeProblem(w, r, http.StatusBadRequest, "malformed-json", "Malformed request body", me.msg, nil)
	case errors.As(err, &mbe):
		writeProblem(w, r, http.StatusRequestEntityTooLarge, "body-too-large", "Request body too large",
			fmt.Sprintf("request body exceeds the limit of %d KiB", maxBody>>10), nil)
	case errors.Is(err, taskstore.ErrKeyReused):
		validationProblem(w, r, tasks.FieldError{Field: "idempotency_key", Message: err.Error()})
	case errors.Is(err, taskstore.ErrCursor):
		validationProblem(w, r, tasks.FieldError{Field: "cursor", Message: "is not a cursor returned by this endpoint"})
	case errors.Is(err, taskstore.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, "not-found", "Task not found",
			"no task with this id (finished tasks are kept for the retention period)", nil)
	case errors.Is(err, taskstore.ErrFinished):
		writeProblem(w, r, http.StatusConflict, "already-finished", "Task already finished", err.Error(), nil)
	case errors.Is(err, taskstore.ErrStorageFull):
		a.Logger.LogAttrs(r.Context(), slog.LevelWarn, "submission refused: storage full",
			slog.String("request_id", requestID(r.Context())), slog.String("error", err.Error()))
		w.Header().Set("Retry-After", retryStorageFull)
		writeProblem(w, r, http.StatusServiceUnavailable, "storage-full", "Task storage is full", err.Error(), nil)
	case errors.Is(err, taskstore.ErrNotReplicated):
		// Its own type, not unavailable: here the task may exist, and the
		// client should retry with the same key rather than give up or
		// resubmit under a new one.
		a.Logger.LogAttrs(r.Context(), slog.LevelWarn, "submission not replicated",
			slog.String("request_id", requestID(r.Context())), slog.String("error", err.Error()))
		w.Header().Set("Retry-After", retryNotReplicated)
		writeProblem(w, r, http.StatusServiceUnavailable, "not-replicated", "Submission not replicated",
			"the task store's replicas did not confirm this submission in time (or Redis is failing over); "+
				"the task may exist: retrying with the same Idempotency-Key returns it rather than creating a duplicate", nil)
	case errors.Is(err, taskstore.ErrQueueFull):
		w.Header().Set("Retry-After", retryQueueFull)
		writeProblem(w, r, http.StatusTooManyRequests, "queue-full", "Queue is full", err.Error(), nil)
	default:
		a.Logger.LogAttrs(r.Context(), slog.LevelWarn, "storage unavailable",
			slog.String("request_id", requestID(r.Context())), slog.String("error", err.Error()))
		w.Header().Set("Retry-After", retryUnavailable)
		writeProblem(w, r, http.StatusServiceUnavailable, "unavailable", "Service unavailable",
			"the task store (Redis) is not reachable or refused the request; retry later", nil)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	encode(w, "application/json", status, v)
}

// encode writes v without HTML escaping, so messages such as "must be > 0 and
// ≤ 5" reach curl users as written rather than as \u003e.
func encode(w http.ResponseWriter, contentType string, status int, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
