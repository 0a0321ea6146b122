package lorawan

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dojot-es/dojot/agents/lorawan/lorawantest"
)

func accept(t *testing.T, ev *lorawantest.Everynet) *websocket.Conn {
	t.Helper()
	c, ok := ev.Accept(10 * time.Second)
	if !ok {
		t.Fatal("the agent did not connect")
	}
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func runAgent(t *testing.T, a *Agent) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestEverynet: dojot's Everynet mode. The agent dials with its access
// token; an uplink of dojot's documented shape is decoded with DecentLab
// (dojot's decoder) unless the device names another; dojot's own example
// payload is not DecentLab and is refused; other types are ignored; when
// the server drops the connection the agent comes back.
func TestEverynet(t *testing.T) {
	ev := lorawantest.NewEverynet(t, "tok&en")
	st := &store{}
	a := newAgent(t, st, Options{EverynetURL: ev.WS(), EverynetToken: "tok&en"})
	runAgent(t, a)
	conn := accept(t, ev)
	waitFor(t, "connected", func() bool { s := a.Status().Everynet; return s != nil && s.Connected })

	send := func(c *websocket.Conn, msg string) {
		t.Helper()
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	decentlab := `{"type":"uplink","meta":{"device":"70B3D57BA0000001"},"params":{"payload":"AgEvAAME0gABC7E=","rx_time":1517415774.518877}}`
	send(conn, lorawantest.EverynetUplink) // device e: DecentLab by default, and this is not DecentLab
	send(conn, `{"type":"downlink","meta":{"device":"70B3D57BA0000001"},"params":{}}`)
	send(conn, `{"type":"uplink","meta":{"device":"70B3D57BA0000001"},"params":{"payload":"***"}}`)
	send(conn, `not json`)
	send(conn, decentlab)
	waitFor(t, "the DecentLab reading", func() bool { return a.Status().Stored == 1 })
	want := `t1/f {"metadata":{"deviceid":"f","tenant":"t1","timestamp":1517415774518},"attrs":{"battery_voltage":2.993,"distance":1234}}`
	if got := st.take(); len(got) != 1 || got[0] != want {
		t.Errorf("stored %v; want %s", got, want)
	}
	s := a.Status()
	if s.Refused["decode_failed"] != 1 || s.Refused["bad_base64"] != 1 || s.Refused["bad_json"] != 1 || s.Ignored != 1 {
		t.Errorf("status = %+v", s)
	}

	// The server goes away: the agent reconnects (after 1 s) and reads on.
	conn.Close()
	waitFor(t, "disconnected", func() bool { return !a.Status().Everynet.Connected })
	conn = accept(t, ev)
	send(conn, decentlab)
	waitFor(t, "the reading after reconnecting", func() bool { return a.Status().Stored == 2 })
	if ev.Denied() != 0 || ev.Dials() != 2 {
		t.Errorf("dials %d, denied %d", ev.Dials(), ev.Denied())
	}
}

// TestEverynetBadToken: a refused handshake is retried with backoff and
// shown in Status, never with the token.
func TestEverynetBadToken(t *testing.T) {
	ev := lorawantest.NewEverynet(t, "right")
	a := newAgent(t, &store{}, Options{EverynetURL: ev.WS(), EverynetToken: "wrong-token"})
	runAgent(t, a)
	waitFor(t, "a refused dial", func() bool { return ev.Denied() >= 1 })
	waitFor(t, "the error in Status", func() bool { return a.Status().Everynet.Error != "" })
	s := a.Status().Everynet
	if s.Connected || !strings.Contains(s.Error, "401") || strings.Contains(s.Error, "wrong-token") || s.Server == "" {
		t.Errorf("status = %+v", s)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := ev.Dials(); n < 2 || n > 3 {
		t.Errorf("%d dials in 1.5 s; want a retry after 1 s", n)
	}
}
