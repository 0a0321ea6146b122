package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestHealthz: /healthz is liveness: 200 whatever Ready and the
// dependencies say, with what Health adds to the body (which cannot
// replace "status").
func TestHealthz(t *testing.T) {
	down := func(context.Context) error { return errors.New("replaying the event log") }
	bridge := func(ok bool) func(context.Context) map[string]any {
		return func(context.Context) map[string]any {
			return map[string]any{"nats": "connected", "kafka_bridge": map[string]any{"kafka_ok": ok, "lag": 123},
				"status": "overridden?", "error": "overridden?"}
		}
	}
	tests := map[string]struct {
		ready  func(context.Context) error
		health func(context.Context) map[string]any
		body   map[string]any
	}{
		"ok":                 {nil, nil, map[string]any{"status": "ok"}},
		"not ready is alive": {down, nil, map[string]any{"status": "ok"}},
		"bridge ok": {nil, bridge(true), map[string]any{"status": "ok", "nats": "connected",
			"kafka_bridge": map[string]any{"kafka_ok": true, "lag": 123.0}}},
		"kafka down is still 200": {nil, bridge(false), map[string]any{"status": "ok", "nats": "connected",
			"kafka_bridge": map[string]any{"kafka_ok": false, "lag": 123.0}}},
		"not ready with bridge": {down, bridge(true), map[string]any{"status": "ok", "nats": "connected",
			"kafka_bridge": map[string]any{"kafka_ok": true, "lag": 123.0}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := New(Options{Ready: tt.ready, Health: tt.health})
			code, got := getJSON(t, s, "/healthz")
			if code != 200 || !reflect.DeepEqual(got, tt.body) {
				t.Errorf("GET /healthz = %d %v; want 200 %v", code, got, tt.body)
			}
		})
	}
}

// TestReadyz: 503 while Ready fails or a dependency that decides
// readiness is down, naming each cause; a dependency that does not decide
// is shown but leaves it 200.
func TestReadyz(t *testing.T) {
	starting := func(context.Context) error { return errors.New("replaying the event log") }
	deps := func(d map[string]Dependency) func(context.Context) map[string]Dependency {
		return func(context.Context) map[string]Dependency { return d }
	}
	up := Dependency{OK: true, Decides: true}
	pgDown := Dependency{Decides: true, Error: "dial tcp: connection refused"}
	kafkaDown := Dependency{Error: "kafka: no brokers"}
	tests := map[string]struct {
		ready func(context.Context) error
		deps  func(context.Context) map[string]Dependency
		code  int
		err   string
	}{
		"nothing configured": {nil, nil, 200, ""},
		"starting":           {starting, nil, 503, "replaying the event log"},
		"all up":             {nil, deps(map[string]Dependency{"nats": up, "postgres": up}), 200, ""},
		"postgres down": {nil, deps(map[string]Dependency{"nats": up, "postgres": pgDown}), 503,
			"postgres: dial tcp: connection refused"},
		"kafka down does not decide": {nil, deps(map[string]Dependency{"nats": up, "kafka": kafkaDown}), 200, ""},
		"starting and postgres down": {starting, deps(map[string]Dependency{"postgres": pgDown, "nats": {Decides: true, Error: "closed"}}), 503,
			"replaying the event log; nats: closed; postgres: dial tcp: connection refused"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := New(Options{Ready: tt.ready, Dependencies: tt.deps})
			code, got := getJSON(t, s, "/readyz")
			status := map[int]string{200: "ready", 503: "unavailable"}[tt.code]
			if code != tt.code || got["status"] != status || (got["error"] != nil) != (tt.err != "") || (tt.err != "" && got["error"] != tt.err) {
				t.Errorf("GET /readyz = %d %v; want %d status %s error %q", code, got, tt.code, status, tt.err)
			}
			if tt.deps != nil {
				want := map[string]any{}
				for name, d := range tt.deps(t.Context()) {
					m := map[string]any{"ok": d.OK, "decides_readiness": d.Decides}
					if d.Error != "" {
						m["error"] = d.Error
					}
					want[name] = m
				}
				if !reflect.DeepEqual(got["dependencies"], want) {
					t.Errorf("GET /readyz dependencies = %v; want %v", got["dependencies"], want)
				}
			}
		})
	}
}

// TestStarting: while the instance starts, /healthz is alive, /readyz
// and every other route answer 503 with the reason, /metrics serves.
func TestStarting(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("dojot_ready 0\n")) })
	h := Starting(func() string { return "replaying the event log: 10 of 20 events" }, metrics)
	for _, tt := range []struct {
		path, want string
		code       int
	}{
		{"/healthz", `{"status":"starting"}`, 200},
		{"/readyz", `{"error":"replaying the event log: 10 of 20 events","status":"starting"}`, 503},
		{"/device", `{"message":"Starting: replaying the event log: 10 of 20 events","status":503}`, 503},
		{"/metrics", "dojot_ready 0", 200},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
		if got := strings.TrimSpace(w.Body.String()); w.Code != tt.code || got != tt.want {
			t.Errorf("GET %s while starting = %d %s; want %d %s", tt.path, w.Code, got, tt.code, tt.want)
		}
		if tt.path == "/device" && w.Header().Get("Retry-After") == "" {
			t.Errorf("GET /device while starting: no Retry-After")
		}
	}
}

func getJSON(t *testing.T, h http.Handler, path string) (int, map[string]any) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("GET %s: body %s: %v", path, w.Body, err)
	}
	return w.Code, got
}

func TestRoutesListsMountedRoutes(t *testing.T) {
	s := New(Options{})
	want := map[Route]bool{
		{Method: http.MethodGet, Pattern: "/healthz"}:         false,
		{Method: http.MethodGet, Pattern: "/readyz"}:          false,
		{Method: http.MethodPost, Pattern: "/auth"}:           false,
		{Method: http.MethodGet, Pattern: "/topic/{subject}"}: false,
	}
	for _, r := range s.Routes() {
		if _, ok := want[r]; ok {
			want[r] = true
		}
		if r.Pattern == "/flows/v1/flow" {
			t.Errorf("route %v listed although flows are off", r)
		}
	}
	for r, seen := range want {
		if !seen {
			t.Errorf("route %v not listed", r)
		}
	}
}
