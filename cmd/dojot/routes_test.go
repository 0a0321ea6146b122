package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRoutes: `dojot routes` prints the gateway's table with the features
// that add routes on although no flag asks for them, and reaches nothing
// outside the process: the flags naming an external NATS or Kafka, or a
// port, are dropped (here none of them could be reached or bound).
func TestRoutes(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"routes", "-nats-url=nats://127.0.0.1:1", "-kafka-brokers=127.0.0.1:1", "-http-addr=127.0.0.1:1"}
	if code := Main(args, env(nil), &out, &errOut); code != 0 {
		t.Fatalf("dojot routes: exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, want := range []string{"GET /device/{id}", "GET /device/{id}/events", "POST /auth", "POST /http-agent/v1/*", "POST /sigfox",
		"POST /lorawan/chirpstack", "POST /lorawan/tts", "GET /history/device/{id}/history", "GET /kafka-ws/v1/topics/{topic}",
		"POST /x509/v1/certificates", "POST /cron/v1/jobs", "GET /flows/v1/flow/{id}"} {
		if !strings.Contains("\n"+out.String(), "\n"+want+"\n") {
			t.Errorf("dojot routes does not list %q", want)
		}
	}
	for _, l := range lines {
		if m, p, ok := strings.Cut(l, " "); !ok || m == "" || !strings.HasPrefix(p, "/") {
			t.Errorf("line %q is not METHOD PATTERN", l)
		}
	}
}
