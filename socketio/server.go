package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/kafkaws"
)

// The error packets (44"<text>") of dojot's checkSocket: GUI v1 reacts
// to these texts.
const (
	ErrMissingToken = "Authentication error: missing token"
	ErrUnknown      = "Authentication error: unknown token"
	ErrVerify       = "Failed to verify token"
	// ErrTooMany is this implementation's: the tenant holds
	// Options.MaxPerTenant sockets already.
	ErrTooMany = "Too many connections for this tenant"
	// ErrUnavailable: the tenant's feed could not start (the event
	// store away).
	ErrUnavailable = "Server unavailable at this moment"
)

// NotificationsSubject is the subject query value of a notification
// socket.
const NotificationsSubject = "dojot.notifications"

// Feeds is where the tenant's messages come from (kafkaws.Server.Watch).
type Feeds interface {
	Watch(tenant string, feed kafkaws.Feed, fn func(seq uint64, data []byte)) (stop func(), err error)
}

// Options configure a Server; a zero field means its default.
type Options struct {
	Tokens *Tokens // required
	Feeds  Feeds   // required
	Logger *slog.Logger
	// MaxPerTenant bounds a tenant's open sockets (default 1,000); beyond,
	// the handshake gets error packet ErrTooMany.
	MaxPerTenant int
	// SendBuffer is how many packets may wait for a socket (the
	// engine's write buffer: between two polls, or while a websocket
	// write is under way; default 256). A feed that finds it full waits
	// for room; a socket whose transport takes nothing more (a websocket
	// write stuck, packets left waiting without a poll) is too slow for
	// its feed and is closed.
	SendBuffer int
	// PingInterval and PingTimeout are the engine's heartbeat (default
	// 25 s and 5 s, socket.io 2.2's): a client silent for their sum is
	// closed.
	PingInterval, PingTimeout time.Duration
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxPerTenant <= 0 {
		o.MaxPerTenant = 1000
	}
	if o.SendBuffer <= 0 {
		o.SendBuffer = 256
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 5 * time.Second
	}
}

// Server is the socket.io service: Token is GET /stream/socketio, Handler
// /socket.io/.
type Server struct {
	opts    Options
	log     *slog.Logger
	io      *socket.Server
	handler http.Handler
	// upgrades are the websocket connections of polling sessions (by
	// sid) until the session switches to them.
	upgrades sync.Map

	mu      sync.Mutex // guards tenants, closed and the feeds' start and stop
	tenants map[string]*room
	closed  bool

	opened, events, tooSlow atomic.Uint64
	refusedMu               sync.Mutex
	refused                 map[string]uint64
}

// room is one tenant's sockets and the feeds that serve them, started
// with the first socket that needs them and stopped with the last.
type room struct {
	n int // sockets admitted (the limit), under Server.mu

	mu    sync.RWMutex // guards the sets, read by the feeds
	data  map[*client]struct{}
	notes map[*client]struct{}

	stopData, stopNotes []func() // under Server.mu
}

// client is one socket.
type client struct {
	s      *Server
	tenant string
	notes  bool
	sock   *socket.Socket
	// pending counts this package's packets in the engine's write
	// buffer: written, not yet handed to the transport; waitSince is
	// when the oldest of them was written (Unix ns; 0: none, or not
	// known). drained tells a feed waiting for room that some left;
	// done, that the connection closed.
	pending   atomic.Int64
	waitSince atomic.Int64
	drained   chan struct{}
	done      chan struct{}
	// ws is the socket's websocket connection once it is its transport.
	ws      atomic.Pointer[batchConn]
	slow    atomic.Bool
	filter  atomic.Pointer[Filter]
	release sync.Once
	left    bool // under Server.mu
}

// New returns a Server; Close ends its sockets.
func New(opts Options) (*Server, error) {
	if opts.Tokens == nil || opts.Feeds == nil {
		return nil, errors.New("socketio: Options.Tokens and Options.Feeds are required")
	}
	opts.setDefaults()
	s := &Server{opts: opts, log: opts.Logger, tenants: map[string]*room{}, refused: map[string]uint64{}}
	so := socket.DefaultServerOptions()
	so.SetAllowEIO3(true) // socket.io-client 2.x: Engine.IO v3
	so.SetPingInterval(opts.PingInterval)
	so.SetPingTimeout(opts.PingTimeout)
	so.SetServeClient(false) // the GUI bundles its client
	so.SetPath("/socket.io")
	// dojot's clients send a ping, a filter: nothing near socket.io's
	// default of 1 MB per message.
	so.SetMaxHttpBufferSize(64 << 10)
	// Any origin, credentials allowed (the request's Origin echoed), as
	// socket.io 2.2 answers: the token, not the origin, authenticates.
	so.SetCors(&types.Cors{Origin: true, Credentials: true})
	s.io = socket.NewServer(nil, so)
	s.io.Use(s.authenticate)
	s.handler = hijackable(s.io.ServeHandler(so), &s.upgrades)
	return s, nil
}

