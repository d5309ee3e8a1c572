package tasks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// MaxFieldErrors bounds the field errors one validation returns, so a huge
// invalid body gets a small answer.
const MaxFieldErrors = 20

// NullMessage is what a null value is told: null is never taken as "use the
// default", which only an absent field gets.
const NullMessage = "must not be null: send a value, or omit the field to get its default"

// NullFields returns the paths of the first limit JSON nulls in raw, named
// below base as the field errors are ("payload.correlation[3][7]"). It reads
// tokens only; a syntax error ends the walk (the decoder reports it).
func NullFields(raw []byte, base string, limit int) []string {
	// JSON without the letters "null" holds no null: the token walk (half
	// the cost of decoding a submission) runs only when they appear.
	if !bytes.Contains(raw, []byte("null")) {
		return nil
	}
	type frame struct {
		object  bool
		key     string
		index   int
		wantKey bool
	}
	var stack []*frame
	path := func() string {
		var b strings.Builder
		b.WriteString(base)
		for _, f := range stack {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				fmt.Fprintf(&b, "[%d]", f.index)
			}
		}
		return b.String()
	}
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		if f := stack[len(stack)-1]; f.object {
			f.wantKey = true
		} else {
			f.index++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var found []string
	for len(found) < limit {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, &frame{object: true, wantKey: true})
			case '[':
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
			continue
		}
		if len(stack) > 0 {
			if f := stack[len(stack)-1]; f.object && f.wantKey {
				f.key, f.wantKey = tok.(string), false
				continue
			}
		}
		if tok == nil {
			found = append(found, path())
		}
		valueDone()
	}
	return found
}

// NullErrors are the field errors of the nulls in raw, below base.
func NullErrors(raw []byte, base string) []FieldError {
	var errs []FieldError
	for _, f := range NullFields(raw, base, MaxFieldErrors) {
		errs = append(errs, FieldError{Field: f, Message: NullMessage})
	}
	return errs
}

// CapErrors keeps at most MaxFieldErrors; the last one, on field, then says
// how many more there were.
func CapErrors(errs []FieldError, field string) []FieldError {
	if len(errs) <= MaxFieldErrors {
		return errs
	}
	more := len(errs) - (MaxFieldErrors - 1)
	return append(errs[:MaxFieldErrors-1:MaxFieldErrors-1], FieldError{Field: field, Message: fmt.Sprintf("and %d more invalid fields, not listed", more)})
}
