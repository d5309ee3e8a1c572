package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// noopBody and cpuBody are the submissions both APIs take.
var noopBody = []byte(`{"type":"diagnostic.noop","payload":{}}`)

func cpuBody(ms int) []byte {
	return []byte(fmt.Sprintf(`{"type":"diagnostic.cpu","payload":{"ms":%d}}`, ms))
}

// httpClient keeps enough idle connections for the enqueuers.
var httpClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64},
}

type taskReply struct {
	ID          string     `json:"id"`
	State       string     `json:"state"`
	StartedAt   *time.Time `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
}

// submit POSTs body to /v1/tasks and returns the new task's id.
func submit(ctx context.Context, base string, body []byte) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/tasks", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST %s/v1/tasks: %s: %s", base, resp.Status, b)
	}
	var t taskReply
	if err := json.Unmarshal(b, &t); err != nil || t.ID == "" {
		return "", fmt.Errorf("POST %s/v1/tasks answered %q", base, b)
	}
	return t.ID, nil
}

func getTask(ctx context.Context, base, id string) (taskReply, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/tasks/"+id, nil)
	resp, err := httpClient.Do(req)
	if err != nil {
		return taskReply{}, err
	}
	defer resp.Body.Close()
	var t taskReply
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return t, fmt.Errorf("GET %s/v1/tasks/%s: %s: %s", base, id, resp.Status, b)
	}
	return t, json.NewDecoder(resp.Body).Decode(&t)
}

// enqueue submits n tasks over conns connections and returns their ids.
func enqueue(ctx context.Context, base string, body []byte, n, conns int) ([]string, error) {
	ids := make([]string, n)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
		ferr error
	)
	for range conns {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := ferr != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				id, err := submit(ctx, base, body)
				if err != nil {
					mu.Lock()
					ferr = err
					mu.Unlock()
					return
				}
				ids[i] = id
			}
		})
	}
	wg.Wait()
	return ids, ferr
}

// terminal waits until every id is completed, failed or cancelled, or
// timeout passes; it returns how many completed.
func terminal(ctx context.Context, base string, ids []string, timeout time.Duration) (completed int, err error) {
	deadline := time.Now().Add(timeout)
	for _, id := range ids {
		for {
			t, err := getTask(ctx, base, id)
			if err != nil {
				return completed, err
			}
			if t.State == "completed" {
				completed++
				break
			}
			if t.State == "failed" || t.State == "cancelled" || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return completed, nil
}

// wrkResult is the line bench/wrk/report.lua prints.
type wrkResult struct {
	Requests     int64 `json:"requests"`
	DurationUS   int64 `json:"duration_us"`
	Errors       int64 `json:"errors"`
	StatusErrors int64 `json:"status_errors"`
	P50US        int64 `json:"p50_us"`
	P99US        int64 `json:"p99_us"`
	MaxUS        int64 `json:"max_us"`
}

func (r wrkResult) rate() float64 { return float64(r.Requests) / (float64(r.DurationUS) / 1e6) }

// p50 and p99 are the latency percentiles in milliseconds.
func (r wrkResult) p50() float64 { return float64(r.P50US) / 1000 }
func (r wrkResult) p99() float64 { return float64(r.P99US) / 1000 }

// wrk runs wrk with 2 threads and conns connections for d against url,
// with bench/wrk/<script>.lua followed by report.lua; env is for the
// script (BENCH_IDS).
func wrk(ctx context.Context, root, tmp, script, url string, conns int, d time.Duration, env ...string) (wrkResult, error) {
	var lua []byte
	for _, f := range []string{script + ".lua", "report.lua"} {
		b, err := os.ReadFile(filepath.Join(root, "bench", "wrk", f))
		if err != nil {
			return wrkResult{}, err
		}
		lua = append(append(lua, b...), '\n')
	}
	file := filepath.Join(tmp, script+"-run.lua")
	if err := os.WriteFile(file, lua, 0o644); err != nil {
		return wrkResult{}, err
	}
	cmd := exec.CommandContext(ctx, "wrk", "-t2", "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(int(d.Seconds()))+"s",
		"--timeout", "10s", "-s", file, url)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s", url, err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "CALCBENCH "); ok {
			var r wrkResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return r, err
			}
			if r.Errors+r.StatusErrors > 0 {
				return r, fmt.Errorf("wrk %s %s: %d socket errors, %d replies ≥ 400 of %d", script, url, r.Errors, r.StatusErrors, r.Requests)
			}
			return r, nil
		}
	}
	return wrkResult{}, fmt.Errorf("wrk printed no CALCBENCH line:\n%s", out)
}

func writeLines(file string, lines []string) error {
	return os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}
