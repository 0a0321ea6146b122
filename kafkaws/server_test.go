package kafkaws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/kafkaws"
	"github.com/dojot-es/dojot/kafkaws/tickets"
)

// env is a Kafka WS server over a real JetStream store, behind a stand-in
// for the gateway: /ticket?tenant=T authenticates as a user of T.
type env struct {
	t     *testing.T
	store *eventstore.Store
	srv   *kafkaws.Server
	http  *httptest.Server
}

func newEnv(t *testing.T, mod func(*kafkaws.Options)) *env {
	t.Helper()
	return newEnvTTL(t, time.Minute, mod)
}

// newEnvTTL is newEnv with tickets that last ttl.
func newEnvTTL(t *testing.T, ttl time.Duration, mod func(*kafkaws.Options)) *env {
	t.Helper()
	store := eventstoretest.Open(t)
	mem := tickets.NewMemory()
	t.Cleanup(func() { mem.Close() })
	opts := kafkaws.Options{
		Tickets:       tickets.NewIssuer(mem, []byte("secret"), ttl),
		Feeds:         store,
		Events:        store,
		Logger:        eventstoretest.Logger(t),
		Notifications: store,
	}
	if mod != nil {
		mod(&opts)
	}
	srv, err := kafkaws.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ticket", func(w http.ResponseWriter, r *http.Request) {
		id := dojot.Identity{Tenant: r.URL.Query().Get("tenant"), Username: "u", Expires: time.Now().Add(time.Hour).Unix()}
		srv.Ticket(w, r.WithContext(dojot.WithIdentity(r.Context(), id)))
	})
	mux.HandleFunc("/kafka-ws/v1/topics/{topic}", srv.Topic)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return &env{t: t, store: store, srv: srv, http: hs}
}

func (e *env) ticket(tenant string) string {
	e.t.Helper()
	res, err := http.Get(e.http.URL + "/ticket?tenant=" + tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Ticket string }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 || len(body.Ticket) != 64 {
		e.t.Fatalf("ticket: %d %v %q", res.StatusCode, err, body.Ticket)
	}
	return body.Ticket
}

func (e *env) url(topic, query string) string {
	return "ws" + strings.TrimPrefix(e.http.URL, "http") + "/kafka-ws/v1/topics/" + topic + "?" + query
}

// dial opens a websocket with a fresh ticket of tenant.
func (e *env) dial(tenant, topic, query string) *websocket.Conn {
	e.t.Helper()
	ws, res, err := websocket.DefaultDialer.Dial(e.url(topic, "ticket="+e.ticket(tenant)+"&"+query), nil)
	if err != nil {
		e.t.Fatalf("dial: %v (%v)", err, res)
	}
	e.t.Cleanup(func() { ws.Close() })
	return ws
}

func (e *env) append(tenant, device, payload string) uint64 {
	e.t.Helper()
	seq, err := e.store.AppendData(context.Background(), tenant, device, []byte(payload), "")
	if err != nil {
		e.t.Fatal(err)
	}
	return seq
}

func reading(tenant, dev string, n int) string {
	return fmt.Sprintf(`{"metadata":{"deviceid":"%s","tenant":"%s","timestamp":%d},"attrs":{"temperature":%d,"n":%d}}`, dev, tenant, 1700000000000+n, 20+n%10, n)
}

func next(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("frame type %d; want text", typ)
	}
	return string(b)
}

// closed waits for the server's close and returns its code and reason.
func closed(t *testing.T, ws *websocket.Conn) (int, string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errorsAs(err, &ce) {
			return ce.Code, ce.Text
		}
		t.Fatalf("read: %v; want a close frame", err)
	}
}

func errorsAs(err error, ce **websocket.CloseError) bool {
	c, ok := err.(*websocket.CloseError)
	if ok {
		*ce = c
	}
	return ok
}

// live waits until the hub's consumer is in place: a frame sent after
// the connection opened arrives.
func (e *env) live(tenant string, ws *websocket.Conn) {
	e.t.Helper()
	e.append(tenant, "warmup", reading(tenant, "warmup", 0))
	if got := next(e.t, ws); !strings.Contains(got, `"warmup"`) {
		e.t.Fatalf("first frame %s; want the warm-up reading", got)
	}
}

