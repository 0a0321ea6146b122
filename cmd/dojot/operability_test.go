package main

import (
	"testing"

	"github.com/dojot-es/dojot/agents/amqp/amqptest"
	"github.com/dojot-es/dojot/metrics/metricstest"
)

// TestAgentMetrics: /metrics counts every agent that is on, under its
// own label, stored readings and (but MQTT) each reason of refusal, and
// none that is off.
func TestAgentMetrics(t *testing.T) {
	for name, tt := range map[string]struct {
		args []string
		on   []string
		off  []string
	}{
		"all": {[]string{"-http-agent", "-sigfox-secret=s3cret", "-lorawan-tts-secret=s3cret", "-amqp-url=" + amqptest.URL(t)},
			[]string{"mqtt", "amqp", "http", "sigfox", "lorawan"}, nil},
		"mqtt only": {nil, []string{"mqtt"}, []string{"amqp", "http", "sigfox", "lorawan"}},
	} {
		t.Run(name, func(t *testing.T) {
			public, _, stop := serveListening(t, "http listening", tt.args...)
			defer stop()
			families, err := metricstest.Scrape("http://" + public + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			reasons := map[string]int{}
			if f := families["dojot_agent_messages_refused_total"]; f != nil {
				for _, m := range f.GetMetric() {
					for _, l := range m.GetLabel() {
						if l.GetName() == "agent" {
							reasons[l.GetValue()]++
						}
					}
				}
			}
			for _, agent := range tt.on {
				if v, ok := families.Value("dojot_agent_messages_stored_total", "agent", agent); !ok || v != 0 {
					t.Errorf("agent %s: stored = %v (reported %v); want 0", agent, v, ok)
				}
				if reasons[agent] == 0 && agent != "mqtt" { // MQTT's appear at their first refusal
					t.Errorf("agent %s: no reason of refusal counted", agent)
				}
			}
			for _, agent := range tt.off {
				if v, ok := families.Value("dojot_agent_messages_stored_total", "agent", agent); ok {
					t.Errorf("agent %s is off: stored = %v reported", agent, v)
				}
			}
		})
	}
}

// TestMetricsListener: -metrics-addr serves /metrics on a listener of its
// own, and the gateway's port then does not.
func TestMetricsListener(t *testing.T) {
	public, addr, stop := serveListening(t, "metrics listening", "-metrics-addr=127.0.0.1:0")
	defer stop()
	families, err := metricstest.Scrape("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := families.Value("dojot_ready"); !ok { // answered from the start, before the log's replay
		t.Errorf("metrics listener: no dojot_ready")
	}
	if _, err := metricstest.Scrape("http://" + public + "/metrics"); err == nil {
		t.Errorf("gateway: GET /metrics answered 200 with -metrics-addr")
	}
}
