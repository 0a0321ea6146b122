package socketio

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/kafkaws"
)

// fakeFeeds stands for Kafka WS's hubs: the test delivers to the
// watchers by hand.
type fakeFeeds struct {
	mu       sync.Mutex
	watchers map[string]map[int]func(uint64, []byte) // by tenant/feed
	n        int
}

func (f *fakeFeeds) Watch(tenant string, feed kafkaws.Feed, fn func(uint64, []byte)) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := fmt.Sprint(tenant, "/", feed)
	if f.watchers == nil {
		f.watchers = map[string]map[int]func(uint64, []byte){}
	}
	if f.watchers[k] == nil {
		f.watchers[k] = map[int]func(uint64, []byte){}
	}
	f.n++
	id := f.n
	f.watchers[k][id] = fn
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.watchers[k], id)
	}, nil
}

func (f *fakeFeeds) deliver(tenant string, feed kafkaws.Feed, data string) {
	f.mu.Lock()
	var fns []func(uint64, []byte)
	for _, fn := range f.watchers[fmt.Sprint(tenant, "/", feed)] {
		fns = append(fns, fn)
	}
	f.mu.Unlock()
	for _, fn := range fns {
		fn(1, []byte(data))
	}
}

func (f *fakeFeeds) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, w := range f.watchers {
		n += len(w)
	}
	return n
}

type testServer struct {
	*Server
	feeds *fakeFeeds
	url   string
}

func newTestServer(t *testing.T, opts Options) *testServer {
	t.Helper()
	return startTestServer(t, opts, nil)
}

// startTestServer is newTestServer on a listener that wrap, when set,
// makes of the server's.
func startTestServer(t *testing.T, opts Options, wrap func(net.Listener) net.Listener) *testServer {
	t.Helper()
	tk, _ := newMemoryTokens(t, time.Minute)
	f := &fakeFeeds{}
	opts.Tokens, opts.Feeds = tk, f
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", s.Handler())
	mux.HandleFunc("/stream/socketio", func(w http.ResponseWriter, r *http.Request) {
		tenant := r.URL.Query().Get("tenant")
		if tenant != "" {
			r = r.WithContext(dojot.WithIdentity(r.Context(), dojot.Identity{Tenant: tenant, Username: "ann"}))
		}
		s.Token(w, r)
	})
	hs := httptest.NewUnstartedServer(mux)
	if wrap != nil {
		hs.Listener = wrap(hs.Listener)
	}
	hs.Start()
	t.Cleanup(func() { s.Close(); hs.Close() })
	return &testServer{Server: s, feeds: f, url: hs.URL}
}

func (s *testServer) token(t *testing.T, tenant string) string {
	t.Helper()
	res, err := http.Get(s.url + "/stream/socketio?tenant=" + tenant)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
		t.Fatalf("token: %d %v %v", res.StatusCode, body, err)
	}
	return body["token"]
}

// poller is an Engine.IO v3 long-polling client, as socket.io-client 2.x
// with transports:['polling'] (GUI v1).
type poller struct {
	t       *testing.T
	base    string
	sid     string
	packets []string
}

func dial(t *testing.T, base, query string) *poller {
	t.Helper()
	p := &poller{t: t, base: base + "/socket.io/?EIO=3&transport=polling&" + query}
	p.get()
	if len(p.packets) == 0 || p.packets[0][0] != '0' {
		t.Fatalf("handshake: %q", p.packets)
	}
	var open struct {
		Sid          string
		PingInterval int
		PingTimeout  int
		Upgrades     []string
	}
	if err := json.Unmarshal([]byte(p.packets[0][1:]), &open); err != nil {
		t.Fatal(err)
	}
	p.sid, p.packets = open.Sid, p.packets[1:]
	return p
}

// get polls once and queues what comes.
func (p *poller) get() {
	p.t.Helper()
	u := p.base
	if p.sid != "" {
		u += "&sid=" + p.sid
	}
	res, err := http.Get(u)
	if err != nil {
		p.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		p.t.Fatalf("poll: %d %s", res.StatusCode, b)
	}
	p.packets = append(p.packets, decodePayload(p.t, string(b))...)
}

// next is the next packet other than a pong.
func (p *poller) next() string {
	p.t.Helper()
	for {
		for len(p.packets) > 0 {
			pk := p.packets[0]
			p.packets = p.packets[1:]
			if pk != "3" {
				return pk
			}
		}
		p.get()
	}
}

