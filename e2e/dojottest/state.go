package dojottest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/dojot-es/dojot/projections/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// PostgresProxy is a proxy to the test Postgres and the URL of a fresh
// database through it.
func PostgresProxy(t *testing.T) (*Proxy, string) {
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr
	return p, u.String()
}

// Proxy forwards TCP connections to a server until cut: then it closes
// every connection and refuses new ones, until restored.
type Proxy struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

func (p *Proxy) serve(c net.Conn) {
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

// Cut closes every forwarded connection and refuses new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore accepts and forwards connections again after Cut.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// ServedSchema is the schema of the generation view name serves on conn
// (name_g<gen>); the test fails if none is served.
func ServedSchema(t *testing.T, conn *pgx.Conn, name string) string {
	t.Helper()
	var gen *int
	err := conn.QueryRow(context.Background(), fmt.Sprintf(`SELECT gen FROM %s.served`, pgx.Identifier{name}.Sanitize())).Scan(&gen)
	if err != nil || gen == nil {
		t.Fatalf("view %s serves no generation: %v", name, err)
	}
	return fmt.Sprintf("%s_g%d", name, *gen)
}

// Snapshot is every JSON document a client can read about the tenant.
func Snapshot(c *Client) map[string][]byte {
	c.TB().Helper()
	out := map[string][]byte{}
	var ids []string
	MustJSON(c.TB(), c.Must(200, "GET", "/device?idsOnly=true", nil), &ids)
	for _, id := range ids {
		out["/device/"+id] = c.Must(200, "GET", "/device/"+id, nil)
	}
	out["/device?page_size=1000"] = c.Must(200, "GET", "/device?page_size=1000", nil)
	out["/template?page_size=1000"] = c.Must(200, "GET", "/template?page_size=1000", nil)
	var tl struct {
		Templates []Template `json:"templates"`
	}
	MustJSON(c.TB(), out["/template?page_size=1000"], &tl)
	for _, tp := range tl.Templates {
		p := fmt.Sprintf("/template/%d", tp.ID)
		out[p] = c.Must(200, "GET", p, nil)
	}
	out["/auth/user"] = c.Must(200, "GET", "/auth/user", nil)
	return out
}

func newProxy(t *testing.T, target string) *Proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &Proxy{t: t, addr: ln.Addr().String(), target: target, conns: map[net.Conn]bool{}}
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
