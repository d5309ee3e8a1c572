package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"
)

// promTarget is one entry of Prometheus's /api/v1/targets.
type promTarget struct {
	Labels    map[string]string `json:"labels"`
	Health    string            `json:"health"`
	LastError string            `json:"lastError"`
}

// promAlert is one entry of Prometheus's /api/v1/alerts.
type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// prometheus is the stack's Prometheus API.
type prometheus string

// get calls the API and decodes its data field.
func (p prometheus) get(t *testing.T, path string, data any) {
	t.Helper()
	resp, err := client.Get(string(p) + path)
	if err != nil {
		t.Fatalf("Prometheus %s: %v", path, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.Status != "success" {
		t.Fatalf("Prometheus %s: %d %s %v", path, resp.StatusCode, body.Error, err)
	}
	if err := json.Unmarshal(body.Data, data); err != nil {
		t.Fatalf("Prometheus %s: %v in %s", path, err, body.Data)
	}
}

// targets returns Prometheus's active targets by instance.
func (p prometheus) targets(t *testing.T) map[string]promTarget {
	var data struct {
		Active []promTarget `json:"activeTargets"`
	}
	p.get(t, "/api/v1/targets?state=active", &data)
	out := map[string]promTarget{}
	for _, tg := range data.Active {
		out[tg.Labels["instance"]] = tg
	}
	return out
}

// query runs an instant query and returns each series' value.
func (p prometheus) query(t *testing.T, expr string) []float64 {
	var data struct {
		Result []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	p.get(t, "/api/v1/query?query="+url.QueryEscape(expr), &data)
	var out []float64
	for _, r := range data.Result {
		v, _ := r.Value[1].(string)
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("query %s: value %v", expr, r.Value)
		}
		out = append(out, f)
	}
	return out
}

// eventually polls cond every second until it returns "" or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		why := cond()
		if why == "" {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %s: %s", what, timeout, why)
		}
		time.Sleep(time.Second)
	}
}

// scenarioMonitoring: the stack's Prometheus scrapes every API, worker and
// the dashboard's queue collector, loaded calcgrid's alert rules, and sees a
// finished task in its counters; a stopped worker's target goes down and
// CalcgridTargetDown becomes pending for it; started again, it is back up.
func (s *stack) scenarioMonitoring(t *testing.T) {
	prom := prometheus(s.output(t, "prometheus_url"))
	want := map[string]string{} // instance => job
	for _, n := range s.containers["api"] {
		want[n+":8080"] = "calcgrid-api"
	}
	for _, n := range s.containers["worker"] {
		want[n+":9090"] = "calcgrid-worker"
	}
	for _, n := range s.containers["monitor"] {
		want[n+":5555"] = "calcgrid-queues"
	}
	took := eventually(t, 90*time.Second, "every target up", func() string {
		got := prom.targets(t)
		for inst, job := range want {
			tg, ok := got[inst]
			switch {
			case !ok:
				return inst + " is not a target"
			case tg.Labels["job"] != job || tg.Labels["environment"] != env:
				return fmt.Sprintf("%s has labels %v, want job %s and environment %s", inst, tg.Labels, job, env)
			case tg.Health != "up":
				return fmt.Sprintf("%s is %s (%s)", inst, tg.Health, tg.LastError)
			}
		}
		return ""
	})
	t.Logf("all %d targets up after %s", len(want), took.Round(time.Second))

	var groups struct {
		Groups []struct {
			Rules []struct {
				Name string `json:"name"`
			} `json:"rules"`
		} `json:"groups"`
	}
	prom.get(t, "/api/v1/rules?type=alert", &groups)
	var loaded []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			loaded = append(loaded, r.Name)
		}
	}
	for _, name := range []string{"CalcgridTargetDown", "CalcgridQueueBacklog", "CalcgridRedisMemoryHigh", "CalcgridTaskFailureRatio"} {
		if !slices.Contains(loaded, name) {
			t.Errorf("alert rule %s not loaded; loaded: %v", name, loaded)
		}
	}

	c := s.client(t, s.vars(t))
	tk, _ := c.submit(t, submission{Type: "diagnostic.noop", Payload: map[string]any{}})
	c.waitCompleted(t, []string{tk.ID}, time.Minute)
	eventually(t, time.Minute, "the finished task in calcgrid_tasks_succeeded_total and the queue collector's asynq_queue_size", func() string {
		if v := prom.query(t, `sum(calcgrid_tasks_succeeded_total{job="calcgrid-worker"})`); len(v) != 1 || v[0] < 1 {
			return fmt.Sprintf("succeeded = %v", v)
		}
		if v := prom.query(t, `asynq_queue_size{job="calcgrid-queues"}`); len(v) == 0 {
			return "no asynq_queue_size series"
		}
		return ""
	})

	victim := s.containers["worker"][len(s.containers["worker"])-1]
	instance := victim + ":9090"
	t.Cleanup(func() {
		docker(t, "start", victim)
		s.waitHealthy(t, 2*time.Minute)
		eventually(t, time.Minute, instance+" up again", func() string {
			if h := prom.targets(t)[instance].Health; h != "up" {
				return "health " + h
			}
			return ""
		})
	})
	stopped := time.Now()
	docker(t, "stop", victim)
	down := eventually(t, time.Minute, instance+" down", func() string {
		if h := prom.targets(t)[instance].Health; h != "down" {
			return "health " + h
		}
		return ""
	})
	pending := eventually(t, time.Minute, "CalcgridTargetDown pending for "+instance, func() string {
		var data struct {
			Alerts []promAlert `json:"alerts"`
		}
		prom.get(t, "/api/v1/alerts", &data)
		for _, a := range data.Alerts {
			if a.Labels["alertname"] == "CalcgridTargetDown" && a.Labels["instance"] == instance {
				if a.State == "pending" || a.State == "firing" {
					return ""
				}
				return "state " + a.State
			}
		}
		return fmt.Sprintf("no alert among %d", len(data.Alerts))
	})
	t.Logf("worker %s stopped at %s: target down %s later, CalcgridTargetDown pending %s after that",
		victim, stopped.Format(time.TimeOnly), down.Round(time.Second), pending.Round(time.Second))
}
