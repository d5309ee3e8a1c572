// Package tasks is the registry of task types: what a type accepts (schema,
// bounds, defaults), where it runs (queue, timeout, retries) and the handler
// that computes it. The API validates against it before anything reaches
// Redis; the worker dispatches through it. Finance and diagnostic types plug
// in by calling Register.
package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Queue names, highest priority first.
const (
	QueueHigh   = "high"
	QueueMedium = "medium"
	QueueLow    = "low"
)

// Queues returns the queue names, highest priority first. The slice is new
// on every call, so a caller that sorts or appends to it changes nothing
// for anyone else.
func Queues() []string { return []string{QueueHigh, QueueMedium, QueueLow} }

// ErrPermanent marks a handler error that retrying cannot fix (for example an
// input the kernel rejects at run time); the worker fails the task at once.
var ErrPermanent = errors.New("permanent failure")

// FieldError names one invalid field of a submission, e.g.
// {"field": "payload.volatility", "message": "must be > 0 and ≤ 5"}.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError is a client mistake: the API answers 422 with Errors.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, f := range e.Errors {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid fields: " + strings.Join(parts, "; ")
}

// Reporter lets a running handler publish the fraction of work done (0..1).
// Implementations rate-limit storage, so handlers may call it often.
type Reporter interface {
	Progress(fraction float64)
}

// ReporterFunc adapts a function to Reporter.
type ReporterFunc func(float64)

// Progress implements Reporter.
func (f ReporterFunc) Progress(x float64) { f(x) }

// Discard is a Reporter that drops progress, for tests and direct calls:
// pass Discard{}.
type Discard struct{}

// Progress implements Reporter.
func (Discard) Progress(float64) {}

// Definition is one registered task type.
type Definition struct {
	Name        string
	Description string
	// Queue is the default queue when a submission gives no priority.
	Queue    string
	Timeout  time.Duration
	MaxRetry int
	// Schema is the JSON Schema of the payload, served by GET /v1/task-types.
	Schema map[string]any
	// CostModel says how the type's work and memory grow with its payload.
	CostModel CostModel
	// Budget bounds what one task may take; Prepare refuses a payload over
	// it and Handle will not run one. Registry.Lookup and All set it to the
	// registry's.
	Budget Budget

	prepare  func(raw json.RawMessage, b Budget) (json.RawMessage, error)
	handle   func(ctx context.Context, payload json.RawMessage, b Budget, r Reporter) (any, error)
	estimate func(raw json.RawMessage) (Cost, error)
}

// Estimate is what running payload takes, by the type's cost model (zero
// for types without one); an invalid payload is a *ValidationError.
func (d Definition) Estimate(payload json.RawMessage) (Cost, error) {
	return d.estimate(payload)
}

// Prepare decodes raw, applies defaults and validates it, returning the
// canonical payload to store. Client mistakes, including a payload whose
// estimated cost exceeds d.Budget, are *ValidationError.
func (d Definition) Prepare(raw json.RawMessage) (json.RawMessage, error) {
	return d.prepare(raw, d.Budget)
}

// Handle runs a prepared payload; the result is stored as JSON. A payload
// over d.Budget (accepted where the budget was larger) fails with
// ErrPermanent before anything runs.
func (d Definition) Handle(ctx context.Context, payload json.RawMessage, r Reporter) (any, error) {
	return d.handle(ctx, payload, d.Budget, r)
}

// Payload is implemented by a type's payload struct (on its pointer):
// Normalize fills defaults and returns every invalid field, with field names
// relative to the payload (the registry prefixes "payload.").
type Payload interface {
	Normalize() []FieldError
}

// Spec is the static part of a Definition, for Define.
type Spec[P any] struct {
	Name        string
	Description string
	Queue       string
	Timeout     time.Duration
	MaxRetry    int
	Schema      map[string]any
	// CostModel says in words how Cost grows; required.
	CostModel CostModel
	// Cost estimates what a normalized payload takes; nil for types whose
	// work and memory are small and do not grow with the payload.
	Cost func(p P) Cost
}

// ErrOverBudget is a payload that the worker's budget refuses: it was
// accepted where the budget was larger. It wraps ErrPermanent.
var ErrOverBudget = fmt.Errorf("%w: over this worker's task budget", ErrPermanent)