func TestFeed(t *testing.T) {
	e := newEnv(t, nil)
	ws := e.dial("acme", "acme.device-data", "")
	e.live("acme", ws)
	e.append("other", "d1", reading("other", "d1", 1)) // another tenant: never seen
	want := reading("acme", "d1", 2)
	e.append("acme", "d1", want)
	if got := next(t, ws); got != want {
		t.Errorf("frame %s; want the reading as stored %s", got, want)
	}
	// Filters: fields and where, as dojot.
	f := e.dial("acme", "acme.device-data", "fields=attrs/temperature&where=attrs.temperature=gte:25;")
	e.live2(f)
	e.append("acme", "d1", reading("acme", "d1", 3)) // temperature 23: filtered out
	e.append("acme", "d1", reading("acme", "d1", 6)) // temperature 26
	if got := next(t, f); got != `{"attrs":{"temperature":26}}` {
		t.Errorf("filtered frame %s; want {\"attrs\":{\"temperature\":26}}", got)
	}
	if st := e.srv.Stats(); st.Open != 2 || st.Opened != 2 {
		t.Errorf("Stats = %+v; want 2 open", st)
	}
}

// live2 is live for a filtered connection: readings until one passes.
func (e *env) live2(ws *websocket.Conn) {
	e.t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, _ = ws.ReadMessage()
	}()
	for i := 0; ; i++ {
		e.append("acme", "warm", reading("acme", "warm", 9)) // temperature 29
		select {
		case <-done:
			return
		case <-time.After(50 * time.Millisecond):
		}
		if i > 100 {
			e.t.Fatal("no frame on the filtered connection")
		}
	}
}

func TestRefusals(t *testing.T) {
	e := newEnv(t, nil)
	get := func(url string, hdr http.Header) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, strings.TrimSpace(string(b))
	}
	base := e.http.URL + "/kafka-ws/v1/topics/acme.device-data"
	if code, body := get(base, nil); code != 401 || body != `{"message":"Missing ticket"}` {
		t.Errorf("no ticket: %d %s", code, body)
	}
	if code, _ := get(base+"?ticket="+e.ticket("acme"), nil); code != http.StatusUpgradeRequired {
		t.Errorf("not a websocket: %d; want 426", code)
	}
	dialErr := func(query string) (int, string) {
		_, res, err := websocket.DefaultDialer.Dial(e.url("acme.device-data", query), nil)
		if err == nil {
			t.Fatalf("%s: connected", query)
		}
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, strings.TrimSpace(string(b))
	}
	if code, body := dialErr("ticket=" + strings.Repeat("ab", 32)); code != 401 || body != `{"message":"Invalid ticket"}` {
		t.Errorf("bogus ticket: %d %s", code, body)
	}
	tk := e.ticket("acme")
	ws, _, err := websocket.DefaultDialer.Dial(e.url("acme.device-data", "ticket="+tk), nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.Close()
	if code, body := dialErr("ticket=" + tk); code != 401 || body != `{"message":"Invalid ticket"}` {
		t.Errorf("ticket used twice: %d %s", code, body)
	}
	for _, c := range []struct {
		topic, query string
		code         int
	}{
		{"other.device-data", "", 4403},
		{"ACME.device-data", "where=xy=foo:1;", 4001}, // "x=" is too short a selector: 4000 in dojot (kafkaws/filter)
		{"acme.device-data", "where=x", 4000},
		{"acme.device-data", "since=yesterday", 4004},
	} {
		code, reason := closed(t, e.dial("acme", c.topic, c.query))
		if code != c.code {
			t.Errorf("%s?%s: closed %d %q; want %d", c.topic, c.query, code, reason, c.code)
		}
	}
}

// TestTicketRace: two connects racing with one ticket, one wins.
func TestTicketRace(t *testing.T) {
	e := newEnv(t, nil)
	for range 20 {
		tk := e.ticket("acme")
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ws, _, err := websocket.DefaultDialer.Dial(e.url("acme.device-data", "ticket="+tk), nil)
				if err == nil {
					mu.Lock()
					won++
					mu.Unlock()
					ws.Close()
				}
			}()
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d connections won one ticket; want 1", won)
		}
	}
}

