// Package metrics is the platform's Prometheus metrics, on client_golang.
//
// Hot paths pay nothing for most of them: the agents, views, consumers and
// Kafka WS already count what they do in atomics for /healthz, and a
// Source reads those snapshots when Prometheus scrapes. Only the gateway's
// request histogram is observed as requests end.
//
// Names follow Prometheus's conventions (namespace dojot_, counters end in
// _total, durations are histograms in seconds) and labels have a small,
// fixed set of values: an agent, a reason, a consumer, a route pattern. A
// tenant or a device id is never a label: their number is unbounded, and a
// scrape would tell one tenant's activity to whoever reads the metrics.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "dojot"

// ScrapeTimeout bounds what the sources may ask of JetStream or a
// database during one scrape.
const ScrapeTimeout = 2 * time.Second

// Registry holds the metrics of one process.
type Registry struct {
	reg     *prometheus.Registry
	latency *prometheus.HistogramVec

	mu      sync.Mutex
	sources []Source
}

// A Source reports snapshots into a scrape; it is called at each scrape,
// never on a hot path.
type Source func(ctx context.Context, s *Scrape)

// New returns a registry with the Go runtime's and the process's metrics,
// the request histogram, and the metrics the sources report.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace,
		Name:      "http_request_duration_seconds",
		Help:      "Time to answer an HTTP request of the gateway, by chi route pattern, method and status class (websockets left out).",
		// Requests take about a millisecond here: finer buckets at the low end.
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "method", "status_class"})
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.latency,
		(*sourceCollector)(r),
	)
	return r
}

// Handler serves the metrics in Prometheus's text format (or OpenMetrics
// when asked).
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError})
}

// Gatherer is the registry, for tests and linters.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Add adds a source.
func (r *Registry) Add(src Source) {
	r.mu.Lock()
	r.sources = append(r.sources, src)
	r.mu.Unlock()
}

// ObserveRequest records one request's time (the gateway's
// RequestObserver). route is the chi pattern ("" when none matched).
func (r *Registry) ObserveRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	r.latency.WithLabelValues(route, knownMethod(method), statusClass(status)).Observe(d.Seconds())
}

// knownMethod keeps the method label's values few: a client may send any
// token as a method.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

var classes = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClass(code int) string {
	if code >= 100 && code < 600 {
		return classes[code/100-1]
	}
	return strconv.Itoa(code)
}
