package lorawan

import (
	"context"
	"encoding/hex"
	"encoding/json"
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
	"github.com/dojot-es/dojot/agents/lorawan/lorawantest"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/projections/memory"
)

// TestParse: each network server's documented message, golden.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name     string
		net      network
		msg      string
		isUplink bool
		eui      string
		object   string
		data     string // hex
		ts       int64
	}{
		{"chirpstack up", chirpStack, lorawantest.ChirpStackUp, true, "0101010101010101", "", "aa", 1658136855775},
		{"chirpstack codec object", chirpStack, `{"time":"2022-07-18T09:34:15Z","deviceInfo":{"devEui":"0101010101010101"},"data":"qg==","object":{"temperature": 22.5}}`, true, "0101010101010101", `{"temperature":22.5}`, "aa", 1658136855000},
		{"chirpstack empty object", chirpStack, `{"deviceInfo":{"devEui":"01"},"data":"qg","object":{}}`, true, "01", "", "aa", 0},
		{"tts uplink", theThingsStack, lorawantest.TTSUplink, true, "0004A30B001C0530", `{"temperature":1.0,"luminosity":0.64}`, "8241de", 1581520545789},
		{"tts join-accept", theThingsStack, lorawantest.TTSJoin, false, "", "", "", 0},
		{"everynet uplink", everynet, lorawantest.EverynetUplink, true, "009798798793292", "", "6161080a1028181e20282df6e20cab307df7e788388c014206080110021803", 1517415774518},
		{"everynet downlink", everynet, `{"type":"downlink","meta":{"device":"01"},"params":{}}`, false, "", "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up, ok, err := tc.net.parse([]byte(tc.msg))
			if err != nil || ok != tc.isUplink {
				t.Fatalf("parse = %v, %v", ok, err)
			}
			if got := hex.EncodeToString(up.data); up.eui != tc.eui || string(up.object) != tc.object || got != tc.data || up.ts != tc.ts {
				t.Errorf("parse = eui %q object %s data %s ts %d", up.eui, up.object, got, up.ts)
			}
		})
	}
}

var at0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func sp(s string) *string { return &s }

// view is a memory view of LoRaWAN devices: a template "lora" with
// dev_eui 0101010101010101 (ChirpStack's example) used by t1/a and t1/a2;
// t2/b and t1/b1 share 0000000000000d0d;
// t1/c with dev_eui 0004a30b001c0530 (TTS's example, in lower case);
// t1/e with dojot's Everynet example; t1/f a DecentLab sensor written
// with separators; t1/g decodes JSON; t1/h names a decoder that does not
// exist; t1/k encodes its downlinks with "hex"; t1/x has no LoRaWAN
// template.
func view(t testing.TB) *memory.View {
	t.Helper()
	v := memory.New()
	seq := uint64(0)
	apply := func(tenant, typ, kind, id string, data any) {
		ev, err := dojot.NewEvent(typ, tenant, kind, id, at0, data)
		if err != nil {
			t.Fatal(err)
		}
		seq++
		ev.Seq, ev.Version = seq, 1
		if err := v.Apply(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	lora := dojot.Template{ID: 1, Label: "lora", Created: at0, Attrs: []dojot.Attr{
		{ID: 1, Label: dojot.AttrDevEUI, Type: "static", ValueType: "string", StaticValue: sp("0101010101010101"), Created: at0},
		{ID: 2, Label: AttrDecoder, Type: "static", ValueType: "string", Created: at0},
		{ID: 3, Label: "led", Type: "actuator", ValueType: "bool", Created: at0},
		{ID: 4, Label: AttrTTSDeviceID, Type: "static", ValueType: "string", Created: at0},
		{ID: 5, Label: AttrFPort, Type: "static", ValueType: "string", Created: at0},
		{ID: 6, Label: AttrNetwork, Type: "static", ValueType: "string", Created: at0},
		{ID: 8, Label: AttrEncoder, Type: "static", ValueType: "string", Created: at0},
	}}
	plain := dojot.Template{ID: 2, Label: "plain", Created: at0, Attrs: []dojot.Attr{{ID: 7, Label: "x", Type: "dynamic", ValueType: "float", Created: at0}}}
	for _, tenant := range []string{"t1", "t2"} {
		apply(tenant, dojot.EventTemplateCreated, dojot.KindTemplate, "1", dojot.TemplateCreated{Template: lora})
		apply(tenant, dojot.EventTemplateCreated, dojot.KindTemplate, "2", dojot.TemplateCreated{Template: plain})
	}
	dev := func(tenant, id string, tpl int, ov ...dojot.Override) {
		apply(tenant, dojot.EventDeviceCreated, dojot.KindDevice, id, dojot.DeviceCreated{Device: dojot.Device{ID: id, Label: id, Created: at0, Templates: []int{tpl}, Overrides: ov}})
	}
	eui := func(s string) dojot.Override { return dojot.Override{AttrID: 1, StaticValue: s} }
	decoder := func(s string) dojot.Override { return dojot.Override{AttrID: 2, StaticValue: s} }
	dev("t1", "a", 1)
	dev("t1", "a2", 1)
	dev("t2", "b", 1, eui("0000000000000d0d"))
	dev("t1", "b1", 1, eui("00-00-00-00-00-00-0D-0D"))
	dev("t1", "c", 1, eui("0004a30b001c0530"), dojot.Override{AttrID: 4, StaticValue: "dev1"}, dojot.Override{AttrID: 5, StaticValue: "15"})
	dev("t1", "e", 1, eui("009798798793292"))
	dev("t1", "f", 1, eui("70-B3-D5-7B-A0-00-00-01"))
	dev("t1", "g", 1, eui("00000000000000aa"), decoder("json"))
	dev("t1", "h", 1, eui("00000000000000bb"), decoder("cayenne"))
	dev("t1", "k", 1, eui("00000000000000cc"), dojot.Override{AttrID: 8, StaticValue: "hex"})
	dev("t1", "x", 2)
	return v
}

// store records appends, failing when fail is set.
type store struct {
	mu   sync.Mutex
	got  []string
	fail bool
}

func (s *store) AppendDataAsync(tenant, id string, payload []byte) (func(<-chan time.Time) (uint64, error), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return func(<-chan time.Time) (uint64, error) { return 0, errors.New("jetstream down") }, nil
	}
	s.got = append(s.got, tenant+"/"+id+" "+string(payload))
	return func(<-chan time.Time) (uint64, error) { return uint64(len(s.got)), nil }, nil
}

func (s *store) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.got
	s.got = nil
	slices.Sort(got)
	return got
}

