// Package serve runs an HTTP server until its context ends, then drains it.
// A gated server (RunGated) also stops listening while a dependency it
// needs does not answer, so a load balancer's connect fails and it sends
// the work, POSTs included, to another replica without ever retrying a
// request this one received.
package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// drainTimeout bounds how long in-flight requests may finish on shutdown;
// every calcgrid request is short (task work happens in workers).
const drainTimeout = 10 * time.Second

// The gate's timing. nginx should stop sending work within about a second
// of Redis going away, and a single slow answer must not close the socket:
// closing it resets the connections still in its accept queue and makes
// nginx count a failure against this replica.
const (
	// gatePoll is how often ready is asked.
	gatePoll = 250 * time.Millisecond
	// gatePingTimeout matches the Redis client's dial and I/O timeouts
	// (app/internal/config): a Redis that does not answer in that time
	// fails the requests too.
	gatePingTimeout = 500 * time.Millisecond
	// gateCloseAfter consecutive failures close the listener: one lost
	// ping is a blip, two are an outage.
	gateCloseAfter = 2
	// gateOpenAfter consecutive successes open it again, so a Redis that
	// is restarting or flapping does not make the socket flap with it.
	gateOpenAfter = 2
)

// Run listens on addr and serves h until ctx ends.
func Run(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return Serve(ctx, ln, h, logger)
}

// Serve serves h on ln until ctx ends, then stops accepting connections and
// waits for in-flight requests. It closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	return serve(ctx, ln, h, nil, logger)
}

// RunGated listens on addr and serves h like Run, but while ready fails it
// refuses connections: see ServeGated.
func RunGated(ctx context.Context, addr string, h http.Handler, ready func(context.Context) error, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ServeGated(ctx, ln, h, ready, logger)
}

// ServeGated serves h on ln like Serve, and asks ready every 250 ms. After
// two failures in a row it closes ln, so a new connect is refused, and its
// idle keep-alive connections (in-flight requests finish, answered with
// "Connection: close"). After two successes in a row it listens on ln's
// address again. It closes ln, or the listener that replaced it.
func ServeGated(ctx context.Context, ln net.Listener, h http.Handler, ready func(context.Context) error, logger *slog.Logger) error {
	if ready == nil {
		ln.Close()
		return errors.New("serve gated: ready is nil")
	}
	return serve(ctx, ln, h, ready, logger)
}

// serve is Serve when ready is nil, else ServeGated.
func serve(ctx context.Context, ln net.Listener, h http.Handler, ready func(context.Context) error, logger *slog.Logger) error {
	s := &server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		},
		addr: ln.Addr(),
	}
	logger.Info("http listening", "addr", s.addr.String())
	s.accept(ln)
	var tick <-chan time.Time
	if ready != nil {
		t := time.NewTicker(gatePoll)
		defer t.Stop()
		tick = t.C
	}
	var fails, oks int
	var relistenFailing bool
	for {
		select {
		case err := <-s.served():
			return fmt.Errorf("serve http: %w", err)
		case <-ctx.Done():
			return s.drain(ctx)
		case <-tick:
		}
		pctx, cancel := context.WithTimeout(ctx, gatePingTimeout)
		perr := ready(pctx)
		cancel()
		if ctx.Err() != nil {
			// A ping cut short by shutdown says nothing about Redis.
			continue
		}
		if perr != nil {
			fails, oks = fails+1, 0
		} else {
			fails, oks = 0, oks+1
		}
		switch {
		case s.listening() && fails >= gateCloseAfter:
			if err := s.refuse(); err != nil {
				return err
			}
			relistenFailing = false
			logger.Warn("redis unreachable: refusing connections until it answers", "addr", s.addr.String(), "error", perr)
		case !s.listening() && oks >= gateOpenAfter:
			if err := s.reopen(); err != nil {
				// Another process may hold the port for a while; the
				// next tick tries again rather than ending the API.
				if !relistenFailing {
					logger.Error("redis reachable again but cannot listen; retrying", "addr", s.addr.String(), "error", err)
				}
				relistenFailing = true
				continue
			}
			logger.Info("redis reachable again: accepting connections", "addr", s.addr.String())
		}
	}
}

// server is the http.Server every role runs and the listener it currently
// accepts on; ln is nil while gated. One goroutine owns ln and errc.
type server struct {
	srv  *http.Server
	addr net.Addr
	ln   net.Listener
	errc chan error // srv.Serve(ln)'s result
}

func (s *server) listening() bool { return s.ln != nil }

// accept serves on ln in the background; http.Server.Serve may be called
// again after the previous listener was closed (only Shutdown or Close make
// it refuse with ErrServerClosed).
func (s *server) accept(ln net.Listener) {
	s.ln = ln
	s.errc = make(chan error, 1)
	go func(errc chan<- error) { errc <- s.srv.Serve(ln) }(s.errc)
}

// served delivers srv.Serve's result; while gated nothing serves, and a
// nil channel keeps a select from choosing it.
func (s *server) served() <-chan error {
	if s.ln == nil {
		return nil
	}
	return s.errc
}

// refuse stops accepting and ends the idle keep-alive connections: a load
// balancer would otherwise keep sending work down its pooled connections.
// With keep-alives off, a request in flight gets "Connection: close" and its
// connection closes after the response; the server marks a connection idle
// before it checks keep-alives, so none slips between the two.
func (s *server) refuse() error {
	ln := s.ln
	s.ln = nil
	_ = ln.Close() // Serve's error below tells whether it was still open
	if err := <-s.errc; !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	s.srv.SetKeepAlivesEnabled(false)
	return nil
}

// reopen listens on the address the first listener had, so a ":0" or host
// name resolves to the same port and address.
func (s *server) reopen() error {
	ln, err := net.Listen(s.addr.Network(), s.addr.String())
	if err != nil {
		return fmt.Errorf("listen again on %s: %w", s.addr, err)
	}
	s.srv.SetKeepAlivesEnabled(true)
	s.accept(ln)
	return nil
}

// drain stops accepting and waits for in-flight requests.
func (s *server) drain(ctx context.Context) error {
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	if err := s.srv.Shutdown(drain); err != nil {
		return fmt.Errorf("drain http: %w", err)
	}
	if s.ln == nil {
		return nil
	}
	if err := <-s.errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// Healthz answers 200 while the process runs; it checks no dependency.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	writeStatus(w, http.StatusOK, "ok")
}

// Readyz answers 200 when ready returns nil within a second, else 503.
func Readyz(ready func(context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			w.Header().Set("Retry-After", "1")
			writeStatus(w, http.StatusServiceUnavailable, "unavailable: "+err.Error())
			return
		}
		writeStatus(w, http.StatusOK, "ok")
	}
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": status})
}
