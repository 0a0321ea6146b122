package gateway

import (
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dojot-es/dojot"
)

// Limit bounds the requests a pool of routes serves at once: beyond n in
// service, up to n more wait a bounded time for a slot; any other request
// is answered 503 with Retry-After at once. So an overload costs a bounded
// number of goroutines and bodies in memory and a bounded wait, and the
// client is told to come back instead of being queued without end
// (DESIGN.md: overload is met with backpressure).
type Limit struct {
	slots   chan struct{}
	waiting atomic.Int64
	max     int64
	wait    time.Duration
	refused atomic.Uint64
}

// NewLimit is a limit of n requests in service (n < 1: no limit), with up
// to n more waiting at most wait for a slot.
func NewLimit(n int, wait time.Duration) *Limit {
	l := &Limit{max: int64(n), wait: wait}
	if n > 0 {
		l.slots = make(chan struct{}, n)
	}
	return l
}

// Refused counts the requests answered 503 by this limit.
func (l *Limit) Refused() uint64 { return l.refused.Load() }

// Handler serves next within the limit.
func (l *Limit) Handler(next http.Handler) http.Handler {
	if l.slots == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.acquire(r) {
			l.refused.Add(1)
			// A second: long enough for the slots held now to free
			// (a write's wait for its view is bounded by -wait-timeout),
			// short enough that a client that obeys loses little.
			w.Header().Set("Retry-After", "1")
			writeError(w, r, &dojot.Error{Kind: dojot.ErrUnavailable, Message: "Server busy, retry later"})
			return
		}
		defer func() { <-l.slots }()
		next.ServeHTTP(w, r)
	})
}

func (l *Limit) acquire(r *http.Request) bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
	}
	if l.waiting.Add(1) > l.max || l.wait <= 0 {
		l.waiting.Add(-1)
		return false
	}
	defer l.waiting.Add(-1)
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-r.Context().Done():
	}
	return false
}

// limitLoad puts a request in its pool: an IoT agent's route
// (Options.DeviceRoutes) in AgentLimit, any other in Limit; probes and
// Kafka WS's websockets in none (by path: a header would let any request
// out of its pool). A probe must answer while the pools are full (it is
// how an operator sees the overload), and a websocket lives for hours:
// Kafka WS and socket.io bound their connections themselves
// (-kafka-ws-max-per-tenant, -socketio-max-per-tenant); a long-poll
// waits up to socket.io's ping interval.
func (s *Server) limitLoad(next http.Handler) http.Handler {
	api, agents := s.opts.Limit.Handler(next), s.opts.AgentLimit.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case unlimited[r.URL.Path] || strings.HasPrefix(r.URL.Path, "/kafka-ws/v1/topics/") || strings.HasPrefix(r.URL.Path, "/socket.io/"):
			next.ServeHTTP(w, r)
		case s.deviceRoute(r.URL.Path):
			agents.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

// unlimited are the probes, which no pool holds up.
var unlimited = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// deviceRoute says whether path is one of Options.DeviceRoutes' patterns
// (exact, or a prefix when the pattern ends in *: agents' patterns have no
// parameters).
func (s *Server) deviceRoute(path string) bool {
	for pattern := range s.opts.DeviceRoutes {
		if prefix, ok := strings.CutSuffix(pattern, "*"); ok && strings.HasPrefix(path, prefix) || path == pattern {
			return true
		}
	}
	return false
}

// The defaults of Options.Limit and AgentLimit (-http-max-inflight,
// -http-queue-wait).
const (
	DefaultMaxInFlight = 128
	DefaultQueueWait   = time.Second
)
