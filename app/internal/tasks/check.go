package tasks

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Bound is one end of a numeric range; Open excludes the value itself.
type Bound struct {
	Value float64
	Open  bool
}

// Incl and Excl build inclusive and exclusive bounds.
func Incl(v float64) Bound { return Bound{Value: v} }
func Excl(v float64) Bound { return Bound{Value: v, Open: true} }

// Checks collects field errors with uniform wording, so every type reports
// bounds the same way ("must be > 0 and ≤ 5").
type Checks struct {
	errs []FieldError
}

// Errors returns what was collected (nil when all fields are valid).
func (c *Checks) Errors() []FieldError { return c.errs }

// Add records a free-form error.
func (c *Checks) Add(field, format string, args ...any) {
	c.errs = append(c.errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Range checks that v lies between lo and hi and that v is finite.
func (c *Checks) Range(field string, v float64, lo, hi Bound) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) ||
		v < lo.Value || (lo.Open && v == lo.Value) ||
		v > hi.Value || (hi.Open && v == hi.Value) {
		c.Add(field, "%s", RangeText(lo, hi))
		return false
	}
	return true
}

// IntRange checks lo ≤ v ≤ hi for whole numbers.
func (c *Checks) IntRange(field string, v, lo, hi int64) bool {
	if v < lo || v > hi {
		c.Add(field, "must be ≥ %s and ≤ %s", fmtNum(float64(lo)), fmtNum(float64(hi)))
		return false
	}
	return true
}

// OneOf checks that v is one of allowed.
func (c *Checks) OneOf(field, v string, allowed ...string) bool {
	if !slices.Contains(allowed, v) {
		c.Add(field, "must be one of %s (got %q)", strings.Join(allowed, ", "), v)
		return false
	}
	return true
}

// RangeText words a range the way validation errors and docs show it.
func RangeText(lo, hi Bound) string {
	loOp, hiOp := "≥", "≤"
	if lo.Open {
		loOp = ">"
	}
	if hi.Open {
		hiOp = "<"
	}
	return fmt.Sprintf("must be %s %s and %s %s", loOp, fmtNum(lo.Value), hiOp, fmtNum(hi.Value))
}

func fmtNum(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// NumberSchema is the JSON Schema of a bounded number with a default
// (nil for none), matching what Range enforces.
func NumberSchema(desc string, lo, hi Bound, def any) map[string]any {
	s := map[string]any{"type": "number", "description": desc}
	if lo.Open {
		s["exclusiveMinimum"] = lo.Value
	} else {
		s["minimum"] = lo.Value
	}
	if hi.Open {
		s["exclusiveMaximum"] = hi.Value
	} else {
		s["maximum"] = hi.Value
	}
	if def != nil {
		s["default"] = def
	}
	return s
}

// IntegerSchema is the JSON Schema of a bounded whole number.
func IntegerSchema(desc string, lo, hi int64, def any) map[string]any {
	s := map[string]any{"type": "integer", "description": desc, "minimum": lo, "maximum": hi}
	if def != nil {
		s["default"] = def
	}
	return s
}

// EnumSchema is the JSON Schema of a string enumeration.
func EnumSchema(desc string, def string, values ...string) map[string]any {
	s := map[string]any{"type": "string", "description": desc, "enum": values}
	if def != "" {
		s["default"] = def
	}
	return s
}

// ObjectSchema is the JSON Schema of an object with the given properties.
func ObjectSchema(props map[string]any, required ...string) map[string]any {
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}
