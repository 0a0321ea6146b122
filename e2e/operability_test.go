package e2e

import (
	"bytes"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dojot-es/dojot/e2e/dojottest"
	"github.com/dojot-es/dojot/metrics/metricstest"
	"github.com/dojot-es/dojot/projections/postgres/pgtest"
)

func scrapeMetrics(t *testing.T, base string) metricstest.Families {
	t.Helper()
	m, err := metricstest.Scrape(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMetrics: readings over MQTT and the HTTP agent, and refusals of
// each, move the agents' counters and the HTTP agent route's latency
// histogram on GET /metrics, which parses, passes promlint, and names no
// tenant or device in its labels.
func TestMetrics(t *testing.T) {
	in := start(t, "", "-http-agent", "-mqtt-insecure")
	c := in.Login("admin", adminPassword)
	id := dojottest.CreateDevice(c, "metered", dojottest.CreateTemplate(c, "Metrics"))
	var cred struct {
		Credentials struct{ Username, Password string }
	}
	mustJSON(t, c.Must(200, "POST", "/basic-auth/v1/devices/"+id+"/basic-credentials", nil), &cred)
	const path, route = "/http-agent/v1/incoming-messages", "/http-agent/v1/*" // the agent's chi pattern
	type want struct {
		name   string
		labels []string
		delta  float64
	}
	wants := []want{
		{"dojot_agent_messages_stored_total", []string{"agent", "mqtt"}, 2},
		{"dojot_agent_messages_refused_total", []string{"agent", "mqtt", "reason", "not_json"}, 1},
		{"dojot_agent_messages_stored_total", []string{"agent", "http"}, 1},
		{"dojot_agent_messages_refused_total", []string{"agent", "http", "reason", "auth"}, 1},
		{"dojot_http_request_duration_seconds", []string{"route", route, "method", "POST", "status_class", "2xx"}, 1},
		{"dojot_http_request_duration_seconds", []string{"route", route, "method", "POST", "status_class", "4xx"}, 1},
	}
	before := scrapeMetrics(t, in.URL)
	base := make([]float64, len(wants))
	for i, w := range wants {
		base[i], _ = before.Value(w.name, w.labels...)
	}

	dev := mqttDevice(t, in, id)
	for _, p := range []string{`{"temperature":1}`, `{"temperature":2}`} {
		if tok := dev.Publish("admin:"+id+"/attrs", 1, false, p); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", p, tok.Error())
		}
	}
	dev.Publish("admin:"+id+"/attrs", 0, false, "not json").WaitTimeout(5 * time.Second)
	post := func(pass string) int {
		req, _ := http.NewRequest("POST", in.URL+path, strings.NewReader(`{"data":{"temperature":3}}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(cred.Credentials.Username, pass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post(cred.Credentials.Password); code != 204 {
		t.Fatalf("HTTP agent reading = %d; want 204", code)
	}
	if code := post("wrong"); code != 401 {
		t.Fatalf("HTTP agent with a wrong password = %d; want 401", code)
	}

	var after metricstest.Families
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		after = scrapeMetrics(t, in.URL)
		moved := true
		for i, w := range wants {
			got, _ := after.Value(w.name, w.labels...)
			moved = moved && got-base[i] == w.delta
		}
		if moved {
			break
		}
		if time.Now().After(deadline) {
			for i, w := range wants {
				got, ok := after.Value(w.name, w.labels...)
				t.Errorf("%s%v moved by %v (found %v); want %v", w.name, w.labels, got-base[i], ok, w.delta)
			}
			t.FailNow()
		}
	}
	for _, name := range []string{"dojot_consumer_pending_messages", "dojot_ready", "dojot_dependency_up", "dojot_kafkaws_connections", "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := after.Value(name); !ok {
			t.Errorf("no %s in /metrics", name)
		}
	}
	if v, _ := after.Value("dojot_ready"); v != 1 {
		t.Errorf("dojot_ready = %v; want 1", v)
	}
	if v, ok := after.Value("dojot_consumer_pending_messages", "consumer", "view_memory"); !ok || v != 0 {
		t.Errorf("dojot_consumer_pending_messages{consumer=view_memory} = %v (found %v); want 0 on an idle instance", v, ok)
	}

	problems, err := testutil.GatherAndLint(after.Gatherer())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "dojot_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
	for name, f := range after {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v := l.GetValue(); v == "admin" || strings.Contains(v, id) {
					t.Errorf("%s has label %s=%q: a tenant or a device", name, l.GetName(), v)
				}
			}
		}
	}
}

// healthCmd runs `dojot health -url base` and returns its exit code and
// what it printed.
func healthCmd(t *testing.T, base string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(dojottest.Binary(t), "health", "-url", base)
	cmd.Env = []string{}
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), strings.TrimSpace(out.String())
}

// waitReady polls GET /readyz until it answers code, and returns its body.
func waitReady(t *testing.T, in *instance, code int) map[string]any {
	t.Helper()
	var body map[string]any
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got, raw := in.Client().Do("GET", "/readyz", nil)
		body = nil
		mustJSON(t, raw, &body)
		if got == code {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz = %d %s; want %d", got, trunc(raw), code)
		}
	}
}

// TestReadyzPostgresDown: while the Postgres view's database is
// unreachable /readyz answers 503 naming it, `dojot health` exits 1 with
// one line, dojot_dependency_up and dojot_ready are 0, and /healthz (the
// process lives) stays 200; all come back by themselves with the
// database.
func TestReadyzPostgresDown(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	p, pgURL := dojottest.PostgresProxy(t)
	in := start(t, "", "-view=postgres", "-postgres-url="+pgURL, "-wait-timeout=2s")

	body := waitReady(t, in, 200)
	if deps, _ := body["dependencies"].(map[string]any); deps["postgres"] == nil || deps["nats"] == nil {
		t.Errorf("GET /readyz = %v; want postgres and nats among its dependencies", body)
	}
	if code, out := healthCmd(t, in.URL); code != 0 || out != "ready" {
		t.Errorf("dojot health on a ready instance: exit %d, %q; want 0, ready", code, out)
	}

	p.Cut()
	body = waitReady(t, in, 503)
	if msg, _ := body["error"].(string); body["status"] != "unavailable" || !strings.HasPrefix(msg, "postgres: ") {
		t.Errorf("GET /readyz with the database down = %v; want unavailable, postgres: ...", body)
	}
	code, out := healthCmd(t, in.URL)
	if code != 1 || strings.Count(out, "\n") != 0 || !strings.Contains(out, "postgres") {
		t.Errorf("dojot health with the database down: exit %d, %q; want 1 and one line naming postgres", code, out)
	}
	in.Client().Must(200, "GET", "/healthz", nil)
	m := scrapeMetrics(t, in.URL)
	if v, _ := m.Value("dojot_dependency_up", "dependency", "postgres"); v != 0 {
		t.Errorf("dojot_dependency_up{dependency=postgres} = %v with the database down; want 0", v)
	}
	if v, _ := m.Value("dojot_ready"); v != 0 {
		t.Errorf("dojot_ready = %v with the database down; want 0", v)
	}

	p.Restore()
	waitReady(t, in, 200)
	if code, out := healthCmd(t, in.URL); code != 0 {
		t.Errorf("dojot health once the database is back: exit %d, %q; want 0", code, out)
	}
}

// TestReadyzWhileStarting: an instance whose Postgres view must be
// rebuilt waits for the view's applier lease, which another instance
// holds: meanwhile its listener answers, /healthz 200 "starting",
// /readyz and every route 503 saying what it waits for, and `dojot
// health` exits 1. Once the lease is free it rebuilds, and is ready.
func TestReadyzWhileStarting(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	pg := pgtest.URL(t)
	holder := start(t, "", "-view=postgres", "-postgres-url="+pg)
	// Its own embedded NATS: its log does not hold the view's checkpoint,
	// so the view is rebuilt, under the lease holder holds.
	in := dojottest.Launch(t, "", "-view=postgres", "-postgres-url="+pg)
	base := in.StartingURL(60 * time.Second)
	if base == "" {
		t.Fatal("no \"http starting\" log line")
	}
	in.URL = base
	anon := in.Client()
	// Opening the event store first, then the view: from then on it holds
	// while the lease is held.
	waiting := func() bool {
		code, raw := anon.Do("GET", "/readyz", nil)
		var body map[string]any
		mustJSON(t, raw, &body)
		msg, _ := body["error"].(string)
		if code != 503 || body["status"] != "starting" {
			t.Fatalf("GET /readyz while starting = %d %s; want 503 starting", code, trunc(raw))
		}
		return strings.Contains(msg, "postgres view")
	}
	for deadline := time.Now().Add(30 * time.Second); !waiting(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("GET /readyz never said it waits for the postgres view")
		}
	}
	for range 3 {
		time.Sleep(300 * time.Millisecond)
		if !waiting() {
			t.Fatal("GET /readyz stopped waiting for the postgres view while its lease is held")
		}
	}
	if code, raw := anon.Do("GET", "/healthz", nil); code != 200 || !strings.Contains(string(raw), `"starting"`) {
		t.Errorf("GET /healthz while starting = %d %s; want 200 starting", code, trunc(raw))
	}
	if code, _ := anon.Do("GET", "/device", nil); code != 503 {
		t.Errorf("GET /device while starting = %d; want 503", code)
	}
	if code, out := healthCmd(t, base); code != 1 || !strings.Contains(out, "starting") {
		t.Errorf("dojot health while starting: exit %d, %q; want 1, starting", code, out)
	}
	if v, ok := scrapeMetrics(t, base).Value("dojot_ready"); !ok || v != 0 {
		t.Errorf("dojot_ready while starting = %v (found %v); want 0", v, ok)
	}

	holder.Stop()
	if !in.WaitLog("http listening", 60*time.Second) {
		t.Fatal("the instance did not start once the lease was free")
	}
	waitReady(t, in, 200)
	if code, out := healthCmd(t, base); code != 0 {
		t.Errorf("dojot health once started: exit %d, %q; want 0", code, out)
	}
}
