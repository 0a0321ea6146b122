package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// TestHealthz: Ready alone decides the status code; Health only adds to
// the body (a degraded Kafka bridge is reported with 200).
func TestHealthz(t *testing.T) {
	down := func(context.Context) error { return errors.New("nats connection RECONNECTING") }
	bridge := func(ok bool) func(context.Context) map[string]any {
		return func(context.Context) map[string]any {
			return map[string]any{"nats": "connected", "kafka_bridge": map[string]any{"kafka_ok": ok, "lag": 123},
				"status": "overridden?", "error": "overridden?"}
		}
	}
	tests := map[string]struct {
		ready  func(context.Context) error
		health func(context.Context) map[string]any
		code   int
		body   map[string]any
	}{
		"ok": {nil, nil, 200, map[string]any{"status": "ok"}},
		"unavailable": {down, nil, 503,
			map[string]any{"status": "unavailable", "error": "nats connection RECONNECTING"}},
		"bridge ok": {nil, bridge(true), 200, map[string]any{"status": "ok", "nats": "connected",
			"kafka_bridge": map[string]any{"kafka_ok": true, "lag": 123.0}}},
		"kafka down is still 200": {nil, bridge(false), 200, map[string]any{"status": "ok", "nats": "connected",
			"kafka_bridge": map[string]any{"kafka_ok": false, "lag": 123.0}}},
		"unavailable with bridge": {down, bridge(true), 503, map[string]any{"status": "unavailable",
			"error": "nats connection RECONNECTING", "nats": "connected",
			"kafka_bridge": map[string]any{"kafka_ok": true, "lag": 123.0}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := New(Options{Ready: tt.ready, Health: tt.health})
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			if w.Code != tt.code || !reflect.DeepEqual(got, tt.body) {
				t.Errorf("GET /healthz = %d %s; want %d %v", w.Code, w.Body, tt.code, tt.body)
			}
		})
	}
}

func TestRoutesListsMountedRoutes(t *testing.T) {
	s := New(Options{})
	want := map[Route]bool{
		{Method: http.MethodGet, Pattern: "/healthz"}:         false,
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