// send posts packets.
func (p *poller) send(packets ...string) {
	p.t.Helper()
	var b strings.Builder
	for _, pk := range packets {
		fmt.Fprintf(&b, "%d:%s", len(utf16.Encode([]rune(pk))), pk)
	}
	res, err := http.Post(p.base+"&sid="+p.sid, "text/plain;charset=UTF-8", strings.NewReader(b.String()))
	if err != nil {
		p.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		p.t.Fatalf("post: %d", res.StatusCode)
	}
}

// decodePayload splits an EIO3 payload: <length>:<packet>..., the
// length in UTF-16 code units.
func decodePayload(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	for s != "" {
		i := strings.IndexByte(s, ':')
		n, err := strconv.Atoi(s[:max(i, 0)])
		if i < 0 || err != nil {
			t.Fatalf("payload %q", s)
		}
		s = s[i+1:]
		j := 0
		for units := 0; units < n; {
			r, size := utf8.DecodeRuneInString(s[j:])
			units += len(utf16.Encode([]rune{r}))
			j += size
		}
		out = append(out, s[:j])
		s = s[j:]
	}
	return out
}

// TestSocketIOEvents: a device-data socket gets each reading as
// <deviceid> and all, the message whole, and each configure normalised;
// a notification socket gets notifications only, as a JSON string, and
// its filter applies; another tenant's data never shows.
func TestSocketIOEvents(t *testing.T) {
	s := newTestServer(t, Options{})
	data := dial(t, s.url, "token="+s.token(t, "acme"))
	if pk := data.next(); pk != "40" {
		t.Fatalf("connect: %q", pk)
	}
	notes := dial(t, s.url, "token="+s.token(t, "acme")+"&subject=dojot.notifications")
	if pk := notes.next(); pk != "40" {
		t.Fatalf("connect: %q", pk)
	}
	other := dial(t, s.url, "token="+s.token(t, "globex"))
	if pk := other.next(); pk != "40" {
		t.Fatalf("connect: %q", pk)
	}

	s.feeds.deliver("globex", kafkaws.FeedData, `{"metadata":{"deviceid":"bad1","tenant":"globex"},"attrs":{"secret":1}}`)
	reading := `{"metadata":{"deviceid":"a1b2","tenant":"acme","timestamp":1600000000000,"templates":["1"]},"attrs":{"temp":23.5,"name":"ç😀"}}`
	s.feeds.deliver("acme", kafkaws.FeedData, reading)
	s.feeds.deliver("acme", kafkaws.FeedData, `{"attrs":{"no":"metadata"}}`)
	s.feeds.deliver("acme", kafkaws.FeedDevices, `{"event":"update","meta":{"service":"acme","timestamp":1},"data":{"id":"a1b2","attrs":{}}}`)
	s.feeds.deliver("acme", kafkaws.FeedDevices, `{"event":"configure","meta":{"service":"acme","timestamp":1600000000001},"data":{"id":"a1b2","attrs":{"led":true}}}`)
	for _, want := range []string{
		`42["a1b2",` + reading + `]`,
		`42["all",` + reading + `]`,
		`42["a1b2",{"attrs":{"led":true},"metadata":{"deviceid":"a1b2","tenant":"acme","timestamp":1600000000001}}]`,
		`42["all",{"attrs":{"led":true},"metadata":{"deviceid":"a1b2","tenant":"acme","timestamp":1600000000001}}]`,
	} {
		if pk := data.next(); pk != want {
			t.Errorf("got  %s\nwant %s", pk, want)
		}
	}
	s.feeds.deliver("globex", kafkaws.FeedData, `{"metadata":{"deviceid":"mark","tenant":"globex"},"attrs":{}}`)
	if pk := other.next(); !strings.Contains(pk, "bad1") {
		t.Errorf("globex's socket: %s; want its own reading", pk)
	}

	notes.send(`42["filter","{\"fields\":{\"subject\":{\"operation\":\"=\",\"value\":\"user_notification\"}}}"]`)
	bad := `42["filter","{\"fields\":{\"p\":{\"operation\":\"~\",\"value\":1}}}"]`
	notes.send(bad) // refused: the filter before stays
	if pk := notes.next(); !strings.HasPrefix(pk, `42["filter_error",`) {
		t.Errorf("bad filter: %s; want a filter_error event", pk)
	}
	sys := `{"msgID":"1","message":"no","subject":"system"}`
	user := `{"msgID":"2","message":"yes","metaAttrsFilter":{"priority":"low"},"subject":"user_notification"}`
	s.feeds.deliver("acme", kafkaws.FeedNotifications, sys)
	s.feeds.deliver("acme", kafkaws.FeedNotifications, user)
	arg, _ := json.Marshal(user)
	if pk, want := notes.next(), `42["notification",`+string(arg)+`]`; pk != want {
		t.Errorf("notification: %s; want %s", pk, want)
	}
	// The device-data socket got no notification, the notification
	// socket no reading.
	s.feeds.deliver("acme", kafkaws.FeedData, `{"metadata":{"deviceid":"end"},"attrs":{}}`)
	if pk := data.next(); !strings.HasPrefix(pk, `42["end",`) {
		t.Errorf("device-data socket: %s; want the next reading", pk)
	}
	s.feeds.deliver("acme", kafkaws.FeedNotifications, `{"msgID":"3","subject":"user_notification"}`)
	if pk := notes.next(); !strings.Contains(pk, `msgID\":\"3`) {
		t.Errorf("notification socket: %s; want the next notification", pk)
	}
}

