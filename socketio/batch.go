package socketio

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Coalescing a websocket's frames. EIO3 sends one packet per websocket
// frame, and the engine writes each frame with its own write(2): a
// reading, two events, was two syscalls per socket, the largest cost of
// the fan-out (BENCHMARKS.md, socket.io). Frames may share a TCP write,
// so the connection under the library's websocket is wrapped: while the
// engine flushes a socket's packets (its "flush" event) the frames are
// held, and written at once when the transport's last write of the
// burst ends ("drain" with no packet of ours waiting). Nothing waits for
// a batch to fill: a drain with nothing queued behind it writes out what
// it holds.

// maxHeld bounds what a connection holds before writing it out anyway.
const maxHeld = 32 << 10

// batchConn is a hijacked websocket connection that can hold its writes.
type batchConn struct {
	net.Conn
	// hold is set by the feed's goroutine, which must never wait for a
	// write (mu is held across one, and a client that does not read
	// stalls it).
	hold atomic.Bool
	// writeSince is when the write to the client under way began (Unix
	// ns; 0: none): one that lasts is a client whose socket takes
	// nothing more (stuck).
	writeSince atomic.Int64
	mu         sync.Mutex
	buf        []byte
	err        error // the write that failed while holding, for the next
}

var heldPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.hold.Load() && len(c.buf)+len(p) <= maxHeld {
		if c.buf == nil {
			c.buf = (*heldPool.Get().(*[]byte))[:0]
		}
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	if err := c.writeHeld(); err != nil {
		return 0, err
	}
	return c.write(p)
}

// write writes p to the client, timed for stuck.
func (c *batchConn) write(p []byte) (int, error) {
	c.writeSince.Store(time.Now().UnixNano())
	defer c.writeSince.Store(0)
	return c.Conn.Write(p)
}

// stuck tells whether a write to the client has been under way for over d.
func (c *batchConn) stuck(d time.Duration) bool {
	since := c.writeSince.Load()
	return since != 0 && time.Since(time.Unix(0, since)) > d
}

// writeHeld writes out what is held; under mu.
func (c *batchConn) writeHeld() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.write(c.buf)
	c.release()
	if err != nil {
		c.err = err
	}
	return err
}

func (c *batchConn) release() {
	if c.buf != nil {
		b := c.buf[:0]
		c.buf = nil
		if cap(b) <= maxHeld {
			heldPool.Put(&b)
		}
	}
}

// cork holds the writes from now on.
func (c *batchConn) cork() { c.hold.Store(true) }

// uncork writes out what is held and writes through from now on. A write
// error is the next Write's (the engine's writer sees it then).
func (c *batchConn) uncork() {
	c.hold.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		_ = c.writeHeld()
	}
}

// Close drops what is held: a socket closing is either done with its
// frames (the engine closes after its last drain) or discarded (too slow,
// and a write would block on it). The connection closes first, which ends
// a write stalled under mu.
func (c *batchConn) Close() error {
	err := c.Conn.Close()
	c.mu.Lock()
	c.release()
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.mu.Unlock()
	return err
}

// hijacker hands the library a batchConn when it upgrades a request to
// a websocket; conns are the upgrades of a polling session (sid) until
// the socket switches to them.
type hijacker struct {
	http.ResponseWriter
	r     *http.Request
	conns *sync.Map // sid -> *batchConn
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	bc := &batchConn{Conn: conn}
	if sid := h.r.URL.Query().Get("sid"); sid != "" {
		h.conns.Store(sid, bc)
	}
	return bc, brw, nil
}

func (h *hijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// hijackable wraps next so that a websocket upgrade gets a batchConn.
func hijackable(next http.Handler, conns *sync.Map) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(&hijacker{ResponseWriter: w, r: r, conns: conns}, r)
	})
}