// Define builds a Definition from a typed payload P and handler, so each type
// writes only its struct, its Normalize, its cost and its computation.
func Define[P any, PP interface {
	*P
	Payload
}, R any](s Spec[P], handle func(ctx context.Context, p P, r Reporter) (R, error)) Definition {
	cost := func(p *P) Cost {
		if s.Cost == nil {
			return Cost{}
		}
		return s.Cost(*p)
	}
	admit := func(p *P, b Budget) []FieldError {
		errs := b.Check(s.Name, s.Timeout, cost(p))
		for i := range errs {
			errs[i].Field = joinField("payload", errs[i].Field)
		}
		return errs
	}
	return Definition{
		Name: s.Name, Description: s.Description, Queue: s.Queue,
		Timeout: s.Timeout, MaxRetry: s.MaxRetry, Schema: s.Schema, CostModel: s.CostModel,
		prepare: func(raw json.RawMessage, b Budget) (json.RawMessage, error) {
			p, err := Decode[P, PP](raw)
			if err != nil {
				return nil, err
			}
			if errs := admit(p, b); len(errs) > 0 {
				return nil, &ValidationError{Errors: errs}
			}
			out, err := json.Marshal(p)
			if err != nil {
				return nil, fmt.Errorf("encode payload: %w", err)
			}
			return out, nil
		},
		handle: func(ctx context.Context, raw json.RawMessage, b Budget, r Reporter) (any, error) {
			p, err := Decode[P, PP](raw)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrPermanent, err)
			}
			if errs := admit(p, b); len(errs) > 0 {
				return nil, fmt.Errorf("%w: %w", ErrOverBudget, &ValidationError{Errors: errs})
			}
			return handle(ctx, *p, r)
		},
		estimate: func(raw json.RawMessage) (Cost, error) {
			p, err := Decode[P, PP](raw)
			if err != nil {
				return Cost{}, err
			}
			return cost(p), nil
		},
	}
}

// Decode strictly decodes raw into P (unknown fields and nulls rejected:
// defaults are for absent fields only), then normalizes it. Errors are *ValidationError with "payload."-prefixed fields.
func Decode[P any, PP interface {
	*P
	Payload
}](raw json.RawMessage) (*P, error) {
	p := new(P)
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("{}") // an absent payload: every field at its default
	}
	if errs := NullErrors(raw, "payload"); len(errs) > 0 {
		return nil, &ValidationError{Errors: errs}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, &ValidationError{Errors: []FieldError{decodeFieldError(err)}}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &ValidationError{Errors: []FieldError{{Field: "payload", Message: "must be a single JSON object"}}}
	}
	if errs := PP(p).Normalize(); len(errs) > 0 {
		for i := range errs {
			errs[i].Field = joinField("payload", errs[i].Field)
		}
		return nil, &ValidationError{Errors: CapErrors(errs, "payload")}
	}
	return p, nil
}

func joinField(prefix, field string) string {
	if field == "" {
		return prefix
	}
	return prefix + "." + field
}

// decodeFieldError turns encoding/json's errors into a field-level message.
func decodeFieldError(err error) FieldError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return FieldError{Field: joinField("payload", te.Field), Message: "must be a " + jsonKind(te.Type.Kind().String())}
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return FieldError{Field: joinField("payload", strings.Trim(name, `"`)), Message: "is not a known field"}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return FieldError{Field: "payload", Message: "is not valid JSON: " + strings.TrimPrefix(msg, "json: ")}
	}
	return FieldError{Field: "payload", Message: "must be a JSON object: " + strings.TrimPrefix(msg, "json: ")}
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"):
		return "whole number in range"
	case strings.HasPrefix(goKind, "float"):
		return "number"
	case goKind == "string":
		return "string"
	case goKind == "bool":
		return "boolean"
	case goKind == "slice", goKind == "array":
		return "array"
	default:
		return "JSON object"
	}
}

// Registry holds the task types by name and the budget they run under. It
// is built at start-up and only read afterwards, so it needs no lock.
type Registry struct {
	byName map[string]Definition
	budget Budget
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byName: map[string]Definition{}}
}

// Register adds d; a duplicate name or an incomplete definition is an error.
func (r *Registry) Register(defs ...Definition) error {
	for _, d := range defs {
		switch {
		case d.Name == "":
			return errors.New("register task type: empty name")
		case d.prepare == nil || d.handle == nil:
			return fmt.Errorf("register %s: not built by Define", d.Name)
		case d.CostModel.Work == "" || d.CostModel.Memory == "":
			return fmt.Errorf("register %s: the cost model must say how work and memory grow", d.Name)
		case !slices.Contains(Queues(), d.Queue):
			return fmt.Errorf("register %s: queue %q is not one of %v", d.Name, d.Queue, Queues())
		case d.Timeout <= 0:
			return fmt.Errorf("register %s: timeout must be > 0", d.Name)
		}
		if _, dup := r.byName[d.Name]; dup {
			return fmt.Errorf("register %s: already registered", d.Name)
		}
		r.byName[d.Name] = d
	}
	return nil
}

// SetBudget sets the budget of every type, for Lookup and All to return;
// call it at start-up.
func (r *Registry) SetBudget(b Budget) { r.budget = b }

// Lookup finds a type by name.
func (r *Registry) Lookup(name string) (Definition, bool) {
	d, ok := r.byName[name]
	d.Budget = r.budget
	return d, ok
}

// All returns every type, sorted by name.
func (r *Registry) All() []Definition {
	out := make([]Definition, 0, len(r.byName))
	for _, d := range r.byName {
		d.Budget = r.budget
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Definition) int { return strings.Compare(a.Name, b.Name) })
	return out
}