// Handler serves /socket.io/.
func (s *Server) Handler() http.Handler { return s.handler }

// Close ends every socket.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	done := make(chan struct{})
	s.io.Close(func(error) { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	return nil
}

// Stats counts what the server did.
type Stats struct {
	Open    int               `json:"open"`
	Opened  uint64            `json:"opened"`
	Events  uint64            `json:"events"`
	TooSlow uint64            `json:"too_slow"`
	Refused map[string]uint64 `json:"refused,omitempty"`
}

// Stats is a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{Opened: s.opened.Load(), Events: s.events.Load(), TooSlow: s.tooSlow.Load()}
	s.refusedMu.Lock()
	st.Refused = make(map[string]uint64, len(s.refused))
	for k, v := range s.refused {
		st.Refused[k] = v
	}
	s.refusedMu.Unlock()
	s.mu.Lock()
	for _, r := range s.tenants {
		st.Open += r.n
	}
	s.mu.Unlock()
	return st
}

func (s *Server) refuse(why string) {
	s.refusedMu.Lock()
	s.refused[why]++
	s.refusedMu.Unlock()
}

// Token is GET /stream/socketio, behind the gateway's PEP: 200
// {"token":"<uuid>"} for the caller's tenant.
func (s *Server) Token(w http.ResponseWriter, r *http.Request) {
	id, ok := dojot.IdentityFrom(r.Context())
	if !ok || id.Tenant == "" || id.Username == "" {
		// dojot's authMiddleware: no service or username in the JWT.
		reply(w, http.StatusUnauthorized, "message", "Authentication (JWT) required for API")
		return
	}
	t, err := s.opts.Tokens.Issue(r.Context(), Claims{Tenant: id.Tenant, User: id.Username})
	if err != nil {
		s.log.Error("socket.io: token not issued", "tenant", id.Tenant, "err", err)
		reply(w, http.StatusServiceUnavailable, "error", "Token store unavailable")
		return
	}
	reply(w, http.StatusOK, "token", t)
}

func reply(w http.ResponseWriter, code int, key, value string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{key: value})
}

