package lorawan

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// request is what a fake network server received.
type request struct {
	path, auth, contentType string
	body                    map[string]any
}

// fakeAPI plays a network server's downlink API: it checks the bearer
// token, keeps each request and answers with code (200 by default).
type fakeAPI struct {
	*httptest.Server
	mu   sync.Mutex
	got  []request
	code int
	seen chan request
}

func newFakeAPI(t *testing.T, token string) *fakeAPI {
	f := &fakeAPI{code: 200, seen: make(chan request, 16)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req := request{path: r.Method + " " + r.URL.Path, auth: r.Header.Get("Authorization"), contentType: r.Header.Get("Content-Type")}
		if err := json.Unmarshal(b, &req.body); err != nil {
			t.Errorf("downlink body %q: %v", b, err)
		}
		f.mu.Lock()
		f.got = append(f.got, req)
		code := f.code
		f.mu.Unlock()
		f.seen <- req
		if req.auth != "Bearer "+token {
			http.Error(w, `{"code":16,"message":"unauthenticated"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"id":"1bbcab1d-6ec6-4136-b3f5-d63be1dc08de"}`)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) next(t *testing.T) request {
	t.Helper()
	select {
	case r := <-f.seen:
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("no downlink request")
		return request{}
	}
}

// payload decodes the base64 FRMPayload of a downlink.
func payload(t *testing.T, v any) string {
	t.Helper()
	s, _ := v.(string)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Errorf("payload %v: %v", v, err)
	}
	return string(b)
}

// TestActuateChirpStack: an actuation in the event log reaches ChirpStack's
// REST API as chirpstack-rest-api's DeviceService.Enqueue
// (openapiv2/api/device.swagger.json: POST /api/devices/{queueItem.devEui}/queue,
// body {"queueItem":{"confirmed","fPort","data"}}, data base64), with the
// API token as bearer, once; a device without dev_eui sends nothing.
func TestActuateChirpStack(t *testing.T) {
	cs := newFakeAPI(t, "cs-token")
	store := eventstoretest.Open(t)
	a := newAgent(t, &store2{}, Options{ChirpStackURL: cs.URL + "/", ChirpStackToken: "cs-token", Timeout: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.FollowActuations(ctx, store) }()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(300 * time.Millisecond) // the shared consumer takes events appended after it exists

	for _, id := range []string{"x", "a"} { // x has no dev_eui: nothing
		ev, err := dojot.NewEvent(dojot.EventDeviceActuated, "t1", dojot.KindDevice, id, at0,
			dojot.DeviceActuated{ID: id, Attrs: json.RawMessage(`{"led": true}`), Timestamp: at0.UnixMilli()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	r := cs.next(t)
	if r.path != "POST /api/devices/0101010101010101/queue" || r.auth != "Bearer cs-token" || r.contentType != "application/json" {
		t.Errorf("request = %+v", r)
	}
	item, _ := r.body["queueItem"].(map[string]any)
	if len(r.body) != 1 || item["fPort"] != 1.0 || item["confirmed"] != false || payload(t, item["data"]) != `{"led":true}` {
		t.Errorf("body = %v", r.body)
	}
	select {
	case r := <-cs.seen:
		t.Errorf("unexpected downlink %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	if s := a.Status(); s.Actuated != 1 || s.ActuationFailed != 0 {
		t.Errorf("status = %+v", s)
	}
}

// store2 is an Appender for agents that store nothing in a test.
type store2 struct{}

func (store2) AppendDataAsync(string, string, []byte) (func(<-chan time.Time) (uint64, error), error) {
	return nil, errors.New("not in this test")
}

// TestActuateTTS: The Things Stack's downlink push
// (lorawan-stack-docs integrations/webhooks/scheduling-downlinks.md: POST
// /api/v3/as/applications/{app}/webhooks/{webhook}/devices/{device}/down/push,
// {"downlinks":[{"frm_payload","f_port","priority"}]}, API key as bearer),
// to the device's tts_device_id on its lora_fport, else "eui-<dev_eui>".
func TestActuateTTS(t *testing.T) {
	tts := newFakeAPI(t, "NNSXS.KEY")
	a := newAgent(t, &store2{}, Options{TTSURL: tts.URL + "/api/v3/as/applications/app1/webhooks/dojot", TTSKey: "NNSXS.KEY"})
	ctx := context.Background()
	if err := a.Actuate(ctx, "t1", "c", json.RawMessage(`{"led":false}`)); err != nil {
		t.Fatal(err)
	}
	r := tts.next(t)
	dl, _ := r.body["downlinks"].([]any)
	d, _ := dl[0].(map[string]any)
	if r.path != "POST /api/v3/as/applications/app1/webhooks/dojot/devices/dev1/down/push" || r.auth != "Bearer NNSXS.KEY" ||
		len(dl) != 1 || d["f_port"] != 15.0 || d["priority"] != "NORMAL" || payload(t, d["frm_payload"]) != `{"led":false}` {
		t.Errorf("request = %+v", r)
	}
	if err := a.Actuate(ctx, "t1", "f", json.RawMessage(`{"led":true}`)); err != nil {
		t.Fatal(err)
	}
	if r := tts.next(t); r.path != "POST /api/v3/as/applications/app1/webhooks/dojot/devices/eui-70b3d57ba0000001/down/push" {
		t.Errorf("request = %+v", r)
	}
}

// TestActuateFailures: a network server that refuses a downlink (4xx) is a
// permanent failure, one that is down or answers 5xx is retried; device
// settings that cannot work are permanent.
func TestActuateFailures(t *testing.T) {
	cs := newFakeAPI(t, "cs-token")
	tts := newFakeAPI(t, "key")
	a := newAgent(t, &store2{}, Options{ChirpStackURL: cs.URL, ChirpStackToken: "wrong", TTSURL: tts.URL, TTSKey: "key"})
	ctx := context.Background()
	var perm *permanent
	// Both configured: the device must say which.
	if err := a.Actuate(ctx, "t1", "a", json.RawMessage(`{"led":true}`)); !errors.As(err, &perm) || !strings.Contains(err.Error(), "lora_network") {
		t.Errorf("no lora_network = %v", err)
	}
	b := newAgent(t, &store2{}, Options{ChirpStackURL: cs.URL, ChirpStackToken: "wrong"})
	if err := b.Actuate(ctx, "t1", "a", json.RawMessage(`{"led":true}`)); !errors.As(err, &perm) || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong token = %v", err)
	}
	cs.next(t)
	c := newAgent(t, &store2{}, Options{ChirpStackURL: cs.URL, ChirpStackToken: "cs-token"})
	cs.mu.Lock()
	cs.code = 503
	cs.mu.Unlock()
	if err := c.Actuate(ctx, "t1", "a", json.RawMessage(`{"led":true}`)); err == nil || errors.As(err, &perm) || !errors.Is(err, dojot.ErrUnavailable) {
		t.Errorf("5xx = %v", err)
	}
	cs.next(t)
	cs.Close()
	if err := c.Actuate(ctx, "t1", "a", json.RawMessage(`{"led":true}`)); err == nil || errors.As(err, &perm) {
		t.Errorf("server down = %v", err)
	}
	if err := c.Actuate(ctx, "t1", "x", json.RawMessage(`{"led":true}`)); err != nil {
		t.Errorf("not a LoRaWAN device = %v", err)
	}
}
