package kafkaws

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/kafkaws/filter"
	"github.com/dojot-es/dojot/kafkaws/tickets"
	"github.com/dojot-es/dojot/projections/kafkamsg"
)

// Tickets issues and redeems the single-use tickets (tickets.Issuer).
type Tickets interface {
	Issue(ctx context.Context, c tickets.Claims) (string, error)
	Redeem(ctx context.Context, ticket string) (tickets.Claims, error)
}

// Feeds is where the topics' messages come from
// (eventstore.Store.FollowData).
type Feeds interface {
	FollowData(ctx context.Context, tenant string, start eventstore.Start, fn func(seq uint64, data []byte) error) error
	// DataRange is DATA's first and last sequence: a live feed starts
	// after the last one when it is created, so nothing stored after a
	// client saw its connection open is missed.
	DataRange(ctx context.Context) (first, last uint64, err error)
}

// NotificationFeeds is where <tenant>.dojot.notifications comes from
// (eventstore.Store's NOTIFICATIONS stream), as Feeds is for device-data.
type NotificationFeeds interface {
	FollowNotifications(ctx context.Context, tenant string, start eventstore.Start, fn func(seq uint64, data []byte) error) error
	NotificationsRange(ctx context.Context) (first, last uint64, err error)
}

// Close codes beyond filter's (dojot's app/Errors/ErrorCodes.js), and
// 4429 of this implementation.
const (
	CloseForbiddenTopic    = 4403
	CloseExpired           = 4408
	CloseTooSlow           = 4429
	CloseServerUnavailable = 4503
	CloseInternal          = 4999
	// CloseInvalidValue is filter's 4004, also used for a bad since.
	CloseInvalidValue = 4004
)

