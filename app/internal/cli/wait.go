package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/calcgrid/calcgrid/app/internal/client"
)

const (
	// pollEvery is how often a wait reads the task; the API updates a
	// task's progress at most every 250 ms.
	pollEvery = 250 * time.Millisecond
	// unavailableGrace is how long a wait polls on through an API that is
	// unreachable, unavailable or rate limiting (a replica restarting, a
	// Redis failover) before it gives up with that error.
	unavailableGrace = 15 * time.Second
	// barSteps is the progress bar's resolution.
	barSteps = 1000
)

// waiter follows one task until it finishes, showing its progress on stderr.
type waiter struct {
	api *client.Client
	env Env
	// cancelOnInterrupt: Ctrl-C cancels the task without asking.
	cancelOnInterrupt bool
}

// wait polls t until it is completed, failed or cancelled and returns it
// in that state. Ctrl-C asks whether to cancel the task (on a terminal), or
// cancels it (cancelOnInterrupt), or else stops waiting with interrupted.
func (w *waiter) wait(ctx context.Context, t client.Task) (client.Task, error) {
	var v view = &lineView{w: w.env.Stderr, id: t.ID}
	if isTerminal(w.env.Stderr) {
		v = newBarView(w.env.Stderr, t.ID)
	}
	var intr <-chan os.Signal
	if w.env.Interrupts != nil {
		c, stop := w.env.Interrupts()
		defer stop()
		intr = c
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var (
		est          eta
		failingSince time.Time
		cancelAsked  bool
		note         string
	)
	for {
		left, known := est.update(time.Now(), t)
		v.show(t, left, known, note)
		if t.State.Finished() {
			v.end(t)
			return t, nil
		}
		select {
		case <-ctx.Done():
			v.end(t)
			return t, ctx.Err()
		case <-intr:
			if cancelAsked {
				v.end(t)
				return t, interrupted{t.ID}
			}
			cancel, err := w.askCancel(ctx, v, t.ID, intr)
			if err != nil || !cancel {
				v.end(t)
				return t, errors.Join(interrupted{t.ID}, err)
			}
			cancelAsked = true
			ct, err := w.api.Cancel(ctx, t.ID)
			var p *client.Problem
			switch {
			case errors.As(err, &p) && p.Status == http.StatusConflict:
				// It finished meanwhile; the next poll shows how.
			case err != nil:
				v.end(t)
				return t, fmt.Errorf("cancel task %s: %w", t.ID, err)
			default:
				t = ct
			}
		case <-tick.C:
			nt, err := w.api.Get(ctx, t.ID)
			if err != nil && unavailable(err) {
				if failingSince.IsZero() {
					failingSince = time.Now()
				}
				if time.Since(failingSince) < unavailableGrace {
					note = "API unavailable, retrying"
					continue
				}
			}
			if err != nil {
				v.end(t)
				return t, err
			}
			failingSince, note, t = time.Time{}, "", nt
		}
	}
}

// unavailable reports whether err may pass: no answer, or an answer saying
// to retry later.
func unavailable(err error) bool {
	var p *client.Problem
	return errors.Is(err, client.ErrUnreachable) || (errors.As(err, &p) && p.Transient())
}

// askCancel decides what Ctrl-C means: cancel without asking with
// --cancel-on-interrupt; ask on a terminal (a second Ctrl-C is "no");
// else leave the task running.
func (w *waiter) askCancel(ctx context.Context, v view, id string, intr <-chan os.Signal) (bool, error) {
	if w.cancelOnInterrupt {
		return true, nil
	}
	if !isTerminal(w.env.Stdin) || !isTerminal(w.env.Stderr) {
		return false, nil
	}
	v.pause()
	fmt.Fprintf(w.env.Stderr, "cancel task %s? [y/N] ", id)
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(w.env.Stdin).ReadString('\n')
		answer <- line
	}()
	select {
	case a := <-answer:
		a = strings.ToLower(strings.TrimSpace(a))
		return a == "y" || a == "yes", nil
	case <-intr:
		fmt.Fprintln(w.env.Stderr)
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// eta estimates the time a task has left from the rate of progress seen
// since its current attempt was first seen active.
type eta struct {
	since    time.Time
	from     float64
	attempts int
}

func (e *eta) update(now time.Time, t client.Task) (left time.Duration, known bool) {
	if t.State != client.StateActive {
		e.since = time.Time{}
		return 0, false
	}
	if e.since.IsZero() || t.Attempts != e.attempts || t.Progress < e.from {
		e.since, e.from, e.attempts = now, t.Progress, t.Attempts
		return 0, false
	}
	done := t.Progress - e.from
	if done <= 0 {
		return 0, false
	}
	return time.Duration(float64(now.Sub(e.since)) * (1 - t.Progress) / done), true
}

// status describes a task's state for the bar or a line: "active ETA 12s".
func status(t client.Task, left time.Duration, known bool, note string) string {
	s := string(t.State)
	switch {
	case t.State == client.StateRetry:
		s += fmt.Sprintf(" after attempt %d of %d", t.Attempts, t.MaxRetry+1)
	case t.State == client.StateActive && t.Attempts > 1:
		s += fmt.Sprintf(" (attempt %d of %d)", t.Attempts, t.MaxRetry+1)
	}
	if known {
		s += " ETA " + formatETA(left)
	}
	if note != "" {
		s += " · " + note
	}
	return s
}

func formatETA(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	return d.Round(time.Second).String()
}

// view shows a waited-for task: a live bar on a terminal, plain lines
// elsewhere.
type view interface {
	show(t client.Task, left time.Duration, known bool, note string)
	// pause ends the bar's line before other output (a question).
	pause()
	// end leaves the last state shown and the cursor on a new line.
	end(t client.Task)
}

// lineView writes one line per change of state, attempt or whole percent.
type lineView struct {
	w       io.Writer
	id      string
	last    string
	started bool
}

func (l *lineView) show(t client.Task, left time.Duration, known bool, note string) {
	key := fmt.Sprintf("%s %d %d %s", t.State, t.Attempts, percent(t.Progress), note)
	if l.started && key == l.last {
		return
	}
	l.started, l.last = true, key
	fmt.Fprintf(l.w, "task %s: %3d%% %s\n", l.id, percent(t.Progress), status(t, left, known, note))
}

func (l *lineView) pause()          {}
func (l *lineView) end(client.Task) {}

func percent(p float64) int { return int(p * 100) }

// barView is a live progress bar (github.com/schollz/progressbar) with the
// state and ETA at its end.
type barView struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	ended bool
}

func newBarView(w io.Writer, id string) *barView {
	fmt.Fprintf(w, "task %s (Ctrl-C to stop waiting)\n", id)
	return &barView{w: w, bar: progressbar.NewOptions64(barSteps,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(40),
		progressbar.OptionUseANSICodes(true),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetPredictTime(false), // ours: the task's rate, not the bar's
		progressbar.OptionSetElapsedTime(false),
	)}
}

func (b *barView) show(t client.Task, left time.Duration, known bool, note string) {
	b.bar.Describe(status(t, left, known, note))
	n := int64(t.Progress * barSteps)
	if t.State == client.StateCompleted {
		n = barSteps
	} else if n >= barSteps {
		n = barSteps - 1 // a full bar is a completed task
	}
	_ = b.bar.Set64(n)
}

func (b *barView) pause() { fmt.Fprintln(b.w) }

func (b *barView) end(client.Task) {
	if !b.ended {
		b.ended = true
		_ = b.bar.Exit()
		fmt.Fprintln(b.w)
	}
}
