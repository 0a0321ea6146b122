package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestInternalBusyPortIsOneLine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var stdout, stderr bytes.Buffer
	code := Main([]string{"-http-addr=127.0.0.1:0", "-internal-addr=" + l.Addr().String(), "-data-dir=" + t.TempDir()}, env(nil), &stdout, &stderr)
	msg := strings.TrimSpace(stderr.String())
	if code != 1 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "-internal-addr "+l.Addr().String()) {
		t.Errorf("exit %d, stderr = %q; want 1 and one line naming -internal-addr", code, msg)
	}
}

// TestInternalListener: -internal-addr serves dojot's unsigned internal
// tokens; the public port refuses them; both stop with the context.
func TestInternalListener(t *testing.T) {
	var cfg Config
	if err := cfg.Parse([]string{"-http-addr=127.0.0.1:0", "-internal-addr=127.0.0.1:0", "-mqtt-addr=127.0.0.1:0", "-mqtts-addr=127.0.0.1:0", "-ca-key-type=p-256", "-data-dir=" + t.TempDir(), "-admin-password=admin"}, env(nil), io.Discard); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	addrs := make(chan [2]string, 1)
	go func() {
		var public string
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			switch rec.Msg {
			case "http listening":
				public = rec.Addr
			case "internal listening":
				addrs <- [2]string{public, rec.Addr}
			}
		}
	}()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, &cfg, newLogger(&cfg, pw), io.Discard) }()
	var public, internal string
	select {
	case a := <-addrs:
		public, internal = a[0], a[1]
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal(`no "internal listening" log line`)
	}

	b := base64.StdEncoding.EncodeToString
	tok := b([]byte("jwt schema")) + "." + b([]byte(`{"service":"dojot-management","username":"dojot-management"}`)) + "." + b([]byte("dummy signature"))
	get := func(addr, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Header.Set("Authorization", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body))
	}
	if code, body := get(internal, "/admin/tenants"); code != 200 || body != `{"tenants":["admin"]}` {
		t.Errorf("internal GET /admin/tenants = %d %s", code, body)
	}
	if code, body := get(internal, "/topic/dojot.tenancy"); code != 200 || body != `{"topic":"dojot-management.dojot.tenancy"}` {
		t.Errorf("internal GET /topic/dojot.tenancy = %d %s", code, body)
	}
	if code, body := get(public, "/admin/tenants"); code != 401 {
		t.Errorf("public GET /admin/tenants with an unsigned token = %d %s; want 401", code, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	pw.Close()
	if c, err := net.DialTimeout("tcp", internal, time.Second); err == nil {
		c.Close()
		t.Error("internal port still open after shutdown")
	}
}

// TestPprofListener: -pprof-addr serves the runtime's profiles on a
// listener of its own; the gateway does not.
func TestPprofListener(t *testing.T) {
	var cfg Config
	if err := cfg.Parse([]string{"-http-addr=127.0.0.1:0", "-pprof-addr=127.0.0.1:0", "-mqtt-addr=127.0.0.1:0", "-data-dir=" + t.TempDir(), "-admin-password=admin"}, env(nil), io.Discard); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	addrs := make(chan [2]string, 1)
	go func() {
		var public string
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			switch rec.Msg {
			case "http listening":
				public = rec.Addr
			case "pprof listening":
				addrs <- [2]string{public, rec.Addr}
			}
		}
	}()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, &cfg, newLogger(&cfg, pw), io.Discard) }()
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no pprof listening line")
	}
	get := func(addr string) int {
		resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(a[1]); got != 200 {
		t.Errorf("pprof listener: GET /debug/pprof/cmdline = %d, want 200", got)
	}
	if got := get(a[0]); got != 404 {
		t.Errorf("gateway: GET /debug/pprof/cmdline = %d, want 404", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run = %v after cancel", err)
	}
}
