package http_test

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	agenthttp "github.com/dojot-es/dojot/agents/http"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

type devices map[string]bool

func (d devices) Device(tenant, id string) (dojot.Device, bool) {
	return dojot.Device{ID: id}, d[tenant+"/"+id]
}

type passwords map[string]string

func (p passwords) CheckDeviceCredentials(tenant, id, password string) bool {
	pw, ok := p[tenant+"/"+id]
	return ok && pw == password
}

// stored records appends; fail makes the n-th append (1-based) fail.
type stored struct {
	mu   sync.Mutex
	got  []string
	n    int
	fail int
}

func (s *stored) AppendDataAsync(tenant, id string, payload []byte) (func(<-chan time.Time) (uint64, error), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.n == s.fail {
		return func(<-chan time.Time) (uint64, error) { return 0, errors.New("jetstream down") }, nil
	}
	s.got = append(s.got, string(payload))
	return func(<-chan time.Time) (uint64, error) { return uint64(s.n), nil }, nil
}

func (s *stored) readings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.got
	s.got = nil
	return out
}

var now = time.UnixMilli(1700000000000)

func serve(t *testing.T, store agenthttp.Appender, insecure bool) (*agenthttp.Agent, *httptest.Server) {
	t.Helper()
	a, err := agenthttp.New(agenthttp.Options{Store: store, Devices: devices{"admin/abc123": true, "admin/nopw": true},
		Credentials: passwords{"admin/abc123": "pw"}, Insecure: insecure, MaxBody: 2048,
		Logger: eventstoretest.Logger(t), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range a.Routes() {
		mux.Handle(strings.TrimSuffix(p, "*"), h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return a, srv
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func post(t *testing.T, srv *httptest.Server, path, auth, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestIncomingMessages(t *testing.T) {
	s := &stored{}
	a, srv := serve(t, s, false)
	auth := basic("admin@abc123", "pw")
	for _, path := range []string{"/http-agent/v1/incoming-messages", "/http-agent/v1/unsecure/incoming-messages"} {
		if code, body := post(t, srv, path, auth, `{"ts":"2018-06-05T19:15:37.452Z","data":{"temperature":21.5}}`); code != 204 || body != "" {
			t.Errorf("POST %s = %d %s", path, code, body)
		}
	}
	if code, _ := post(t, srv, "/http-agent/v1/incoming-messages", auth, `{"data":{"t":1}}`); code != 204 {
		t.Errorf("no ts = %d", code)
	}
	got := s.readings()
	want := []string{
		`{"metadata":{"deviceid":"abc123","tenant":"admin","timestamp":1528226137452},"attrs":{"temperature":21.5}}`,
		`{"metadata":{"deviceid":"abc123","tenant":"admin","timestamp":1528226137452},"attrs":{"temperature":21.5}}`,
		`{"metadata":{"deviceid":"abc123","tenant":"admin","timestamp":1700000000000},"attrs":{"t":1}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stored\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A batch: every item, in order, and 204 once all are stored.
	batch := `[{"ts":1528226137000,"data":{"n":1}},{"ts":"2018-06-05T19:15:38Z","data":{"n":2}},{"ts":1528226139000,"data":{"n":3}}]`
	if code, body := post(t, srv, "/http-agent/v1/incoming-messages/create-many", auth, batch); code != 204 {
		t.Errorf("create-many = %d %s", code, body)
	}
	got = s.readings()
	if len(got) != 3 || !strings.Contains(got[0], `"timestamp":1528226137000},"attrs":{"n":1}`) || !strings.Contains(got[2], `{"n":3}`) {
		t.Errorf("batch stored %q", got)
	}
	if st := a.Status(); st.Accepted != 4 || st.Stored != 6 {
		t.Errorf("status = %+v", st)
	}
}

func TestRefusals(t *testing.T) {
	s := &stored{}
	a, srv := serve(t, s, false)
	auth := basic("admin@abc123", "pw")
	for _, tt := range []struct {
		path, auth, body string
		code             int
		want             string
	}{
		{"/http-agent/v1/incoming-messages", "", `{"data":{}}`, 400, `{"error":"Unable to authenticate"}`},
		{"/http-agent/v1/unsecure/incoming-messages?tenant=admin&deviceId=abc123", "", `{"data":{}}`, 400, `{"error":"Unable to authenticate"}`}, // params mode is off
		{"/http-agent/v1/incoming-messages", "Basic !!!", `{"data":{}}`, 401, `{"error":"Invalid Basic token."}`},
		{"/http-agent/v1/incoming-messages", basic("admin-abc123", "pw"), `{"data":{}}`, 401, `{"error":"Invalid Basic token."}`},
		{"/http-agent/v1/incoming-messages", basic("admin@abc123", "wrong"), `{"data":{}}`, 401, `{"error":"Invalid credentials."}`},
		{"/http-agent/v1/incoming-messages", basic("admin@nopw", ""), `{"data":{}}`, 401, `{"error":"Invalid credentials."}`},
		{"/http-agent/v1/incoming-messages", auth, `{"data":`, 400, `{"error":"The body is not valid JSON"}`},
		{"/http-agent/v1/incoming-messages", auth, `{}`, 400, `{"error":"Input data schema validation failure.","detail":{"schemaId":"2674a775-5e93-4370-8f1f-2e6f9d102e1f","schemaErrors":[{"instancePath":"","schemaPath":"#/required","keyword":"required","params":{"missingProperty":"data"},"message":"must have required property 'data'"}]}}`},
		{"/http-agent/v1/incoming-messages", auth, `{"ts":"1960-01-01T00:00:00Z","data":{}}`, 400, `{"error":"Invalid timestamp"}`},
		{"/http-agent/v1/incoming-messages/create-many", auth, `[` + strings.TrimSuffix(strings.Repeat(`{"ts":1,"data":{}},`, 65), ",") + `]`, 400, ``},
		{"/http-agent/v1/incoming-messages", auth, `{"data":{"x":"` + strings.Repeat("x", 2100) + `"}}`, 413, `{"error":"request entity too large"}`},
		{"/iotagent/readings", "", `{"tenant":"admin","deviceId":"abc123","readings":[{"a":1}]}`, 400, `{"message":"Unable to authenticate"}`},
		{"/iotagent/readings", auth, `{"tenant":"admin","deviceId":"other","readings":[]}`, 401, ``},
		{"/iotagent/readings", auth, `{"tenant":"admin","deviceId":"abc123"}`, 400, `{"message":"Missing attribute readings"}`},
	} {
		code, body := post(t, srv, tt.path, tt.auth, tt.body)
		if code != tt.code || (tt.want != "" && body != tt.want) {
			t.Errorf("POST %s %.40s = %d %s; want %d %s", tt.path, tt.body, code, body, tt.code, tt.want)
		}
	}
	if got := s.readings(); len(got) != 0 {
		t.Errorf("stored %q", got)
	}
	// A reading JetStream did not store: 503, dojot's error shape.
	s.fail = s.n + 2
	code, body := post(t, srv, "/http-agent/v1/incoming-messages/create-many", auth, `[{"ts":1,"data":{}},{"ts":2,"data":{}},{"ts":3,"data":{}}]`)
	if code != 503 || !strings.HasPrefix(body, `{"error":{"1":"jetstream down"}}`) {
		t.Errorf("store failure = %d %s", code, body)
	}
	if st := a.Status(); st.Refused["store_failed"] != 1 || st.Refused["auth"] != 8 || st.Refused["schema"] != 3 {
		t.Errorf("status = %+v", st)
	}
}

func TestInsecureParams(t *testing.T) {
	s := &stored{}
	_, srv := serve(t, s, true)
	if code, body := post(t, srv, "/http-agent/v1/unsecure/incoming-messages?tenant=admin&deviceId=abc123", "", `{"data":{"a":1}}`); code != 204 {
		t.Errorf("params = %d %s", code, body)
	}
	if code, body := post(t, srv, "/http-agent/v1/unsecure/incoming-messages?tenant=admin", "", `{"data":{"a":1}}`); code != 401 || body != `{"error":"Unidentified parameters"}` {
		t.Errorf("missing deviceId = %d %s", code, body)
	}
	if code, _ := post(t, srv, "/http-agent/v1/unsecure/incoming-messages?tenant=admin&deviceId=ffff", "", `{"data":{"a":1}}`); code != 404 {
		t.Errorf("unknown device = %d", code)
	}
	if code, _ := post(t, srv, "/http-agent/v1/incoming-messages?tenant=admin&deviceId=abc123", "", `{"data":{"a":1}}`); code != 400 {
		t.Errorf("params outside /unsecure/ = %d", code)
	}
	// The legacy agent's plain port: the body names the device.
	if code, body := post(t, srv, "/iotagent/readings", "", `{"tenant":"admin","deviceId":"abc123","readings":[{"timestamp":"2018-06-05T19:15:37.452Z","temperature":20}]}`); code != 200 || body != `{"message":"Successfully published"}` {
		t.Errorf("legacy = %d %s", code, body)
	}
	if code, body := post(t, srv, "/iotagent/readings", "", `{"readings":[]}`); code != 401 || body != `{"message":"Missing attribute tenant or deviceId"}` {
		t.Errorf("legacy without ids = %d %s", code, body)
	}
	got := s.readings()
	if len(got) != 2 || got[1] != `{"metadata":{"deviceid":"abc123","tenant":"admin","timestamp":1528226137452},"attrs":{"device":"abc123","temperature":20}}` {
		t.Errorf("stored %q", got)
	}
}
