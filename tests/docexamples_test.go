package tests

// The shell examples of README.md and docs/*.md are run: the `local` ones by
// TestDocExamples, the `stack` ones by the Docs stack scenario
// (scenario_docs_test.go). Every ```sh block is immediately preceded by a line
// with exactly one of
//
//	<!-- example: stack -->          against the running dev stack ($CALCGRID)
//	<!-- example: local -->          without a stack: quick and side-effect free
//	<!-- example: skip <reason> -->  not run; the reason is required
//
// The blocks of one file with the same kind run in order in one
// `bash -euo pipefail` process from the repo root (later blocks use what
// earlier ones set), with <repo>/.bin first on PATH, each block announced by
// an `echo '### <file>:<line>'` so that a failure names the block.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The kinds of example.
const (
	exampleStack = "stack"
	exampleLocal = "local"
	exampleSkip  = "skip"
)

// How long one file's script of each kind may run.
var exampleTimeout = map[string]time.Duration{
	exampleLocal: 2 * time.Minute,
	exampleStack: 10 * time.Minute,
}

// example is one ```sh block of the docs.
type example struct {
	file   string // relative to the repo root, slash-separated: README.md, docs/api.md
	line   int    // 1-based line of the opening ```sh fence
	kind   string // exampleStack, exampleLocal or exampleSkip
	reason string // why a skip is not run
	code   string // the block's lines, each ending in a newline
}

func (e example) where() string  { return fmt.Sprintf("%s:%d", e.file, e.line) }
func (e example) marker() string { return "### " + e.where() }

var (
	// A marker, once the line is trimmed.
	markerRE = regexp.MustCompile(`^<!-- example: (\S+)(?: +(.*\S))? *-->$`)
	// Anything that looks like a marker is held to the exact form.
	markerLikeRE = regexp.MustCompile(`(?i)^<!--\s*examples?\b`)
	// An opening or closing code fence: indentation, fence, info string.
	fenceRE = regexp.MustCompile("^([ \t]*)(`{3,}|~{3,})(.*)$")
)

// Other names of a shell block: the convention covers ```sh only, so a shell
// example fenced under one of these would escape it.
var otherShellLangs = []string{"bash", "shell", "zsh", "console", "shell-session", "shellsession"}

// docFiles lists README.md and docs/*.md (docs/ may not exist), relative to root.
func docFiles(root string) ([]string, error) {
	files := []string{"README.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		return nil, err
	}
	slices.Sort(docs)
	for _, d := range docs {
		rel, err := filepath.Rel(root, d)
		if err != nil {
			return nil, err
		}
		files = append(files, filepath.ToSlash(rel))
	}
	return files, nil
}

// docExamples returns the ```sh blocks of README.md and docs/*.md under root,
// in file order. The error joins every violation of the convention, each
// naming file:line; the examples found are returned with it.
func docExamples(root string) ([]example, error) {
	files, err := docFiles(root)
	if err != nil {
		return nil, err
	}
	var all []example
	var errs []error
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		exs, violations := parseExamples(f, string(b))
		all = append(all, exs...)
		errs = append(errs, violations...)
	}
	return all, errors.Join(errs...)
}

