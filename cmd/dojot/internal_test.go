package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveListening runs the server with the flags args (and free ports for
// the rest) and returns the address of its "http listening" log line, the
// one of its line msg, and stop, which cancels it and returns run's error.
func serveListening(t *testing.T, msg string, args ...string) (public, addr string, stop func() error) {
	t.Helper()
	return serveLogged(t, msg, nil, args...)
}

// serveLogged is serveListening that also hands every log line to logs
// (when not nil).
func serveLogged(t *testing.T, msg string, logs func(line []byte), args ...string) (public, addr string, stop func() error) {
	t.Helper()
	var cfg Config
	args = append([]string{"-http-addr=127.0.0.1:0", "-mqtt-addr=127.0.0.1:0", "-mqtts-addr=127.0.0.1:0", "-ca-key-type=p-256", "-data-dir=" + t.TempDir(), "-admin-password=admin"}, args...)
	if err := cfg.Parse(args, env(nil), io.Discard); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	addrs := make(chan [2]string, 1)
	go func() {
		var public string
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if logs != nil {
				logs(sc.Bytes())
			}
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			if rec.Msg == "http listening" {
				public = rec.Addr
			}
			if rec.Msg == msg {
				addrs <- [2]string{public, rec.Addr}
			}
		}
	}()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, &cfg, newLogger(&cfg, pw), io.Discard) }()
	select {
	case a := <-addrs:
		public, addr = a[0], a[1]
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatalf("no %q log line", msg)
	}
	return public, addr, func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			t.Fatal("run did not return after cancel")
			return nil
		}
	}
}

// TestInternalListener: -internal-addr serves dojot's unsigned internal
// tokens; the public port refuses them; both stop with the context.
func TestInternalListener(t *testing.T) {
	public, internal, stop := serveListening(t, "internal listening", "-internal-addr=127.0.0.1:0")

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

	if err := stop(); err != nil {
		t.Errorf("run = %v", err)
	}
}

// TestPprofListener: -pprof-addr serves the runtime's profiles on a
// listener of its own; the gateway does not.
func TestPprofListener(t *testing.T) {
	public, pprofAddr, stop := serveListening(t, "pprof listening", "-pprof-addr=127.0.0.1:0")
	a := [2]string{public, pprofAddr}
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
	if err := stop(); err != nil {
		t.Errorf("run = %v after cancel", err)
	}
}
