package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ProblemBase prefixes the API's problem types (urn:calcgrid:problem:<slug>).
const ProblemBase = "urn:calcgrid:problem:"

// FieldError is one invalid field of a 422 answer.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an answer other than 2xx: the API's RFC 9457 problem details,
// or what could be made of a body that is not one (a proxy's HTML page).
type Problem struct {
	Method string `json:"-"`
	Path   string `json:"-"`
	// Status is the HTTP status code.
	Status int          `json:"status"`
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Detail string       `json:"detail"`
	Errors []FieldError `json:"errors"`
	// RequestID is the API's request id, for its logs.
	RequestID string `json:"request_id"`
	// RetryAfter is the Retry-After header of a 429 or 503.
	RetryAfter string `json:"-"`
}

func newProblem(method, path string, resp *http.Response, body []byte) *Problem {
	p := &Problem{}
	if err := json.Unmarshal(body, p); err != nil || p.Title == "" && p.Detail == "" && p.Type == "" {
		p = &Problem{Title: http.StatusText(resp.StatusCode), Detail: firstLine(string(body))}
	}
	p.Method, p.Path, p.Status = method, path, resp.StatusCode
	p.RetryAfter = resp.Header.Get("Retry-After")
	return p
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Slug is the type without ProblemBase ("conflict", "unauthorized").
func (p *Problem) Slug() string { return strings.TrimPrefix(p.Type, ProblemBase) }

// Error reads like "POST /v1/admin/keys: 422 Invalid request fields: one or
// more fields are invalid (scopes: unknown scope "write"; ...)".
func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", p.Method, p.Path, p.Status)
	if p.Title != "" {
		b.WriteString(" " + p.Title)
	}
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	if len(p.Errors) > 0 {
		parts := make([]string, len(p.Errors))
		for i, e := range p.Errors {
			parts[i] = e.Field + ": " + e.Message
		}
		b.WriteString(" (" + strings.Join(parts, "; ") + ")")
	}
	if p.RetryAfter != "" {
		b.WriteString(" (retry after " + p.RetryAfter + "s)")
	}
	return b.String()
}

// Is lets errors.Is(err, ErrNotFound) and friends match on the status.
func (p *Problem) Is(target error) bool {
	s, ok := target.(statusError)
	return ok && int(s) == p.Status
}

type statusError int

func (s statusError) Error() string { return http.StatusText(int(s)) }

// Sentinels matched by status with errors.Is.
var (
	ErrUnauthorized error = statusError(http.StatusUnauthorized)
	ErrForbidden    error = statusError(http.StatusForbidden)
	ErrNotFound     error = statusError(http.StatusNotFound)
	ErrConflict     error = statusError(http.StatusConflict)
)

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
