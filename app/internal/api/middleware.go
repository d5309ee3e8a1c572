package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"
)

// Headers calcgrid reads or sets.
const (
	HeaderRequestID      = "X-Request-ID"
	HeaderInstance       = "X-Calcgrid-Instance"
	HeaderIdempotencyKey = "Idempotency-Key"
)

type requestKey struct{}

// request is what the middleware keeps per request: its id, and what the
// handler adds to its access log line (logged with it, so that a
// submission costs one log line: logging is a quarter of a POST's CPU).
type request struct {
	id    string
	attrs []slog.Attr
}

func requestID(ctx context.Context) string {
	if req, _ := ctx.Value(requestKey{}).(*request); req != nil {
		return req.id
	}
	return ""
}

// logWith adds attrs to the request's access log line.
func logWith(ctx context.Context, attrs ...slog.Attr) {
	if req, _ := ctx.Value(requestKey{}).(*request); req != nil {
		req.attrs = append(req.attrs, attrs...)
	}
}

// validRequestID accepts what proxies generate (nginx: 32 hex digits) and
// rejects anything that would be unsafe to log or store.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// withRequestID keeps a valid incoming X-Request-ID, else makes one, and
// echoes it on the response. chi's middleware.RequestID has its own format
// and ignores the incoming header, hence this one.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, &request{id: id})))
	})
}

func withInstance(instance string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(HeaderInstance, instance)
			next.ServeHTTP(w, r)
		})
	}
}

// observe records metrics and an access log line for every request; probes
// and scrapes log at debug level only.
func (a *API) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		defer func() {
			d := time.Since(start)
			route := chi.RouteContext(r.Context()).RoutePattern()
			if route == "" {
				route = "unmatched"
			}
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			a.httpMetrics.Observe(route, r.Method, status, d)
			level := slog.LevelInfo
			switch route {
			case "/healthz", "/readyz", "/metrics":
				level = slog.LevelDebug
			}
			attrs := []slog.Attr{
				slog.String("request_id", requestID(r.Context())),
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.String("route", route), slog.Int("status", status),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Int64("duration_ms", d.Milliseconds()),
			}
			if req, _ := r.Context().Value(requestKey{}).(*request); req != nil {
				attrs = append(attrs, req.attrs...)
			}
			a.Logger.LogAttrs(r.Context(), level, "http request", attrs...)
		}()
		next.ServeHTTP(ww, r)
	})
}

// recoverPanics turns a handler bug into a logged 500 problem instead of a
// dropped connection.
func (a *API) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.Logger.Error("handler panic", "request_id", requestID(r.Context()), "panic", v)
				writeProblem(w, r, http.StatusInternalServerError, "internal", "Internal error",
					"the server hit a bug; the request id identifies it in the logs", nil)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