// authenticate is the handshake's middleware (dojot's checkSocket): it
// redeems the token, so it is used once whatever happens next, and admits
// the socket under its tenant's limit. A refusal is the error packet
// 44"<text>"; the engine connection stays open, as dojot's, and the client
// (GUI v1) closes it.
func (s *Server) authenticate(sock *socket.Socket, next func(*socket.ExtendedError)) {
	q := sock.Handshake().Query.Query()
	token := q.Get("token")
	if token == "" {
		s.refuse("missing_token")
		next(socket.NewExtendedError(ErrMissingToken, nil))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	claims, err := s.opts.Tokens.Redeem(ctx, token)
	if err != nil {
		if errors.Is(err, ErrUnknownToken) {
			s.refuse("unknown_token")
			next(socket.NewExtendedError(ErrUnknown, nil))
			return
		}
		s.log.Error("socket.io: token store", "err", err)
		s.refuse("token_store")
		next(socket.NewExtendedError(ErrVerify, nil))
		return
	}
	subject := q.Get("subject")
	c := &client{s: s, tenant: claims.Tenant, notes: subject == NotificationsSubject,
		drained: make(chan struct{}, 1), done: make(chan struct{})}
	if !s.admit(claims.Tenant) {
		s.refuse("too_many")
		next(socket.NewExtendedError(ErrTooMany, nil))
		return
	}
	// Whatever ends the engine connection gives the place back, once,
	// also when it ends before the socket is connected.
	conn := sock.Conn()
	conn.Once("close", func(...any) {
		close(c.done) // first: a feed waiting for room holds the room's lock
		c.leave()
		s.upgrades.Delete(conn.Id())
	})
	// The engine hands its buffer to the transport: this package's
	// packets (the only ones with a strings.Reader) leave it, and a
	// websocket holds the frames until the burst is written.
	conn.On("flush", func(args ...any) {
		if len(args) > 0 {
			if wbuf, ok := args[0].([]*packet.Packet); ok {
				n := 0
				for _, p := range wbuf {
					if _, ok := p.Data.(*strings.Reader); ok {
						n++
					}
				}
				if n > 0 {
					if c.pending.Add(-int64(n)) <= 0 {
						c.waitSince.Store(0)
					} else {
						c.waitSince.Store(time.Now().UnixNano())
					}
					select {
					case c.drained <- struct{}{}:
					default:
					}
				}
			}
		}
		if ws := c.ws.Load(); ws != nil {
			ws.cork()
		}
	})
	if ctx := conn.Request(); ctx != nil && ctx.Websocket != nil && ctx.Websocket.Conn != nil {
		if bc, ok := ctx.Websocket.NetConn().(*batchConn); ok {
			c.attach(conn, conn.Transport(), bc)
		}
	}
	conn.On("upgrade", func(args ...any) {
		bc, ok := s.upgrades.LoadAndDelete(conn.Id())
		if !ok || len(args) == 0 {
			return
		}
		if t, ok := args[0].(types.EventEmitter); ok {
			c.attach(conn, t, bc.(*batchConn))
		}
	})
	if conn.ReadyState() != "open" { // closed while the token was redeemed: no close event to come
		c.leave()
		next(socket.NewExtendedError(ErrUnavailable, nil))
		return
	}
	c.sock = sock
	if c.notes {
		sock.On("filter", func(args ...any) { c.setFilter(args) })
	}
	// The socket joins its feed before its CONNECT packet leaves: what is
	// stored once the client sees it connected reaches it (socket.io-client
	// keeps an event that comes before the CONNECT until then).
	if err := s.join(c); err != nil {
		s.log.Warn("socket.io: feed unavailable", "tenant", c.tenant, "err", err)
		s.refuse("unavailable")
		c.leave()
		next(socket.NewExtendedError(ErrUnavailable, nil))
		return
	}
	s.opened.Add(1)
	next(nil)
}

// attach makes bc, t's connection, the socket's: the end of each of t's
// writes writes out what bc holds, unless more of this package's packets
// wait (their write follows at once; not on a socket that is no longer
// open, whose engine drops them).
func (c *client) attach(conn interface{ ReadyState() string }, t types.EventEmitter, bc *batchConn) {
	_ = t.On("drain", func(...any) {
		if c.pending.Load() <= 0 || conn.ReadyState() != "open" {
			bc.uncork()
		}
	})
	c.ws.Store(bc)
}

// setFilter takes a "filter" message. dojot threw on a bad one; here it
// is refused, told to the client (event filter_error), and the filter
// before stays.
func (c *client) setFilter(args []any) {
	if len(args) == 0 {
		return
	}
	f, err := ParseFilter(args[0])
	if err != nil {
		c.s.log.Info("socket.io: filter refused", "tenant", c.tenant, "err", err)
		_ = c.sock.Emit("filter_error", err.Error())
		return
	}
	c.filter.Store(&f)
}

func (s *Server) admit(tenant string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.tenants[tenant]
	if s.closed || r != nil && r.n >= s.opts.MaxPerTenant {
		return false
	}
	if r == nil {
		r = &room{data: map[*client]struct{}{}, notes: map[*client]struct{}{}}
		s.tenants[tenant] = r
	}
	r.n++
	return true
}

// join adds c to its tenant's room, starting the feeds it needs.
func (s *Server) join(c *client) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.tenants[c.tenant]
	if r == nil || c.left { // the engine connection closed already
		return nil
	}
	if c.notes {
		if len(r.stopNotes) == 0 {
			stop, err := s.opts.Feeds.Watch(c.tenant, kafkaws.FeedNotifications, func(_ uint64, data []byte) { s.notify(r, data) })
			if err != nil {
				return err
			}
			r.stopNotes = []func(){stop}
		}
	} else if len(r.stopData) == 0 {
		stopData, err := s.opts.Feeds.Watch(c.tenant, kafkaws.FeedData, func(_ uint64, data []byte) { s.reading(r, data) })
		if err != nil {
			return err
		}
		stopDevices, err := s.opts.Feeds.Watch(c.tenant, kafkaws.FeedDevices, func(_ uint64, data []byte) { s.actuation(r, data) })
		if err != nil {
			stopData()
			return err
		}
		r.stopData = []func(){stopData, stopDevices}
	}
	r.mu.Lock()
	if c.notes {
		r.notes[c] = struct{}{}
	} else {
		r.data[c] = struct{}{}
	}
	r.mu.Unlock()
	return nil
}

