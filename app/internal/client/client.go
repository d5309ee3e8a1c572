// Package client is a Go client of calcgrid's HTTP API (openapi.yaml): it
// submits, reads, lists and cancels tasks and reads the task types and
// queues. An error answer is a *Problem; a server that cannot be reached at
// all (or a gateway that reached no API server) matches ErrUnreachable.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrUnreachable is the error of a request that got no answer from the API:
// refused, unresolvable, timed out, or answered 502/504 by a gateway.
var ErrUnreachable = errors.New("calcgrid API unreachable")

// RequestTimeout bounds one request, from dialling to the end of the body.
const RequestTimeout = 30 * time.Second

// maxBody bounds an answer read into memory (a page of 1000 tasks with
// results fits many times over).
const maxBody = 64 << 20

// Client calls one calcgrid endpoint.
type Client struct {
	base      *url.URL
	apiKey    string
	userAgent string
	http      *http.Client
}

// New returns a client of the API at endpoint, an http or https URL,
// possibly with a path prefix. A non-empty apiKey is sent as a bearer token
// on every request; userAgent names the caller.
func New(endpoint, apiKey, userAgent string) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: want an http:// or https:// URL such as http://127.0.0.1:18080", endpoint)
	}
	return &Client{base: u, apiKey: apiKey, userAgent: userAgent, http: &http.Client{Timeout: RequestTimeout}}, nil
}

// Endpoint is the URL the client calls.
func (c *Client) Endpoint() string { return c.base.String() }

// Submit posts a task. created is false when the idempotency key named an
// existing task, which is returned unchanged.
func (c *Client) Submit(ctx context.Context, s Submission) (t Task, created bool, err error) {
	body, err := json.Marshal(s)
	if err != nil {
		return Task{}, false, err
	}
	status, raw, err := c.do(ctx, http.MethodPost, []string{"v1", "tasks"}, nil, body)
	if err != nil {
		return Task{}, false, err
	}
	t, err = decodeTask(raw)
	return t, status == http.StatusAccepted, err
}

// Get reads a task.
func (c *Client) Get(ctx context.Context, id string) (Task, error) {
	_, raw, err := c.do(ctx, http.MethodGet, []string{"v1", "tasks", id}, nil, nil)
	if err != nil {
		return Task{}, err
	}
	return decodeTask(raw)
}

// Cancel asks for a task to be cancelled. The task comes back cancelled, or
// still active when its worker has yet to stop it.
func (c *Client) Cancel(ctx context.Context, id string) (Task, error) {
	_, raw, err := c.do(ctx, http.MethodDelete, []string{"v1", "tasks", id}, nil, nil)
	if err != nil {
		return Task{}, err
	}
	return decodeTask(raw)
}

// List reads one page of tasks, newest first.
func (c *Client) List(ctx context.Context, o ListOptions) (Page, error) {
	q := url.Values{}
	if o.State != "" {
		q.Set("state", string(o.State))
	}
	if o.Queue != "" {
		q.Set("queue", o.Queue)
	}
	if o.Limit != 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	_, raw, err := c.do(ctx, http.MethodGet, []string{"v1", "tasks"}, q, nil)
	if err != nil {
		return Page{}, err
	}
	var page struct {
		Tasks      []json.RawMessage `json:"tasks"`
		NextCursor string            `json:"next_cursor"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return Page{}, fmt.Errorf("decode task list: %w", err)
	}
	out := Page{Tasks: make([]Task, len(page.Tasks)), NextCursor: page.NextCursor}
	for i, r := range page.Tasks {
		if out.Tasks[i], err = decodeTask(r); err != nil {
			return Page{}, err
		}
	}
	return out, nil
}

// Queues reads the queues, highest priority first.
func (c *Client) Queues(ctx context.Context) ([]Queue, error) {
	_, raw, err := c.do(ctx, http.MethodGet, []string{"v1", "queues"}, nil, nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		Queues []Queue `json:"queues"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode queues: %w", err)
	}
	return out.Queues, nil
}

// TaskTypes reads every registered task type, sorted by name.
func (c *Client) TaskTypes(ctx context.Context) ([]TaskType, error) {
	_, raw, err := c.do(ctx, http.MethodGet, []string{"v1", "task-types"}, nil, nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		TaskTypes []json.RawMessage `json:"task_types"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode task types: %w", err)
	}
	types := make([]TaskType, len(out.TaskTypes))
	for i, r := range out.TaskTypes {
		if err := json.Unmarshal(r, &types[i]); err != nil {
			return nil, fmt.Errorf("decode task type: %w", err)
		}
		types[i].Raw = r
	}
	return types, nil
}

func decodeTask(raw []byte) (Task, error) {
	var t Task
	if err := json.Unmarshal(raw, &t); err != nil {
		return Task{}, fmt.Errorf("decode task: %w", err)
	}
	t.Raw = bytes.TrimSpace(raw)
	return t, nil
}

// do sends one request and returns a 2xx answer's status and body; any
// other answer is a *Problem, and no answer at all wraps ErrUnreachable.
func (c *Client) do(ctx context.Context, method string, path []string, query url.Values, body []byte) (int, []byte, error) {
	u := c.url(path, query)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		return 0, nil, fmt.Errorf("%w at %s: %w", ErrUnreachable, c.base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, fmt.Errorf("%w at %s: reading the answer: %w", ErrUnreachable, c.base, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 0, nil, decodeProblem(resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	return resp.StatusCode, raw, nil
}

// url is the endpoint joined with path, whose segments are each escaped
// (a task id is opaque text: "/" or "?" in it stays part of the id).
func (c *Client) url(path []string, query url.Values) *url.URL {
	u := *c.base
	escaped := make([]string, len(path))
	for i, seg := range path {
		escaped[i] = url.PathEscape(seg)
	}
	u.Path = c.base.Path + "/" + strings.Join(path, "/")
	u.RawPath = c.base.EscapedPath() + "/" + strings.Join(escaped, "/")
	u.RawQuery = query.Encode()
	return &u
}

// unwrapURLError drops *url.Error's "Get \"http://…\": " prefix: the
// message names the endpoint once already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
