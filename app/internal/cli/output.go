package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/client"
)

// Output: -o json writes what the API sent (pretty-printed; a list is every
// page's tasks in one {"tasks": [...]}), -o table a table for people.

func (st *state) printJSON(v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := st.env.Stdout.Write(b.Bytes())
	return err
}

func (st *state) table() *tabwriter.Writer {
	return tabwriter.NewWriter(st.env.Stdout, 0, 4, 2, ' ', 0)
}

func (st *state) printTask(t client.Task) error {
	if st.output == "json" {
		return st.printJSON(t.Raw)
	}
	tw := st.table()
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("id", t.ID)
	row("type", t.Type)
	row("priority", t.Priority)
	row("state", string(t.State))
	row("progress", fmt.Sprintf("%d%%", percent(t.Progress)))
	row("attempts", fmt.Sprintf("%d (max retry %d)", t.Attempts, t.MaxRetry))
	row("created", formatTime(&t.CreatedAt))
	if t.StartedAt != nil {
		row("started", formatTime(t.StartedAt))
	}
	if t.CompletedAt != nil {
		ended := formatTime(t.CompletedAt)
		if t.StartedAt != nil {
			ended += fmt.Sprintf(" (ran %s)", t.CompletedAt.Sub(*t.StartedAt).Round(time.Millisecond))
		}
		row("ended", ended)
	}
	if t.Error != "" {
		row("error", t.Error)
	}
	if err := tw.Flush(); err != nil || len(t.Result) == 0 {
		return err
	}
	fmt.Fprintln(st.env.Stdout, "result:")
	tw = st.table() // its own columns, so that long result keys do not widen the ones above
	for _, kv := range flatten(t.Result) {
		fmt.Fprintf(tw, "  %s\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

func (st *state) printTasks(ts []client.Task) error {
	if st.output == "json" {
		raws := make([]json.RawMessage, len(ts))
		for i, t := range ts {
			raws[i] = t.Raw
		}
		return st.printJSON(map[string][]json.RawMessage{"tasks": raws})
	}
	tw := st.table()
	fmt.Fprintln(tw, "ID\tTYPE\tPRIORITY\tSTATE\tPROGRESS\tCREATED\tENDED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d%%\t%s\t%s\n", t.ID, t.Type, t.Priority, t.State,
			percent(t.Progress), formatTime(&t.CreatedAt), formatTime(t.CompletedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(st.env.Stderr, "%d tasks\n", len(ts))
	return err
}

func (st *state) printQueues(qs []client.Queue) error {
	if st.output == "json" {
		return st.printJSON(map[string][]client.Queue{"queues": qs})
	}
	tw := st.table()
	fmt.Fprintln(tw, "QUEUE\tWEIGHT\tPAUSED\tPENDING\tACTIVE\tSCHEDULED\tRETRY\tFAILED\tCOMPLETED\tPROCESSED TODAY\tFAILED TODAY\tLATENCY")
	for _, q := range qs {
		fmt.Fprintf(tw, "%s\t%d\t%t\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", q.Name, q.Weight, q.Paused,
			q.Pending, q.Active, q.Scheduled, q.Retry, q.Failed, q.Completed, q.ProcessedToday, q.FailedToday,
			(time.Duration(q.LatencyMS) * time.Millisecond).String())
	}
	return tw.Flush()
}

func (st *state) printTypes(types []client.TaskType) error {
	if st.output == "json" {
		raws := make([]json.RawMessage, len(types))
		for i, t := range types {
			raws[i] = t.Raw
		}
		return st.printJSON(map[string][]json.RawMessage{"task_types": raws})
	}
	tw := st.table()
	fmt.Fprintln(tw, "TYPE\tQUEUE\tTIMEOUT\tMAX RETRY\tDESCRIPTION")
	for _, t := range types {
		lines := wrap(t.Description, descWidth)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", t.Name, t.Queue, time.Duration(t.TimeoutS)*time.Second, t.MaxRetry, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(tw, "\t\t\t\t%s\n", l)
		}
	}
	return tw.Flush()
}

// printType shows one type and its payload fields, required ones first.
func (st *state) printType(t client.TaskType) error {
	if st.output == "json" {
		return st.printJSON(t.Raw)
	}
	var schema map[string]any
	dec := json.NewDecoder(bytes.NewReader(t.PayloadSchema))
	dec.UseNumber()
	if err := dec.Decode(&schema); err != nil {
		return fmt.Errorf("decode the payload schema of %s: %w", t.Name, err)
	}
	w := st.env.Stdout
	fmt.Fprintf(w, "%s: %s\n", t.Name, t.Description)
	fmt.Fprintf(w, "queue %s, timeout %s, max retry %d\n\n", t.Queue, time.Duration(t.TimeoutS)*time.Second, t.MaxRetry)
	var rows []fieldRow
	schemaRows("", schema, &rows)
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "The payload has no fields.")
		return err
	}
	tw := st.table()
	fmt.Fprintln(tw, "FIELD\tTYPE\tREQUIRED\tDEFAULT\tALLOWED\tDESCRIPTION")
	for _, r := range rows {
		lines := wrap(r.desc, descWidth)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.typ, r.required, r.def, r.allowed, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(tw, "\t\t\t\t\t%s\n", l)
		}
	}
	return tw.Flush()
}

// descWidth is where long descriptions wrap in tables.
const descWidth = 60

// fieldRow is one payload field of a schema table.
type fieldRow struct {
	name, typ, required, def, allowed, desc string
}

// schemaRows adds a row for each property of an object schema, recursing
// into nested objects (barrier.level) and arrays of objects (positions[].value).
func schemaRows(prefix string, schema map[string]any, rows *[]fieldRow) {
	props, _ := schema["properties"].(map[string]any)
	var required []string
	if req, ok := schema["required"].([]any); ok {
		for _, r := range req {
			if s, ok := r.(string); ok {
				required = append(required, s)
			}
		}
	}
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := slices.Index(required, names[i]), slices.Index(required, names[j])
		switch {
		case ri >= 0 && rj >= 0:
			return ri < rj
		case ri >= 0 || rj >= 0:
			return ri >= 0
		}
		return names[i] < names[j]
	})
	for _, name := range names {
		s, _ := props[name].(map[string]any)
		r := fieldRow{name: prefix + name, typ: typeOf(s), required: "no", allowed: allowed(s)}
		if slices.Contains(required, name) {
			r.required = "yes"
		}
		if d, ok := s["default"]; ok {
			r.def = scalarText(d)
		}
		r.desc, _ = s["description"].(string)
		*rows = append(*rows, r)
		if _, ok := s["properties"]; ok {
			schemaRows(prefix+name+".", s, rows)
		}
		if items, ok := s["items"].(map[string]any); ok {
			if _, ok := items["properties"]; ok {
				schemaRows(prefix+name+"[].", items, rows)
			}
		}
	}
}

