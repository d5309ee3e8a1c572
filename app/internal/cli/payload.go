package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// buildPayload makes a submission's payload: the JSON object of source
// ("@path" for a file, "-" for standard input, else the JSON text itself),
// then each --set field=value on top. With neither it is nil, and the
// submission carries no payload. Numbers keep their exact text (a 64-bit
// seed survives), and a value is JSON when it parses as JSON, else a string
// (--set name='"42"' for the string "42"). A field with dots sets a nested
// object: barrier.level=120.
func buildPayload(source string, sets []string, stdin io.Reader) (json.RawMessage, error) {
	obj := map[string]any{}
	if source != "" {
		text, name, err := readSource(source, stdin)
		if err != nil {
			return nil, err
		}
		v, err := decodeJSON(text)
		if err != nil {
			return nil, usagef("payload %s is not JSON: %v", name, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, usagef("payload %s must be a JSON object", name)
		}
		obj = m
	}
	for _, s := range sets {
		if err := set(obj, s); err != nil {
			return nil, err
		}
	}
	if source == "" && len(sets) == 0 {
		return nil, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b.Bytes()), nil
}

func readSource(source string, stdin io.Reader) (text []byte, name string, err error) {
	switch {
	case source == "-":
		text, err = io.ReadAll(stdin)
		if err != nil {
			return nil, "", fmt.Errorf("read the payload from standard input: %w", err)
		}
		return text, "from standard input", nil
	case strings.HasPrefix(source, "@"):
		path := source[1:]
		text, err = os.ReadFile(path)
		if err != nil {
			return nil, "", usagef("payload file: %v", err)
		}
		return text, path, nil
	default:
		return []byte(source), fmt.Sprintf("argument %q (a file is @path, standard input -)", source), nil
	}
}

// decodeJSON decodes exactly one JSON value, numbers as json.Number.
func decodeJSON(text []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// set applies one --set field=value to obj.
func set(obj map[string]any, s string) error {
	field, text, ok := strings.Cut(s, "=")
	if !ok || field == "" {
		return usagef("--set %q: want field=value", s)
	}
	path := strings.Split(field, ".")
	if strings.Contains(field, "..") || path[0] == "" || path[len(path)-1] == "" {
		return usagef("--set %q: %q is not a field name (nested fields are joined by single dots)", s, field)
	}
	value, err := decodeJSON([]byte(text))
	if err != nil {
		value = text
	}
	m := obj
	for i, name := range path[:len(path)-1] {
		next, exists := m[name]
		if !exists {
			child := map[string]any{}
			m[name], m = child, child
			continue
		}
		child, isObj := next.(map[string]any)
		if !isObj {
			return usagef("--set %q: %s is already set to a value that is not an object", s, strings.Join(path[:i+1], "."))
		}
		m = child
	}
	m[path[len(path)-1]] = value
	return nil
}
