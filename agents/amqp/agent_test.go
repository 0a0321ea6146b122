package amqp_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/dojot-es/dojot"
	agentamqp "github.com/dojot-es/dojot/agents/amqp"
	"github.com/dojot-es/dojot/agents/amqp/amqptest"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/projections/memory"
)

var at0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func sp(s string) *string { return &s }

// devices is a memory view with a template whose static attribute
// device_amqp_routing_key is "shared", and devices: t1/a and t1/a2 keep
// it, t1/c overrides it with "own-c", t2/b and t1/b1 with "cross", t1/d
// has no AMQP template.
func devices(t testing.TB) *memory.View {
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
	tp := dojot.Template{ID: 1, Label: "amqp", Created: at0, Attrs: []dojot.Attr{
		{ID: 1, Label: dojot.AttrAMQPRoutingKey, Type: "static", ValueType: "string", StaticValue: sp("shared"), Created: at0},
		{ID: 2, Label: "temperature", Type: "dynamic", ValueType: "float", Created: at0},
		{ID: 3, Label: "led", Type: "actuator", ValueType: "bool", Created: at0},
	}}
	plain := dojot.Template{ID: 2, Label: "plain", Created: at0, Attrs: []dojot.Attr{{ID: 4, Label: "x", Type: "dynamic", ValueType: "float", Created: at0}}}
	for _, tenant := range []string{"t1", "t2"} {
		apply(tenant, dojot.EventTemplateCreated, dojot.KindTemplate, "1", dojot.TemplateCreated{Template: tp})
		apply(tenant, dojot.EventTemplateCreated, dojot.KindTemplate, "2", dojot.TemplateCreated{Template: plain})
	}
	dev := func(tenant, id string, tpl int, ov ...dojot.Override) {
		apply(tenant, dojot.EventDeviceCreated, dojot.KindDevice, id, dojot.DeviceCreated{Device: dojot.Device{ID: id, Label: id, Created: at0, Templates: []int{tpl}, Overrides: ov}})
	}
	dev("t1", "a", 1)
	dev("t1", "a2", 1)
	dev("t2", "b", 1, dojot.Override{AttrID: 1, StaticValue: "cross"})
	dev("t1", "b1", 1, dojot.Override{AttrID: 1, StaticValue: "cross"})
	dev("t1", "c", 1, dojot.Override{AttrID: 1, StaticValue: "own-c"})
	dev("t1", "d", 2)
	return v
}

// appendFunc is an Appender whose appends answer as the function says.
type appendFunc func(tenant, deviceID string, payload []byte, msgID string) (func(expired <-chan time.Time) (uint64, error), error)

func (f appendFunc) AppendDataAsyncID(tenant, deviceID string, payload []byte, msgID string) (func(expired <-chan time.Time) (uint64, error), error) {
	return f(tenant, deviceID, payload, msgID)
}

