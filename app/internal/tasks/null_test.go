package tasks

import (
	"slices"
	"testing"
)

func TestNullFields(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want []string
	}{
		{`null`, []string{"payload"}},
		{`{}`, nil},
		{`{"a":null,"b":0,"c":"null"}`, []string{"payload.a"}},
		{`{"correlation":[[1,0.2],[0.2,null]]}`, []string{"payload.correlation[1][1]"}},
		{`{"positions":[{"name":"x"},{"name":null,"drift":null}],"seed":null}`,
			[]string{"payload.positions[1].name", "payload.positions[1].drift", "payload.seed"}},
		{`[null,[null],{"k":[1,null]}]`, []string{"payload[0]", "payload[1][0]", "payload[2].k[1]"}},
		{`{"a":{"b":{"c":null}},"d":null}`, []string{"payload.a.b.c", "payload.d"}},
		{`{"a":null,`, []string{"payload.a"}}, // a syntax error ends the walk
	} {
		if got := NullFields([]byte(tc.raw), "payload", MaxFieldErrors); !slices.Equal(got, tc.want) {
			t.Errorf("NullFields(%s) = %q, want %q", tc.raw, got, tc.want)
		}
	}
	if got := NullFields([]byte(`[null,null,null]`), "", 2); !slices.Equal(got, []string{"[0]", "[1]"}) {
		t.Errorf("limit 2: %q", got)
	}
}

func TestCapErrors(t *testing.T) {
	errs := make([]FieldError, 87_000)
	got := CapErrors(errs, "payload")
	if len(got) != MaxFieldErrors || got[MaxFieldErrors-1].Message != "and 86981 more invalid fields, not listed" {
		t.Errorf("CapErrors of 87000: %d errors, last %+v", len(got), got[len(got)-1])
	}
	if got := CapErrors(errs[:3], "payload"); len(got) != 3 {
		t.Errorf("CapErrors of 3: %d", len(got))
	}
}
