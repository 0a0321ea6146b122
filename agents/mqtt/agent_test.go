package mqtt_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nuid"

	"github.com/dojot-es/dojot"
	agentmqtt "github.com/dojot-es/dojot/agents/mqtt"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// devices is a Devices of "tenant/id" keys.
type devices map[string]bool

func (d devices) Device(tenant, id string) (dojot.Device, bool) {
	return dojot.Device{ID: id}, d[tenant+"/"+id]
}

// appendFunc is an Appender whose appends answer as the function says.
type appendFunc func(tenant, deviceID string, payload []byte) (wait func(expired <-chan time.Time) (uint64, error), err error)

func (f appendFunc) AppendDataAsync(tenant, deviceID string, payload []byte) (func(expired <-chan time.Time) (uint64, error), error) {
	return f(tenant, deviceID, payload)
}

// passwords is a Credentials of "tenant/id" -> password.
type passwords map[string]string

func (p passwords) CheckDeviceCredentials(tenant, id, password string) bool {
	pw, ok := p[tenant+"/"+id]
	return ok && pw == password
}

var known = devices{"admin/a1": true, "admin/a2": true, "other/a1": true}

// serve starts an agent on a free loopback port and returns its address.
func serve(t testing.TB, opts agentmqtt.Options) (string, *agentmqtt.Agent) {
	t.Helper()
	if opts.Devices == nil {
		opts.Devices = known
	}
	opts.Logger = eventstoretest.Logger(t)
	a, err := agentmqtt.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return ln.Addr().String(), a
}

