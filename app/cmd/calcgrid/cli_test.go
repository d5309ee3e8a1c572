package main

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// terminal is the client binary running on a pseudo-terminal: its stdin,
// stdout and stderr, as a person at a terminal would have them.
type terminal struct {
	t    *testing.T
	cmd  *exec.Cmd
	pty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func startTerminal(t *testing.T, endpoint string, args ...string) *terminal {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "CALCGRID_ENDPOINT="+endpoint, "TERM=xterm")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, cmd: cmd, pty: f, done: make(chan error, 1)}
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return // EIO once the child has exited
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		<-read
		term.done <- err
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		f.Close()
	})
	return term
}

func (term *terminal) output() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

// await waits until the screen output matches re.
func (term *terminal) await(re *regexp.Regexp, timeout time.Duration) {
	term.t.Helper()
	deadline := time.Now().Add(timeout)
	for !re.MatchString(term.output()) {
		if time.Now().After(deadline) {
			term.t.Fatalf("no %s on the terminal after %s:\n%q", re, timeout, term.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (term *terminal) typeIn(s string) {
	term.t.Helper()
	if _, err := term.pty.Write([]byte(s)); err != nil {
		term.t.Fatal(err)
	}
}

// exit waits for the process and returns its exit code.
func (term *terminal) exit(timeout time.Duration) int {
	term.t.Helper()
	select {
	case err := <-term.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			term.t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		term.t.Fatalf("still running after %s:\n%q", timeout, term.output())
		return -1
	}
}

// frame is one rendering of the progress bar: "  42% |████      |  active ETA 1s".
var frame = regexp.MustCompile(`(?m)^\s*(\d+)% \|[^|]*\|[^\r\n]*$`)

// frames splits the output at carriage returns (each redraw starts with
// one) and returns the bar's frames, without the erase-line code.
func frames(out string) (texts []string, percents []int) {
	for _, part := range strings.Split(out, "\r") {
		part = strings.TrimSuffix(strings.TrimRight(part, "\n"), "\x1b[0K")
		if m := frame.FindStringSubmatch(part); m != nil {
			p, _ := strconv.Atoi(m[1])
			texts, percents = append(texts, part), append(percents, p)
		}
	}
	return texts, percents
}

func cliStack(t *testing.T) *apptest.Stack {
	t.Helper()
	reg, err := registry(true)
	if err != nil {
		t.Fatal(err)
	}
	s := apptest.Start(t, reg, apptest.Options{})
	s.StartWorker(2, false)
	return s
}

// TestCLIProgressBarOnATerminal: submit --wait on a terminal draws a live
// bar that moves with the task's progress, then prints the completed task.
func TestCLIProgressBarOnATerminal(t *testing.T) {
	s := cliStack(t)
	term := startTerminal(t, s.Server.URL, "submit", "diagnostic.sleep", "--set", "ms=2500", "--wait")
	if code := term.exit(30 * time.Second); code != 0 {
		t.Fatalf("exit %d:\n%q", code, term.output())
	}
	out := term.output()
	texts, percents := frames(out)
	var mid []int
	for i, p := range percents {
		if p > 0 && p < 100 && (len(mid) == 0 || percents[mid[len(mid)-1]] != p) {
			mid = append(mid, i)
		}
	}
	if len(mid) < 3 || percents[len(percents)-1] != 100 {
		t.Fatalf("want the bar to move through 3 or more percentages and end at 100%%, got %v:\n%q", percents, out)
	}
	if !strings.Contains(texts[mid[len(mid)/2]], "active ETA ") {
		t.Errorf("want state and ETA in the bar: %q", texts[mid[len(mid)/2]])
	}
	if !strings.Contains(texts[len(texts)-1], "completed") || !strings.Contains(out, "state:     completed") {
		t.Errorf("want the completed bar and task:\n%q", out)
	}
	t.Logf("a frame of the bar (of %d):\n%s", len(texts), texts[mid[len(mid)/2]])
}

var taskLine = regexp.MustCompile(`task (\S+) \(Ctrl-C to stop waiting\)`)

// TestCLICtrlCAsksToCancel: Ctrl-C on a terminal while waiting asks whether
// to cancel the task; "y" cancels it and the command exits 1.
func TestCLICtrlCAsksToCancel(t *testing.T) {
	s := cliStack(t)
	term := startTerminal(t, s.Server.URL, "submit", "diagnostic.sleep", "--set", "ms=60000", "--wait")
	term.await(regexp.MustCompile(`% \|[^|]*\|\s+active`), 10*time.Second)
	id := taskLine.FindStringSubmatch(term.output())[1]
	term.typeIn("\x03") // Ctrl-C: the terminal sends SIGINT
	term.await(regexp.MustCompile(`cancel task `+regexp.QuoteMeta(id)+`\? \[y/N\] `), 5*time.Second)
	term.typeIn("y\r")
	if code := term.exit(10 * time.Second); code != 1 {
		t.Fatalf("exit %d, want 1 (cancelled):\n%q", code, term.output())
	}
	if got := s.Get(id).State; got != taskstore.StateCancelled {
		t.Errorf("task is %s, want cancelled", got)
	}
	if out := term.output(); !strings.Contains(out, "state:     cancelled") {
		t.Errorf("want the cancelled task printed:\n%q", out)
	}
}

// TestCLICtrlCAnswerNo: "n" (or Enter) leaves the task running and says how
// to resume.
func TestCLICtrlCAnswerNo(t *testing.T) {
	s := cliStack(t)
	term := startTerminal(t, s.Server.URL, "submit", "diagnostic.sleep", "--set", "ms=60000", "--wait")
	term.await(regexp.MustCompile(`% \|[^|]*\|\s+active`), 10*time.Second)
	id := taskLine.FindStringSubmatch(term.output())[1]
	term.typeIn("\x03")
	term.await(regexp.MustCompile(`\[y/N\] `), 5*time.Second)
	term.typeIn("\r")
	if code := term.exit(10 * time.Second); code != 130 {
		t.Fatalf("exit %d, want 130:\n%q", code, term.output())
	}
	if got := s.Get(id).State; got != taskstore.StateActive {
		t.Errorf("task is %s, want still active", got)
	}
	if out := term.output(); !strings.Contains(out, "resume with: calcgrid wait "+id) {
		t.Errorf("want how to resume:\n%q", out)
	}
	// Stop it here: a worker stopping with it still running waits out its grace.
	if r := s.Do(http.MethodDelete, "/v1/tasks/"+id, ""); r.Status >= 300 {
		t.Errorf("cancel %s: %d %s", id, r.Status, r.Body)
	}
}