// TestSince: 10,000 readings replayed from since=1 in order, then the live
// ones, no gap, no duplicate; seq=true frames carry the sequence.
func TestSince(t *testing.T) {
	e := newEnv(t, nil)
	const n = 10000
	ctx := context.Background()
	var first uint64
	for i := range n {
		seq, err := e.store.AppendData(ctx, "acme", "d1", []byte(reading("acme", "d1", i)), "")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = seq
		}
	}
	ws := e.dial("acme", "acme.device-data", fmt.Sprintf("since=%d&seq=true", first))
	var frame struct {
		Seq   uint64
		Value json.RawMessage
	}
	check := func(i int) {
		t.Helper()
		if err := json.Unmarshal([]byte(next(t, ws)), &frame); err != nil {
			t.Fatal(err)
		}
		if frame.Seq != first+uint64(i) || string(frame.Value) != reading("acme", "d1", i) {
			t.Fatalf("frame %d: seq %d value %s; want seq %d value %s", i, frame.Seq, frame.Value, first+uint64(i), reading("acme", "d1", i))
		}
	}
	for i := range n / 2 {
		check(i)
	}
	// Live ones appended while the replay is half read.
	for i := n; i < n+100; i++ {
		e.append("acme", "d1", reading("acme", "d1", i))
	}
	for i := n / 2; i < n+100; i++ {
		check(i)
	}
	// By time: from the 100th-last reading on.
	msg, err := e.store.JetStream().Stream(ctx, e.store.DataStream())
	if err != nil {
		t.Fatal(err)
	}
	m, err := msg.GetMsg(ctx, first+n)
	if err != nil {
		t.Fatal(err)
	}
	at := e.dial("acme", "acme.device-data", "since="+m.Time.Format(time.RFC3339Nano))
	if got := next(t, at); got != reading("acme", "d1", n) {
		t.Errorf("since=<time>: first frame %s; want reading %d", got, n)
	}
}

func TestLimits(t *testing.T) {
	t.Run("lifetime", func(t *testing.T) {
		e := newEnv(t, func(o *kafkaws.Options) { o.MaxLifetime = 300 * time.Millisecond })
		if code, reason := closed(t, e.dial("acme", "acme.device-data", "")); code != 4408 || reason != "Connection lifetime" {
			t.Errorf("closed %d %q; want 4408 Connection lifetime", code, reason)
		}
	})
	t.Run("per tenant", func(t *testing.T) {
		e := newEnv(t, func(o *kafkaws.Options) { o.MaxPerTenant = 1 })
		e.dial("acme", "acme.device-data", "")
		_, res, err := websocket.DefaultDialer.Dial(e.url("acme.device-data", "ticket="+e.ticket("acme")), nil)
		if err == nil || res.StatusCode != http.StatusTooManyRequests {
			t.Errorf("second connection: %v %v; want 429", err, res)
		}
		e.dial("other", "other.device-data", "") // other tenants are not counted
	})
	t.Run("frame size", func(t *testing.T) {
		// Clients have nothing to send (their frames are read only for
		// pings and closes, data is discarded as it comes, never
		// buffered): a frame announcing more than 4 KiB closes the
		// connection with 1009 (message too big).
		e := newEnv(t, nil)
		d := websocket.Dialer{WriteBufferSize: 64 << 10} // one frame per message
		ws, _, err := d.Dial(e.url("acme.device-data", "ticket="+e.ticket("acme")), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		e.live("acme", ws)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 4000))); err != nil {
			t.Fatal(err)
		}
		e.live("acme", ws) // a frame under the limit changes nothing
		if err := ws.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 5000))); err != nil {
			t.Fatal(err)
		}
		if code, _ := closed(t, ws); code != websocket.CloseMessageTooBig {
			t.Errorf("closed %d; want %d", code, websocket.CloseMessageTooBig)
		}
	})
	t.Run("too slow", func(t *testing.T) {
		e := newEnv(t, func(o *kafkaws.Options) { o.SendBuffer = 4 })
		ws := e.dial("acme", "acme.device-data", "")
		e.live("acme", ws)
		// The client reads nothing more: once the socket buffers are full
		// the send buffer fills and the server closes the connection.
		big := `{"metadata":{"deviceid":"d1","tenant":"acme"},"attrs":{"blob":"` + strings.Repeat("x", 256<<10) + `"}}`
		for i := 0; e.srv.Stats().TooSlow == 0; i++ {
			if i > 2000 {
				t.Fatal("never closed as too slow")
			}
			e.append("acme", "d1", big)
		}
		code, reason := closed(t, ws)
		if code != kafkaws.CloseTooSlow {
			t.Errorf("closed %d %q; want %d", code, reason, kafkaws.CloseTooSlow)
		}
	})
}

