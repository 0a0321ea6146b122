package lorawantest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Everynet plays Everynet's network server for dojot's Everynet mode: a
// websocket server that checks the access token the agent sends in the
// query, as dojot's agent does, and hands each connection to the test,
// which writes the network server's messages to it.
type Everynet struct {
	*httptest.Server
	token  string
	conns  chan *websocket.Conn
	dials  atomic.Int32
	denied atomic.Int32
}

// NewEverynet starts one, closed when tb ends.
func NewEverynet(tb testing.TB, token string) *Everynet {
	f := &Everynet{token: token, conns: make(chan *websocket.Conn, 4)}
	up := websocket.Upgrader{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.dials.Add(1)
		if r.URL.Query().Get("access_token") != f.token {
			f.denied.Add(1)
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		tb.Cleanup(func() { c.Close() })
		f.conns <- c
	}))
	tb.Cleanup(f.Close)
	return f
}

// WS is the websocket URL to give the agent.
func (f *Everynet) WS() string {
	return "ws" + strings.TrimPrefix(f.URL, "http") + "/api/v1.0/data"
}

// Accept is the agent's next connection, waiting up to timeout.
func (f *Everynet) Accept(timeout time.Duration) (*websocket.Conn, bool) {
	select {
	case c := <-f.conns:
		return c, true
	case <-time.After(timeout):
		return nil, false
	}
}

// Dials counts the agent's attempts, Denied those with a wrong token.
func (f *Everynet) Dials() int  { return int(f.dials.Load()) }
func (f *Everynet) Denied() int { return int(f.denied.Load()) }