// Options configure a Server. A zero field means its default.
type Options struct {
	Tickets Tickets // required
	Feeds   Feeds   // required
	// Events serves <tenant>.dojot.device-manager.device from the log;
	// nil leaves that topic unserved.
	Events Events
	// Notifications serves <tenant>.dojot.notifications from the log
	// (the flows' notifications, dojot's message as is); nil leaves that
	// topic to Kafka.
	Notifications NotificationFeeds
	// KafkaBrokers, when Kafka is on, serve the tenant's other topics
	// (those the log does not hold) from Kafka, live only.
	KafkaBrokers []string
	Logger       *slog.Logger
	// MaxLifetime ends a connection (4408 "Connection lifetime"; dojot's
	// server.connection.max.life.time, default 2 h); negative: never.
	MaxLifetime time.Duration
	// JWTExp: a connection may live until its login token's exp when that
	// is later than MaxLifetime (dojot's server.jwt.exp.time).
	JWTExp bool
	// SendBuffer is how many frames may wait for a slow client (default 64).
	SendBuffer int
	// SocketBuffer is the kernel's send buffer of a connection, in bytes
	// (SO_SNDBUF, default 64 KiB, which Linux doubles). Left to its
	// autotuning, Linux lets a client that does not read hold up to
	// net.ipv4.tcp_wmem's maximum (4 MiB by default) before the server's
	// writes block and SendBuffer fills: that much kernel memory per slow
	// socket, and seconds before it is found too slow.
	SocketBuffer int
	// PingInterval is how often the server pings (default 30 s); a client
	// silent for twice that is closed.
	PingInterval time.Duration
	// WriteTimeout bounds the writes of a connection's queued frames
	// (default 2 s): a client whose socket does not take them is dropped.
	WriteTimeout time.Duration
	// MaxPerTenant bounds a tenant's open connections (default 10,000).
	MaxPerTenant int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxLifetime == 0 {
		o.MaxLifetime = 2 * time.Hour
	}
	if o.SendBuffer <= 0 {
		o.SendBuffer = 64
	}
	if o.SocketBuffer <= 0 {
		o.SocketBuffer = 64 << 10
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 30 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 2 * time.Second
	}
	if o.MaxPerTenant <= 0 {
		o.MaxPerTenant = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Server serves the ticket and topic routes.
type Server struct {
	opts     Options
	log      *slog.Logger
	hub      *hub      // device-data
	notes    *hub      // dojot.notifications; nil without Options.Notifications
	events   *renderer // nil without Options.Events
	writers  []*writer
	upgrader websocket.Upgrader

	mu      sync.Mutex
	perTen  map[string]int
	conns   map[*conn]struct{}
	closed  bool
	wg      sync.WaitGroup
	refused map[string]uint64 // under statsMu
	statsMu sync.Mutex
	// Counted by every connection's goroutine: atomics, not a mutex
	// 10,000 writers would queue on.
	opened, frames, tooSlow atomic.Uint64
	closeCtx                context.Context
	stop                    context.CancelFunc
}

// Stats counts what the server did.
type Stats struct {
	Open    int               `json:"open"`
	Opened  uint64            `json:"opened"`
	Frames  uint64            `json:"frames"`
	TooSlow uint64            `json:"too_slow"`
	Refused map[string]uint64 `json:"refused,omitempty"`
}

// New returns a Server; Close ends its connections.
func New(opts Options) (*Server, error) {
	if opts.Tickets == nil || opts.Feeds == nil {
		return nil, errors.New("kafkaws: Options.Tickets and Options.Feeds are required")
	}
	opts.setDefaults()
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{
		opts: opts, log: opts.Logger,
		perTen: map[string]int{}, conns: map[*conn]struct{}{}, refused: map[string]uint64{},
		closeCtx: ctx, stop: stop,
		upgrader: websocket.Upgrader{
			// Small per-connection buffers, and write buffers shared
			// between connections while they write: 10,000 sockets must
			// fit in a few hundred MB.
			ReadBufferSize:  512,
			WriteBufferSize: 4096,
			WriteBufferPool: &sync.Pool{},
			// The ticket authenticates the connection, and browsers on
			// the GUI's origin open it: any origin, as dojot.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
	s.hub = newHub(ctx, source{"DATA", opts.Feeds.FollowData, opts.Feeds.DataRange}, s.log)
	if n := opts.Notifications; n != nil {
		s.notes = newHub(ctx, source{"NOTIFICATIONS", n.FollowNotifications, n.NotificationsRange}, s.log)
	}
	if opts.Events != nil {
		s.events = newRenderer(ctx, opts.Events, s.log)
	}
	s.writers = startWriters(ctx, 4*runtime.GOMAXPROCS(0))
	return s, nil
}

// Close closes every connection (1001 going away) and stops the feeds.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.shut(websocket.CloseGoingAway, "Server shutting down")
	}
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
	return nil
}

// Stats is a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	st := Stats{Opened: s.opened.Load(), Frames: s.frames.Load(), TooSlow: s.tooSlow.Load()}
	st.Refused = make(map[string]uint64, len(s.refused))
	for k, v := range s.refused {
		st.Refused[k] = v
	}
	s.mu.Lock()
	st.Open = len(s.conns)
	s.mu.Unlock()
	return st
}

func (s *Server) refuse(why string) {
	s.statsMu.Lock()
	s.refused[why]++
	s.statsMu.Unlock()
}

// message writes dojot's kafka-ws error body.
func message(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// Ticket is GET /kafka-ws/v1/ticket, behind the gateway's authentication:
// 200 {"ticket":"<64 hex>"} for the caller's tenant.
func (s *Server) Ticket(w http.ResponseWriter, r *http.Request) {
	id, ok := dojot.IdentityFrom(r.Context())
	if !ok || id.Tenant == "" {
		message(w, http.StatusUnauthorized, "Missing JWT token")
		return
	}
	var exp time.Time
	if id.Expires > 0 {
		exp = time.Unix(id.Expires, 0)
	}
	t, err := s.opts.Tickets.Issue(r.Context(), tickets.Claims{Tenant: id.Tenant, User: id.Username, Expires: exp})
	if err != nil {
		s.log.Error("kafka-ws: ticket not issued", "tenant", id.Tenant, "err", err)
		message(w, http.StatusServiceUnavailable, "Ticket store unavailable")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]string{"ticket": t})
}

// Topic is GET /kafka-ws/v1/topics/{topic}: the websocket.
func (s *Server) Topic(w http.ResponseWriter, r *http.Request) {
	q := query(r.URL.RawQuery)
	ticket := q["ticket"]
	if ticket == "" {
		s.refuse("missing_ticket")
		message(w, http.StatusUnauthorized, "Missing ticket")
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		s.refuse("not_websocket")
		message(w, http.StatusUpgradeRequired, "Upgrade Required: a websocket request is expected")
		return
	}
	claims, err := s.opts.Tickets.Redeem(r.Context(), ticket)
	if err != nil {
		if !errors.Is(err, tickets.ErrInvalid) {
			s.log.Error("kafka-ws: ticket store", "err", err)
			message(w, http.StatusServiceUnavailable, "Ticket store unavailable")
			return
		}
		s.refuse("invalid_ticket")
		message(w, http.StatusUnauthorized, "Invalid ticket")
		return
	}
	if !s.admit(claims.Tenant) {
		s.refuse("too_many")
		message(w, http.StatusTooManyRequests, "Too many connections for this tenant")
		return
	}
	// What the connection asks for is checked before the upgrade (and
	// refused after it, with dojot's close codes), so that a live
	// connection joins its feed before the client sees it open: nothing
	// stored from then on is missed.
	c := newConn(s, claims.Tenant, path.Base(r.URL.Path))
	sub, start, code, reason := s.subscription(c, q, claims)
	why := refusal[code]
	joined := code == 0 && start == nil && !sub.kafka
	if joined {
		if err := s.join(claims.Tenant, sub); err != nil {
			s.log.Warn("kafka-ws: feed unavailable", "topic", c.topic, "err", err)
			joined, code, reason, why = false, CloseServerUnavailable, "Server unavailable at this moment", "unavailable"
		}
	}
	leave := func() {
		if joined {
			s.leave(claims.Tenant, sub)
		}
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	c.upgraded(ws)
	if err != nil { // the upgrader answered the client
		leave()
		s.release(claims.Tenant)
		return
	}
	if tc, ok := ws.NetConn().(interface{ SetWriteBuffer(int) error }); ok {
		_ = tc.SetWriteBuffer(s.opts.SocketBuffer)
	}
	if code != 0 {
		s.refuse(why)
	} else if !s.track(c) {
		code, reason = websocket.CloseGoingAway, "Server shutting down"
	}
	if code != 0 {
		leave()
		c.closeNow(code, reason)
		s.release(claims.Tenant)
		return
	}
	s.opened.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.untrack(c)
		defer leave()
		ctx, cancel := context.WithCancel(s.closeCtx)
		defer cancel()
		switch {
		case sub.kafka:
			go s.followKafka(ctx, c, sub)
		case start != nil && sub.events:
			go s.replayEvents(ctx, c, sub, *start)
		case start != nil:
			go s.replay(ctx, c, sub, claims.Tenant, *start)
		}
		c.run()
	}()
}

// refusal names a close code in Stats.Refused.
var refusal = map[int]string{
	CloseForbiddenTopic: "forbidden_topic", CloseServerUnavailable: "unknown_topic", CloseInternal: "internal",
	4000: "bad_filter", 4001: "bad_filter", 4002: "bad_filter", 4003: "bad_filter", 4004: "bad_filter", 4400: "bad_filter",
}

// subscription reads what a connection asks for: its subscriber, and
// where it starts (nil: live, from the hub). A non-zero code refuses it
// with that close code and reason.
func (s *Server) subscription(c *conn, q map[string]string, claims tickets.Claims) (sub *subscriber, start *eventstore.Start, code int, reason string) {
	if !strings.HasPrefix(strings.ToLower(c.topic), strings.ToLower(claims.Tenant)+".") {
		return nil, nil, CloseForbiddenTopic, "Tenant can't access this topic"
	}
	rule, err := filter.Parse(q["fields"], q["where"])
	if err != nil {
		var fe *filter.Error
		if errors.As(err, &fe) {
			return nil, nil, fe.Code, fe.Reason
		}
		return nil, nil, CloseInternal, "Internal error"
	}
	st, withSince, err := parseSince(q["since"])
	if err != nil {
		return nil, nil, CloseInvalidValue, err.Error()
	}
	var events, kafka bool
	var notes *hub
	switch {
	case c.topic == kafkamsg.DataTopic(claims.Tenant):
	case s.notes != nil && c.topic == kafkamsg.NotificationsTopic(claims.Tenant):
		notes = s.notes
	case s.opts.Events != nil && (c.topic == kafkamsg.DeviceTopic(claims.Tenant) ||
		c.topic == kafkamsg.TenancyTopic && claims.Tenant == dojot.ManagementTenant):
		events = true
	case len(s.opts.KafkaBrokers) > 0 && strings.HasPrefix(c.topic, claims.Tenant+"."):
		if withSince {
			return nil, nil, CloseInvalidValue, "since is served for <tenant>.device-data, <tenant>.dojot.notifications and <tenant>.dojot.device-manager.device only"
		}
		kafka = true
	default:
		// Other topics (notifications, what other services write to
		// Kafka) are not in the log, and Kafka is off: nothing would
		// ever come.
		return nil, nil, CloseServerUnavailable, "Topic not served: <tenant>.device-data, <tenant>.dojot.notifications and <tenant>.dojot.device-manager.device are (other topics with Kafka on)"
	}
	withSeq := q["seq"] == "true" || q["seq"] == "1"
	c.lifetime = s.lifetime(claims)
	sub = &subscriber{c: c, rule: rule, withSeq: withSeq, events: events, kafka: kafka, notes: notes, key: q["fields"] + "\x00" + q["where"] + "\x00" + strconv.FormatBool(withSeq)}
	if withSince {
		start = &st
	}
	return sub, start, 0, ""
}

// join adds a live connection to its feed.
func (s *Server) join(tenant string, sub *subscriber) error {
	if sub.events {
		return s.events.join(sub.c.topic, sub)
	}
	s.feed(sub).join(tenant, sub)
	return nil
}

// feed is the hub of a subscriber's stream.
func (s *Server) feed(sub *subscriber) *hub {
	if sub.notes != nil {
		return sub.notes
	}
	return s.hub
}

func (s *Server) leave(tenant string, sub *subscriber) {
	if sub.events {
		s.events.leave(sub.c.topic, sub)
	} else {
		s.feed(sub).leave(tenant, sub)
	}
}

// replay feeds one connection from its own consumer (since=), at the
// client's pace.
func (s *Server) replay(ctx context.Context, c *conn, sub *subscriber, tenant string, start eventstore.Start) {
	err := s.feed(sub).src.follow(ctx, tenant, start, func(seq uint64, data []byte) error {
		if out, ok := sub.render(seq, data); ok && !c.wait(out) {
			return errStopped
		}
		return nil
	})
	replayEnded(ctx, s.log, c, err)
}

// replayEnded closes a connection whose own feed failed (not because the
// connection or the server ended) with 4503, as dojot does when its
// consumer fails.
func replayEnded(ctx context.Context, log *slog.Logger, c *conn, err error) {
	if err != nil && ctx.Err() == nil && !errors.Is(err, errStopped) {
		log.Warn("kafka-ws: replay feed failed", "topic", c.topic, "err", err)
		c.shut(CloseServerUnavailable, "Server unavailable at this moment")
	}
}

var errStopped = errors.New("connection closed")

// query parses a query string as dojot's Node.js server does: split on
// '&' only. net/url also splits on ';' (and since Go 1.17 drops a pair
// that holds one), but every where condition ends with ';'. The first
// value of a key counts; '+' is a space.
func query(raw string) map[string]string {
	q := map[string]string{}
	for _, pair := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil || key == "" {
			continue
		}
		if _, ok := q[key]; !ok {
			q[key] = val
		}
	}
	return q
}

