// Package nettest looks at a server from outside, for tests: a free address
// to listen on, whether connections are refused, whether it answers, and
// waiting until one of these holds.
package nettest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// FreeAddr returns a 127.0.0.1 address with a port nothing listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Refused is nil when a connection to addr is refused (nothing listens):
// an accepted connection or a timeout is an error.
func Refused(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return errors.New("connection accepted")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("dial failed, but not refused: %w", err)
	}
	return nil
}

// Serves is nil when a GET of url, on a connection of its own, answers 200.
func Serves(url string) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// Within retries check until it passes, failing the test once d is over,
// and says how long it took.
func Within(t testing.TB, what string, d time.Duration, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := check()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