// TestBurst: a burst of readings larger than the send buffer, stored at
// once while the server is short of CPU (one P: the feed offers the whole
// burst before a writer runs), reaches a client that reads everything: a
// full buffer whose writes to the client go through is the server behind,
// not the client too slow.
func TestBurst(t *testing.T) {
	e := newEnv(t, func(o *kafkaws.Options) { o.SendBuffer = 4 })
	ws := e.dial("acme", "acme.device-data", "")
	e.live("acme", ws)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const n = 500
	waits := make([]func(<-chan time.Time) (uint64, error), n)
	for i := range waits {
		var err error
		if waits[i], err = e.store.AppendDataAsync("acme", "d1", []byte(reading("acme", "d1", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	for _, wait := range waits {
		if _, err := wait(time.After(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= n; i++ {
		if got := next(t, ws); got != reading("acme", "d1", i) {
			t.Fatalf("frame %d: %.80s; want reading %d", i, got, i)
		}
	}
	if st := e.srv.Stats(); st.TooSlow != 0 {
		t.Errorf("Stats = %+v; want none too slow", st)
	}
}

func (e *env) event(typ, tenant, kind, id string, data any) uint64 {
	e.t.Helper()
	ev, err := dojot.NewEvent(typ, tenant, kind, id, time.Now(), data)
	if err != nil {
		e.t.Fatal(err)
	}
	ev.NoExpect = true
	seq, err := e.store.Append(context.Background(), ev)
	if err != nil {
		e.t.Fatal(err)
	}
	return seq
}

// TestDeviceManagerTopic: <tenant>.dojot.device-manager.device carries
// dojot's device-manager messages, rendered from the log: live from when
// the connection opened, or from since=.
func TestDeviceManagerTopic(t *testing.T) {
	e := newEnv(t, nil)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.event(dojot.EventTenantCreated, "acme", dojot.KindTenant, "acme", dojot.TenantCreated{Tenant: "acme"})
	created := e.event(dojot.EventDeviceCreated, "acme", dojot.KindDevice, "d1", dojot.DeviceCreated{Device: dojot.Device{ID: "d1", Label: "pump", Created: t0, Templates: []int{}}})
	e.event(dojot.EventDeviceCreated, "other", dojot.KindDevice, "o1", dojot.DeviceCreated{Device: dojot.Device{ID: "o1", Label: "x", Created: t0, Templates: []int{}}})

	live := e.dial("acme", "acme.dojot.device-manager.device", "")
	replay := e.dial("acme", "acme.dojot.device-manager.device", fmt.Sprintf("since=%d&seq=true", created))
	filtered := e.dial("acme", "acme.dojot.device-manager.device", "where=event=in:configure;&fields=data/attrs")
	e.event(dojot.EventDeviceActuated, "acme", dojot.KindDevice, "d1", dojot.DeviceActuated{ID: "d1", Attrs: json.RawMessage(`{"target":21.5}`), Timestamp: 1700000000000})

	configure := `{"event":"configure","meta":{"service":"acme","timestamp":1700000000000},"data":{"id":"d1","attrs":{"target":21.5}}}`
	if got := next(t, live); got != configure {
		t.Errorf("live frame %s; want %s", got, configure)
	}
	if got := next(t, filtered); got != `{"data":{"attrs":{"target":21.5}}}` {
		t.Errorf("filtered frame %s", got)
	}
	var frame struct {
		Seq   uint64
		Value json.RawMessage
	}
	if err := json.Unmarshal([]byte(next(t, replay)), &frame); err != nil {
		t.Fatal(err)
	}
	if frame.Seq != created || !strings.HasPrefix(string(frame.Value), `{"event":"create","meta":{"service":"acme"},"data":{`) || !strings.Contains(string(frame.Value), `"label":"pump"`) {
		t.Errorf("replayed frame seq %d %s; want the create of d1 at %d", frame.Seq, frame.Value, created)
	}
	if err := json.Unmarshal([]byte(next(t, replay)), &frame); err != nil || string(frame.Value) != configure {
		t.Errorf("replayed frame %s; want %s", frame.Value, configure)
	}
}

// TestKafkaTopic: with Kafka on, another topic of the tenant (one the log
// does not hold) is read from Kafka, from its latest offset.
func TestKafkaTopic(t *testing.T) {
	const topic = "acme.dojot.alarms" // notifications come from the log
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	e := newEnv(t, func(o *kafkaws.Options) { o.KafkaBrokers = brokers })
	ws := e.dial("acme", topic, "where=level=gte:2;")
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: topic, BatchTimeout: time.Millisecond, Balancer: &kafkago.RoundRobin{}}
	t.Cleanup(func() { w.Close() })
	got := make(chan string, 1)
	go func() {
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, b, _ := ws.ReadMessage()
		got <- string(b)
	}()
	// Sent until one arrives: the readers start at the latest offset, so
	// the first ones may come before they are in place.
	for i := 0; ; i++ {
		if err := w.WriteMessages(context.Background(),
			kafkago.Message{Value: []byte(`{"level":1,"msg":"quiet"}`)},
			kafkago.Message{Value: []byte(`{"level":3,"msg":"hot"}`)}); err != nil {
			t.Fatal(err)
		}
		select {
		case frame := <-got:
			if frame != `{"level":3,"msg":"hot"}` {
				t.Errorf("frame %s; want the level 3 message", frame)
			}
			if code, _ := closed(t, e.dial("acme", topic, "since=1")); code != kafkaws.CloseInvalidValue {
				t.Errorf("since= on a Kafka topic: closed %d; want %d", code, kafkaws.CloseInvalidValue)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if i > 100 {
			t.Fatal("no frame from Kafka")
		}
	}
}

// TestExpiredTicket: a ticket not used within its TTL is refused as dojot
// refuses it.
func TestExpiredTicket(t *testing.T) {
	e := newEnvTTL(t, 300*time.Millisecond, nil)
	tk := e.ticket("acme")
	time.Sleep(700 * time.Millisecond)
	_, res, err := websocket.DefaultDialer.Dial(e.url("acme.device-data", "ticket="+tk), nil)
	if err == nil {
		t.Fatal("connected with an expired ticket")
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 401 || strings.TrimSpace(string(b)) != `{"message":"Invalid ticket"}` {
		t.Errorf("expired ticket: %d %s; want 401 Invalid ticket", res.StatusCode, b)
	}
}

// TestTenancyTopic: dojot-management.dojot.tenancy, for a ticket of the
// management tenant, carries auth's CREATE/DELETE messages.
func TestTenancyTopic(t *testing.T) {
	e := newEnv(t, nil)
	ws := e.dial(dojot.ManagementTenant, dojot.ManagementTenant+".dojot.tenancy", "")
	e.event(dojot.EventTenantCreated, "zeta", dojot.KindTenant, "zeta", dojot.TenantCreated{Tenant: "zeta"})
	if got := next(t, ws); got != `{"type":"CREATE","tenant":"zeta"}` {
		t.Errorf("frame %s; want CREATE zeta", got)
	}
	if code, _ := closed(t, e.dial("acme", dojot.ManagementTenant+".dojot.tenancy", "")); code != kafkaws.CloseForbiddenTopic {
		t.Errorf("tenancy for tenant acme: closed %d; want %d", code, kafkaws.CloseForbiddenTopic)
	}
}