// leave takes c out of its room, stopping the feeds nobody needs, and
// gives its place back; once per admitted socket.
func (c *client) leave() {
	c.release.Do(func() {
		s := c.s
		s.mu.Lock()
		defer s.mu.Unlock()
		c.left = true
		r := s.tenants[c.tenant]
		if r == nil {
			return
		}
		r.mu.Lock()
		delete(r.data, c)
		delete(r.notes, c)
		nData, nNotes := len(r.data), len(r.notes)
		r.mu.Unlock()
		// Stopped outside r.mu: a feed delivering now holds its own lock
		// and waits for r.mu's read side.
		if nData == 0 {
			for _, stop := range r.stopData {
				stop()
			}
			r.stopData = nil
		}
		if nNotes == 0 {
			for _, stop := range r.stopNotes {
				stop()
			}
			r.stopNotes = nil
		}
		if r.n--; r.n <= 0 {
			delete(s.tenants, c.tenant)
		}
	})
}

// reading emits a device-data message as events <deviceid> and "all",
// the message as it is (dojot passes the parsed object on whole).
func (s *Server) reading(r *room, data []byte) {
	var msg struct {
		Metadata struct {
			DeviceID string `json:"deviceid"`
		} `json:"metadata"`
	}
	if json.Unmarshal(data, &msg) != nil || msg.Metadata.DeviceID == "" {
		return // dojot logs and drops what has no metadata.deviceid
	}
	s.emitDevice(r, msg.Metadata.DeviceID, data)
}

// actuation emits a device-manager message with event configure, the
// way dojot normalises it: {"attrs":…,"metadata":{"deviceid","tenant",
// "timestamp"}}; other device-manager events are not for socket.io.
func (s *Server) actuation(r *room, data []byte) {
	var msg struct {
		Event string `json:"event"`
		Meta  struct {
			Service   string          `json:"service"`
			Timestamp json.RawMessage `json:"timestamp"`
		} `json:"meta"`
		Data struct {
			ID    string          `json:"id"`
			Attrs json.RawMessage `json:"attrs"`
		} `json:"data"`
	}
	if json.Unmarshal(data, &msg) != nil || msg.Event != "configure" || msg.Meta.Service == "" ||
		len(msg.Meta.Timestamp) == 0 || msg.Data.ID == "" || len(msg.Data.Attrs) == 0 {
		return
	}
	type metadata struct {
		DeviceID  string          `json:"deviceid"`
		Tenant    string          `json:"tenant"`
		Timestamp json.RawMessage `json:"timestamp"`
	}
	out, err := json.Marshal(struct {
		Attrs    json.RawMessage `json:"attrs"`
		Metadata metadata        `json:"metadata"`
	}{msg.Data.Attrs, metadata{msg.Data.ID, msg.Meta.Service, msg.Meta.Timestamp}})
	if err != nil {
		return
	}
	s.emitDevice(r, msg.Data.ID, out)
}

func (s *Server) emitDevice(r *room, deviceID string, payload []byte) {
	name, _ := json.Marshal(deviceID)
	byID, all := event(name, payload), event([]byte(`"all"`), payload)
	r.mu.RLock()
	defer r.mu.RUnlock()
	for c := range r.data {
		c.send(byID, all)
	}
}

// notify emits a notification as event "notification", its argument the
// message as a JSON string (GUI v1 JSON.parses it), to every notification
// socket of the tenant whose filter passes it (dojot reached only the
// first socket).
func (s *Server) notify(r *room, data []byte) {
	var n notification
	if json.Unmarshal(data, &n) != nil {
		return
	}
	arg, _ := json.Marshal(string(data))
	p := event([]byte(`"notification"`), arg)
	r.mu.RLock()
	defer r.mu.RUnlock()
	for c := range r.notes {
		if f := c.filter.Load(); f == nil || f.Match(&n) {
			c.send(p)
		}
	}
}

// gate is what send uses of the engine's websocket transport.
type gate interface {
	Writable() bool
	SetWritable(bool)
	Emit(types.EventName, ...any)
}

// prepared is an event encoded once for every socket it goes to: each
// socket's engine reads it through a strings.Reader of its own, which
// shares the bytes (the library's own write path clones them per
// socket).
type prepared string

