package apptest

import (
	"encoding/json"
	"log/slog"
	"sync"
)

// Line is one JSON log line of a Stack's API or workers.
type Line map[string]any

// Msg is the line's message.
func (l Line) Msg() string { s, _ := l[slog.MessageKey].(string); return s }

// Level is the line's level (Info when it has none).
func (l Line) Level() slog.Level {
	var lv slog.Level
	if s, ok := l[slog.LevelKey].(string); ok {
		_ = lv.UnmarshalText([]byte(s))
	}
	return lv
}

// String is the line's attribute key as a string ("" when absent).
func (l Line) String(key string) string { s, _ := l[key].(string); return s }

// Logs keeps every line a Stack's roles log, so that a test can assert what
// was (or was not) logged. It is the io.Writer of their JSON handler, which
// writes each record in one call.
type Logs struct {
	mu    sync.Mutex
	lines []Line
}

// Write implements io.Writer.
func (l *Logs) Write(p []byte) (int, error) {
	var line Line
	if json.Unmarshal(p, &line) == nil {
		l.mu.Lock()
		l.lines = append(l.lines, line)
		l.mu.Unlock()
	}
	return len(p), nil
}

// Lines returns the lines logged so far that match keep (every line when
// keep is nil).
func (l *Logs) Lines(keep func(Line) bool) []Line {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Line
	for _, line := range l.lines {
		if keep == nil || keep(line) {
			out = append(out, line)
		}
	}
	return out
}
