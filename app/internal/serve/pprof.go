package serve

import (
	"net/http"
	"net/http/pprof"
	"runtime"
)

// Sampling of the contention profiles while pprof is on. Both cost a little
// on every lock and channel wait, which is why they are off unless asked for.
const (
	// mutexFraction records one contended unlock in this many.
	mutexFraction = 5
	// blockRateNs records on average one blocking event per this many
	// nanoseconds blocked: waits shorter than it are sampled, not all kept.
	blockRateNs = 10_000
)

// Pprof returns net/http/pprof's handlers under /debug/pprof/ and turns on
// the process's mutex and block profiles, which the runtime leaves off. It
// is for a role started with --pprof: the profiles name code paths and take
// CPU, so they are never served unless an operator asks for them, and
// nginx answers /debug/ itself (modules/loadbalancer).
func Pprof() http.Handler {
	runtime.SetMutexProfileFraction(mutexFraction)
	runtime.SetBlockProfileRate(blockRateNs)
	// Its own mux: net/http/pprof also registers on http.DefaultServeMux,
	// which no role serves.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index) // also the named profiles: heap, mutex, block, goroutine, …
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}
