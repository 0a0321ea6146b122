package lorawan

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/agents/lorawan/lorawantest"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// next is api's next request.
func next(t *testing.T, api *lorawantest.DownlinkAPI) lorawantest.Request {
	t.Helper()
	r, ok := api.Next(15 * time.Second)
	if !ok {
		t.Fatal("no downlink request")
	}
	return r
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
	cs := lorawantest.NewDownlinkAPI(t, "cs-token")
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
	r := next(t, cs)
	if r.Path != "POST /api/devices/0101010101010101/queue" || r.Auth != "Bearer cs-token" || r.ContentType != "application/json" {
		t.Errorf("request = %+v", r)
	}
	item, _ := r.Body["queueItem"].(map[string]any)
	if len(r.Body) != 1 || item["fPort"] != 1.0 || item["confirmed"] != false || payload(t, item["data"]) != `{"led":true}` {
		t.Errorf("body = %v", r.Body)
	}
	if r, ok := cs.Next(300 * time.Millisecond); ok {
		t.Errorf("unexpected downlink %+v", r)
	}
	if s := a.Status(); s.Actuated != 1 || s.ActuationFailed != 0 {
		t.Errorf("status = %+v", s)
	}
}

// TestActuateOnce: two instances of a group follow actuations; each
// actuation reaches the network server once.
func TestActuateOnce(t *testing.T) {
	cs := lorawantest.NewDownlinkAPI(t, "cs-token")
	store := eventstoretest.Open(t)
	ctx, cancel := context.WithCancel(context.Background())
	var done []chan struct{}
	for range 2 {
		a := newAgent(t, &store2{}, Options{ChirpStackURL: cs.URL, ChirpStackToken: "cs-token", Group: "once"})
		d := make(chan struct{})
		done = append(done, d)
		go func() { defer close(d); _ = a.FollowActuations(ctx, store) }()
	}
	t.Cleanup(func() {
		cancel()
		for _, d := range done {
			<-d
		}
	})
	time.Sleep(300 * time.Millisecond)
	const n = 10
	for i := range n {
		ev, err := dojot.NewEvent(dojot.EventDeviceActuated, "t1", dojot.KindDevice, "a", at0,
			dojot.DeviceActuated{ID: "a", Attrs: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), Timestamp: at0.UnixMilli()})
		if err != nil {
			t.Fatal(err)
		}
		ev.NoExpect = true
		if _, err := store.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for range n {
		r := next(t, cs)
		item, _ := r.Body["queueItem"].(map[string]any)
		seen[payload(t, item["data"])]++
	}
	if r, ok := cs.Next(500 * time.Millisecond); ok {
		t.Errorf("an actuation sent twice: %+v", r)
	}
	for i := range n {
		if k := fmt.Sprintf(`{"n":%d}`, i); seen[k] != 1 {
			t.Errorf("%s sent %d times", k, seen[k])
		}
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
	tts := lorawantest.NewDownlinkAPI(t, "NNSXS.KEY")
	a := newAgent(t, &store2{}, Options{TTSURL: tts.URL + "/api/v3/as/applications/app1/webhooks/dojot", TTSKey: "NNSXS.KEY"})
	ctx := context.Background()
	if err := a.Actuate(ctx, "t1", "c", json.RawMessage(`{"led":false}`)); err != nil {
		t.Fatal(err)
	}
	r := next(t, tts)
	dl, _ := r.Body["downlinks"].([]any)
	d, _ := dl[0].(map[string]any)
	if r.Path != "POST /api/v3/as/applications/app1/webhooks/dojot/devices/dev1/down/push" || r.Auth != "Bearer NNSXS.KEY" ||
		len(dl) != 1 || d["f_port"] != 15.0 || d["priority"] != "NORMAL" || payload(t, d["frm_payload"]) != `{"led":false}` {
		t.Errorf("request = %+v", r)
	}
	if err := a.Actuate(ctx, "t1", "f", json.RawMessage(`{"led":true}`)); err != nil {
		t.Fatal(err)
	}
	if r := next(t, tts); r.Path != "POST /api/v3/as/applications/app1/webhooks/dojot/devices/eui-70b3d57ba0000001/down/push" {
		t.Errorf("request = %+v", r)
	}
	// The hex encoder: the attr "payload" gives the bytes.
	if err := a.Actuate(ctx, "t1", "k", json.RawMessage(`{"payload":"01ff"}`)); err != nil {
		t.Fatal(err)
	}
	r = next(t, tts)
	dl, _ = r.Body["downlinks"].([]any)
	d, _ = dl[0].(map[string]any)
	if r.Path != "POST /api/v3/as/applications/app1/webhooks/dojot/devices/eui-00000000000000cc/down/push" || d["frm_payload"] != "Af8=" {
		t.Errorf("hex downlink = %+v", r)
	}
	var perm *permanent
	if err := a.Actuate(ctx, "t1", "k", json.RawMessage(`{"led":true}`)); !errors.As(err, &perm) || !strings.Contains(err.Error(), `needs the attr "payload"`) {
		t.Errorf("hex encoder without payload = %v", err)
	}
}

// TestActuateFailures: a network server that refuses a downlink (4xx) is a
// permanent failure, one that is down or answers 5xx is retried; device
// settings that cannot work are permanent.
func TestActuateFailures(t *testing.T) {
	cs := lorawantest.NewDownlinkAPI(t, "cs-token")
	tts := lorawantest.NewDownlinkAPI(t, "key")
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
	next(t, cs)
	c := newAgent(t, &store2{}, Options{ChirpStackURL: cs.URL, ChirpStackToken: "cs-token"})
	cs.SetCode(503)
	if err := c.Actuate(ctx, "t1", "a", json.RawMessage(`{"led":true}`)); err == nil || errors.As(err, &perm) || !errors.Is(err, dojot.ErrUnavailable) {
		t.Errorf("5xx = %v", err)
	}
	next(t, cs)
	cs.Close()
	if err := c.Actuate(ctx, "t1", "a", json.RawMessage(`{"led":true}`)); err == nil || errors.As(err, &perm) {
		t.Errorf("server down = %v", err)
	}
	if err := c.Actuate(ctx, "t1", "x", json.RawMessage(`{"led":true}`)); err != nil {
		t.Errorf("not a LoRaWAN device = %v", err)
	}
	// t1/b1's EUI is t2/b's too: it may be t2's device, t1 sends it nothing.
	if err := c.Actuate(ctx, "t1", "b1", json.RawMessage(`{"led":true}`)); !errors.As(err, &perm) || !strings.Contains(err.Error(), "several tenants") {
		t.Errorf("EUI of several tenants' devices = %v", err)
	}
}
