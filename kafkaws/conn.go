package kafkaws

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dojot-es/dojot/kafkaws/filter"
)

// conn is one websocket. A feed offers frames without blocking while
// there is room (a buffer that stays full closes the connection as too
// slow, see offer) and schedules the connection on a writer (writers),
// which writes what is queued; the connection's own goroutine only reads
// (run). So a slow client never holds up the feed for more than a moment,
// and 10,000 idle sockets cost one goroutine each, not two.
type conn struct {
	s      *Server
	ws     *websocket.Conn
	tenant string
	topic  string
	shard  int
	// lifetime is when the connection ends with 4408 (zero: never).
	lifetime time.Time

	send chan *websocket.PreparedMessage
	// started: run began, so frames may be written (before that, they
	// wait in send). scheduled: the connection is queued on its writer
	// or being flushed there, at most once at a time.
	started, scheduled atomic.Bool

	once    sync.Once
	ready   chan struct{} // closed once the upgrade is over (ws set, or nil if it failed)
	closing chan struct{} // closed by shut
	done    chan struct{} // closed once the socket is closed
	code    int
	reason  string
}

// connIDs spreads connections over the writers.
var connIDs atomic.Uint64

// newConn makes a connection's state before its upgrade: frames offered
// until run starts wait in its buffer. The caller sets ws.
func newConn(s *Server, tenant, topic string) *conn {
	return &conn{s: s, tenant: tenant, topic: topic, shard: int(connIDs.Add(1) % uint64(len(s.writers))),
		send: make(chan *websocket.PreparedMessage, s.opts.SendBuffer), ready: make(chan struct{}), closing: make(chan struct{}), done: make(chan struct{})}
}

// upgraded records the websocket (nil: the upgrade failed). A feed may
// shut the connection before this (too slow already): finish waits for it.
func (c *conn) upgraded(ws *websocket.Conn) {
	c.ws = ws
	close(c.ready)
}

// offer queues a frame; false when the connection is over. A buffer that
// stays full closes the connection: the client is too slow for its feed.
func (c *conn) offer(frame *websocket.PreparedMessage) bool {
	select {
	case <-c.closing:
		return false
	default:
	}
	select {
	case c.send <- frame:
		c.schedule()
		return true
	default:
	}
	if c.room(frame) {
		return true
	}
	c.s.tooSlow.Add(1)
	c.shut(CloseTooSlow, "Client too slow: send buffer full")
	return false
}

// A feed that finds a connection's buffer full looks every stallCheck
// whether its writer is stuck: in one write for stallFor (a healthy
// client's socket takes a frame at once; a write's goroutine short of CPU
// is not held that long).
const (
	stallCheck = 20 * time.Millisecond
	stallFor   = 250 * time.Millisecond
)

// room waits for room in c's full buffer and queues frame there, unless
// the connection's writer is stuck in a write (a client whose socket takes
// nothing more: too slow). A buffer fills without the client being slow
// when the server is short of CPU: a burst of messages (a batch from the
// Kafka bridge, a reconnected agent) is offered before the writer runs;
// closing the connection then would drop a client that reads everything.
// A slow client thus holds its feed up stallFor at most, once (it is then
// closed; the writer itself gives up on it after WriteTimeout); a writer
// that does not run, WriteTimeout.
func (c *conn) room(frame *websocket.PreparedMessage) bool {
	w := c.s.writers[c.shard]
	check := time.NewTicker(stallCheck)
	defer check.Stop()
	giveUp := time.NewTimer(c.s.opts.WriteTimeout)
	defer giveUp.Stop()
	for {
		select {
		case c.send <- frame:
			c.schedule()
			return true
		case <-c.closing:
			return false
		case <-giveUp.C:
			return false
		case <-check.C:
			if since := w.writeSince.Load(); since != 0 && time.Since(time.Unix(0, since)) > stallFor {
				return false
			}
		}
	}
}

// wait queues a frame, waiting for room: a connection's own replay
// consumer slows down to its client's pace instead of closing it. false
// when the connection is over.
func (c *conn) wait(frame *websocket.PreparedMessage) bool {
	select {
	case c.send <- frame:
		c.schedule()
		return true
	case <-c.closing:
		return false
	}
}

// schedule queues the connection on its writer unless it is already.
func (c *conn) schedule() {
	if c.started.Load() && c.scheduled.CompareAndSwap(false, true) {
		c.s.writers[c.shard].ch <- c
	}
}

