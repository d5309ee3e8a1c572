package tasks

import "context"

type attemptKey struct{}

// WithAttempt records in ctx that this is the n-th attempt (1-based) at
// running a task; the worker sets it before calling a handler.
func WithAttempt(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, attemptKey{}, n)
}

// Attempt returns the attempt number set by WithAttempt, or 1.
func Attempt(ctx context.Context) int {
	if n, ok := ctx.Value(attemptKey{}).(int); ok {
		return n
	}
	return 1
}
