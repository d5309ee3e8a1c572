// Package monitor serves the asynqmon dashboard (queues, tasks per state,
// workers, retries, archived tasks) for the calcgrid queues, optionally
// read-only and behind HTTP basic auth, and on /metrics asynq's own queue
// collector, the asynq_* series asynqmon's charts query from Prometheus.
package monitor

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/calcgrid/calcgrid/app/internal/config"
	"github.com/calcgrid/calcgrid/app/internal/serve"
)

// Dashboard is the monitor's HTTP handler: /healthz without authentication,
// /metrics and everything else (the asynqmon UI and its API) behind the
// basic auth when it is set.
type Dashboard struct {
	handler   http.Handler
	ui        *asynqmon.HTTPHandler
	inspector *asynq.Inspector
}

// New builds the dashboard for cfg; Close releases its Redis connections.
// Half-configured basic auth is an error: it would leave the dashboard open
// while the operator believes it is protected.
func New(cfg config.Monitor, logger *slog.Logger) (*Dashboard, error) {
	if (cfg.User == "") != (cfg.Password == "") {
		return nil, errors.New("monitor: set both CALCGRID_MONITOR_USER and CALCGRID_MONITOR_PASSWORD for basic auth, or neither")
	}
	conn, err := cfg.Redis.ConnOpt()
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	ui := asynqmon.New(asynqmon.Options{
		RootPath: "/", RedisConnOpt: conn, ReadOnly: cfg.ReadOnly, PrometheusAddress: cfg.PrometheusURL,
	})
	// One collector for the whole deployment: the queue figures are the
	// same from any process, so they are exported here once, not by every
	// API and worker.
	inspector := asynq.NewInspector(conn)
	reg := prometheus.NewRegistry()
	reg.MustRegister(asynqmetrics.NewQueueMetricsCollector(inspector))

	protect := func(h http.Handler) http.Handler { return h }
	if cfg.User != "" {
		protect = func(h http.Handler) http.Handler { return basicAuth(cfg.User, cfg.Password, h) }
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", serve.Healthz)
	mux.Handle("GET /metrics", protect(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	mux.Handle("/", protect(ui))
	return &Dashboard{handler: logRequests(logger, mux), ui: ui, inspector: inspector}, nil
}

// ServeHTTP implements http.Handler.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.handler.ServeHTTP(w, r) }

// Close releases the dashboard's Redis connections.
func (d *Dashboard) Close() error { return errors.Join(d.ui.Close(), d.inspector.Close()) }

// Run serves the dashboard on cfg.Listen until ctx is cancelled.
func Run(ctx context.Context, cfg config.Monitor, logger *slog.Logger) error {
	d, err := New(cfg, logger)
	if err != nil {
		return err
	}
	defer d.Close()
	logger.Info("monitor starting", "read_only", cfg.ReadOnly, "basic_auth", cfg.User != "")
	if err := serve.Run(ctx, cfg.Listen, d, logger); err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	return nil
}

// basicAuth compares SHA-256 digests in constant time so that neither the
// content nor the length of the secrets leaks through timing.
func basicAuth(user, password string, next http.Handler) http.Handler {
	wantUser, wantPass := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		gotUser, gotPass := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
		userOK := subtle.ConstantTimeCompare(gotUser[:], wantUser[:])
		passOK := subtle.ConstantTimeCompare(gotPass[:], wantPass[:])
		if !ok || userOK&passOK != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="calcgrid monitor", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logRequests logs failures at warn and the rest at debug: the dashboard
// polls every few seconds and health checks are frequent.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		level := slog.LevelDebug
		if status >= 400 {
			level = slog.LevelWarn
		}
		logger.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Int64("duration_ms", time.Since(start).Milliseconds()),
			slog.String("remote", r.RemoteAddr))
	})
}
