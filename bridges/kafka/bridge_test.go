package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/bridges/kafka"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 123456000, time.UTC)

// newKafka starts an in-process Kafka-protocol server; opts add to the
// defaults (one broker).
func newKafka(tb testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	tb.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// startBridge runs a bridge from store to brokers until the test ends.
func startBridge(tb testing.TB, store *eventstore.Store, brokers []string) *kafka.Bridge {
	tb.Helper()
	b, _ := runBridge(tb, store, kafka.Options{Brokers: brokers})
	return b
}

// runBridge runs a bridge with opts (test defaults added) until stop is
// called or the test ends.
func runBridge(tb testing.TB, store *eventstore.Store, opts kafka.Options) (b *kafka.Bridge, stop func()) {
	tb.Helper()
	opts.Logger = eventstoretest.Logger(tb)
	opts.RetryMax, opts.AckWait = 500*time.Millisecond, 5*time.Second
	b, err := kafka.New(store, opts)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done; _ = b.Close() }) }
	tb.Cleanup(stop)
	return b, stop
}

// appendEvent stores a hand-made event and returns it with its Seq.
func appendEvent(tb testing.TB, store *eventstore.Store, typ, tenant, kind, id string, data any) dojot.Event {
	tb.Helper()
	ev, err := dojot.NewEvent(typ, tenant, kind, id, t0, data)
	if err != nil {
		tb.Fatal(err)
	}
	ev.NoExpect = true
	// As if a request of id trace-<type> made it: its records carry it.
	ctx := dojot.WithRequestID(context.Background(), "trace-"+typ)
	if ev.Seq, err = store.Append(ctx, ev); err != nil {
		tb.Fatal(err)
	}
	return ev
}

