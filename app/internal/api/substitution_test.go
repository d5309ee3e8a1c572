package api_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/calcgrid/calcgrid/app/internal/api"
	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/diagnostic"
	"github.com/calcgrid/calcgrid/app/internal/finance"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

func fullRegistry(t testing.TB) *tasks.Registry {
	t.Helper()
	reg := tasks.NewRegistry()
	if err := errors.Join(diagnostic.Register(reg), finance.Register(reg)); err != nil {
		t.Fatal(err)
	}
	return reg
}

// An explicit value is validated as sent: 0, -0 and null never stand for
// "the default", which only an absent field gets. These are the submissions
// a hostile-input campaign saw answered 202.
func TestNoSilentSubstitution(t *testing.T) {
	reg := fullRegistry(t)
	const (
		euro = `"style":"european","kind":"call","spot":100,"strike":100,"rate":0.05,"volatility":0.2,"maturity_years":1`
		mc   = `"style":"asian","kind":"call","spot":100,"strike":100,"rate":0.05,"volatility":0.2,"maturity_years":1`
		pos  = `"positions":[{"name":"a","value":100,"drift":0,"volatility":0.2},{"name":"b","value":50,"drift":0.01,"volatility":0.1}]`
		corr = `"correlation":[[1,0.3],[0.3,1]]`
	)
	for _, tc := range []struct {
		name, body, field, message string
	}{
		{"paths 0", `{"type":"option.price","payload":{` + mc + `,"paths":0}}`, "payload.paths", "must be"},
		{"paths -0", `{"type":"option.price","payload":{` + mc + `,"paths":-0}}`, "payload.paths", "must be"},
		{"steps 0", `{"type":"option.price","payload":{` + mc + `,"steps":0}}`, "payload.steps", "must be"},
		{"seed null", `{"type":"option.price","payload":{` + euro + `,"seed":null}}`, "payload.seed", "must not be null"},
		{"horizon_days 0", `{"type":"portfolio.var","payload":{` + pos + `,` + corr + `,"horizon_days":0}}`, "payload.horizon_days", "must be"},
		{"horizon_days null", `{"type":"portfolio.var","payload":{` + pos + `,` + corr + `,"horizon_days":null}}`, "payload.horizon_days", "must not be null"},
		{"simulations 0", `{"type":"portfolio.var","payload":{` + pos + `,` + corr + `,"simulations":0}}`, "payload.simulations", "must be"},
		{"simulations null", `{"type":"portfolio.var","payload":{` + pos + `,` + corr + `,"simulations":null}}`, "payload.simulations", "must not be null"},
		{"confidence 0", `{"type":"portfolio.var","payload":{` + pos + `,` + corr + `,"confidence":0}}`, "payload.confidence", "must be"},
		{"confidence null", `{"type":"portfolio.var","payload":{` + pos + `,` + corr + `,"confidence":null}}`, "payload.confidence", "must not be null"},
		{"name null", `{"type":"portfolio.var","payload":{"positions":[{"name":null,"value":100,"volatility":0.2}]}}`, "payload.positions[0].name", "must not be null"},
		{"name empty", `{"type":"portfolio.var","payload":{"positions":[{"name":"","value":100,"volatility":0.2}]}}`, "payload.positions[0].name", "must not be empty"},
		{"drift null", `{"type":"portfolio.var","payload":{"positions":[{"name":"a","value":100,"drift":null,"volatility":0.2}]}}`, "payload.positions[0].drift", "must not be null"},
		{"null in correlation", `{"type":"portfolio.var","payload":{` + pos + `,"correlation":[[1,0.3],[0.3,null]]}}`, "payload.correlation[1][1]", "must not be null"},
		{"payload null", `{"type":"diagnostic.noop","payload":null}`, "payload", "must not be null"},
		{"max_retry null", `{"type":"diagnostic.noop","max_retry":null}`, "max_retry", "must not be null"},
		{"priority empty", `{"type":"diagnostic.noop","priority":""}`, "priority", "must be one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := api.DecodeSubmission([]byte(tc.body), reg)
			var ve *tasks.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("DecodeSubmission: %v, want a validation error on %s", err, tc.field)
			}
			for _, fe := range ve.Errors {
				if fe.Field == tc.field && strings.Contains(fe.Message, tc.message) {
					return
				}
			}
			t.Errorf("errors %+v, want %s %q…", ve.Errors, tc.field, tc.message)
		})
	}
	// The same submissions without the field get the default.
	for _, body := range []string{
		`{"type":"option.price","payload":{` + mc + `}}`,
		`{"type":"portfolio.var","payload":{` + pos + `,` + corr + `}}`,
		`{"type":"portfolio.var","payload":{"positions":[{"value":100,"volatility":0.2}]}}`,
	} {
		if _, err := api.DecodeSubmission([]byte(body), reg); err != nil {
			t.Errorf("%s: %v, want accepted with defaults", body, err)
		}
	}
}

// A body of 87,000 empty positions gets one error about the collection, not
// one per field of every position.
func TestHugeCollectionFewErrors(t *testing.T) {
	reg := fullRegistry(t)
	body := `{"type":"portfolio.var","payload":{"positions":[` + strings.Repeat(`{},`, 87_000) + `{}]}}`
	_, err := api.DecodeSubmission([]byte(body), reg)
	var ve *tasks.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("DecodeSubmission: %v, want a validation error", err)
	}
	if len(ve.Errors) > tasks.MaxFieldErrors || ve.Errors[0].Field != "payload.positions" {
		t.Errorf("%d errors, first %+v; want at most %d, first on payload.positions", len(ve.Errors), ve.Errors[0], tasks.MaxFieldErrors)
	}
}

// TestDocumentedMaximum: portfolio.var's documented maximum, 200 positions
// with a dense correlation matrix at full precision (17 significant digits,
// over 256 KiB), is accepted by the API itself.
func TestDocumentedMaximum(t *testing.T) {
	e := apptest.Start(t, fullRegistry(t), apptest.Options{})
	body := denseVarSubmission(200, "")
	if len(body) <= 256<<10 {
		t.Fatalf("body of %d bytes is not over 256 KiB", len(body))
	}
	if r := e.Do(http.MethodPost, "/v1/tasks", body); r.Status != http.StatusAccepted {
		t.Fatalf("POST of the %d-byte maximum: %d %.300s", len(body), r.Status, r.Body)
	}
}

// denseVarSubmission is a portfolio.var submission of n positions with a
// dense, positive-definite correlation matrix written at full precision (17
// significant digits); fields are added to the submission's top level.
func denseVarSubmission(n int, fields string) string {
	var b strings.Builder
	b.WriteString(`{"type":"portfolio.var",` + fields + `"payload":{"positions":[`)
	b.WriteString(strings.Repeat(`{"value":1000000,"volatility":0.2},`, n-1) + `{"value":1000000,"volatility":0.2}`)
	b.WriteString(`],"correlation":[`)
	for i := range n {
		row := make([]string, n)
		for j := range row {
			row[j] = strconv.FormatFloat(0.3+0.2*float64(i*j)/float64(n*n), 'e', 16, 64)
		}
		row[i] = "1"
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("[" + strings.Join(row, ",") + "]")
	}
	b.WriteString(`]}}`)
	return b.String()
}