// connect connects a paho (MQTT 3.1.1) client as username.
func connect(t *testing.T, addr, username string, opt ...func(*paho.ClientOptions)) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(nuid.Next()).SetUsername(username).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second)
	for _, f := range opt {
		f(o)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

func mustConnect(t *testing.T, addr, username string) paho.Client {
	t.Helper()
	c, err := connect(t, addr, username)
	if err != nil {
		t.Fatalf("connect %s: %v", username, err)
	}
	return c
}

// publish publishes and reports whether the broker acknowledged it (QoS
// 1) within a second.
func publish(c paho.Client, topic string, qos byte, payload string) bool {
	tok := c.Publish(topic, qos, false, payload)
	return tok.WaitTimeout(time.Second) && tok.Error() == nil
}

type stored struct {
	Subject string
	Body    struct {
		Metadata struct {
			DeviceID  string `json:"deviceid"`
			Tenant    string `json:"tenant"`
			Timestamp int64  `json:"timestamp"`
		} `json:"metadata"`
		Attrs map[string]any `json:"attrs"`
	}
	Raw string
}

// readings is everything in the DATA stream.
func readings(t *testing.T, store *eventstore.Store) []stored {
	t.Helper()
	st, err := store.JetStream().Stream(t.Context(), store.DataStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []stored
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		s := stored{Subject: m.Subject, Raw: string(m.Data)}
		if err := json.Unmarshal(m.Data, &s.Body); err != nil {
			t.Fatalf("stored %s: %v", m.Data, err)
		}
		out = append(out, s)
	}
	return out
}

func TestPublishStored(t *testing.T) {
	store := eventstoretest.Open(t)
	addr, a := serve(t, agentmqtt.Options{Store: store, Insecure: true})
	c := mustConnect(t, addr, "admin:a1")
	tests := []struct {
		topic, payload string
		ts             int64 // 0: the time of arrival
	}{
		{"admin:a1/attrs", `{"temperature":23,"on":true}`, 0},
		{"/admin/a1/attrs", `{"humidity":60}`, 0},
		{"admin:a1/attrs", `{"temperature":24,"timestamp":1528226137452}`, 1528226137452},
		{"admin:a1/attrs", `{"temperature":25,"timestamp":"2018-06-05T19:15:37.452Z"}`, 1528226137452},
		{"admin:a1/attrs", `{"temperature":26,"timestamp":"yesterday"}`, 0},
	}
	for i, tt := range tests {
		before := time.Now().UnixMilli()
		// QoS 1 is acknowledged only once stored: the reading is in DATA
		// as soon as the PUBACK arrives.
		if !publish(c, tt.topic, 1, tt.payload) {
			t.Fatalf("publish %s %s: not acknowledged", tt.topic, tt.payload)
		}
		after := time.Now().UnixMilli()
		got := readings(t, store)
		if len(got) != i+1 {
			t.Fatalf("after publish %d the DATA stream holds %d readings", i+1, len(got))
		}
		r := got[i]
		var attrs map[string]any
		_ = json.Unmarshal([]byte(tt.payload), &attrs)
		md := r.Body.Metadata
		if !dataOf(store, r.Subject, "admin", "a1") || md.DeviceID != "a1" || md.Tenant != "admin" || !jsonEqual(r.Body.Attrs, attrs) {
			t.Errorf("%s %s stored as %s %s", tt.topic, tt.payload, r.Subject, r.Raw)
		}
		if tt.ts != 0 && md.Timestamp != tt.ts || tt.ts == 0 && (md.Timestamp < before || md.Timestamp > after) {
			t.Errorf("%s: metadata.timestamp = %d; want %d (0: between %d and %d)", tt.payload, md.Timestamp, tt.ts, before, after)
		}
	}
	// QoS 0 is stored too (best effort: read until it is there).
	if !publish(c, "admin:a1/attrs", 0, `{"q":0}`) {
		t.Fatal("publish QoS 0 failed")
	}
	waitFor(t, func() bool { return len(readings(t, store)) == len(tests)+1 })
	if st := a.Status(); st.Stored != uint64(len(tests)+1) || len(st.Refused) != 0 || st.Clients != 1 || st.TLS != nil {
		t.Errorf("Status = %+v; want %d stored, none refused, 1 client", st, len(tests)+1)
	}
}

func TestPublishRefused(t *testing.T) {
	store := eventstoretest.Open(t)
	addr, a := serve(t, agentmqtt.Options{Store: store, Insecure: true, MaxPayload: 1000})
	good := mustConnect(t, addr, "admin:a2")
	big := `{"x":"` + strings.Repeat("a", 1000) + `"}`
	tests := map[string]struct {
		topic, payload string
		reason         string
	}{
		"not JSON":           {"admin:a1/attrs", `hello`, "not_json"},
		"truncated JSON":     {"admin:a1/attrs", `{"t":`, "not_json"},
		"array":              {"admin:a1/attrs", `[1,2]`, "not_object"},
		"string":             {"admin:a1/attrs", `"x"`, "not_object"},
		"null":               {"admin:a1/attrs", `null`, "not_object"},
		"oversize":           {"admin:a1/attrs", big, "too_large"},
		"other device":       {"admin:a2/attrs", `{"t":1}`, "publish_topic"},
		"other tenant":       {"other:a1/attrs", `{"t":1}`, "publish_topic"},
		"legacy other":       {"/other/a1/attrs", `{"t":1}`, "publish_topic"},
		"config topic":       {"admin:a1/config", `{"t":1}`, "publish_topic"},
		"wrong topic":        {"admin:a1/attributes", `{"t":1}`, "publish_topic"},
		"no device in topic": {"telemetry", `{"t":1}`, "publish_topic"},
	}
	n := 0
	for name, tt := range tests {
		for _, qos := range []byte{0, 1} {
			n++
			c := mustConnect(t, addr, "admin:a1")
			before := a.Status().Refused[tt.reason]
			acked := publish(c, tt.topic, qos, tt.payload)
			if qos == 1 && acked {
				t.Errorf("%s: QoS 1 publish to %s acknowledged", name, tt.topic)
			}
			// QoS 0 is not answered: wait for the refusal to be counted.
			waitFor(t, func() bool { return a.Status().Refused[tt.reason] > before })
			// The broker goes on serving others.
			if !publish(good, "admin:a2/attrs", 1, `{"n":1}`) {
				t.Fatalf("%s: another client's publish not acknowledged after the refusal", name)
			}
		}
	}
	got := readings(t, store)
	if len(got) != n {
		t.Fatalf("DATA holds %d readings; want the %d of the good client only", len(got), n)
	}
	for _, r := range got {
		if r.Body.Metadata.DeviceID != "a2" {
			t.Errorf("stored %s from a refused publish", r.Raw)
		}
	}
}

func TestConnectRefused(t *testing.T) {
	store := eventstoretest.Open(t)
	insecure, _ := serve(t, agentmqtt.Options{Store: store, Insecure: true})
	secure, a := serve(t, agentmqtt.Options{Store: store, Credentials: passwords{"admin/a1": "s3cret", "admin/gone": "pw"}})
	withPassword := func(pw string) func(*paho.ClientOptions) {
		return func(o *paho.ClientOptions) { o.SetPassword(pw) }
	}
	will := func(topic string) func(*paho.ClientOptions) {
		return func(o *paho.ClientOptions) { o.SetWill(topic, `{"gone":true}`, 1, false) }
	}
	tests := map[string]struct {
		addr, username string
		opt            []func(*paho.ClientOptions)
	}{
		"unknown device":           {insecure, "admin:nope", nil},
		"device of another tenant": {insecure, "nope:a1", nil},
		"no tenant":                {insecure, "a1", nil},
		"no username":              {insecure, "", nil},
		"will on another device":   {insecure, "admin:a1", []func(*paho.ClientOptions){will("admin:a2/config")}},
		"no password":              {secure, "admin:a1", nil},
		"wrong password":           {secure, "admin@a1", []func(*paho.ClientOptions){withPassword("nope")}},
		"other device's password":  {secure, "admin:a2", []func(*paho.ClientOptions){withPassword("s3cret")}},
		"removed device":           {secure, "admin@gone", []func(*paho.ClientOptions){withPassword("pw")}},
	}
	for name, tt := range tests {
		if _, err := connect(t, tt.addr, tt.username, tt.opt...); err == nil {
			t.Errorf("%s: connect as %q accepted", name, tt.username)
		}
	}
	if st := a.Status(); st.Refused["auth"] != 3 || st.Refused["unknown_device"] != 1 {
		t.Errorf("secure agent Status = %+v; want 3 auth and 1 unknown_device refusals", st)
	}
	for _, user := range []string{"admin@a1", "admin:a1"} {
		if _, err := connect(t, secure, user, withPassword("s3cret")); err != nil {
			t.Errorf("connect as %s with its password: %v", user, err)
		}
	}
	if _, err := connect(t, insecure, "admin:a1", will("admin:a1/attrs")); err != nil {
		t.Errorf("connect with a will on its own attrs topic: %v", err)
	}
	if _, err := connect(t, insecure, "admin@a1"); err != nil {
		t.Errorf("connect as admin@a1: %v", err)
	}
}

func TestSubscribeACL(t *testing.T) {
	store := eventstoretest.Open(t)
	addr, a := serve(t, agentmqtt.Options{Store: store, Insecure: true})
	c := mustConnect(t, addr, "admin:a1")
	tests := map[string]byte{
		"admin:a1/config":  1,
		"/admin/a1/config": 1,
		"admin:a2/config":  0x80,
		"other:a1/config":  0x80,
		"admin:a1/attrs":   0x80,
		"admin:a1/#":       0x80,
		"#":                0x80,
		"+/config":         0x80,
		"$SYS/#":           0x80,
	}
	for filter, want := range tests {
		tok := c.Subscribe(filter, 1, nil)
		if !tok.WaitTimeout(5 * time.Second) {
			t.Fatalf("subscribe %s: no SUBACK", filter)
		}
		if got := tok.(*paho.SubscribeToken).Result()[filter]; got != want {
			t.Errorf("subscribe %s: SUBACK code %#x; want %#x", filter, got, want)
		}
	}
	if got := a.Status().Refused["subscribe_topic"]; got != 7 {
		t.Errorf("Status().Refused[subscribe_topic] = %d; want 7", got)
	}
}

// TestStoreFailed: a reading JetStream refuses at once, fails later or
// never answers is not acknowledged, and its client is disconnected so
// that it sends it again.
func TestStoreFailed(t *testing.T) {
	for name, fail := range map[string]appendFunc{
		"refused": func(string, string, []byte) (func(<-chan time.Time) (uint64, error), error) {
			return nil, dojot.ErrUnavailable
		},
		"failed": func(string, string, []byte) (func(<-chan time.Time) (uint64, error), error) {
			return func(<-chan time.Time) (uint64, error) { return 0, dojot.ErrUnavailable }, nil
		},
		"no answer": func(string, string, []byte) (func(<-chan time.Time) (uint64, error), error) {
			return func(expired <-chan time.Time) (uint64, error) { <-expired; return 0, dojot.ErrUnavailable }, nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			addr, a := serve(t, agentmqtt.Options{Store: fail, Insecure: true, Timeout: 300 * time.Millisecond})
			c := mustConnect(t, addr, "admin:a1")
			if publish(c, "admin:a1/attrs", 1, `{"t":1}`) {
				t.Error("publish acknowledged though JetStream did not store it")
			}
			waitFor(t, func() bool { return !c.IsConnectionOpen() })
			if st := a.Status(); st.Refused["store_failed"] != 1 || st.Stored != 0 {
				t.Errorf("Status = %+v; want one store_failed", st)
			}
		})
	}
}