// typeOf names a schema's type: "number", "array of object".
func typeOf(s map[string]any) string {
	t, _ := s["type"].(string)
	if t == "array" {
		if items, ok := s["items"].(map[string]any); ok {
			return "array of " + typeOf(items)
		}
	}
	if t == "" {
		return "any"
	}
	return t
}

// allowed states a schema's bounds: "0 < x ≤ 5", one of an enum, item counts.
func allowed(s map[string]any) string {
	if enum, ok := s["enum"].([]any); ok {
		vals := make([]string, len(enum))
		for i, v := range enum {
			vals[i] = scalarText(v)
		}
		return strings.Join(vals, ", ")
	}
	var lo, hi string
	if v, ok := s["minimum"]; ok {
		lo = scalarText(v) + " ≤ "
	} else if v, ok := s["exclusiveMinimum"]; ok {
		lo = scalarText(v) + " < "
	}
	if v, ok := s["maximum"]; ok {
		hi = " ≤ " + scalarText(v)
	} else if v, ok := s["exclusiveMaximum"]; ok {
		hi = " < " + scalarText(v)
	}
	if lo != "" || hi != "" {
		return lo + "x" + hi
	}
	minItems, hasMin := s["minItems"]
	maxItems, hasMax := s["maxItems"]
	switch {
	case hasMin && hasMax:
		return fmt.Sprintf("%s to %s items", scalarText(minItems), scalarText(maxItems))
	case hasMin:
		return fmt.Sprintf("at least %s items", scalarText(minItems))
	case hasMax:
		return fmt.Sprintf("at most %s items", scalarText(maxItems))
	}
	if items, ok := s["items"].(map[string]any); ok {
		if a := allowed(items); a != "" {
			return "each " + a
		}
	}
	return ""
}

// scalarText shows a JSON value: strings bare, anything else as JSON.
func scalarText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(b.String())
}

// flatten lists a JSON value's leaves as (path, value) pairs in document
// order of sorted keys: objects by dotted path, arrays of scalars inline.
func flatten(raw json.RawMessage) [][2]string {
	v, err := decodeJSON(raw)
	if err != nil {
		return [][2]string{{"", string(raw)}}
	}
	var out [][2]string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(strings.TrimPrefix(path+"."+k, "."), x[k])
			}
			return
		case []any:
			if slices.ContainsFunc(x, func(e any) bool {
				_, obj := e.(map[string]any)
				return obj
			}) {
				for i, e := range x {
					walk(fmt.Sprintf("%s[%d]", path, i), e)
				}
				return
			}
		}
		out = append(out, [2]string{path, scalarText(v)})
	}
	walk("", v)
	return out
}

// wrap breaks s into lines of at most width runes at spaces; always at
// least one line.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case len([]rune(line))+1+len([]rune(word)) > width:
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	return append(lines, line)
}

func formatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}
