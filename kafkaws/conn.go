package kafkaws

import (
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dojot-es/dojot/kafkaws/filter"
)

// conn is one websocket: frames are offered by a feed without blocking and
// written by the connection's own goroutine (run), so a slow client never
// holds up the feed or the other clients.
type conn struct {
	s      *Server
	ws     *websocket.Conn
	tenant string
	topic  string
	// lifetime is when the connection ends with 4408 (zero: never).
	lifetime time.Time

	send chan []byte

	once    sync.Once
	closing chan struct{} // closed by shut: run writes the close frame and ends
	code    int
	reason  string
}

// newConn makes a connection's state before its upgrade: frames offered
// until run starts wait in its buffer. The caller sets ws.
func newConn(s *Server, tenant, topic string) *conn {
	return &conn{s: s, tenant: tenant, topic: topic,
		send: make(chan []byte, s.opts.SendBuffer), closing: make(chan struct{})}
}

// offer queues a frame; false when the connection is over. A full buffer
// closes the connection: the client is too slow for its feed.
func (c *conn) offer(frame []byte) bool {
	select {
	case <-c.closing:
		return false
	default:
	}
	select {
	case c.send <- frame:
		return true
	default:
		c.s.tooSlow.Add(1)
		c.shut(CloseTooSlow, "Client too slow: send buffer full")
		return false
	}
}

// wait queues a frame, waiting for room: a connection's own replay
// consumer slows down to its client's pace instead of closing it. false
// when the connection is over.
func (c *conn) wait(frame []byte) bool {
	select {
	case c.send <- frame:
		return true
	case <-c.closing:
		return false
	}
}

// shut asks run to close the connection with code and reason.
func (c *conn) shut(code int, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		close(c.closing)
	})
}

// closeNow closes a connection that run never served.
func (c *conn) closeNow(code int, reason string) {
	c.shut(code, reason)
	c.writeClose(time.Second)
	c.ws.Close()
}

// writeClose sends the close frame. A client closed as too slow has full
// socket buffers: it gets the write timeout to take in what is queued
// and then the frame that says why.
func (c *conn) writeClose(wait time.Duration) {
	msg := websocket.FormatCloseMessage(c.code, truncate(c.reason, 123))
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait))
}

// truncate keeps a close reason within RFC 6455's 123 bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// run writes frames and pings until the connection ends, then closes it.
// A second goroutine reads: client frames are ignored (as dojot), but
// reading is what answers pings and notices a close or a dead peer.
func (c *conn) run() {
	o := c.s.opts
	c.ws.SetReadLimit(4096)
	_ = c.ws.SetReadDeadline(time.Now().Add(2 * o.PingInterval))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(2 * o.PingInterval))
	})
	go func() {
		for {
			if _, _, err := c.ws.NextReader(); err != nil {
				c.shut(websocket.CloseNormalClosure, "")
				return
			}
		}
	}()
	ping := time.NewTicker(o.PingInterval)
	defer ping.Stop()
	var expired <-chan time.Time
	if !c.lifetime.IsZero() {
		t := time.NewTimer(time.Until(c.lifetime))
		defer t.Stop()
		expired = t.C
	}
	defer c.ws.Close()
	for {
		select {
		case frame := <-c.send:
			// What else is queued goes out with it, under one deadline.
			_ = c.ws.SetWriteDeadline(time.Now().Add(o.WriteTimeout))
			for n := 0; ; n++ {
				if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
					c.shut(websocket.CloseAbnormalClosure, "")
					return
				}
				if n == 16 || len(c.send) == 0 {
					c.s.frames.Add(uint64(n + 1))
					break
				}
				frame = <-c.send
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(o.WriteTimeout)); err != nil {
				c.shut(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-expired:
			c.shut(CloseExpired, "Connection lifetime")
		case <-c.closing:
			if c.code != websocket.CloseNormalClosure && c.code != websocket.CloseAbnormalClosure {
				c.writeClose(o.WriteTimeout)
			}
			return
		}
	}
}

// subscriber is a connection's view of a feed: its filter, and whether
// its frames carry the stream sequence.
type subscriber struct {
	c       *conn
	rule    *filter.Rule
	withSeq bool
	// key is the same for subscribers whose frames are the same (fields,
	// where, seq), so the hub renders a message once for all of them.
	key string
}

// render makes the frame of one message, false when none is sent.
func (s *subscriber) render(seq uint64, data []byte) ([]byte, bool) {
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
