package api_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/calcgrid/calcgrid/app/internal/api"
	"github.com/calcgrid/calcgrid/app/internal/diagnostic"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// FuzzDecodeSubmission checks that no body panics the decoder, that every
// rejection is a client error naming what is wrong, and that what it
// accepts is within bounds and decodes again to the same task.
func FuzzDecodeSubmission(f *testing.F) {
	reg := tasks.NewRegistry()
	if err := diagnostic.Register(reg); err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`{"type":"diagnostic.noop"}`,
		`{"type":"diagnostic.sleep","payload":{"ms":250},"priority":"high","idempotency_key":"k-1","max_retry":2,"timeout_s":60}`,
		`{"type":"diagnostic.fail","payload":{"mode":"panic","times":3}}`,
		`{"type":"diagnostic.cpu","payload":null}`,
		`{"type":"diagnostic.sleep","payload":{"ms":-1}}`,
		`{"type":"nope","priority":"urgent","max_retry":1e9}`,
		`{"type":"diagnostic.noop"} trailing`,
		`[]`, `null`, `"x"`, ``, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sub, err := api.DecodeSubmission(body, reg)
		if err != nil {
			var ve *tasks.ValidationError
			if errors.As(err, &ve) {
				for _, fe := range ve.Errors {
					if fe.Field == "" || fe.Message == "" {
						t.Fatalf("field error without field or message: %+v", ve.Errors)
					}
				}
			}
			if err.Error() == "" {
				t.Fatal("error without message")
			}
			return
		}
		def, ok := reg.Lookup(sub.Type)
		if !ok || !slices.Contains(tasks.Queues(), sub.Queue) || sub.MaxRetry < 0 || sub.MaxRetry > 25 ||
			sub.Timeout <= 0 || len(sub.Key) > 128 || !json.Valid(sub.Payload) {
			t.Fatalf("accepted out-of-bounds submission %+v from %q", sub, body)
		}
		again, err := def.Prepare(sub.Payload)
		if err != nil || string(again) != string(sub.Payload) {
			t.Fatalf("prepared payload %s does not prepare to itself: %s, %v", sub.Payload, again, err)
		}
	})
}
