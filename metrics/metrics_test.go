package metrics_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dojot-es/dojot/metrics"
	"github.com/dojot-es/dojot/metrics/metricstest"
)

// everything is a registry where each metric has a value.
func everything() *metrics.Registry {
	r := metrics.New()
	r.Add(func(_ context.Context, s *metrics.Scrape) {
		s.Agent("mqtt", 3, map[string]uint64{"not_json": 1, "auth": 0})
		s.Clients("mqtt", 2)
		s.Pending("view_memory", 0)
		s.Pending("kafka_bridge_data", 7)
		s.ConsumerErrors("flows", 1)
		s.KafkaWS(1, 2, 10, map[string]uint64{"ticket": 1})
		s.SocketIO(3, 4, 20, 1, map[string]uint64{"unknown_token": 2})
		s.Dependency("nats", true)
		s.Dependency("postgres", false)
		s.Ready(false)
	})
	r.ObserveRequest("/device/{id}", "GET", 200, time.Millisecond)
	r.ObserveRequest("", "BREW", 404, time.Millisecond)
	return r
}

// TestLint: promlint finds nothing to say of any metric's name, type,
// help or unit.
func TestLint(t *testing.T) {
	problems, err := testutil.GatherAndLint(everything().Gatherer())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestExposition: /metrics parses as Prometheus's text format, with the
// values the sources reported and the request histogram's labels
// (unmatched route and unknown method folded into one value each).
func TestExposition(t *testing.T) {
	srv := httptest.NewServer(everything().Handler())
	defer srv.Close()
	families, err := metricstest.Scrape(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"dojot_agent_messages_stored_total", []string{"agent", "mqtt"}, 3},
		{"dojot_agent_messages_refused_total", []string{"agent", "mqtt", "reason", "not_json"}, 1},
		{"dojot_agent_messages_refused_total", []string{"agent", "mqtt", "reason", "auth"}, 0},
		{"dojot_agent_connected_clients", []string{"agent", "mqtt"}, 2},
		{"dojot_consumer_pending_messages", []string{"consumer", "kafka_bridge_data"}, 7},
		{"dojot_consumer_errors_total", []string{"consumer", "flows"}, 1},
		{"dojot_kafkaws_connections", nil, 1},
		{"dojot_kafkaws_connections_refused_total", []string{"reason", "ticket"}, 1},
		{"dojot_socketio_connections", nil, 3},
		{"dojot_socketio_connections_opened_total", nil, 4},
		{"dojot_socketio_events_sent_total", nil, 20},
		{"dojot_socketio_slow_disconnects_total", nil, 1},
		{"dojot_socketio_connections_refused_total", []string{"reason", "unknown_token"}, 2},
		{"dojot_dependency_up", []string{"dependency", "postgres"}, 0},
		{"dojot_dependency_up", []string{"dependency", "nats"}, 1},
		{"dojot_ready", nil, 0},
		{"dojot_http_request_duration_seconds", []string{"route", "/device/{id}", "method", "GET", "status_class", "2xx"}, 1},
		{"dojot_http_request_duration_seconds", []string{"route", "unmatched", "method", "other", "status_class", "4xx"}, 1},
	}
	for _, tt := range tests {
		if got, ok := families.Value(tt.name, tt.labels...); !ok || got != tt.want {
			t.Errorf("%s%v = %v (found %v); want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	if _, ok := families["go_goroutines"]; !ok {
		t.Error("no go_goroutines: the Go collector is missing")
	}
	for name := range families {
		if !strings.HasPrefix(name, "dojot_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "promhttp_") {
			t.Errorf("metric %s outside the dojot_ namespace", name)
		}
	}
}
