package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/auth"
)

type principalKey struct{}

// principal is who the request acts as; set by authenticate for every
// /v1 request.
func principal(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey{}).(auth.Principal)
	return p
}

// tenant is the tenant the request acts for.
func tenant(r *http.Request) string { return principal(r.Context()).Tenant() }

// unauthorizedError is a request without a valid key (401).
type unauthorizedError struct {
	// tokenSent: a token came and was refused (error="invalid_token").
	tokenSent bool
}

func (e *unauthorizedError) Error() string {
	if e.tokenSent {
		return "the API key is unknown, expired or revoked"
	}
	return "send an API key: Authorization: Bearer <key>"
}

func (e *unauthorizedError) Unwrap() error { return auth.ErrUnauthenticated }

// forbiddenError is a valid key that may not do what was asked (403).
type forbiddenError struct{ msg string }

func (e *forbiddenError) Error() string { return e.msg }

// rateLimitedError is a key over its rate_per_second (429).
type rateLimitedError struct{ retry time.Duration }

func (e *rateLimitedError) Error() string {
	return "this API key sent more requests per second than its rate_per_second allows"
}

// bearer returns the token of an Authorization: Bearer header, whether
// one was sent at all, and "" for any other scheme.
func bearer(r *http.Request) (token string, sent bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(token), true
}

// authenticate finds the request's principal: with authentication off,
// auth.Anonymous; else the key of its bearer token (the bootstrap admin
// token is checked inside auth.Store.Authenticate, in constant time),
// whose rate limit it then applies. Nothing is cached between requests:
// a revoked or expired key fails on its next request.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.AuthRequired {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, auth.Anonymous())))
			return
		}
		token, sent := bearer(r)
		if token == "" {
			a.writeError(w, r, &unauthorizedError{tokenSent: sent})
			return
		}
		ctx, cancel := storeContext(r)
		p, err := a.Auth.Authenticate(ctx, token)
		cancel()
		if errors.Is(err, auth.ErrUnauthenticated) {
			err = &unauthorizedError{tokenSent: true}
		}
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if ok, retry := a.limiter.Allow(p.Key); !ok {
			a.writeError(w, r, &rateLimitedError{retry: retry})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// require refuses (403) a principal without scope.
func require(a *API, scope auth.Scope) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !principal(r.Context()).Key.Has(scope) {
				a.writeError(w, r, &forbiddenError{"this API key lacks the scope " + string(scope) + " needed for " + r.Method + " " + r.URL.Path})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// maySubmitTo refuses (403) a submission to a queue the key may not use.
func maySubmitTo(p auth.Principal, queue string) error {
	if p.Key.MaySubmitTo(queue) {
		return nil
	}
	return &forbiddenError{"this API key may not submit with priority " + queue +
		" (allowed: " + strings.Join(slices.Clone(p.Key.Priorities), ", ") + ")"}
}
