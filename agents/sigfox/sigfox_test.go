package sigfox_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	agentsigfox "github.com/dojot-es/dojot/agents/sigfox"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// devices: Sigfox id 1A2B3C is t1/a, t1/d and t2/b, 4D5E is t1/c.
type devices map[string][]dojot.DeviceKey

func (d devices) DevicesByStatic(label, value string) []dojot.DeviceKey {
	if label != dojot.AttrSigfoxDevice {
		return nil
	}
	return d[value]
}

var known = devices{
	"1A2B3C": {{Tenant: "t1", ID: "a"}, {Tenant: "t2", ID: "b"}, {Tenant: "t1", ID: "d"}},
	"4D5E":   {{Tenant: "t1", ID: "c"}},
}

// stored records appends, failing when fail is set.
type stored struct {
	mu   sync.Mutex
	got  []string
	fail bool
}

func (s *stored) AppendDataAsync(tenant, id string, payload []byte) (func(<-chan time.Time) (uint64, error), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return func(<-chan time.Time) (uint64, error) { return 0, errors.New("jetstream down") }, nil
	}
	s.got = append(s.got, tenant+"/"+id+" "+string(payload))
	return func(<-chan time.Time) (uint64, error) { return uint64(len(s.got)), nil }, nil
}

func serve(t *testing.T, store agentsigfox.Appender) (*agentsigfox.Agent, *httptest.Server) {
	t.Helper()
	a, err := agentsigfox.New(agentsigfox.Options{Store: store, Devices: known, Secret: "s3cret", MaxBody: 1024,
		Logger: eventstoretest.Logger(t), Now: func() time.Time { return time.UnixMilli(1700000000000) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return a, srv
}

func post(t *testing.T, srv *httptest.Server, path, secret, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// A callback body as dojot's agent reads it: Sigfox's {device}, {time},
// {data}, {lat}, {lng} and {seqNumber} variables under dojot's names.
const callback = `{"device":"4D5E","timestamp":1528226137,"data":"0a1b2c","station_lat":-22.8,"station_lng":-47.06,"seqNumber":12}`

func TestCallback(t *testing.T) {
	s := &stored{}
	a, srv := serve(t, s)
	if code, body := post(t, srv, "/sigfox", "s3cret", callback); code != 200 || body != "" {
		t.Fatalf("callback = %d %q", code, body)
	}
	want := `t1/c {"metadata":{"deviceid":"c","tenant":"t1","timestamp":1528226137000},"attrs":` +
		`{"data":"0a1b2c","device":"4D5E","seqNumber":12,"station_coordinates":"-22.8,-47.06","station_lat":-22.8,"station_lng":-47.06,"timestamp":"2018-06-05T19:15:37.000Z"}}`
	if !slices.Equal(s.got, []string{want}) {
		t.Errorf("stored %q;\nwant %q", s.got, want)
	}
	// An id shared by devices of one tenant is stored for each; ?tenant=
	// keeps one tenant's, without which an id of several tenants' devices
	// is refused: any tenant may claim an id, none gets another's uplinks.
	s.got = nil
	if code, _ := post(t, srv, "/sigfox?tenant=t1", "s3cret", `{"device":"1A2B3C","data":"ff"}`); code != 200 || len(s.got) != 2 ||
		!strings.HasPrefix(s.got[0], "t1/a ") || !strings.HasPrefix(s.got[1], "t1/d ") {
		t.Errorf("shared id, ?tenant=t1: %d, stored %q", code, s.got)
	}
	s.got = nil
	if code, body := post(t, srv, "/sigfox", "s3cret", `{"device":"1A2B3C","data":"ff"}`); code != 409 || len(s.got) != 0 ||
		body != `{"error":"Devices of several tenants have the Sigfox id \"1A2B3C\": add ?tenant=<tenant> to the callback's URL"}` {
		t.Errorf("id of several tenants' devices: %d %s, stored %q", code, body, s.got)
	}
	if code, _ := post(t, srv, "/sigfox?tenant=t2", "s3cret", `{"device":"1A2B3C","data":"ff"}`); code != 200 || len(s.got) != 1 || !strings.HasPrefix(s.got[0], "t2/b ") {
		t.Errorf("?tenant=t2: %d, stored %q", code, s.got)
	}
	if !strings.Contains(strings.Join(s.got, ""), `"timestamp":1700000000000}`) {
		t.Errorf("no timestamp in the body: metadata.timestamp should be now; stored %q", s.got)
	}
	if st := a.Status(); st.Accepted != 3 || st.Stored != 4 || st.Refused["several_tenants"] != 1 {
		t.Errorf("status = %+v", st)
	}
}

func TestRefused(t *testing.T) {
	s := &stored{}
	a, srv := serve(t, s)
	for _, tt := range []struct {
		path, secret, body string
		code               int
		want               string
	}{
		{"/sigfox", "", callback, 401, `{"error":"Missing or wrong shared secret (Authorization: Bearer <secret>)"}`},
		{"/sigfox", "wrong", callback, 401, ""},
		{"/sigfox", "s3cret", `{"device":"0000","data":"ff"}`, 404, `{"error":"No device has the Sigfox id \"0000\""}`},
		{"/sigfox?tenant=t2", "s3cret", callback, 404, ""}, // 4D5E is t1's
		{"/sigfox", "s3cret", `{"data":"ff"}`, 400, `{"error":"\"device\" (the Sigfox id) is missing"}`},
		{"/sigfox", "s3cret", `[1]`, 400, `{"error":"The body must be a JSON object"}`},
		{"/sigfox", "s3cret", `{"device":"4D5E"} {}`, 400, ""},
		{"/sigfox", "s3cret", `{"device":"4D5E","timestamp":"yesterday"}`, 400, `{"error":"\"timestamp\" must be a number of seconds since the epoch"}`},
		{"/sigfox", "s3cret", `{"device":"4D5E","data":"` + strings.Repeat("f", 1100) + `"}`, 413, ""},
	} {
		code, body := post(t, srv, tt.path, tt.secret, tt.body)
		if code != tt.code || (tt.want != "" && body != tt.want) {
			t.Errorf("POST %s %.40s = %d %s; want %d %s", tt.path, tt.body, code, body, tt.code, tt.want)
		}
	}
	if len(s.got) != 0 {
		t.Errorf("stored %q", s.got)
	}
	s.fail = true
	if code, _ := post(t, srv, "/sigfox", "s3cret", callback); code != 503 {
		t.Errorf("store down: %d; want 503", code)
	}
	want := map[string]uint64{"auth": 2, "unknown_device": 2, "bad_body": 4, "too_large": 1, "store_failed": 1, "several_tenants": 0}
	if st := a.Status(); !mapsEqual(st.Refused, want) || st.Accepted != 0 {
		t.Errorf("status = %+v; want refused %v", st, want)
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestStored: through a real event store, the callback's 200 comes once
// the reading is in DATA.
func TestStored(t *testing.T) {
	store := eventstoretest.Open(t)
	_, srv := serve(t, store)
	if code, body := post(t, srv, "/sigfox", "s3cret", callback); code != 200 {
		t.Fatalf("callback = %d %s", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got string
	_ = store.FollowData(ctx, "t1", eventstore.Start{Seq: 1}, func(_ uint64, data []byte) error {
		got = string(data)
		cancel()
		return nil
	})
	if !strings.Contains(got, `"station_coordinates":"-22.8,-47.06"`) {
		t.Errorf("DATA holds %q", got)
	}
}