// parseExamples reads the examples of one Markdown file named file.
func parseExamples(file, text string) ([]example, []error) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var (
		exs  []example
		errs []error
	)
	violation := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
	}

	type marker struct {
		line         int
		kind, reason string
		ok           bool // well-formed; a malformed one is reported already
	}
	var (
		pending *marker // the marker on the line before, waiting for its block
		// the open fence, if any
		inFence   bool
		fence     string // its backticks or tildes
		indent    int
		cur       *example // the open ```sh block, if it has a valid marker
		openShell int      // line of the open ```sh fence (0: another language)
	)
	for i, raw := range lines {
		n := i + 1
		if inFence {
			if m := fenceRE.FindStringSubmatch(raw); m != nil && m[2][0] == fence[0] &&
				len(m[2]) >= len(fence) && strings.TrimSpace(m[3]) == "" {
				inFence = false
				if cur != nil {
					exs = append(exs, *cur)
				}
				cur, openShell = nil, 0
				continue
			}
			if cur != nil {
				cur.code += stripIndent(raw, indent) + "\n"
			}
			continue
		}

		trimmed := strings.TrimSpace(raw)
		if m := fenceRE.FindStringSubmatch(raw); m != nil && !(m[2][0] == '`' && strings.Contains(m[3], "`")) {
			lang := ""
			if f := strings.Fields(m[3]); len(f) > 0 {
				lang = f[0]
			}
			inFence, fence, indent = true, m[2], len(m[1])
			switch {
			case lang == "sh":
				openShell = n
				switch {
				case pending == nil:
					violation(n, "```sh block without a marker on the line before it "+
						"(<!-- example: stack -->, <!-- example: local --> or <!-- example: skip <reason> -->)")
				case pending.ok:
					cur = &example{file: file, line: n, kind: pending.kind, reason: pending.reason}
				}
			case slices.Contains(otherShellLangs, strings.ToLower(lang)):
				violation(n, "```%s block: fence shell examples as ```sh, with a marker on the line before, "+
					"or as ```text when they are not commands to run", lang)
				if pending != nil {
					violation(pending.line, "marker not followed by a ```sh block (the next line opens ```%s)", lang)
				}
			case pending != nil:
				violation(pending.line, "marker not followed by a ```sh block (the next line opens ```%s)", lang)
			}
			pending = nil
			continue
		}

		if pending != nil {
			violation(pending.line, "marker not immediately followed by a ```sh block (line %d is %q)", n, abbreviate(raw))
			pending = nil
		}
		if markerLikeRE.MatchString(trimmed) {
			mk := &marker{line: n}
			m := markerRE.FindStringSubmatch(trimmed)
			switch {
			case m == nil:
				violation(n, "malformed marker %q: want <!-- example: stack -->, <!-- example: local --> or <!-- example: skip <reason> -->", trimmed)
			case m[1] == exampleSkip && m[2] == "":
				violation(n, "<!-- example: skip --> needs a reason: <!-- example: skip <reason> -->")
			case m[1] == exampleSkip:
				mk.kind, mk.reason, mk.ok = m[1], m[2], true
			case m[1] == exampleStack || m[1] == exampleLocal:
				if m[2] != "" {
					violation(n, "<!-- example: %s --> takes nothing after the kind (got %q)", m[1], m[2])
				} else {
					mk.kind, mk.ok = m[1], true
				}
			default:
				violation(n, "unknown example kind %q: want stack, local or skip <reason>", m[1])
			}
			pending = mk
		}
	}
	if pending != nil {
		violation(pending.line, "marker at the end of the file, not followed by a ```sh block")
	}
	if inFence && openShell != 0 {
		violation(openShell, "```sh block never closed")
	}
	return exs, errs
}

// stripIndent removes up to n leading spaces (the fence's indentation).
func stripIndent(s string, n int) string {
	for i := 0; i < n && strings.HasPrefix(s, " "); i++ {
		s = s[1:]
	}
	return s
}

func abbreviate(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// endMarker is printed after a file's last block: without it, a block left
// the script early (exit 0, exec) and the blocks after it never ran.
func endMarker(file string) string { return "### end of " + file }

// exampleScript is the bash script of one file's examples (all of one kind).
func exampleScript(file string, exs []example) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# The %s examples of %s, generated by tests/docexamples_test.go.\n", exs[0].kind, file)
	for _, e := range exs {
		// Each block starts under the convention's options, whatever an
		// earlier one set.
		fmt.Fprintf(&b, "\nset -euo pipefail\necho %s\n", shellQuote(e.marker()))
		b.WriteString(e.code)
		b.WriteString("\n") // ends a trailing backslash continuation
	}
	fmt.Fprintf(&b, "\necho %s\n", shellQuote(endMarker(file)))
	return b.String()
}