// flush writes what is queued; it runs on the connection's writer. A
// write that does not go through within WriteTimeout (the client's socket
// stays full) ends the connection: its stream is cut mid-frame, so no
// close frame can follow.
func (c *conn) flush(w *writer) {
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.opts.WriteTimeout))
	var n uint64
	for more := true; more; {
		select {
		case frame := <-c.send:
			w.writeSince.Store(time.Now().UnixNano())
			err := c.ws.WritePreparedMessage(frame)
			w.writeSince.Store(0)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					c.s.tooSlow.Add(1)
				}
				c.shut(websocket.CloseAbnormalClosure, "")
				more = false
				break
			}
			n++
		default:
			more = false
		}
	}
	c.s.frames.Add(n)
	c.scheduled.Store(false)
	if len(c.send) > 0 { // offered after the loop looked
		c.schedule()
	}
}

// writer runs flush for the connections scheduled on it (ch).
// writeSince, when its current write to a socket began (Unix ns; 0: none
// under way), tells a feed whose frames wait for it whether it is stuck on
// a client (room).
type writer struct {
	ch         chan *conn
	writeSince atomic.Int64
}

// startWriters starts n writers, so that a client whose writes stall
// holds up only its share.
func startWriters(ctx context.Context, n int) []*writer {
	ws := make([]*writer, n)
	for i := range ws {
		w := &writer{ch: make(chan *conn, 1<<14)}
		ws[i] = w
		go func() {
			for {
				select {
				case c := <-w.ch:
					c.flush(w)
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return ws
}

// shut ends the connection with code and reason, once: the close frame
// (unless the connection already failed) and the socket's close happen
// on a goroutine of their own, as they may wait for the client.
func (c *conn) shut(code int, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		close(c.closing)
		go c.finish()
	})
}

func (c *conn) finish() {
	defer close(c.done)
	<-c.ready
	if c.ws == nil { // the upgrade failed
		return
	}
	if c.code != websocket.CloseNormalClosure && c.code != websocket.CloseAbnormalClosure {
		msg := websocket.FormatCloseMessage(c.code, truncate(c.reason, 123))
		// A client closed as too slow has full socket buffers: it gets
		// the write timeout to take in what is queued and then this.
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.s.opts.WriteTimeout))
	}
	c.ws.Close()
}

// closeNow closes a connection that run never served, and waits.
func (c *conn) closeNow(code int, reason string) {
	c.shut(code, reason)
	<-c.done
}

// truncate keeps a close reason within RFC 6455's 123 bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// run serves the connection until it ends: it reads (client frames are
// ignored, as dojot, but reading answers pings and notices a close or a
// dead peer), pings every PingInterval, and ends it at its lifetime.
func (c *conn) run() {
	o := c.s.opts
	c.ws.SetReadLimit(4096)
	_ = c.ws.SetReadDeadline(time.Now().Add(2 * o.PingInterval))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(2 * o.PingInterval))
	})
	var ping *time.Timer
	ping = time.AfterFunc(o.PingInterval, func() {
		if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(o.WriteTimeout)); err != nil {
			c.shut(websocket.CloseAbnormalClosure, "")
			return
		}
		ping.Reset(o.PingInterval)
	})
	defer ping.Stop()
	if !c.lifetime.IsZero() {
		life := time.AfterFunc(time.Until(c.lifetime), func() { c.shut(CloseExpired, "Connection lifetime") })
		defer life.Stop()
	}
	c.started.Store(true)
	if len(c.send) > 0 {
		c.schedule()
	}
	for {
		if _, _, err := c.ws.NextReader(); err != nil {
			break
		}
	}
	c.shut(websocket.CloseAbnormalClosure, "") // no-op when the server closed it
	<-c.done
}

// subscriber is a connection's view of a feed: its filter, and whether
// its frames carry the stream sequence.
type subscriber struct {
	c       *conn
	rule    *filter.Rule
	withSeq bool
	events  bool // a device-manager topic, from the renderer
	kafka   bool // another topic, from Kafka
	notes   *hub // dojot.notifications, from NOTIFICATIONS (nil: not that topic)
	// fn, for a watcher (Server.Watch) that is no connection (c is
	// nil), takes each message as is.
	fn func(seq uint64, data []byte)
	// key is the same for subscribers whose frames are the same (fields,
	// where, seq), so the hub renders a message once for all of them.
	key string
}

// render makes the frame of one message, false when none is sent. It is
// a prepared message: the hub offers one frame to every socket of a
// group, encoded once (gorilla's PreparedMessage) and written as is.
func (s *subscriber) render(seq uint64, data []byte) (*websocket.PreparedMessage, bool) {
	out, ok := s.text(seq, data)
	if !ok {
		return nil, false
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, out)
	return pm, err == nil
}

// text is the frame's text.
func (s *subscriber) text(seq uint64, data []byte) ([]byte, bool) {
	out, ok := s.rule.Apply(data)
	if !ok {
		return nil, false
	}
	if !s.withSeq {
		return out, true
	}
	b := make([]byte, 0, len(out)+40)
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"value":`...)
	b = append(b, out...)
	return append(b, '}'), true
}