// event encodes the socket.io packet 2[<name>,<arg>], name and arg being
// JSON. No pre-encoded websocket frame (the library's broadcast sets
// one): the engine makes a gorilla PreparedMessage of it for each socket,
// which costs more than the plain write it replaces (BENCHMARKS.md,
// socket.io).
func event(name, arg []byte) prepared {
	var b strings.Builder
	b.Grow(len(name) + len(arg) + 4)
	b.WriteString(`2[`)
	b.Write(name)
	b.WriteByte(',')
	b.Write(arg)
	b.WriteByte(']')
	return prepared(b.String())
}

// send hands the events to the socket's engine, which queues them
// without waiting for the client while fewer than SendBuffer packets
// wait. A socket whose queue stays full (see room) is too slow for its
// feed: it is closed, so a client that stopped reading (or polling)
// costs a bounded buffer.
func (c *client) send(ps ...prepared) {
	if c.slow.Load() {
		return
	}
	if c.pending.Load() >= int64(c.s.opts.SendBuffer) && !c.room() {
		select {
		case <-c.done: // closed meanwhile, not for being slow
			return
		default:
		}
		if c.slow.CompareAndSwap(false, true) {
			c.s.tooSlow.Add(1)
			c.s.log.Info("socket.io: client too slow, disconnected", "tenant", c.tenant)
			// Discarding what waits: a plain close would wait for the
			// buffer to drain, which a client that does not read never
			// lets happen.
			go c.sock.Conn().Close(true)
		}
		return
	}
	// All counted before the first write: the engine may flush it
	// within, and a websocket holds its frame while the others are to
	// come, so a reading's events leave in one write.
	if c.waitSince.Load() == 0 { // set before pending: see stuck
		c.waitSince.CompareAndSwap(0, time.Now().UnixNano())
	}
	c.pending.Add(int64(len(ps)))
	conn := c.sock.Conn()
	// On a websocket, the transport is made unwritable while the events
	// go into the engine's buffer, then writable again: the engine flushes
	// them together, one task of its writer instead of one each (a
	// goroutine, and its events, per task). Only where the transport was
	// writable, so no write of the engine's is under way: its writer sets
	// it back itself, and waits for none of this.
	var t gate
	if len(ps) > 1 && c.ws.Load() != nil {
		if g, ok := conn.Transport().(gate); ok && g.Writable() {
			g.SetWritable(false)
			t = g
		}
	}
	for _, p := range ps {
		conn.Write(strings.NewReader(string(p)), nil, nil)
	}
	if t != nil {
		t.SetWritable(true)
		t.Emit("ready") // the engine flushes its buffer on it
	}
	c.s.events.Add(uint64(len(ps)))
}

// A feed that finds a socket's queue full looks every stallCheck whether
// its transport still takes packets: a websocket write to the client
// under way for stallFor (a healthy client's socket takes a frame at
// once; a writer short of CPU is not held that long), or packets waiting
// pollFor without a poll taking them (a polling client that reads polls
// again at once; its next poll needs a few goroutines to run, so the
// bound is longer). roomFor bounds the wait whatever the reason.
const (
	stallCheck = 20 * time.Millisecond
	stallFor   = 250 * time.Millisecond
	pollFor    = time.Second
	roomFor    = 5 * time.Second
)

// room waits until fewer than SendBuffer packets wait for c; false when
// the client is too slow (stuck) or the connection closed. A queue fills
// without the client being slow when the server is short of CPU: a burst
// of messages (a batch from the Kafka bridge, a reconnected agent) is
// queued before the websocket's writer or the client's next poll runs;
// closing the socket then would drop a client that reads everything. A
// slow client thus holds its feed up stallFor or pollFor at most, once:
// it is then closed.
func (c *client) room() bool {
	check := time.NewTicker(stallCheck)
	defer check.Stop()
	giveUp := time.NewTimer(roomFor)
	defer giveUp.Stop()
	for c.pending.Load() >= int64(c.s.opts.SendBuffer) {
		select {
		case <-c.drained:
		case <-c.done:
			return false
		case <-giveUp.C:
			return false
		case <-check.C:
			if c.stuck() {
				return false
			}
		}
	}
	return true
}

// stuck tells whether c's transport has stopped taking packets. A
// waitSince of 0 with packets waiting (send and a flush crossing) is
// never stuck: room's roomFor then bounds the wait.
func (c *client) stuck() bool {
	if ws := c.ws.Load(); ws != nil {
		return ws.stuck(stallFor)
	}
	since := c.waitSince.Load()
	return since != 0 && time.Since(time.Unix(0, since)) > pollFor
}