// TestSocketIOAuth: dojot's three error packets (here the two a client
// can cause, and this implementation's limit), the token single use.
func TestSocketIOAuth(t *testing.T) {
	s := newTestServer(t, Options{MaxPerTenant: 1})
	if pk := dial(t, s.url, "").next(); pk != `44"Authentication error: missing token"` {
		t.Errorf("no token: %s", pk)
	}
	if pk := dial(t, s.url, "token=nope").next(); pk != `44"Authentication error: unknown token"` {
		t.Errorf("bad token: %s", pk)
	}
	tok := s.token(t, "acme")
	if pk := dial(t, s.url, "token="+tok).next(); pk != "40" {
		t.Errorf("token: %s", pk)
	}
	if pk := dial(t, s.url, "token="+tok).next(); pk != `44"Authentication error: unknown token"` {
		t.Errorf("token used twice: %s", pk)
	}
	if pk := dial(t, s.url, "token="+s.token(t, "acme")).next(); pk != `44"Too many connections for this tenant"` {
		t.Errorf("beyond the limit: %s", pk)
	}
	if pk := dial(t, s.url, "token="+s.token(t, "globex")).next(); pk != "40" {
		t.Errorf("another tenant: %s", pk)
	}
	st := s.Stats()
	if st.Open != 2 || st.Opened != 2 || st.Refused["missing_token"] != 1 || st.Refused["unknown_token"] != 2 || st.Refused["too_many"] != 1 {
		t.Errorf("stats %+v", st)
	}
	res, err := http.Get(s.url + "/stream/socketio")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 401 || strings.TrimSpace(string(b)) != `{"message":"Authentication (JWT) required for API"}` {
		t.Errorf("token without identity: %d %s", res.StatusCode, b)
	}
}

