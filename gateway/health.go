package gateway

import (
	"context"
	"net/http"
	"sort"
	"strings"
)

// Dependency is the state of one thing the instance depends on (nats,
// postgres, mongo, redis, kafka, rabbitmq), as GET /readyz shows it.
type Dependency struct {
	OK bool `json:"ok"`
	// Decides is set when the instance cannot serve without it: /readyz
	// answers 503 while it is down. Others are only shown.
	Decides bool   `json:"decides_readiness"`
	Error   string `json:"error,omitempty"`
}

// healthz is liveness: {"status":"ok"} (200) while the process serves,
// plus what Health adds (the agents', views' and bridges' counters). It
// never fails on a dependency: a restart would not bring one back.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{}
	if s.opts.Health != nil {
		for k, v := range s.opts.Health(r.Context()) {
			body[k] = v
		}
	}
	delete(body, "error")
	body["status"] = "ok"
	writeJSON(w, http.StatusOK, body)
}

// readyz is readiness: 200 {"status":"ready"} when Ready passes and every
// dependency that decides readiness is up, else 503
// {"status":"unavailable","error":..}; "dependencies" shows each one.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	code, body := s.readiness(r.Context())
	writeJSON(w, code, body)
}

func (s *Server) readiness(ctx context.Context) (int, map[string]any) {
	body := map[string]any{"status": "ready"}
	var down []string
	if err := s.opts.Ready(ctx); err != nil {
		down = append(down, err.Error())
	}
	if s.opts.Dependencies != nil {
		deps := s.opts.Dependencies(ctx)
		names := make([]string, 0, len(deps))
		for name := range deps {
			names = append(names, name)
		}
		sort.Strings(names) // the same error for the same state
		for _, name := range names {
			if d := deps[name]; d.Decides && !d.OK {
				down = append(down, name+": "+d.Error)
			}
		}
		body["dependencies"] = deps
	}
	if len(down) > 0 {
		body["status"], body["error"] = "unavailable", strings.Join(down, "; ")
		return http.StatusServiceUnavailable, body
	}
	return http.StatusOK, body
}

// Starting is what the HTTP listener serves while the instance starts
// (replaying the event log into its views, before New's router exists):
// GET /healthz answers 200 {"status":"starting"}, GET /readyz 503 with
// why(), GET /metrics the metrics when given, and anything else 503 with
// Retry-After, so that a client sees the instance is coming rather than a
// connection that hangs.
func Starting(why func() string, metrics http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/metrics" && metrics != nil:
			metrics.ServeHTTP(w, r)
		case r.URL.Path == "/healthz":
			writeJSON(w, http.StatusOK, map[string]any{"status": "starting"})
		case r.URL.Path == "/readyz":
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "starting", "error": why()})
		default:
			w.Header().Set("Retry-After", "5")
			writeJSON(w, http.StatusServiceUnavailable, errBody{Message: "Starting: " + why(), Status: http.StatusServiceUnavailable})
		}
	})
}