var now = time.UnixMilli(1700000000000)

func newAgent(t testing.TB, st Appender, opts Options) *Agent {
	t.Helper()
	opts.Store, opts.Devices = st, view(t)
	if opts.ChirpStackSecret == "" && opts.TTSSecret == "" && opts.EverynetURL == "" {
		opts.ChirpStackSecret, opts.TTSSecret = "cs-secret", "tts-secret"
	}
	opts.Logger = eventstoretest.Logger(t)
	opts.Now = func() time.Time { return now }
	if opts.MaxBody == 0 {
		opts.MaxBody = 4096
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// serve runs the agent's webhooks as the gateway routes them.
func serve(t testing.TB, a *Agent) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for pattern, h := range a.Routes() {
		mux.Handle(strings.TrimSuffix(pattern, "*"), h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func post(t testing.TB, url, secret, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestWebhooks: the documented uplinks of ChirpStack and The Things Stack
// are stored for every device of their EUI, in the IoT-agent shape, with
// the network server's time; other events are acknowledged and ignored.
func TestWebhooks(t *testing.T) {
	st := &store{}
	a := newAgent(t, st, Options{})
	srv := serve(t, a)
	cs, tts := srv.URL+"/lorawan/chirpstack?event=up", srv.URL+"/lorawan/tts"
	for _, tc := range []struct {
		name, url, secret, body string
		code                    int
		answer                  string
		want                    []string
	}{
		{"chirpstack docs: hex for both devices of the EUI", cs, "cs-secret", lorawantest.ChirpStackUp, 200, `{"stored":2}`, []string{
			`t1/a {"metadata":{"deviceid":"a","tenant":"t1","timestamp":1658136855775},"attrs":{"payload":"aa"}}`,
			`t1/a2 {"metadata":{"deviceid":"a2","tenant":"t1","timestamp":1658136855775},"attrs":{"payload":"aa"}}`,
		}},
		// An EUI of t1's and t2's devices: ?tenant= names whose.
		{"chirpstack codec object wins", cs + "&tenant=t2", "cs-secret", `{"deviceInfo":{"devEui":"0000000000000d0d"},"data":"qg==","object":{"temperature":22.5}}`, 200, `{"stored":1}`, []string{
			`t2/b {"metadata":{"deviceid":"b","tenant":"t2","timestamp":1700000000000},"attrs":{"temperature":22.5}}`,
		}},
		{"chirpstack upper-case EUI, json decoder", cs, "cs-secret", `{"deviceInfo":{"devEui":"00000000000000AA"},"data":"eyJsZWQiOiB0cnVlfQ=="}`, 200, `{"stored":1}`, []string{
			`t1/g {"metadata":{"deviceid":"g","tenant":"t1","timestamp":1700000000000},"attrs":{"led":true}}`,
		}},
		{"chirpstack decentlab through separators", cs, "cs-secret", `{"deviceInfo":{"devEui":"70b3d57ba0000001"},"data":"AgEvAAME0gABC7E="}`, 200, `{"stored":1}`, []string{
			`t1/f {"metadata":{"deviceid":"f","tenant":"t1","timestamp":1700000000000},"attrs":{"payload":"02012f000304d200010bb1"}}`,
		}},
		{"chirpstack join ignored", srv.URL + "/lorawan/chirpstack?event=join", "cs-secret", `{"deviceInfo":{"devEui":"0101010101010101"}}`, 200, `{"stored":0}`, nil},
		{"chirpstack MAC-only uplink ignored", cs, "cs-secret", `{"deviceInfo":{"devEui":"0101010101010101"},"fPort":0}`, 200, `{"stored":0}`, nil},
		{"tts docs: decoded_payload", tts, "tts-secret", lorawantest.TTSUplink, 200, `{"stored":1}`, []string{
			`t1/c {"metadata":{"deviceid":"c","tenant":"t1","timestamp":1581520545789},"attrs":{"temperature":1.0,"luminosity":0.64}}`,
		}},
		{"tts frm_payload, path per message type", tts + "/uplink", "tts-secret", `{"end_device_ids":{"dev_eui":"0004A30B001C0530"},"received_at":"2020-02-12T15:15:46Z","uplink_message":{"frm_payload":"gkHe"}}`, 200, `{"stored":1}`, []string{
			`t1/c {"metadata":{"deviceid":"c","tenant":"t1","timestamp":1581520546000},"attrs":{"payload":"8241de"}}`,
		}},
		{"tts join-accept ignored", tts + "/join", "tts-secret", lorawantest.TTSJoin, 200, `{"stored":0}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, answer := post(t, tc.url, tc.secret, "application/json", tc.body)
			if code != tc.code || answer != tc.answer {
				t.Errorf("answer = %d %s; want %d %s", code, answer, tc.code, tc.answer)
			}
			if got := st.take(); !slices.Equal(got, tc.want) {
				t.Errorf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	if s := a.Status(); s.Accepted != 6 || s.Stored != 7 || s.Ignored != 3 {
		t.Errorf("status = %+v", s)
	}
}

// TestRefused: every bad uplink is a 4xx with a JSON error, counted by
// reason, and stores nothing, not even for the devices it would suit.
func TestRefused(t *testing.T) {
	st := &store{}
	a := newAgent(t, st, Options{MaxBody: 2048})
	srv := serve(t, a)
	cs, tts := srv.URL+"/lorawan/chirpstack?event=up", srv.URL+"/lorawan/tts"
	for _, tc := range []struct {
		name, url, secret, contentType, body string
		code                                 int
		reason, msg                          string
	}{
		{"no secret", cs, "", "application/json", lorawantest.ChirpStackUp, 401, "auth", "Missing or wrong secret"},
		{"other integration's secret", cs, "tts-secret", "application/json", lorawantest.ChirpStackUp, 401, "auth", "Missing or wrong secret"},
		{"tts wrong secret", tts, "cs-secret", "application/json", lorawantest.TTSUplink, 401, "auth", "Missing or wrong secret"},
		{"protobuf encoding", cs, "cs-secret", "application/octet-stream", "\x0a\x24", 415, "encoding", "set the integration's encoding"},
		{"not JSON", cs, "cs-secret", "application/json", `{"deviceInfo":`, 400, "bad_json", "must be one JSON object"},
		{"JSON array", tts, "tts-secret", "application/json", `[1]`, 400, "bad_json", "must be one JSON object"},
		{"wrong type", cs, "cs-secret", "application/json", `{"deviceInfo":{"devEui":1}}`, 400, "bad_json", "does not match"},
		{"no EUI", tts, "tts-secret", "application/json", `{"uplink_message":{"frm_payload":"qg=="}}`, 400, "bad_json", `"end_device_ids.dev_eui" is missing`},
		{"no event", srv.URL + "/lorawan/chirpstack", "cs-secret", "application/json", lorawantest.ChirpStackUp, 400, "bad_json", "Missing ?event="},
		{"object not an object", cs, "cs-secret", "application/json", `{"deviceInfo":{"devEui":"0101010101010101"},"object":[1]}`, 400, "bad_json", `"object" must be a JSON object`},
		{"invalid base64", cs, "cs-secret", "application/json", `{"deviceInfo":{"devEui":"0101010101010101"},"data":"q*=="}`, 400, "bad_base64", `"data" is not base64`},
		{"tts invalid base64", tts, "tts-secret", "application/json", `{"end_device_ids":{"dev_eui":"0004A30B001C0530"},"uplink_message":{"frm_payload":"!!"}}`, 400, "bad_base64", `"uplink_message.frm_payload" is not base64`},
		{"unknown EUI", cs, "cs-secret", "application/json", `{"deviceInfo":{"devEui":"ffffffffffffffff"},"data":"qg=="}`, 404, "unknown_device", `No device has the dev_eui "ffffffffffffffff"`},
		{"EUI of several tenants' devices", cs, "cs-secret", "application/json", `{"deviceInfo":{"devEui":"0000000000000d0d"},"data":"qg=="}`, 409, "several_tenants", `Devices of several tenants have the dev_eui "0000000000000d0d"`},
		{"EUI not of the tenant", cs + "&tenant=t3", "cs-secret", "application/json", lorawantest.ChirpStackUp, 404, "unknown_device", `No device has the dev_eui`},
		{"decoder refuses", cs, "cs-secret", "application/json", `{"deviceInfo":{"devEui":"00000000000000aa"},"data":"qg=="}`, 422, "decode_failed", `Device g: decoder "json": the payload is not a JSON object`},
		{"no such decoder", cs, "cs-secret", "application/json", `{"deviceInfo":{"devEui":"00000000000000bb"},"data":"qg=="}`, 422, "decode_failed", `decoder "cayenne": no such decoder`},
		{"oversize", tts, "tts-secret", "application/json", `{"x":"` + strings.Repeat("a", 3000) + `"}`, 413, "too_large", "Body larger than 2048 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.Status().Refused[tc.reason]
			code, answer := post(t, tc.url, tc.secret, tc.contentType, tc.body)
			var e struct{ Error string }
			if code != tc.code || json.Unmarshal([]byte(answer), &e) != nil || !strings.Contains(e.Error, tc.msg) {
				t.Errorf("answer = %d %s; want %d with %q", code, answer, tc.code, tc.msg)
			}
			if n := a.Status().Refused[tc.reason]; n != before+1 {
				t.Errorf("refused[%s] = %d, was %d", tc.reason, n, before)
			}
			if got := st.take(); len(got) != 0 {
				t.Errorf("stored %v", got)
			}
		})
	}
	code, _ := post(t, srv.URL+"/lorawan/chirpstack?event=up&tenant=t1", "cs-secret", "application/json", lorawantest.ChirpStackUp)
	req, _ := http.NewRequest(http.MethodGet, cs, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code != 200 || resp.StatusCode != 405 {
		t.Errorf("good uplink after refusals = %d; GET = %d", code, resp.StatusCode)
	}

	// JetStream failing: 503, and the uplink is not acknowledged.
	st.take()
	st.fail = true
	if code, answer := post(t, cs+"&tenant=t1", "cs-secret", "application/json", lorawantest.ChirpStackUp); code != 503 || !strings.Contains(answer, "jetstream down") {
		t.Errorf("store failing = %d %s", code, answer)
	}
	if s := a.Status(); s.Refused["store_failed"] != 1 {
		t.Errorf("status = %+v", s)
	}
}

// TestRoutesOff: a network server without its secret has no webhook.
func TestRoutesOff(t *testing.T) {
	a := newAgent(t, &store{}, Options{ChirpStackSecret: "only-cs"})
	if r := a.Routes(); r["/lorawan/chirpstack"] == nil || r["/lorawan/tts"] != nil {
		t.Errorf("routes = %v", r)
	}
	for _, o := range []Options{
		{},
		{Store: &store{}, Devices: view(t)},
		{Store: &store{}, Devices: view(t), ChirpStackURL: "http://cs"},
		{Store: &store{}, Devices: view(t), TTSURL: "ftp://tts", TTSKey: "k"},
		{Store: &store{}, Devices: view(t), EverynetURL: "http://ev"},
		{Store: &store{}, Devices: view(t), EverynetURL: "ws://ev"},
		{Store: &store{}, Devices: view(t), ChirpStackSecret: "s", Group: "a b"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}
