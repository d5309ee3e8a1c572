package main

import (
	"strings"
	"testing"
)

func TestPercentile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		p    float64
		want float64
	}{{50, 5}, {99, 10}, {10, 1}, {100, 10}, {0, 1}} {
		if got := percentile(v, tc.p); got != tc.want {
			t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := median([]float64{3, 1, 2, 10}); got != 2.5 {
		t.Errorf("median = %v, want 2.5", got)
	}
}

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    metric
		want string
	}{
		{"ratio met", metric{Higher: true, GoalRatio: 4, Values: map[string][]float64{"calcgrid": {400, 500, 450}, "baseline": {100, 110, 90}}}, "≥ 4.00×: met"},
		{"ratio missed", metric{Higher: true, GoalRatio: 6, Values: map[string][]float64{"calcgrid": {400}, "baseline": {100}}}, "≥ 6.00×: missed"},
		{"lower ratio met", metric{GoalRatio: 1, Values: map[string][]float64{"calcgrid": {2}, "baseline": {6}}}, "≤ 1.00×: met"},
		{"bound missed", metric{GoalMax: 5, Values: map[string][]float64{"calcgrid": {4, 7, 9}}}, "≤ 5.00: missed"},
		{"zero met", metric{GoalZero: true, Values: map[string][]float64{"calcgrid": {0}, "baseline": {3}}}, "0: met"},
		{"zero missed by one run", metric{GoalZero: true, Values: map[string][]float64{"calcgrid": {0, 1, 0}}}, "0: missed"},
		{"no goal", metric{Values: map[string][]float64{"calcgrid": {1}}}, ""},
		{"no baseline", metric{GoalRatio: 2, Values: map[string][]float64{"calcgrid": {1}}}, "no baseline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.verdict(); got != tc.want {
				t.Errorf("verdict = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMarkdown(t *testing.T) {
	r := &results{}
	r.define(metric{Key: "post16", Title: "POST", Unit: "req/s", Higher: true, GoalRatio: 4})
	r.add("post16", "calcgrid", 9000)
	r.add("post16", "calcgrid", 8000)
	r.add("post16", "calcgrid", 10000)
	r.add("post16", "baseline", 1500)
	var b strings.Builder
	r.markdown(&b)
	if want := "| POST | req/s | 9000 (8000–10000) | 1500 | 6.00× | ≥ 4.00×: met |"; !strings.Contains(b.String(), want) {
		t.Errorf("table:\n%s\nwant the row %s", b.String(), want)
	}
}
