package e2e

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot/projections/postgres/pgtest"
)

// TestPostgresOutage: the Postgres view's database goes away under a
// running binary (its connections cut, new ones refused) and comes back.
// Meanwhile requests answer 503: reads, and writes too, since the PEP's
// permissions come from the view (it fails closed). Afterwards the binary
// recovers by itself: it takes the applier lease again, applies, and
// answers writes and reads as before, with nothing lost or doubled.
func TestPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	p, pgURL := postgresProxy(t)
	in := start(t, "", "-view=postgres", "-postgres-url="+pgURL, "-wait-timeout=2s")
	c := in.Login("admin", adminPassword)
	tmpl := createTemplate(c, "Outage")
	createDevice(c, "before", tmpl)

	p.cut()
	for _, req := range [][2]string{{"GET", "/device"}, {"POST", "/device"}} {
		if code, body := c.Do(req[0], req[1], map[string]any{"label": "during", "templates": []int{tmpl}}); code != 503 {
			t.Errorf("%s %s with the view's database down: %d %s; want 503", req[0], req[1], code, body)
		}
	}
	time.Sleep(1500 * time.Millisecond) // past the lease's ping: the lease is lost
	p.restore()

	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := c.Do("POST", "/device", map[string]any{"label": "after", "id": "afaf", "templates": []int{tmpl}})
		if code == 200 {
			break
		}
		if code != 503 || time.Now().After(deadline) {
			t.Fatalf("write after the database came back: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var ids []string
	mustJSON(t, c.Must(200, "GET", "/device?idsOnly=true", nil), &ids)
	if len(ids) != 2 {
		t.Errorf("devices after the outage: %v; want the one before and afaf, once each", ids)
	}
}

// postgresProxy is a proxy to the test Postgres and the URL of a fresh
// database through it.
func postgresProxy(t *testing.T) (*proxy, string) {
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr
	return p, u.String()
}

// proxy forwards TCP connections to a server until cut: then it closes
// every connection and refuses new ones, until restored.
type proxy struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &proxy{t: t, addr: ln.Addr().String(), target: target, conns: map[net.Conn]bool{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *proxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.mu.Unlock()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(s, c); s.Close() }()
	_, _ = io.Copy(c, s)
	c.Close()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
