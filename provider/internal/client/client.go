// Package client talks to calcgrid's admin API (scope admin) and the read
// endpoints the provider's data sources use. Errors the API answers as
// application/problem+json come back as *Problem, with the API's own detail.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config says how to reach the API.
type Config struct {
	// Endpoint is the API's base URL, e.g. https://calcgrid.example:8443.
	Endpoint string
	// Token is sent as "Authorization: Bearer <token>": the bootstrap admin
	// token or a key with scope admin.
	Token string
	// Timeout bounds one HTTP request (0: 30s).
	Timeout time.Duration
	// InsecureSkipVerify accepts any TLS certificate (self-signed test stacks).
	InsecureSkipVerify bool
	// UserAgent is sent with every request.
	UserAgent string
}

// DefaultTimeout bounds one request when Config.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Client is safe for concurrent use.
type Client struct {
	base      *url.URL
	token     string
	userAgent string
	http      *http.Client
}

// New checks cfg and returns a client; it sends no request.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("no endpoint")
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", cfg.Endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: want http(s)://host[:port]", cfg.Endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.InsecureSkipVerify {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = "terraform-provider-calcgrid"
	}
	return &Client{base: u, token: cfg.Token, userAgent: ua, http: &http.Client{Timeout: timeout, Transport: tr}}, nil
}

// Endpoint is the base URL the client sends to.
func (c *Client) Endpoint() string { return c.base.String() }

// do sends a JSON request and decodes a 2xx answer into out (when not nil).
// Any other answer becomes a *Problem.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.userAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newProblem(method, path, resp, data)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer (%d): %w", method, path, resp.StatusCode, err)
	}
	return nil
}

// seg escapes one path segment.
func seg(s string) string { return url.PathEscape(s) }
