package api_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/calcgrid/calcgrid/app/internal/api"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

// FuzzDecodeSubmission checks, over every registered type (the finance
// types' decoders and validators included), that no body panics the decoder,
// that every rejection is a client error naming what is wrong, that nothing
// with a null is accepted, and that what it accepts is within bounds and
// decodes again to the same task.
func FuzzDecodeSubmission(f *testing.F) {
	reg := fullRegistry(f)
	for _, seed := range []string{
		`{"type":"option.price","payload":{"style":"asian","kind":"call","spot":100,"strike":100,"rate":0.05,"volatility":0.2,"maturity_years":1,"paths":0,"steps":0}}`,
		`{"type":"option.price","payload":{"style":"american","kind":"put","spot":36,"strike":40,"rate":0.06,"volatility":0.2,"maturity_years":1,"method":"monte_carlo","paths":-0,"seed":null}}`,
		`{"type":"option.price","payload":{"style":"barrier","kind":"call","spot":100,"strike":100,"rate":0.05,"volatility":0.2,"maturity_years":1,"barrier":{"type":"up_and_out","level":120,"rebate":null}}}`,
		`{"type":"portfolio.var","payload":{"positions":[{"name":null,"value":100,"drift":null,"volatility":0.2}],"horizon_days":0,"confidence":0,"simulations":0}}`,
		`{"type":"portfolio.var","payload":{"positions":[{"value":1,"volatility":0.1},{"value":2,"volatility":0.2}],"correlation":[[1,null],[null,1]],"horizon_days":null,"confidence":null,"simulations":null}}`,
		`{"type":"portfolio.var","payload":{"positions":[{},{},{}]}}`,
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
		if nulls := tasks.NullFields(body, "", 1); len(nulls) > 0 {
			t.Fatalf("accepted %q with null at %s: null never stands for a default", body, nulls[0])
		}
		def, ok := reg.Lookup(sub.Type)
		if !ok || !slices.Contains(tasks.Queues(), sub.Queue) || sub.MaxRetry < 0 || sub.MaxRetry > 5 ||
			sub.Timeout <= 0 || sub.Timeout > def.Timeout || len(sub.Key) > 128 || !json.Valid(sub.Payload) {
			t.Fatalf("accepted out-of-bounds submission %+v from %q", sub, body)
		}
		again, err := def.Prepare(sub.Payload)
		if err != nil || string(again) != string(sub.Payload) {
			t.Fatalf("prepared payload %s does not prepare to itself: %s, %v", sub.Payload, again, err)
		}
	})
}
