package mqtt_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nuid"

	"github.com/dojot-es/dojot"
	agentmqtt "github.com/dojot-es/dojot/agents/mqtt"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// brokerURL is the external MQTT broker to test against:
// DOJOT_TEST_MQTT_URL or MQTT_URL, else the local Mosquitto
// (tcp://127.0.0.1:1883). Unreachable, the test skips, or fails under
// CI=true.
func brokerURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("DOJOT_TEST_MQTT_URL")
	if u == "" {
		u = os.Getenv("MQTT_URL")
	}
	if u == "" {
		u = "tcp://127.0.0.1:1883"
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatalf("DOJOT_TEST_MQTT_URL %q: %v", u, err)
	}
	c, err := net.DialTimeout("tcp", pu.Host, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no MQTT broker at %s (DOJOT_TEST_MQTT_URL): %v", u, err)
		}
		t.Skipf("no MQTT broker at %s (set DOJOT_TEST_MQTT_URL): %v", u, err)
	}
	_ = c.Close()
	return u
}

// fresh is a name no other test run uses: a valid tenant, device id and
// group.
func fresh(prefix string) string { return prefix + strings.ToLower(nuid.Next()) }

// external starts an agent of the external broker at url in group and
// waits until it is connected and subscribed. The broker forgets its
// persistent session when the test ends.
func external(t *testing.T, url, group string, opts agentmqtt.Options) *agentmqtt.Agent {
	t.Helper()
	opts.BrokerURL, opts.BrokerGroup = url, group
	if opts.ClientID == "" {
		opts.ClientID = fresh("dojot-test-")
	}
	if opts.Logger == nil {
		opts.Logger = eventstoretest.Logger(t)
	}
	a, err := agentmqtt.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = a.Close()
		dropSession(t, url, opts.ClientID)
	})
	waitFor(t, func() bool { return a.Status().Broker.Connected })
	return a
}

// dropSession ends the persistent session of clientID at the broker, which
// would otherwise keep its share of a shared subscription forever.
func dropSession(t *testing.T, url, clientID string) {
	o := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).SetCleanSession(true).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(o)
	if tok := c.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		c.Disconnect(100)
	} else {
		t.Logf("drop session %s: %v", clientID, tok.Error())
	}
}