// lifetime is when a connection opened with claims ends (zero: never).
func (s *Server) lifetime(claims tickets.Claims) time.Time {
	var end time.Time
	if s.opts.MaxLifetime > 0 {
		end = s.opts.Now().Add(s.opts.MaxLifetime)
	}
	if s.opts.JWTExp && claims.Expires.After(end) {
		end = claims.Expires
	}
	return end
}

// parseSince reads since=: a stream sequence or an RFC 3339 time.
func parseSince(v string) (eventstore.Start, bool, error) {
	if v == "" {
		return eventstore.Start{}, false, nil
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		if n == 0 {
			n = 1
		}
		return eventstore.Start{Seq: n}, true, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		if t.IsZero() {
			// The zero Start is "from now on": year 1's first instant
			// asks for everything, as sequence 1 does.
			return eventstore.Start{Seq: 1}, true, nil
		}
		return eventstore.Start{At: t}, true, nil
	}
	return eventstore.Start{}, false, errors.New("Invalid since: a stream sequence or an RFC 3339 time")
}

func (s *Server) admit(tenant string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.perTen[tenant] >= s.opts.MaxPerTenant {
		return false
	}
	s.perTen[tenant]++
	return true
}

func (s *Server) release(tenant string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perTen[tenant]--; s.perTen[tenant] <= 0 {
		delete(s.perTen, tenant)
	}
}

// track registers a connection about to be served; its goroutine calls
// s.wg.Done. Under s.mu, so Close's Wait never races an Add.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.release(c.tenant)
}