// exampleEnv is the environment of the scripts: this process's, without the
// CALCGRID* variables (the examples get only the ones passed in extra), with
// <root>/.bin first on PATH and PWD the root.
func exampleEnv(root string, extra []string) []string {
	var env []string
	path := ""
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		switch {
		case name == "CALCGRID" || strings.HasPrefix(name, "CALCGRID_"), name == "PWD", name == "OLDPWD":
		case name == "PATH":
			path = value
		default:
			env = append(env, kv)
		}
	}
	bin := filepath.Join(root, ".bin")
	if path != "" {
		bin += string(os.PathListSeparator) + path
	}
	env = append(env, "PATH="+bin, "PWD="+root)
	return append(env, extra...) // exec uses the last value of a duplicate
}

// lineWriter hands each complete line to log and remembers the last marker
// among those it was told about.
type lineWriter struct {
	mu      sync.Mutex
	buf     []byte
	log     func(string)
	markers map[string]bool
	last    string // the last marker line seen
	ended   bool   // the end marker was seen
	end     string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.line(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

// line notes a marker at the end of s: the output of a block that does
// not end in a newline shares its line with the next marker.
func (w *lineWriter) line(s string) {
	if i := strings.LastIndex(s, "### "); i >= 0 {
		switch tail := s[i:]; {
		case w.markers[tail]:
			w.last = tail
		case tail == w.end:
			w.ended = true
		}
	}
	w.log(s)
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.line(string(w.buf))
		w.buf = nil
	}
}

// runExampleScript runs the examples exs of one file in one bash process in
// root with env, for at most timeout, each output line handed to log. The
// error names the block that failed or was running at the timeout.
func runExampleScript(ctx context.Context, root, file string, exs []example, env []string, timeout time.Duration, log func(string)) error {
	dir, err := os.MkdirTemp("", "docexamples-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, strings.NewReplacer("/", "_").Replace(file)+".sh")
	if err := os.WriteFile(script, []byte(exampleScript(file, exs)), 0o644); err != nil {
		return err
	}

	w := &lineWriter{log: log, markers: map[string]bool{}, end: endMarker(file)}
	for _, e := range exs {
		w.markers[e.marker()] = true
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", script)
	cmd.Dir = root
	cmd.Env = env
	cmd.Stdin = nil // /dev/null: nothing waits for a terminal
	cmd.Stdout, cmd.Stderr = w, w
	// Its own process group, so that a timeout also ends what the blocks
	// started (curl, the CLI, background jobs).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err = cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // anything a block left in the background
	}
	w.flush()

	block := strings.TrimPrefix(w.last, "### ")
	if block == "" {
		block = file + " (before its first block)"
	}
	took := time.Since(start).Round(100 * time.Millisecond)
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return fmt.Errorf("%s: timed out after %v (the examples of %s may take %v)", block, took, file, timeout)
	case err != nil:
		return fmt.Errorf("%s: %v after %v (the block's output is above)", block, err, took)
	case !w.ended:
		return fmt.Errorf("%s: the script ended early (exit 0 or exec?) and the blocks after this one did not run", block)
	}
	return nil
}

// ensureCLI runs `make build`, so the examples run the checkout's CLI from
// where the Makefile puts it (a no-op when Go's cache is current).
func ensureCLI(t testing.TB, root string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "build")
	cmd.Dir = root
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	t.Logf("make build: %v", time.Since(start).Round(100*time.Millisecond))
}

