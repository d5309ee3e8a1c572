// Package metrics defines calcgrid's Prometheus metrics: HTTP traffic, the
// task lifecycle by type and queue, and queue depths read from Redis at
// scrape time.
package metrics

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/calcgrid/calcgrid/app/internal/tasks"
)

const namespace = "calcgrid"

// NewRegistry returns a registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg in the Prometheus exposition format.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// HTTP counts requests by route pattern, method and status.
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewHTTP registers the HTTP metrics on reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	m := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// Observe records one request.
func (m *HTTP) Observe(route, method string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// Tasks counts task lifecycle events by type and queue.
type Tasks struct {
	Enqueued, Started, Succeeded, Failed, Retried, Cancelled *prometheus.CounterVec
	// Recovered counts, by queue, the tasks this worker requeued after
	// their own worker stopped heart-beating (taskstore.Recover).
	Recovered *prometheus.CounterVec
	// Duration is the run time of each attempt by type.
	Duration *prometheus.HistogramVec
}

// NewTasks registers the task metrics on reg.
func NewTasks(reg prometheus.Registerer) *Tasks {
	counter := func(name, help string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "tasks", Name: name + "_total", Help: help,
		}, []string{"type", "queue"})
		reg.MustRegister(c)
		return c
	}
	m := &Tasks{
		Enqueued:  counter("enqueued", "Tasks accepted by the API."),
		Started:   counter("started", "Task attempts started by workers."),
		Succeeded: counter("succeeded", "Tasks completed successfully."),
		Failed:    counter("failed", "Tasks failed for good (retries exhausted or permanent error)."),
		Retried:   counter("retried", "Failed attempts scheduled for another try."),
		Cancelled: counter("cancelled", "Tasks a worker stopped, or did not start, because they were cancelled."),
		Recovered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "tasks", Name: "recovered_total",
			Help: "Tasks requeued because their worker stopped heart-beating (presumed dead).",
		}, []string{"queue"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "tasks", Name: "duration_seconds",
			Help:    "Run time of task attempts by type.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 12), // 5 ms … ~15 min
		}, []string{"type"}),
	}
	reg.MustRegister(m.Recovered, m.Duration)
	return m
}

// Queues is a collector reading queue depths from Redis on each scrape.
type Queues struct {
	info    func(queue string) (*asynq.QueueInfo, error)
	logger  *slog.Logger
	tasks   *prometheus.Desc
	latency *prometheus.Desc
	paused  *prometheus.Desc
}

// NewQueues returns the queue collector; register it on a registry.
// info reports one queue (an unused queue as empty).
func NewQueues(info func(queue string) (*asynq.QueueInfo, error), logger *slog.Logger) *Queues {
	return &Queues{
		info:   info,
		logger: logger,
		tasks: prometheus.NewDesc(namespace+"_queue_tasks",
			"Tasks in each queue by asynq state (archived = failed or cancelled).", []string{"queue", "state"}, nil),
		latency: prometheus.NewDesc(namespace+"_queue_latency_seconds",
			"Age of the oldest pending task in each queue.", []string{"queue"}, nil),
		paused: prometheus.NewDesc(namespace+"_queue_paused",
			"1 when the queue is paused.", []string{"queue"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (q *Queues) Describe(ch chan<- *prometheus.Desc) {
	ch <- q.tasks
	ch <- q.latency
	ch <- q.paused
}

// Collect implements prometheus.Collector. With Redis unreachable it
// reports nothing rather than failing the whole scrape.
func (q *Queues) Collect(ch chan<- prometheus.Metric) {
	for _, name := range tasks.Queues() {
		info, err := q.info(name)
		if err != nil {
			q.logger.Warn("queue metrics unavailable", "queue", name, "error", err)
			return
		}
		for state, n := range map[string]int{
			"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived, "completed": info.Completed,
		} {
			ch <- prometheus.MustNewConstMetric(q.tasks, prometheus.GaugeValue, float64(n), name, state)
		}
		ch <- prometheus.MustNewConstMetric(q.latency, prometheus.GaugeValue, info.Latency.Seconds(), name)
		paused := 0.0
		if info.Paused {
			paused = 1
		}
		ch <- prometheus.MustNewConstMetric(q.paused, prometheus.GaugeValue, paused, name)
	}
}

// RegisterQueueCap exposes the per-queue backlog above which the API refuses
// submissions with 429 (queue-max-pending), so that alerts compare the queue
// depth with each environment's own cap instead of repeating it.
func RegisterQueueCap(reg prometheus.Registerer, maxPending int) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "queue_max_pending",
		Help: "Pending tasks per queue above which the API refuses submissions with 429.",
	})
	g.Set(float64(maxPending))
	reg.MustRegister(g)
}

// Storage reports Redis's memory against its maxmemory, the figure
// submissions are admitted by (taskstore.HighWater).
type Storage struct {
	memory    func() (used, max int64, err error)
	logger    *slog.Logger
	used, max *prometheus.Desc
}

// NewStorage returns the storage collector; memory reads Redis's use.
func NewStorage(memory func() (used, max int64, err error), logger *slog.Logger) *Storage {
	return &Storage{
		memory: memory, logger: logger,
		used: prometheus.NewDesc(namespace+"_redis_memory_used_bytes",
			"Memory Redis uses; submissions get 503 storage-full above 80% of its maxmemory.", nil, nil),
		max: prometheus.NewDesc(namespace+"_redis_maxmemory_bytes", "Redis's maxmemory (0: no limit).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (s *Storage) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.used
	ch <- s.max
}

// Collect implements prometheus.Collector; with Redis unreachable it
// reports nothing.
func (s *Storage) Collect(ch chan<- prometheus.Metric) {
	used, max, err := s.memory()
	if err != nil {
		s.logger.Warn("storage metrics unavailable", "error", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(s.used, prometheus.GaugeValue, float64(used))
	ch <- prometheus.MustNewConstMetric(s.max, prometheus.GaugeValue, float64(max))
}