// readN reads n records of topic (partition 0) from the start.
func readN(tb testing.TB, brokers []string, topic string, n int, timeout time.Duration) []kafkago.Message {
	tb.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []kafkago.Message
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			tb.Fatalf("read %s: got %d records, want %d: %v", topic, len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func header(m kafkago.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func str(p string) *string { return &p }

type msg struct {
	Event string          `json:"event"`
	Meta  map[string]any  `json:"meta"`
	Data  json.RawMessage `json:"data"`
}

type renderedDevice struct {
	ID        string                       `json:"id"`
	Label     string                       `json:"label"`
	Created   string                       `json:"created"`
	Templates []int                        `json:"templates"`
	Attrs     map[string][]json.RawMessage `json:"attrs"`
}

func decodeMsg(t *testing.T, m kafkago.Message) (msg, renderedDevice) {
	t.Helper()
	var got msg
	if err := json.Unmarshal(m.Value, &got); err != nil {
		t.Fatalf("record %s: %v", m.Value, err)
	}
	var dev renderedDevice
	_ = json.Unmarshal(got.Data, &dev)
	return got, dev
}

func labels(raws []json.RawMessage) []string {
	var out []string
	for _, r := range raws {
		var a struct {
			Label string `json:"label"`
		}
		_ = json.Unmarshal(r, &a)
		out = append(out, a.Label)
	}
	return out
}

// TestPayloads drives every kind of event the bridge maps and compares each
// record field by field with CONTRACT.md 2 and 4.4. All events are stored
// before the bridge starts, so renderings at the event's position (the
// create before the template grew an attr) prove the private view.
func TestPayloads(t *testing.T) {
	store := eventstoretest.Open(t)
	tmpl := dojot.Template{ID: 1, Label: "SensorModel", Created: t0, Attrs: []dojot.Attr{
		{ID: 1, Label: "temperature", Type: "dynamic", ValueType: "float", Created: t0},
		{ID: 2, Label: "target", Type: "actuator", ValueType: "float", Created: t0},
	}}
	tenant := appendEvent(t, store, dojot.EventTenantCreated, "acme", dojot.KindTenant, "acme", dojot.TenantCreated{Tenant: "acme"})
	appendEvent(t, store, dojot.EventTemplateCreated, "acme", dojot.KindTemplate, "1", dojot.TemplateCreated{Template: tmpl})
	created := appendEvent(t, store, dojot.EventDeviceCreated, "acme", dojot.KindDevice, "e06357", dojot.DeviceCreated{Device: dojot.Device{ID: "e06357", Label: "pump", Created: t0, Templates: []int{1}}})
	appendEvent(t, store, dojot.EventDeviceCreated, "acme", dojot.KindDevice, "a1", dojot.DeviceCreated{Device: dojot.Device{ID: "a1", Label: "imported", Created: t0, Templates: []int{1}}, Cause: dojot.CauseImport})
	updated := appendEvent(t, store, dojot.EventDeviceUpdated, "acme", dojot.KindDevice, "e06357", dojot.DeviceUpdated{Device: dojot.Device{ID: "e06357", Label: "pump2", Created: t0, Updated: &t0, Templates: []int{1}}})
	appendEvent(t, store, dojot.EventDeviceUpdated, "acme", dojot.KindDevice, "e06357", dojot.DeviceUpdated{Device: dojot.Device{ID: "e06357", Label: "pump2", Created: t0, Updated: &t0, Templates: []int{1}}, Cause: dojot.CauseTemplateAdded})
	appendEvent(t, store, dojot.EventDeviceActuated, "acme", dojot.KindDevice, "e06357", dojot.DeviceActuated{ID: "e06357", Attrs: json.RawMessage(`{"target":23.5}`), Timestamp: 1557493697123})
	grown := tmpl
	grown.Attrs = append(append([]dojot.Attr(nil), tmpl.Attrs...), dojot.Attr{ID: 3, Label: "model", Type: "static", ValueType: "string", StaticValue: str("m-1"), Created: t0})
	tupd := appendEvent(t, store, dojot.EventTemplateUpdated, "acme", dojot.KindTemplate, "1", dojot.TemplateUpdated{Template: grown})
	rendered := json.RawMessage(`{"id":"e06357","label":"pump2","templates":[1],"attrs":{}}`)
	removed := appendEvent(t, store, dojot.EventDeviceDeleted, "acme", dojot.KindDevice, "e06357", dojot.DeviceDeleted{ID: "e06357", Rendered: rendered})
	appendEvent(t, store, dojot.EventDeviceDeleted, "acme", dojot.KindDevice, "a1", dojot.DeviceDeleted{ID: "a1", Cause: dojot.CauseDeleteAll, Rendered: rendered})
	gone := appendEvent(t, store, dojot.EventTenantDeleted, "acme", dojot.KindTenant, "acme", dojot.TenantDeleted{Tenant: "acme"})

	brokers := newKafka(t).ListenAddrs()
	startBridge(t, store, brokers)

	ten := readN(t, brokers, "dojot-management.dojot.tenancy", 2, 10*time.Second)
	for i, want := range []struct {
		typ string
		ev  dojot.Event
	}{{"CREATE", tenant}, {"DELETE", gone}} {
		var got map[string]any
		_ = json.Unmarshal(ten[i].Value, &got)
		if !reflect.DeepEqual(got, map[string]any{"type": want.typ, "tenant": "acme"}) || string(ten[i].Key) != "acme" || header(ten[i], kafka.HeaderEventID) != want.ev.ID {
			t.Errorf("tenancy[%d] = %s key %q id %q; want %s acme, key acme, id %s", i, ten[i].Value, ten[i].Key, header(ten[i], kafka.HeaderEventID), want.typ, want.ev.ID)
		}
	}

	// create, create (import), update, configure, update x2 (template),
	// template.update, remove; nothing for template_added nor delete_all.
	recs := readN(t, brokers, "acme.dojot.device-manager.device", 8, 10*time.Second)
	wantEvents := []string{"create", "create", "update", "configure", "update", "update", "template.update", "remove"}
	wantKeys := []string{"e06357", "a1", "e06357", "e06357", "a1", "e06357", "template.1", "e06357"}
	wantIDs := []string{created.ID, "", updated.ID, "", tupd.ID, tupd.ID, tupd.ID, removed.ID}
	for i, m := range recs {
		got, _ := decodeMsg(t, m)
		if got.Event != wantEvents[i] || got.Meta["service"] != "acme" || string(m.Key) != wantKeys[i] {
			t.Errorf("record %d = event %q service %v key %q; want %q acme %q", i, got.Event, got.Meta["service"], m.Key, wantEvents[i], wantKeys[i])
		}
		if wantIDs[i] != "" && header(m, kafka.HeaderEventID) != wantIDs[i] {
			t.Errorf("record %d %s = %q, want %q", i, kafka.HeaderEventID, header(m, kafka.HeaderEventID), wantIDs[i])
		}
		if _, err := strconv.ParseUint(header(m, kafka.HeaderSeq), 10, 64); err != nil {
			t.Errorf("record %d %s = %q", i, kafka.HeaderSeq, header(m, kafka.HeaderSeq))
		}
	}
	if h := header(recs[2], kafka.HeaderRequestID); h != "trace-"+dojot.EventDeviceUpdated {
		t.Errorf("update %s = %q, want the request id of its event", kafka.HeaderRequestID, h)
	}
	// create: the device with its template as it was then (2 attrs, not 3).
	_, dev := decodeMsg(t, recs[0])
	if dev.ID != "e06357" || dev.Label != "pump" || !reflect.DeepEqual(dev.Templates, []int{1}) || !reflect.DeepEqual(labels(dev.Attrs["1"]), []string{"temperature", "target"}) {
		t.Errorf("create data = %s; want e06357 pump templates [1] attrs 1: temperature target", recs[0].Value)
	}
	if _, ok := decodeMsgMeta(recs[0])["timestamp"]; ok {
		t.Errorf("create meta = %v, want only service", decodeMsgMeta(recs[0]))
	}
	_, dev = decodeMsg(t, recs[2])
	if dev.Label != "pump2" || len(dev.Attrs["1"]) != 2 {
		t.Errorf("update data = %s; want label pump2 and 2 attrs", recs[2].Value)
	}
	got, _ := decodeMsg(t, recs[3])
	var cfg map[string]any
	_ = json.Unmarshal(got.Data, &cfg)
	if !reflect.DeepEqual(cfg, map[string]any{"id": "e06357", "attrs": map[string]any{"target": 23.5}}) || got.Meta["timestamp"] != float64(1557493697123) {
		t.Errorf("configure = %s; want data {id e06357 attrs {target 23.5}} meta.timestamp 1557493697123", recs[3].Value)
	}
	_, dev = decodeMsg(t, recs[5])
	if !reflect.DeepEqual(labels(dev.Attrs["1"]), []string{"temperature", "target", "model"}) {
		t.Errorf("template's device update = %s; want attrs temperature target model", recs[5].Value)
	}
	got, _ = decodeMsg(t, recs[6])
	var tu struct {
		Affected []string       `json:"affected"`
		Template map[string]any `json:"template"`
	}
	_ = json.Unmarshal(got.Data, &tu)
	if !reflect.DeepEqual(tu.Affected, []string{"a1", "e06357"}) || tu.Template["id"] != float64(1) || tu.Template["label"] != "SensorModel" || len(tu.Template["attrs"].([]any)) != 3 {
		t.Errorf("template.update = %s; want affected [a1 e06357] and template 1 with 3 attrs", recs[6].Value)
	}
	if h := header(recs[6], kafka.HeaderPart); h != "2" {
		t.Errorf("template.update %s = %q, want 2", kafka.HeaderPart, h)
	}
	got, _ = decodeMsg(t, recs[7])
	if string(got.Data) != string(rendered) {
		t.Errorf("remove data = %s, want the event's rendered %s", got.Data, rendered)
	}
}

func decodeMsgMeta(m kafkago.Message) map[string]any {
	var v msg
	_ = json.Unmarshal(m.Value, &v)
	return v.Meta
}

// TestOrder: 1,000 updates to one device arrive in order, after its create.
func TestOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	store := eventstoretest.Open(t)
	brokers := newKafka(t).ListenAddrs()
	startBridge(t, store, brokers)
	appendEvent(t, store, dojot.EventDeviceCreated, "admin", dojot.KindDevice, "d1", dojot.DeviceCreated{Device: dojot.Device{ID: "d1", Label: "l", Created: t0, Templates: []int{}}})
	const n = 1000
	for i := range n {
		appendEvent(t, store, dojot.EventDeviceUpdated, "admin", dojot.KindDevice, "d1", dojot.DeviceUpdated{Device: dojot.Device{ID: "d1", Label: fmt.Sprintf("l%d", i), Created: t0, Updated: &t0, Templates: []int{}}})
	}
	recs := readN(t, brokers, "admin.dojot.device-manager.device", n+1, 30*time.Second)
	for i, m := range recs[1:] {
		_, dev := decodeMsg(t, m)
		if want := fmt.Sprintf("l%d", i); dev.Label != want {
			t.Fatalf("update %d: label %q, want %q", i, dev.Label, want)
		}
	}
}

// TestKafkaDown: with Kafka gone, nothing is acknowledged and Status says
// so; once it is back, every event arrives at least once, and a duplicate
// only with the same event id.
func TestKafkaDown(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dir := t.TempDir()
	k := newKafka(t, kfake.DataDir(dir))
	brokers := k.ListenAddrs()
	_, portText, _ := net.SplitHostPort(brokers[0])
	port, _ := strconv.Atoi(portText)

	store := eventstoretest.Open(t)
	b := startBridge(t, store, brokers)
	const before, during = 50, 200
	ids := map[string]bool{}
	add := func(i int) {
		ev := appendEvent(t, store, dojot.EventDeviceCreated, "admin", dojot.KindDevice, fmt.Sprintf("d%d", i), dojot.DeviceCreated{Device: dojot.Device{ID: fmt.Sprintf("d%d", i), Label: "x", Created: t0, Templates: []int{}}})
		ids[ev.ID] = true
	}
	for i := range before {
		add(i)
	}
	readN(t, brokers, "admin.dojot.device-manager.device", before, 10*time.Second)
	waitFor(t, func() bool { return b.Status().Acked == before })
	k.Close()

	for i := before; i < before+during; i++ {
		add(i)
	}
	waitFor(t, func() bool { return !b.Status().KafkaOK })
	// The backlog shows while Kafka is down: every event since the last
	// acknowledged one, not only the batch in hand.
	waitFor(t, func() bool { return b.Status().Lag == during })
	if st := b.Status(); st.Acked != before || st.LastError == "" {
		t.Fatalf("Status while Kafka is down = %+v; want acked %d and an error", st, before)
	}
	info, err := store.JetStream().Consumer(context.Background(), store.EventsStream(), "kafka-bridge")
	if err != nil {
		t.Fatal(err)
	}
	if ci, _ := info.Info(context.Background()); ci.AckFloor.Stream != before {
		t.Fatalf("ack floor while Kafka is down = %d, want %d", ci.AckFloor.Stream, before)
	}

	newKafka(t, kfake.DataDir(dir), kfake.Ports(port))
	waitFor(t, func() bool { return b.Status().Acked == before+during && b.Status().KafkaOK })
	recs := readN(t, brokers, "admin.dojot.device-manager.device", before+during, 10*time.Second)
	seen := map[string]string{}
	for _, m := range recs {
		id := header(m, kafka.HeaderEventID)
		if prev, dup := seen[id]; dup && prev != string(m.Value) {
			t.Errorf("event %s twice with different records", id)
		}
		seen[id] = string(m.Value)
	}
	for id := range ids {
		if _, ok := seen[id]; !ok {
			t.Errorf("event %s never arrived", id)
		}
	}
}

func waitFor(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met in 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDevicesTopic: with DevicesTopic, the device records are also on the
// plural topic, the same records; without it, that topic gets nothing.
func TestDevicesTopic(t *testing.T) {
	store := eventstoretest.Open(t)
	brokers := newKafka(t).ListenAddrs()
	runBridge(t, store, kafka.Options{Brokers: brokers, DevicesTopic: true})
	appendEvent(t, store, dojot.EventDeviceCreated, "admin", dojot.KindDevice, "d1", dojot.DeviceCreated{Device: dojot.Device{ID: "d1", Label: "l", Created: t0, Templates: []int{}}})
	one := readN(t, brokers, "admin.dojot.device-manager.device", 1, 10*time.Second)
	many := readN(t, brokers, "admin.dojot.device-manager.devices", 1, 10*time.Second)
	if string(one[0].Value) != string(many[0].Value) || string(one[0].Key) != string(many[0].Key) ||
		header(one[0], kafka.HeaderEventID) != header(many[0], kafka.HeaderEventID) {
		t.Errorf("plural topic record %s (key %s); want the singular's %s (key %s)", many[0].Value, many[0].Key, one[0].Value, one[0].Key)
	}
}
