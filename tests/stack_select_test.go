package tests

import (
	"errors"
	"testing"
)

func TestSelectedScenarios(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    int
		noMatch bool
	}{
		{"", len(scenarios), false},
		{"Routing", 1, false},
		{"Health|EndToEnd", 2, false},
		{"Routnig", 0, true},
	} {
		got, err := selected(tc.pattern)
		var nm *noMatchError
		if tc.noMatch != errors.As(err, &nm) {
			t.Errorf("selected(%q): error %v, want no-match %v", tc.pattern, err, tc.noMatch)
		}
		if len(got) != tc.want {
			t.Errorf("selected(%q): %d scenarios, want %d", tc.pattern, len(got), tc.want)
		}
	}
}
