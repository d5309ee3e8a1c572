package tests

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scenarioEdge: what nginx answers itself. A Host it does not serve is
// closed unanswered; TRACE, broken framing and oversized headers get the
// API's problem+json; an X-Request-ID the API would refuse is replaced by
// one nginx mints, a valid one is kept. With Redis stopped, a POST reaches
// one API instance and its 503 comes back, not retried on the others.
func (s *stack) scenarioEdge(t *testing.T) {
	u, err := url.Parse(s.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	addr := u.Host

	// raw sends one request as written and returns the status line, the
	// headers and the body nginx answered ("" when it closed without one).
	raw := func(t *testing.T, request string) (int, http.Header, []byte) {
		t.Helper()
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
		if _, err := io.WriteString(conn, request); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, nil
		}
		if err != nil {
			t.Fatalf("reading the answer to %.60q: %v", request, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, body
	}
	problem := func(t *testing.T, status int, h http.Header, body []byte, wantStatus int, wantType string) {
		t.Helper()
		var p struct {
			Type   string `json:"type"`
			Status int    `json:"status"`
			Title  string `json:"title"`
		}
		if status != wantStatus || h.Get("Content-Type") != "application/problem+json" || json.Unmarshal(body, &p) != nil ||
			p.Type != "urn:calcgrid:problem:"+wantType || p.Status != wantStatus || p.Title == "" {
			t.Errorf("got %d %q %s, want %d application/problem+json of type urn:calcgrid:problem:%s", status, h.Get("Content-Type"), body, wantStatus, wantType)
		}
	}

	t.Run("unknown host closed", func(t *testing.T) {
		if status, _, body := raw(t, "GET /healthz HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n"); status != 0 {
			t.Errorf("Host attacker.example answered %d %s, want the connection closed", status, body)
		}
		if status, _, body := raw(t, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); status != http.StatusOK {
			t.Errorf("Host localhost answered %d %s, want 200", status, body)
		}
	})
	t.Run("TRACE", func(t *testing.T) {
		status, h, body := raw(t, "TRACE /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
		problem(t, status, h, body, http.StatusMethodNotAllowed, "method-not-allowed")
	})
	t.Run("two Content-Lengths", func(t *testing.T) {
		status, h, body := raw(t, "POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{}")
		problem(t, status, h, body, http.StatusBadRequest, "bad-request")
	})
	t.Run("bad chunk size", func(t *testing.T) {
		status, h, body := raw(t, "POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
		problem(t, status, h, body, http.StatusBadRequest, "bad-request")
	})
	t.Run("oversized header", func(t *testing.T) {
		status, h, body := raw(t, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "+strings.Repeat("a", 20000)+"\r\nConnection: close\r\n\r\n")
		problem(t, status, h, body, http.StatusBadRequest, "bad-request")
	})
	t.Run("X-Request-ID", func(t *testing.T) {
		minted := regexp.MustCompile(`^[0-9a-f]{32}$`)
		for _, c := range []struct {
			name, sent string
			kept       bool
		}{
			{"valid", "edge-scenario-1", true},
			{"too long", strings.Repeat("a", 129), false},
			{"non-ASCII", "caf\u00e9", false},
		} {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.endpoint+"/healthz", nil)
			req.Header.Set("X-Request-ID", c.sent)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get("X-Request-ID")
			if c.kept && got != c.sent || !c.kept && !minted.MatchString(got) {
				t.Errorf("%s X-Request-ID %q came back as %q, want it %s", c.name, c.sent, got, map[bool]string{true: "kept", false: "replaced by nginx's own"}[c.kept])
			}
		}
	})

	t.Run("POST not retried on 503", func(t *testing.T) {
		// Paused, Redis answers nothing: every API's calls time out (0.5 s),
		// so each answers 503 for a second before it notices and refuses
		// connections (which nginx would pass on to the next instance).
		redis := s.containers["redis"][0]
		t.Cleanup(func() {
			_, _ = dockerE("unpause", redis)
			s.waitHealthy(t, 2*time.Minute)
		})
		docker(t, "pause", redis)
		since := time.Now()
		id := "edge-503-" + strconv.FormatInt(since.UnixNano(), 36)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.endpoint+"/v1/tasks", strings.NewReader(`{"type":"diagnostic.noop","payload":{}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-ID", id)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(since)
		problem(t, resp.StatusCode, resp.Header, body, http.StatusServiceUnavailable, "unavailable")
		var reached []string
		for _, api := range s.containers["api"] {
			for _, l := range containerLogs(t, api, since) {
				if l.RequestID == id && l.Method == http.MethodPost {
					reached = append(reached, api)
					break
				}
			}
		}
		t.Logf("POST with Redis stopped: %d in %s, reached %v", resp.StatusCode, took.Round(time.Millisecond), reached)
		if len(reached) != 1 {
			t.Errorf("the POST reached %v, want exactly one API instance (nginx must not retry a POST on 503)", reached)
		}
		s.record(reliabilityRow{Scenario: "Edge/POST not retried on 503", Fault: "Redis paused, one POST with a fresh X-Request-ID",
			Expected: "503 unavailable from one API instance, not retried on the others",
			Observed: fmt.Sprintf("%d in %s, reached %d instance(s)", resp.StatusCode, took.Round(time.Millisecond), len(reached))})
	})
}