// device is a paho client of the broker, as a device (or a test) is.
func device(t *testing.T, url string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(nuid.Next()).SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func mustPublish(t *testing.T, c paho.Client, topic string, qos byte, payload string) {
	t.Helper()
	if tok := c.Publish(topic, qos, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// readingsOf is what DATA holds for one tenant.
func readingsOf(t *testing.T, store *eventstore.Store, tenant string) []stored {
	t.Helper()
	var out []stored
	for _, r := range readings(t, store) {
		if r.Body.Metadata.Tenant == tenant {
			out = append(out, r)
		}
	}
	return out
}

func TestExternalStored(t *testing.T) {
	url := brokerURL(t)
	store := eventstoretest.Open(t)
	tenant, dev := fresh("t"), fresh("d")
	a := external(t, url, fresh("g"), agentmqtt.Options{Store: store, Devices: devices{tenant + "/" + dev: true}})
	c := device(t, url)
	tests := []struct {
		topic, payload string
		qos            byte
		ts             int64 // 0: the time of arrival
	}{
		{tenant + ":" + dev + "/attrs", `{"temperature":23,"on":true}`, 1, 0},
		{"/" + tenant + "/" + dev + "/attrs", `{"humidity":60}`, 1, 0},
		{tenant + ":" + dev + "/attrs", `{"temperature":24,"timestamp":1528226137452}`, 1, 1528226137452},
		{"/" + tenant + "/" + dev + "/attrs", `{"temperature":25,"timestamp":"2018-06-05T19:15:37.452Z"}`, 0, 1528226137452},
	}
	before := time.Now().UnixMilli()
	for _, tt := range tests {
		mustPublish(t, c, tt.topic, tt.qos, tt.payload)
	}
	waitFor(t, func() bool { return len(readingsOf(t, store, tenant)) == len(tests) })
	after := time.Now().UnixMilli()
	got := readingsOf(t, store, tenant)
	for i, tt := range tests { // one publisher, one subscriber: in order
		r := got[i]
		var attrs map[string]any
		_ = json.Unmarshal([]byte(tt.payload), &attrs)
		md := r.Body.Metadata
		if !dataOf(store, r.Subject, tenant, dev) || md.DeviceID != dev || md.Tenant != tenant || !jsonEqual(r.Body.Attrs, attrs) {
			t.Errorf("%s %s stored as %s %s", tt.topic, tt.payload, r.Subject, r.Raw)
		}
		if tt.ts != 0 && md.Timestamp != tt.ts || tt.ts == 0 && (md.Timestamp < before || md.Timestamp > after) {
			t.Errorf("%s: metadata.timestamp = %d; want %d (0: between %d and %d)", tt.payload, md.Timestamp, tt.ts, before, after)
		}
	}
	st := a.Status()
	if st.Stored != uint64(len(tests)) || st.Broker == nil || !st.Broker.Connected || st.Broker.Group == "" {
		t.Errorf("Status = %+v, broker %+v; want %d stored, connected", st, st.Broker, len(tests))
	}
}

func TestExternalRefused(t *testing.T) {
	url := brokerURL(t)
	store := eventstoretest.Open(t)
	tenant, dev := fresh("t"), fresh("d")
	a := external(t, url, fresh("g"), agentmqtt.Options{Store: store, Devices: devices{tenant + "/" + dev: true}, MaxPayload: 1000})
	c := device(t, url)
	attrs := tenant + ":" + dev + "/attrs"
	tests := map[string]struct {
		topic, payload string
		reason         string
	}{
		"not JSON":       {attrs, `hello`, "not_json"},
		"array":          {attrs, `[1,2]`, "not_object"},
		"null":           {"/" + tenant + "/" + dev + "/attrs", `null`, "not_object"},
		"oversize":       {attrs, `{"x":"` + strings.Repeat("a", 1000) + `"}`, "too_large"},
		"unknown device": {tenant + ":nope/attrs", `{"t":1}`, "unknown_device"},
		"unknown tenant": {"/" + fresh("t") + "/" + dev + "/attrs", `{"t":1}`, "unknown_device"},
		"not a device":   {fresh("x") + "/attrs", `{"t":1}`, "publish_topic"},
	}
	for name, tt := range tests {
		// Other tests' devices, on the same broker, are refused too:
		// count at least one more.
		before := a.Status().Refused[tt.reason]
		mustPublish(t, c, tt.topic, 1, tt.payload)
		waitFor(t, func() bool { return a.Status().Refused[tt.reason] > before })
		_ = name
	}
	// A refused message was acknowledged: the next one is stored (the
	// agent did not reconnect to have them sent again).
	mustPublish(t, c, attrs, 1, `{"ok":1}`)
	waitFor(t, func() bool { return a.Status().Stored == 1 })
	if got := readingsOf(t, store, tenant); len(got) != 1 || got[0].Raw == "" || got[0].Body.Attrs["ok"] != 1.0 {
		t.Errorf("DATA holds %+v for %s; want the one good reading", got, tenant)
	}
	if st := a.Status(); st.Refused["store_failed"] != 0 {
		t.Errorf("Status = %+v; want no store failure", st)
	}
}

func TestExternalGroupSplits(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	url := brokerURL(t)
	store := eventstoretest.Open(t)
	tenant, dev := fresh("t"), fresh("d")
	group := fresh("g")
	known := devices{tenant + "/" + dev: true}
	a1 := external(t, url, group, agentmqtt.Options{Store: store, Devices: known})
	a2 := external(t, url, group, agentmqtt.Options{Store: store, Devices: known})
	c := device(t, url)
	const n = 200
	for i := range n {
		topic := tenant + ":" + dev + "/attrs"
		if i%2 == 1 {
			topic = "/" + tenant + "/" + dev + "/attrs"
		}
		mustPublish(t, c, topic, 1, fmt.Sprintf(`{"n":%d}`, i))
	}
	waitFor(t, func() bool { return a1.Status().Stored+a2.Status().Stored >= n })
	time.Sleep(200 * time.Millisecond) // a duplicate would arrive by now
	got := readingsOf(t, store, tenant)
	seen := map[float64]int{}
	for _, r := range got {
		seen[r.Body.Attrs["n"].(float64)]++
	}
	if len(got) != n || len(seen) != n {
		t.Errorf("DATA holds %d readings, %d distinct; want each of %d once", len(got), len(seen), n)
	}
	s1, s2 := a1.Status().Stored, a2.Status().Stored
	if s1 == 0 || s2 == 0 || s1+s2 != n {
		t.Errorf("agents stored %d and %d; want %d split between both", s1, s2, n)
	}
}

// failOnce fails the first append of tenant, then stores.
type failOnce struct {
	store  *eventstore.Store
	tenant string
	failed atomic.Bool
}

func (f *failOnce) AppendDataAsync(tenant, deviceID string, payload []byte) (func(<-chan time.Time) (uint64, error), error) {
	if tenant == f.tenant && f.failed.CompareAndSwap(false, true) {
		return nil, dojot.ErrUnavailable
	}
	return f.store.AppendDataAsync(tenant, deviceID, payload)
}

func TestExternalRedeliveredAfterStoreFailed(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	url := brokerURL(t)
	store := eventstoretest.Open(t)
	tenant, dev := fresh("t"), fresh("d")
	fail := &failOnce{store: store, tenant: tenant}
	a := external(t, url, fresh("g"), agentmqtt.Options{Store: fail, Devices: devices{tenant + "/" + dev: true}})
	c := device(t, url)
	mustPublish(t, c, tenant+":"+dev+"/attrs", 1, `{"again":true}`)
	// Not acknowledged: the agent reconnects, and the broker sends the
	// reading again.
	waitFor(t, func() bool { return len(readingsOf(t, store, tenant)) == 1 })
	if !fail.failed.Load() {
		t.Fatal("the first append did not fail")
	}
	waitFor(t, func() bool { return a.Status().Broker.Connected })
	if st := a.Status(); st.Refused["store_failed"] != 1 || st.Stored != 1 {
		t.Errorf("Status = %+v; want one store failure, then stored", st)
	}
	time.Sleep(200 * time.Millisecond)
	if got := readingsOf(t, store, tenant); len(got) != 1 {
		t.Errorf("DATA holds %d readings; want 1", len(got))
	}
}

// proxy forwards TCP connections to addr until cut, which closes every
// connection and refuses new ones until resumed: a broker that goes away.
type proxy struct {
	ln   net.Listener
	addr string
	mu   sync.Mutex
	down bool
	open []net.Conn
}

func newProxy(t *testing.T, addr string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, addr: addr}
	t.Cleanup(func() { _ = ln.Close(); p.cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				_ = in.Close()
				continue
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				p.mu.Unlock()
				_ = in.Close()
				continue
			}
			p.open = append(p.open, in, out)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
			go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
		}
	}()
	return p
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.open {
		_ = c.Close()
	}
	p.open = nil
}

func (p *proxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

func TestExternalBrokerAway(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	url := brokerURL(t)
	pu, _ := neturl(url)
	store := eventstoretest.Open(t)
	tenant, dev := fresh("t"), fresh("d")
	p := newProxy(t, pu)
	a := external(t, "tcp://"+p.ln.Addr().String(), fresh("g"), agentmqtt.Options{Store: store, Devices: devices{tenant + "/" + dev: true}})
	p.cut()
	waitFor(t, func() bool { return !a.Status().Broker.Connected })
	if st := a.Status().Broker; st.LastError == "" {
		t.Errorf("Broker = %+v; want the last error", st)
	}
	// Published while the agent is away: kept for its persistent session.
	c := device(t, url)
	mustPublish(t, c, tenant+":"+dev+"/attrs", 1, `{"while":"away"}`)
	time.Sleep(time.Second) // a few refused reconnections
	p.resume()
	waitFor(t, func() bool { return a.Status().Broker.Connected })
	waitFor(t, func() bool { return len(readingsOf(t, store, tenant)) == 1 })
}

func neturl(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	return u.Host, nil
}

func TestExternalActuationOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	url := brokerURL(t)
	store := eventstoretest.Open(t)
	tenant, dev := fresh("t"), fresh("d")
	group := fresh("g")
	known := devices{tenant + "/" + dev: true}
	agents := []*agentmqtt.Agent{
		external(t, url, group, agentmqtt.Options{Store: store, Devices: known}),
		external(t, url, group, agentmqtt.Options{Store: store, Devices: known}),
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, a := range agents {
		wg.Go(func() {
			if err := a.FollowActuations(ctx, store); err != nil {
				t.Errorf("FollowActuations: %v", err)
			}
		})
	}
	waitFor(t, func() bool {
		_, err := store.JetStream().Consumer(ctx, store.EventsStream(), agentmqtt.ActuationConsumer(group))
		return err == nil
	})
	var mu sync.Mutex
	got := map[string][]string{}
	c := device(t, url)
	topics := []string{tenant + ":" + dev + "/config", "/" + tenant + "/" + dev + "/config"}
	for _, topic := range topics {
		tok := c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
			mu.Lock()
			defer mu.Unlock()
			got[m.Topic()] = append(got[m.Topic()], string(m.Payload()))
		})
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", topic, tok.Error())
		}
	}
	attrs := `{"target":23.5}`
	// Another event of the device first: skipped.
	for _, e := range []struct {
		typ  string
		data any
	}{
		{dojot.EventDeviceCreated, dojot.DeviceCreated{Device: dojot.Device{ID: dev, Label: "pump"}}},
		{dojot.EventDeviceActuated, dojot.DeviceActuated{ID: dev, Attrs: json.RawMessage(attrs), Timestamp: 1}},
	} {
		ev, err := dojot.NewEvent(e.typ, tenant, dojot.KindDevice, dev, time.Now(), e.data)
		if err != nil {
			t.Fatal(err)
		}
		ev.NoExpect = true
		if _, err := store.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got[topics[0]]) > 0 && len(got[topics[1]]) > 0
	})
	time.Sleep(500 * time.Millisecond) // a second publish would arrive by now
	mu.Lock()
	defer mu.Unlock()
	for _, topic := range topics {
		if len(got[topic]) != 1 || got[topic][0] != attrs {
			t.Errorf("%s received %q; want %s once", topic, got[topic], attrs)
		}
	}
	if n := agents[0].Status().Actuated + agents[1].Status().Actuated; n != 1 {
		t.Errorf("agents actuated %d times; want 1", n)
	}
}

func TestExternalOptions(t *testing.T) {
	store := eventstoretest.Open(t)
	for _, o := range []agentmqtt.Options{
		{BrokerURL: "http://127.0.0.1:1883"},
		{BrokerURL: "tcp://"},
		{BrokerURL: "tcp://127.0.0.1:1883", BrokerGroup: "a/b"},
		{BrokerURL: "tcp://127.0.0.1:1883", BrokerGroup: "#"},
	} {
		o.Store, o.Devices = store, devices{}
		if _, err := agentmqtt.New(o); err == nil {
			t.Errorf("New(%q, group %q) accepted", o.BrokerURL, o.BrokerGroup)
		}
	}
}
