package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// Bounds of the submission fields a client may override. A retry costs a
// whole attempt again, so a client may ask for a few, not dozens; timeout_s
// may shorten a type's timeout (GET /v1/task-types), never lengthen it.
const (
	maxKeyLen   = 128
	maxRetryMax = 5
	timeoutMinS = 1
)

// submission is the body of POST /v1/tasks. Queue names the queue to run
// in; the API calls it "priority".
type submission struct {
	Type           string          `json:"type"`
	Payload        json.RawMessage `json:"payload"`
	Queue          *string         `json:"priority"`
	IdempotencyKey string          `json:"idempotency_key"`
	MaxRetry       *int            `json:"max_retry"`
	TimeoutS       *int            `json:"timeout_s"`
}

// malformedError is a body that is not a JSON object at all (400).
type malformedError struct{ msg string }

func (e *malformedError) Error() string { return e.msg }

// DecodeSubmission parses and validates a POST /v1/tasks body against reg.
// It returns *malformedError when the body is not a JSON object and
// *tasks.ValidationError listing every invalid field otherwise. The result's
// Key is the body's idempotency_key (possibly empty); RequestID is unset.
func DecodeSubmission(body []byte, reg *tasks.Registry) (taskstore.Submission, error) {
	var in submission
	if len(bytes.TrimSpace(body)) == 0 {
		return taskstore.Submission{}, &malformedError{"request body is empty; send a JSON object such as {\"type\": \"diagnostic.noop\"}"}
	}
	if bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		return taskstore.Submission{}, &malformedError{"request body must be a JSON object, not null"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return taskstore.Submission{}, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return taskstore.Submission{}, &malformedError{"request body must hold exactly one JSON object"}
	}

	// null is never "the default": only an absent field gets that.
	if errs := tasks.NullErrors(body, ""); len(errs) > 0 {
		return taskstore.Submission{}, &tasks.ValidationError{Errors: errs}
	}

	var c tasks.Checks
	def, known := reg.Lookup(in.Type)
	switch {
	case in.Type == "":
		c.Add("type", "is required (GET /v1/task-types lists the types)")
	case !known:
		c.Add("type", "unknown task type %q (GET /v1/task-types lists the types)", in.Type)
	}
	if in.Queue != nil {
		c.OneOf("priority", *in.Queue, tasks.Queues()...)
	}
	if len(in.IdempotencyKey) > maxKeyLen {
		c.Add("idempotency_key", "must be at most %d characters (got %d)", maxKeyLen, len(in.IdempotencyKey))
	} else if !printable(in.IdempotencyKey) {
		c.Add("idempotency_key", "must be printable text without control characters")
	}
	if in.MaxRetry != nil {
		c.IntRange("max_retry", int64(*in.MaxRetry), 0, maxRetryMax)
	}
	if in.TimeoutS != nil && known { // an unknown type has no bound to check against
		c.IntRange("timeout_s", int64(*in.TimeoutS), timeoutMinS, int64(def.Timeout/time.Second))
	}
	var payload json.RawMessage
	if known {
		var err error
		payload, err = def.Prepare(in.Payload)
		var ve *tasks.ValidationError
		switch {
		case errors.As(err, &ve):
			for _, f := range ve.Errors {
				c.Add(f.Field, "%s", f.Message)
			}
		case err != nil:
			c.Add("payload", "%s", err.Error())
		}
	}
	if errs := c.Errors(); len(errs) > 0 {
		return taskstore.Submission{}, &tasks.ValidationError{Errors: tasks.CapErrors(errs, "payload")}
	}

	sub := taskstore.Submission{
		Type: def.Name, Payload: payload, Submitted: compactJSON(in.Payload), Queue: def.Queue,
		MaxRetry: def.MaxRetry, Timeout: def.Timeout, Key: in.IdempotencyKey,
	}
	if in.Queue != nil {
		sub.Queue = *in.Queue
	}
	if in.MaxRetry != nil {
		sub.MaxRetry = *in.MaxRetry
	}
	if in.TimeoutS != nil {
		sub.Timeout = time.Duration(*in.TimeoutS) * time.Second
	}
	return sub, nil
}

// compactJSON drops insignificant white space, so a resubmission that only
// reformats the payload still counts as the same submission.
func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// decodeError tells a field of the wrong type or name (422) from a body that
// is not JSON (400).
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return &malformedError{"request body must be a JSON object"}
		}
		return &tasks.ValidationError{Errors: []tasks.FieldError{{Field: te.Field, Message: "must be " + kindOf(te.Field)}}}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if field := strings.Trim(name, `"`); field != "" {
			name = field
		}
		return &tasks.ValidationError{Errors: []tasks.FieldError{{
			Field:   name,
			Message: "is not a known field (known: type, payload, priority, idempotency_key, max_retry, timeout_s)",
		}}}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &malformedError{fmt.Sprintf("request body is not valid JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &malformedError{"request body is truncated JSON"}
	}
	return &malformedError{"request body is not a valid JSON object: " + strings.TrimPrefix(err.Error(), "json: ")}
}

func kindOf(field string) string {
	if field == "max_retry" || field == "timeout_s" {
		return "a whole number in range"
	}
	return "a string"
}

func printable(s string) bool {
	return !slices.ContainsFunc([]rune(s), func(r rune) bool { return !unicode.IsPrint(r) })
}