// TestSocketIOFanOut: every notification socket of the tenant gets the
// notification (dojot served only the first), and the feeds stop with
// the last socket.
func TestSocketIOFanOut(t *testing.T) {
	s := newTestServer(t, Options{})
	var ps []*poller
	for range 3 {
		p := dial(t, s.url, "token="+s.token(t, "acme")+"&subject=dojot.notifications")
		if pk := p.next(); pk != "40" {
			t.Fatalf("connect: %s", pk)
		}
		ps = append(ps, p)
	}
	if n := s.feeds.count(); n != 1 {
		t.Errorf("%d watchers for three notification sockets; want 1", n)
	}
	s.feeds.deliver("acme", kafkaws.FeedNotifications, `{"msgID":"1","message":"hi"}`)
	for i, p := range ps {
		if pk := p.next(); !strings.HasPrefix(pk, `42["notification","{\"msgID\":\"1\"`) {
			t.Errorf("socket %d: %s", i, pk)
		}
	}
	for _, p := range ps {
		p.send("1") // close
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.feeds.count() != 0 || s.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the sockets closed: %d watchers, stats %+v", s.feeds.count(), s.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSocketIOTooSlow: a socket that does not poll while its feed runs
// is closed once SendBuffer packets wait, and counted; the others go on.
func TestSocketIOTooSlow(t *testing.T) {
	s := newTestServer(t, Options{SendBuffer: 8})
	slow := dial(t, s.url, "token="+s.token(t, "acme"))
	if pk := slow.next(); pk != "40" {
		t.Fatalf("connect: %s", pk)
	}
	fast := dial(t, s.url, "token="+s.token(t, "acme"))
	if pk := fast.next(); pk != "40" {
		t.Fatalf("connect: %s", pk)
	}
	for i := range 20 {
		s.feeds.deliver("acme", kafkaws.FeedData, fmt.Sprintf(`{"metadata":{"deviceid":"d%d"},"attrs":{}}`, i))
		if pk := fast.next(); !strings.HasPrefix(pk, fmt.Sprintf(`42["d%d",`, i)) {
			t.Fatalf("fast socket: %s", pk)
		}
		fast.next() // all
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().TooSlow != 1 || s.Stats().Open != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v; want the slow socket closed", s.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := s.Stats(); st.Events != 2*20+8 {
		t.Errorf("%d events queued; want 48: the slow socket's stop at its buffer (8)", st.Events)
	}
}

// TestSocketIOTooSlowWebsocket: a websocket client that stops reading
// fills the kernel's buffers, then the engine's; once SendBuffer packets
// wait it is closed (its stalled write ends with the socket) and the
// others of the tenant go on.
func TestSocketIOTooSlowWebsocket(t *testing.T) {
	s := newTestServer(t, Options{SendBuffer: 8})
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.url, "http")+"/socket.io/?EIO=3&transport=websocket&token="+s.token(t, "acme"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, want := range []string{"0{", "40"} {
		if _, msg, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), want) {
			t.Fatalf("handshake: %q %v", msg, err)
		}
	}
	// From here the client reads nothing.
	fast := dial(t, s.url, "token="+s.token(t, "acme"))
	if pk := fast.next(); pk != "40" {
		t.Fatalf("connect: %s", pk)
	}
	big := strings.Repeat("x", 64<<10)
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; s.Stats().TooSlow == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d readings of 64 KiB: stats %+v; want the websocket closed as too slow", i, s.Stats())
		}
		s.feeds.deliver("acme", kafkaws.FeedData, fmt.Sprintf(`{"metadata":{"deviceid":"d%d"},"attrs":{"big":"%s"}}`, i, big))
		fast.next()
		fast.next()
	}
	for s.Stats().Open != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v; want the slow socket gone", s.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSocketIOBurst: a burst of readings larger than SendBuffer, stored
// at once while the server is short of CPU (one P: the feed queues the
// whole burst before the transport's writer or the next poll runs),
// reaches a client that reads everything, over a websocket and over
// long-polling: a full buffer that the client's transport keeps taking
// is the server behind, not the client too slow.
func TestSocketIOBurst(t *testing.T) {
	const n = 500
	reading := func(i int) string {
		return fmt.Sprintf(`{"metadata":{"deviceid":"d1"},"attrs":{"n":%d}}`, i)
	}
	burst := func(s *testServer) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		for i := range n {
			s.feeds.deliver("acme", kafkaws.FeedData, reading(i))
		}
	}
	// check reads the burst's 2n events with next, in order.
	check := func(t *testing.T, s *testServer, next func() string) {
		for i := range n {
			for _, name := range []string{"d1", "all"} {
				if pk, want := next(), fmt.Sprintf(`42[%q,%s]`, name, reading(i)); pk != want {
					t.Fatalf("reading %d: %.100s; want %s (stats %+v)", i, pk, want, s.Stats())
				}
			}
		}
		if st := s.Stats(); st.TooSlow != 0 || st.Open != 1 {
			t.Errorf("Stats = %+v; want one socket open, none too slow", st)
		}
	}
	t.Run("websocket", func(t *testing.T) {
		s := newTestServer(t, Options{SendBuffer: 4})
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.url, "http")+"/socket.io/?EIO=3&transport=websocket&token="+s.token(t, "acme"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		read := func() string {
			_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, msg, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("read: %v (stats %+v)", err, s.Stats())
			}
			return string(msg)
		}
		for _, want := range []string{"0{", "40"} {
			if msg := read(); !strings.HasPrefix(msg, want) {
				t.Fatalf("handshake: %q", msg)
			}
		}
		go burst(s)
		check(t, s, read)
	})
	t.Run("polling", func(t *testing.T) {
		s := newTestServer(t, Options{SendBuffer: 4})
		p := dial(t, s.url, "token="+s.token(t, "acme"))
		if pk := p.next(); pk != "40" {
			t.Fatalf("connect: %s", pk)
		}
		go burst(s)
		check(t, s, p.next)
	})
}