// runExamples runs the examples of kind in README.md and docs/*.md, one bash
// process a file (a subtest named after it), with env added to the
// environment. Convention violations fail t, and the examples found still run.
func runExamples(t *testing.T, root, kind string, env []string) {
	t.Helper()
	timeout, ok := exampleTimeout[kind]
	if !ok {
		t.Fatalf("runExamples: kind %q is not run (want %s or %s)", kind, exampleLocal, exampleStack)
	}
	exs, err := docExamples(root)
	if err != nil {
		var errs []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		} else {
			errs = []error{err}
		}
		for _, e := range errs {
			t.Error(e)
		}
	}

	var files []string
	byFile := map[string][]example{}
	counts := map[string]int{}
	for _, e := range exs {
		counts[e.kind]++
		if e.kind == exampleSkip {
			t.Logf("%s: skipped: %s", e.where(), e.reason)
		}
		if e.kind != kind {
			continue
		}
		if byFile[e.file] == nil {
			files = append(files, e.file)
		}
		byFile[e.file] = append(byFile[e.file], e)
	}
	t.Logf("shell examples in README.md and docs/*.md: %d stack, %d local, %d skip; running the %d %s ones",
		counts[exampleStack], counts[exampleLocal], counts[exampleSkip], counts[kind], kind)
	if len(files) == 0 {
		return
	}
	ensureCLI(t, root)
	environ := exampleEnv(root, env)
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			start := time.Now()
			err := runExampleScript(t.Context(), root, f, byFile[f], environ, timeout, func(s string) { t.Log(s) })
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d %s examples of %s passed in %v", len(byFile[f]), kind, f, time.Since(start).Round(100*time.Millisecond))
		})
	}
}

// TestDocExamples holds README.md and docs/*.md to the example convention
// and runs their `local` examples.
func TestDocExamples(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash, which runs the examples, is not on PATH")
	}
	runExamples(t, repoRoot(t), exampleLocal, nil)
}

// TestDocExamplesParse checks the parser on a made-up README and docs/.
func TestDocExamplesParse(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", strings.Join([]string{
		"# x",                               // 1
		"<!-- example: stack -->",           // 2
		"```sh",                             // 3
		"A=1",                               // 4
		"```",                               // 5
		"```sh",                             // 6: no marker
		"echo",                              // 7
		"```",                               // 8
		"<!-- example: skip needs prod -->", // 9
		"```sh title",                       // 10
		"make up ENV=prod",                  // 11
		"```",                               // 12
		"<!-- example: local -->",           // 13
		"",                                  // 14
		"```sh",                             // 15: marker not immediately before
		"```",                               // 16
		"```text",                           // 17: not an example
		"<!-- example: stack -->",           // 18: inside a fence: ignored
		"```",                               // 19
		"<!-- example: skip -->",            // 20: no reason
		"```sh",                             // 21
		"```",                               // 22
		"<!-- example: later -->",           // 23: unknown kind
		"```sh",                             // 24
		"```",                               // 25
		"<!--example: stack-->",             // 26: malformed
		"```sh",                             // 27
		"```",                               // 28
		"````markdown",                      // 29
		"```sh",                             // 30: inside a longer fence: ignored
		"```",                               // 31
		"````",                              // 32
		"- a list item:",                    // 33
		"  <!-- example: local -->",         // 34
		"  ```sh",                           // 35
		"  echo \"$A\" \\",                  // 36
		"    done",                          // 37
		"  ```",                             // 38
		"```bash",                           // 39: another shell name
		"```",                               // 40
		"<!-- example: stack extra -->",     // 41
		"```sh",                             // 42
		"```",                               // 43
		"<!-- example: local -->",           // 44: at the end
	}, "\n"))
	write("docs/b.md", "<!-- example: stack -->\n```sh\nB=2\n```\n<!-- example: stack -->\n```sh\necho $B\n")
	write("docs/a.md", "text\n")
	write("docs/sub/c.md", "```sh\nnot read\n```\n")

	exs, err := docExamples(root)
	var got []string
	for _, e := range exs {
		got = append(got, fmt.Sprintf("%s %s %q %q", e.where(), e.kind, e.reason, e.code))
	}
	want := []string{
		`README.md:3 stack "" "A=1\n"`,
		`README.md:10 skip "needs prod" "make up ENV=prod\n"`,
		`README.md:35 local "" "echo \"$A\" \\\n  done\n"`,
		`docs/b.md:2 stack "" "B=2\n"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("examples:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	var msgs []string
	if err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			msgs = append(msgs, e.Error())
		}
	}
	wantAt := []string{
		"README.md:6: ```sh block without a marker",
		"README.md:13: marker not immediately followed",
		"README.md:15: ```sh block without a marker",
		"README.md:20: <!-- example: skip --> needs a reason",
		"README.md:23: unknown example kind \"later\"",
		"README.md:26: malformed marker",
		"README.md:39: ```bash block",
		"README.md:41: <!-- example: stack --> takes nothing",
		"README.md:44: marker at the end of the file",
		"docs/b.md:6: ```sh block never closed",
	}
	if len(msgs) != len(wantAt) {
		t.Errorf("%d violations, want %d:\n  %s", len(msgs), len(wantAt), strings.Join(msgs, "\n  "))
	}
	for i := range min(len(msgs), len(wantAt)) {
		if !strings.HasPrefix(msgs[i], wantAt[i]) {
			t.Errorf("violation %d: %q, want it to start with %q", i, msgs[i], wantAt[i])
		}
	}
}

