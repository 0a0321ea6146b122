package socketio

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dojot-es/dojot/kafkaws"
)

// countingListener counts the writes of the connections it accepts.
type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestSocketIOWebsocketOneWrite: a reading's two events (<deviceid>
// and all, two EIO3 frames) reach a websocket in one write to its
// connection, on a websocket-only socket and on one upgraded from
// polling; frames and their order are unchanged.
func TestSocketIOWebsocketOneWrite(t *testing.T) {
	var writes atomic.Int64
	s := startTestServer(t, Options{}, func(l net.Listener) net.Listener { return countingListener{l, &writes} })
	wsURL := "ws" + strings.TrimPrefix(s.url, "http") + "/socket.io/?EIO=3&transport=websocket"
	read := func(ws *websocket.Conn) string {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(msg)
	}
	readings := func(name string, ws *websocket.Conn) {
		t.Helper()
		const n = 20
		before := writes.Load()
		for i := range n {
			msg := fmt.Sprintf(`{"metadata":{"deviceid":"d1"},"attrs":{"n":%d}}`, i)
			s.feeds.deliver("acme", kafkaws.FeedData, msg)
			for _, want := range []string{`42["d1",` + msg + `]`, `42["all",` + msg + `]`} {
				if got := read(ws); got != want {
					t.Fatalf("%s: %s, want %s", name, got, want)
				}
			}
		}
		if w := writes.Load() - before; w != n {
			t.Errorf("%s: %d readings in %d writes, want one write each", name, n, w)
		}
	}

	ws, _, err := websocket.DefaultDialer.Dial(wsURL+"&token="+s.token(t, "acme"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, want := range []string{"0{", "40"} {
		if got := read(ws); !strings.HasPrefix(got, want) {
			t.Fatalf("handshake: %q, want %s…", got, want)
		}
	}
	readings("websocket", ws)
	ws.Close()

	// socket.io-client's upgrade: polling, then probe and upgrade on a
	// websocket with the session's sid.
	p := dial(t, s.url, "token="+s.token(t, "acme"))
	if pk := p.next(); pk != "40" {
		t.Fatalf("connect: %s", pk)
	}
	up, _, err := websocket.DefaultDialer.Dial(wsURL+"&sid="+p.sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	if err := up.WriteMessage(websocket.TextMessage, []byte("2probe")); err != nil {
		t.Fatal(err)
	}
	if got := read(up); got != "3probe" {
		t.Fatalf("probe: %q", got)
	}
	if err := up.WriteMessage(websocket.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	// The upgrade is done once the engine switched to the websocket: the
	// socket's connection is the one it holds.
	deadline := time.Now().Add(10 * time.Second)
	for !s.attached("acme") {
		if time.Now().After(deadline) {
			t.Fatal("the upgraded socket has no websocket connection")
		}
		time.Sleep(10 * time.Millisecond)
	}
	readings("upgraded", up)
}

// attached: every data socket of tenant has its websocket connection.
func (s *testServer) attached(tenant string) bool {
	s.mu.Lock()
	r := s.tenants[tenant]
	s.mu.Unlock()
	if r == nil {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for c := range r.data {
		if c.ws.Load() == nil {
			return false
		}
	}
	return len(r.data) > 0
}