// TestPubackOrder: PUBACKs go out in the order the client sent its
// publishes ([MQTT-4.6.0-2]) even when JetStream stores them in another,
// and each only once its reading is stored.
func TestPubackOrder(t *testing.T) {
	answer := map[string]chan struct{}{`{"n":1}`: make(chan struct{}), `{"n":2}`: make(chan struct{}), `{"n":3}`: make(chan struct{})}
	store := appendFunc(func(_, _ string, payload []byte) (func(<-chan time.Time) (uint64, error), error) {
		var attrs json.RawMessage
		if err := json.Unmarshal(payload, &struct {
			Attrs *json.RawMessage `json:"attrs"`
		}{&attrs}); err != nil {
			return nil, err
		}
		ch := answer[string(attrs)]
		return func(expired <-chan time.Time) (uint64, error) {
			select {
			case <-ch:
				return 1, nil
			case <-expired:
				return 0, dojot.ErrUnavailable
			}
		}, nil
	})
	addr, a := serve(t, agentmqtt.Options{Store: store, Insecure: true})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// MQTT 3.1.1 CONNECT (clean session, username admin:a1), then three
	// QoS 1 PUBLISHes with packet ids 1, 2, 3.
	str := func(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }
	packet := func(header byte, body ...[]byte) []byte {
		b := slices.Concat(body...)
		return append([]byte{header, byte(len(b))}, b...)
	}
	out := packet(0x10, str("MQTT"), []byte{4, 0x82, 0, 60}, str("order"), str("admin:a1"))
	for i := 1; i <= 3; i++ {
		out = append(out, packet(0x32, str("admin:a1/attrs"), []byte{0, byte(i)}, []byte(fmt.Sprintf(`{"n":%d}`, i)))...)
	}
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	read := func(n int) []byte {
		b := make([]byte, n)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(conn, b); err != nil {
			t.Fatalf("read: %v", err)
		}
		return b
	}
	if got := read(4); !bytes.Equal(got, []byte{0x20, 2, 0, 0}) {
		t.Fatalf("CONNACK = %x", got)
	}
	// Stored 3, then 2: nothing may be acknowledged before 1 is.
	close(answer[`{"n":3}`])
	close(answer[`{"n":2}`])
	_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _ := conn.Read(make([]byte, 1)); n != 0 {
		t.Fatal("a PUBACK went out before reading 1 was stored")
	}
	close(answer[`{"n":1}`])
	if got, want := read(12), []byte{0x40, 2, 0, 1, 0x40, 2, 0, 2, 0x40, 2, 0, 3}; !bytes.Equal(got, want) {
		t.Errorf("PUBACKs = % x; want % x", got, want)
	}
	if st := a.Status(); st.Stored != 3 {
		t.Errorf("Status().Stored = %d; want 3", st.Stored)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// dataOf: subject is where DATA stores tenant/device's readings (with the
// partition the stream adds).
func dataOf(store *eventstore.Store, subject, tenant, device string) bool {
	t, d, ok := store.DataDevice(subject)
	return ok && t == tenant && d == device
}
