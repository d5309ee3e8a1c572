package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// filled returns a value of T with every field set, so that each one is
// encoded (omitempty included).
func filled[T any](t *testing.T) T {
	t.Helper()
	var v T
	fill(reflect.ValueOf(&v).Elem())
	return v
}

func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(1, 0).UTC()))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			v.SetBytes([]byte(`{"x":1}`))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.String:
		v.SetString("x")
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Float64:
		v.SetFloat(0.5)
	case reflect.Bool:
		v.SetBool(true)
	}
}

// strict decodes what the server's type encodes into the client's, failing
// on a field the client does not declare.
func strict[Server, Client any](t *testing.T) {
	t.Helper()
	b, err := json.Marshal(filled[Server](t))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Client
	if err := dec.Decode(&c); err != nil {
		t.Errorf("%T as the server encodes it %s does not decode into %T: %v", *new(Server), b, c, err)
	}
}

// TestWireShapes holds the client's copies of the wire format to the
// server's types: a field added on the server and not here fails.
func TestWireShapes(t *testing.T) {
	strict[taskstore.Task, Task](t)
	strict[taskstore.QueueStats, Queue](t)
}

func TestDecodeProblem(t *testing.T) {
	for _, c := range []struct {
		name        string
		status      int
		contentType string
		body        string
		want        Problem
		unreachable bool
	}{
		{"API validation", 422, "application/problem+json",
			`{"type":"urn:calcgrid:problem:validation","title":"Invalid request fields","status":422,"detail":"see errors","errors":[{"field":"payload.ms","message":"must be ≥ 0"}]}`,
			Problem{Status: 422, Type: "urn:calcgrid:problem:validation", Title: "Invalid request fields", Detail: "see errors",
				Errors: []FieldError{{"payload.ms", "must be ≥ 0"}}}, false},
		{"plain JSON error", 429, "application/json",
			`{"error":"rate_limited","detail":"more than 100 requests per second"}`,
			Problem{Status: 429, Title: "Too Many Requests", Detail: "more than 100 requests per second"}, false},
		{"nginx rate limit", 429, "application/problem+json",
			`{"type":"urn:calcgrid:problem:rate-limited","title":"Too many requests","status":429,"detail":"more than 100 reads or 100 writes per second"}`,
			Problem{Status: 429, Type: "urn:calcgrid:problem:rate-limited", Title: "Too many requests", Detail: "more than 100 reads or 100 writes per second"}, false},
		{"nginx bad gateway", 502, "application/problem+json",
			`{"type":"urn:calcgrid:problem:bad-gateway","title":"Bad gateway","status":502,"detail":"no API instance answered"}`,
			Problem{Status: 502, Type: "urn:calcgrid:problem:bad-gateway", Title: "Bad gateway", Detail: "no API instance answered"}, true},
		{"HTML page", 504, "text/html", `<html><body>504</body></html>`,
			Problem{Status: 504, Title: "Gateway Timeout", Detail: "the server answered with text/html instead of a problem document"}, true},
		{"broken JSON", 500, "application/problem+json", `{"title":`,
			Problem{Status: 500, Title: "Internal Server Error"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := decodeProblem(c.status, c.contentType, []byte(c.body))
			if !reflect.DeepEqual(*p, c.want) {
				t.Errorf("got %+v, want %+v", *p, c.want)
			}
			if got := errors.Is(p, ErrUnreachable); got != c.unreachable {
				t.Errorf("errors.Is(ErrUnreachable) = %v", got)
			}
		})
	}
}

func TestNewRejectsBadEndpoints(t *testing.T) {
	for _, e := range []string{"127.0.0.1:18080", "ftp://host", "http://", "::"} {
		if _, err := New(e, "", ""); err == nil {
			t.Errorf("New(%q) accepted", e)
		}
	}
	c, err := New("http://example.test:8080/prefix/", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.url([]string{"v1", "tasks", "a/b?c"}, nil).String(); got != "http://example.test:8080/prefix/v1/tasks/a%2Fb%3Fc" {
		t.Errorf("url = %s", got)
	}
}