// run starts an agent and waits until it consumes.
func run(t *testing.T, opts agentamqp.Options) *agentamqp.Agent {
	t.Helper()
	opts.Logger = eventstoretest.Logger(t)
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	a, err := agentamqp.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the agent to connect", func() bool { return a.Status().Connected })
	return a
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// publisher publishes to dojot's inbound exchange.
type publisher struct {
	t  *testing.T
	ch *amqp091.Channel
}

func dial(t *testing.T, url string) (*amqp091.Connection, *amqp091.Channel) {
	t.Helper()
	conn, err := amqp091.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return conn, ch
}

func newPublisher(t *testing.T, url string) publisher {
	_, ch := dial(t, url)
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	return publisher{t, ch}
}

func (p publisher) publish(key, body string) {
	p.t.Helper()
	dc, err := p.ch.PublishWithDeferredConfirm(agentamqp.InboundExchange, key, false, false, amqp091.Publishing{ContentType: "application/json", Body: []byte(body)})
	if err != nil {
		p.t.Fatal(err)
	}
	if !dc.Wait() {
		p.t.Fatalf("RabbitMQ refused %s", body)
	}
}

// readings collects the readings of tenant stored in DATA.
func readings(t *testing.T, store *eventstore.Store, tenant string) <-chan string {
	t.Helper()
	out := make(chan string, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		_ = store.FollowData(ctx, tenant, eventstore.Start{Seq: 1}, func(_ uint64, data []byte) error {
			out <- string(data)
			return nil
		})
	}()
	return out
}

func next(t *testing.T, c <-chan string) string {
	t.Helper()
	select {
	case s := <-c:
		return s
	case <-time.After(15 * time.Second):
		t.Fatal("no reading")
		return ""
	}
}

func none(t *testing.T, c <-chan string) {
	t.Helper()
	select {
	case s := <-c:
		t.Errorf("unexpected reading %s", s)
	case <-time.After(300 * time.Millisecond):
	}
}

// queued is the number of messages ready in dojot's inbound queue.
func queued(t *testing.T, ch *amqp091.Channel) int {
	t.Helper()
	q, err := ch.QueueDeclarePassive(agentamqp.InboundQueue, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Messages
}

// TestIngest: a message is stored for every device whose routing key it
// carries, in the IoT-agent shape, with the payload's timestamp, unless
// devices of several tenants have the key.
func TestIngest(t *testing.T) {
	t.Parallel()
	url := amqptest.URL(t)
	store := eventstoretest.Open(t)
	a := run(t, agentamqp.Options{URL: url, Store: store, Devices: devices(t)})
	t1, t2 := readings(t, store, "t1"), readings(t, store, "t2")
	p := newPublisher(t, url)

	p.publish("own-c", `{"temperature":21.5,"timestamp":1528226137452}`)
	if got, want := next(t, t1), `{"metadata":{"deviceid":"c","tenant":"t1","timestamp":1528226137452},"attrs":{"temperature":21.5,"timestamp":1528226137452}}`; got != want {
		t.Errorf("reading = %s; want %s", got, want)
	}
	// Two devices of one tenant share "shared": each gets it.
	p.publish("shared", `{"temperature":1}`)
	for _, c := range []<-chan string{t1, t1} {
		var r struct {
			Metadata struct {
				DeviceID  string `json:"deviceid"`
				Timestamp int64  `json:"timestamp"`
			}
			Attrs map[string]any
		}
		if err := json.Unmarshal([]byte(next(t, c)), &r); err != nil || r.Attrs["temperature"] != 1.0 || time.Since(time.UnixMilli(r.Metadata.Timestamp)) > time.Minute {
			t.Errorf("shared reading = %+v (%v)", r, err)
		}
	}
	// Devices of two tenants have "cross": a key is no secret, and neither
	// tenant gets the other's device's messages by claiming it.
	p.publish("cross", `{"temperature":2}`)
	_, ch := dial(t, url)
	waitFor(t, "the queue to empty", func() bool { return queued(t, ch) == 0 })
	none(t, t1)
	none(t, t2)
	if st := a.Status(); st.Stored != 3 || st.Refused["several_tenants"] != 1 {
		t.Errorf("status = %+v; want 3 stored, 1 refused for several tenants", st)
	}
}

// TestRefused: an unknown routing key, a body that is not a JSON object,
// an oversized one: rejected (not requeued), counted, nothing stored.
func TestRefused(t *testing.T) {
	t.Parallel()
	url := amqptest.URL(t)
	store := eventstoretest.Open(t)
	a := run(t, agentamqp.Options{URL: url, Store: store, Devices: devices(t), MaxPayload: 64})
	t1 := readings(t, store, "t1")
	p := newPublisher(t, url)
	p.publish("nobody", `{"temperature":1}`)
	p.publish("own-c", `{"temperature":`)
	p.publish("own-c", `[1,2]`)
	p.publish("own-c", `{"temperature":1,"pad":"`+strings.Repeat("x", 64)+`"}`)
	p.publish("own-c", `{"ok":true}`)
	if got := next(t, t1); !strings.Contains(got, `"attrs":{"ok":true}`) {
		t.Errorf("reading = %s; want only the good one", got)
	}
	none(t, t1)
	_, ch := dial(t, url)
	waitFor(t, "the queue to empty", func() bool { return queued(t, ch) == 0 })
	st := a.Status()
	for reason, want := range map[string]uint64{"unknown_device": 1, "not_json": 1, "not_object": 1, "too_large": 1, "store_failed": 0} {
		if st.Refused[reason] != want {
			t.Errorf("refused[%s] = %d; want %d (%+v)", reason, st.Refused[reason], want, st)
		}
	}
}

// TestAckAfterStore: a message is acknowledged only once JetStream stored
// it; a failed append closes the channel and RabbitMQ delivers it again,
// so every message is stored (at least once) and none is lost.
func TestAckAfterStore(t *testing.T) {
	t.Parallel()
	url := amqptest.URL(t)
	store := eventstoretest.Open(t)
	var calls atomic.Int32
	hold := make(chan struct{})
	flaky := appendFunc(func(tenant, id string, payload []byte, msgID string) (func(<-chan time.Time) (uint64, error), error) {
		switch calls.Add(1) {
		case 1: // the first append hangs until released: nothing may be acknowledged meanwhile
			return func(<-chan time.Time) (uint64, error) {
				<-hold
				return store.AppendData(context.Background(), tenant, id, payload, "")
			}, nil
		case 3: // the third fails
			return func(<-chan time.Time) (uint64, error) { return 0, errors.New("jetstream down") }, nil
		}
		return store.AppendDataAsyncID(tenant, id, payload, msgID)
	})
	a := run(t, agentamqp.Options{URL: url, Store: flaky, Devices: devices(t)})
	t1 := readings(t, store, "t1")
	p := newPublisher(t, url)
	for i := range 5 {
		p.publish("own-c", `{"n":`+string(rune('0'+i))+`}`)
	}
	_, ch := dial(t, url)
	time.Sleep(200 * time.Millisecond)
	if st := a.Status(); st.Stored != 0 {
		t.Errorf("stored = %d before the first append answered", st.Stored)
	}
	close(hold)
	seen := map[string]int{}
	for len(seen) < 5 {
		r := next(t, t1)
		seen[r[strings.Index(r, `"attrs"`):]]++
	}
	waitFor(t, "the queue to empty", func() bool { return queued(t, ch) == 0 })
	if st := a.Status(); st.Refused["store_failed"] != 1 {
		t.Errorf("status = %+v; want one store failure", st)
	}
}

// TestReconnect: RabbitMQ closing the connection (as a restart does) is
// survived: the agent reconnects and goes on.
func TestReconnect(t *testing.T) {
	t.Parallel()
	url := amqptest.URL(t)
	store := eventstoretest.Open(t)
	a := run(t, agentamqp.Options{URL: url, Store: store, Devices: devices(t)})
	t1 := readings(t, store, "t1")
	amqptest.CloseConnections(t, amqptest.VHost(url))
	waitFor(t, "the agent to notice", func() bool { return !a.Status().Connected })
	waitFor(t, "the agent to reconnect", func() bool { return a.Status().Connected })
	newPublisher(t, url).publish("own-c", `{"after":"restart"}`)
	if got := next(t, t1); !strings.Contains(got, `"attrs":{"after":"restart"}`) {
		t.Errorf("reading = %s", got)
	}
}

// TestActuate: a device.actuated event of an AMQP device reaches
// outbound.dojot.exchange as dojot's {"id","attrs"} with the device's
// routing key; a device without one gets nothing, nor one whose key is
// another tenant's device's too (it may be that device's).
func TestActuate(t *testing.T) {
	t.Parallel()
	url := amqptest.URL(t)
	store := eventstoretest.Open(t)
	a := run(t, agentamqp.Options{URL: url, Store: store, Devices: devices(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.FollowActuations(ctx, store) }()
	t.Cleanup(func() { cancel(); <-done })

	_, ch := dial(t, url)
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"own-c", "shared", "cross"} {
		if err := ch.QueueBind(q.Name, key, agentamqp.OutboundExchange, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The shared consumer starts with events appended after it exists.
	time.Sleep(300 * time.Millisecond)
	for _, id := range []string{"d", "b1", "c"} { // d has no routing key, b1's is t2/b's too: nothing
		ev, err := dojot.NewEvent(dojot.EventDeviceActuated, "t1", dojot.KindDevice, id, at0, dojot.DeviceActuated{ID: id, Attrs: json.RawMessage(`{"led":true}`), Timestamp: at0.UnixMilli()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case m := <-msgs:
		if m.RoutingKey != "own-c" || string(m.Body) != `{"id":"c","attrs":{"led":true}}` || m.DeliveryMode != amqp091.Persistent {
			t.Errorf("actuation = key %q body %s mode %d", m.RoutingKey, m.Body, m.DeliveryMode)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no actuation")
	}
	select {
	case m := <-msgs:
		t.Errorf("unexpected actuation %s", m.Body)
	case <-time.After(300 * time.Millisecond):
	}
	if st := a.Status(); st.Actuated != 1 {
		t.Errorf("actuated = %d", st.Actuated)
	}
}

// TestRestartMidStream: RabbitMQ dropping every connection in the middle
// of a backlog loses nothing acknowledged, and the redelivered messages
// that were stored but not yet acknowledged are stored once (their
// publisher's message-id is the append's dedupe id).
func TestRestartMidStream(t *testing.T) {
	t.Parallel()
	url := amqptest.URL(t)
	store := eventstoretest.Open(t)
	slow := appendFunc(func(tenant, id string, payload []byte, msgID string) (func(<-chan time.Time) (uint64, error), error) {
		wait, err := store.AppendDataAsyncID(tenant, id, payload, msgID)
		if err != nil {
			return nil, err
		}
		return func(expired <-chan time.Time) (uint64, error) { time.Sleep(3 * time.Millisecond); return wait(expired) }, nil
	})
	a := run(t, agentamqp.Options{URL: url, Store: slow, Devices: devices(t), Prefetch: 64})
	t1 := readings(t, store, "t1")
	_, ch := dial(t, url)
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		dc, err := ch.PublishWithDeferredConfirm(agentamqp.InboundExchange, "own-c", false, false,
			amqp091.Publishing{MessageId: "m-" + strconv.Itoa(i), Body: []byte(`{"n":` + strconv.Itoa(i) + `}`)})
		if err != nil || !dc.Wait() {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	waitFor(t, "a third stored", func() bool { return a.Status().Stored >= n/3 })
	amqptest.CloseConnections(t, amqptest.VHost(url))
	seen := map[string]int{}
	deadline := time.After(30 * time.Second)
	for len(seen) < n {
		select {
		case r := <-t1:
			seen[r[strings.Index(r, `"attrs"`):]]++
		case <-deadline:
			t.Fatalf("%d of %d readings stored", len(seen), n)
		}
	}
	none(t, t1)
	for r, c := range seen {
		if c != 1 {
			t.Errorf("%s stored %d times", r, c)
		}
	}
	if st := a.Status(); st.Received <= n {
		t.Logf("no redelivery happened (%d received); the test proved less than it could", st.Received)
	}
}
