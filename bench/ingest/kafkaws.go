package main

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// wsLatSockets is how many sockets record every frame's latency (all of
// them count frames, gaps and duplicates): timing every frame of 100
// sockets would cost the generator more CPU than the server spends.
const wsLatSockets = 4

// wsWatch is N Kafka WS sockets on <tenant>.device-data, each opened with
// its own ticket and no filter, so each must get every reading of the
// window, MQTT and Kafka-produced alike, once and in order per device.
type wsWatch struct {
	byID  map[string]*device
	base  time.Time
	conns []*websocket.Conn
	wg    sync.WaitGroup

	mu        sync.Mutex
	next      []map[*device]int // per socket: the n expected next of each device
	seen      []atomic.Int64    // per socket: readings of the window shown, once each
	closed    []atomic.Bool     // per socket: its connection ended
	mqttLat   latencies         // MQTT publish -> frame
	kafkaLat  latencies         // Kafka produce -> frame
	frames    int
	gaps      int // readings a socket skipped (counted when a later one came)
	dups      int
	readErr   error
	lastFrame time.Duration
}

func newWSWatch(devs []*device, base time.Time) *wsWatch {
	w := &wsWatch{byID: map[string]*device{}, base: base}
	for _, d := range devs {
		w.byID[d.id] = d
	}
	return w
}

// start opens n sockets (a ticket each) and reads them until they close.
func (w *wsWatch) start(ctx context.Context, a *api, n int, tenant string) error {
	wsBase := "ws" + strings.TrimPrefix(a.base, "http") + "/kafka-ws/v1/topics/" + tenant + ".device-data?ticket="
	dialer := websocket.Dialer{ReadBufferSize: 4096, WriteBufferSize: 256, HandshakeTimeout: 30 * time.Second}
	for i := range n {
		var t struct{ Ticket string }
		if _, err := a.do(ctx, "GET", "/kafka-ws/v1/ticket", nil, &t); err != nil {
			return fmt.Errorf("kafka ws ticket: %w", err)
		}
		ws, _, err := dialer.DialContext(ctx, wsBase+t.Ticket, nil)
		if err != nil {
			return fmt.Errorf("kafka ws socket %d: %w", i, err)
		}
		w.conns = append(w.conns, ws)
		w.next = append(w.next, map[*device]int{})
	}
	w.seen = make([]atomic.Int64, len(w.conns))
	w.closed = make([]atomic.Bool, len(w.conns))
	for i, ws := range w.conns {
		w.wg.Add(1)
		go w.read(i, ws)
	}
	return nil
}

// field returns the text after key in a frame up to the next , or }.
func field(msg []byte, key string) []byte {
	i := bytes.Index(msg, []byte(key))
	if i < 0 {
		return nil
	}
	v := msg[i+len(key):]
	if j := bytes.IndexAny(v, ",}"); j >= 0 {
		v = v[:j]
	}
	return v
}

func (w *wsWatch) read(i int, ws *websocket.Conn) {
	defer w.wg.Done()
	defer w.closed[i].Store(true)
	next := w.next[i]
	var mqttLat, kafkaLat []time.Duration
	frames, gaps, dups := 0, 0, 0
	defer func() {
		w.mu.Lock()
		w.mqttLat.add(mqttLat...)
		w.kafkaLat.add(kafkaLat...)
		w.frames += frames
		w.gaps += gaps
		w.dups += dups
		w.mu.Unlock()
	}()
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) && !strings.Contains(err.Error(), "use of closed") {
				w.mu.Lock()
				w.readErr = err
				w.mu.Unlock()
			}
			return
		}
		at := time.Since(w.base)
		d := w.byID[string(bytes.Trim(field(msg, `"deviceid":`), `"`))]
		n, err := strconv.Atoi(string(field(msg, `"n":`)))
		if d == nil || err != nil || n < 1 {
			continue // the warm-up, or not this run's
		}
		frames++
		want := max(next[d], 1)
		switch {
		case n < want:
			dups++
			continue
		case n > want:
			for k := want; k < n; k++ {
				if !d.isFailed(k) {
					gaps++
				}
			}
		}
		next[d] = n + 1
		w.seen[i].Add(1)
		if i < wsLatSockets {
			if sent, ok := d.sentTime(n); ok {
				if d.viaKafka {
					kafkaLat = append(kafkaLat, at-sent)
				} else {
					mqttLat = append(mqttLat, at-sent)
				}
			}
		}
		if i == 0 {
			w.mu.Lock()
			w.lastFrame = at
			w.mu.Unlock()
		}
	}
}

// minSeen is the fewest readings of the window a socket still open has
// shown (each counted once); every socket closed: max int64.
func (w *wsWatch) minSeen() int64 {
	least := int64(-1)
	for i := range w.seen {
		if w.closed[i].Load() {
			continue
		}
		if n := w.seen[i].Load(); least < 0 || n < least {
			least = n
		}
	}
	if least < 0 {
		return 1<<63 - 1
	}
	return least
}

// dropped counts the sockets that ended before the end of the run: the
// server closes a socket whose client does not read fast enough (4429),
// as dojot's Kafka WS does, and what it then misses is not lost.
func (w *wsWatch) dropped() int {
	n := 0
	for i := range w.closed {
		if w.closed[i].Load() {
			n++
		}
	}
	return n
}

// missing counts, over the sockets that stayed open, the acknowledged
// readings of the window (acked) a socket has not shown.
func (w *wsWatch) missing(acked int) int {
	miss := 0
	for i := range w.seen {
		if w.closed[i].Load() {
			continue
		}
		miss += max(acked-int(w.seen[i].Load()), 0)
	}
	return miss
}

// close ends the sockets and waits for their readers.
func (w *wsWatch) close() {
	for _, ws := range w.conns {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = ws.Close()
	}
	w.wg.Wait()
}