// TestDocExamplesRun checks the runner: shared variables, the failing
// block's name, the timeout and a script that ends early.
func TestDocExamplesRun(t *testing.T) {
	root := t.TempDir()
	ex := func(line int, code string) example {
		return example{file: "docs/x.md", line: line, kind: exampleLocal, code: code + "\n"}
	}
	env := exampleEnv(root, []string{"CALCGRID=http://example.invalid"})
	run := func(timeout time.Duration, exs ...example) (string, error) {
		var out strings.Builder
		err := runExampleScript(t.Context(), root, "docs/x.md", exs, env, timeout, func(s string) { out.WriteString(s + "\n") })
		return out.String(), err
	}

	out, err := run(time.Minute, ex(3, "X=1; cd docs 2>/dev/null || true"), ex(9, `echo "X=$X CALCGRID=$CALCGRID"; pwd`))
	if err != nil {
		t.Fatalf("passing examples: %v\n%s", err, out)
	}
	if want := "### docs/x.md:3\n### docs/x.md:9\nX=1 CALCGRID=http://example.invalid\n" + root + "\n### end of docs/x.md\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}

	out, err = run(time.Minute, ex(3, "true"), ex(9, "echo before; false; echo after"), ex(20, "echo never"))
	if err == nil || !strings.HasPrefix(err.Error(), "docs/x.md:9: exit status 1") {
		t.Errorf("failing block: error %v, want it to name docs/x.md:9\n%s", err, out)
	}
	if strings.Contains(out, "after") || strings.Contains(out, "never") {
		t.Errorf("the script went on after the failure:\n%s", out)
	}

	out, err = run(time.Minute, ex(3, "curl() { return 7; }"), ex(9, "curl -s x | cat"))
	if err == nil || !strings.HasPrefix(err.Error(), "docs/x.md:9:") {
		t.Errorf("pipefail: error %v, want it to name docs/x.md:9\n%s", err, out)
	}

	start := time.Now()
	out, err = run(time.Second, ex(3, "true"), ex(9, "sleep 60 & sleep 60"))
	if err == nil || !strings.HasPrefix(err.Error(), "docs/x.md:9: timed out") {
		t.Errorf("timeout: error %v, want docs/x.md:9 timed out\n%s", err, out)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("timeout of 1s took %v", d)
	}

	out, err = run(time.Minute, ex(3, "exit 0"), ex(9, "echo never"))
	if err == nil || !strings.Contains(err.Error(), "ended early") {
		t.Errorf("exit 0: error %v, want the script to have ended early\n%s", err, out)
	}
}
