// Package dojottest runs the real dojot binary for whole-system tests and
// benchmarks: it builds ./cmd/dojot once, starts it on a random port with a
// temporary data dir, and gives HTTP clients that speak to it as a dojot
// client would. It also holds what the test packages e2e, e2e/flows and
// e2e/chaos share (devices and templates, the views to run against, Kafka,
// MQTT and history helpers): they are split so that each has its own share
// of go test's per-package timeout.
package dojottest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dojot-es/dojot/pki"
)

// AdminPassword is the admin password every started instance gets.
const AdminPassword = "e2e-admin-pw"

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// Binary builds ./cmd/dojot once per test process and returns its path.
func Binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "dojot-bin")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "dojot")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/dojot")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/dojot: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binary
}

var (
	caOnce        sync.Once
	caCert, caKey string
	caErr         error
)

// CAFiles makes a CA (P-256) once per test process, beside the binary,
// and returns its files: every instance is given it (-ca-cert, -ca-key),
// so that instances sharing one NATS share the CA, as the README says
// they must. A test that wants the generated CA passes -ca-cert= -ca-key=.
func CAFiles(tb testing.TB) (cert, key string) {
	tb.Helper()
	dir := filepath.Dir(Binary(tb))
	caOnce.Do(func() {
		_, _, caErr = pki.Open(pki.Options{Dir: dir, NewKey: pki.NewP256Key})
		caCert, caKey = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	})
	if caErr != nil {
		tb.Fatal(caErr)
	}
	return caCert, caKey
}

// Instance is one running dojot process.
type Instance struct {
	tb      testing.TB
	cmd     *exec.Cmd
	URL     string // http://127.0.0.1:port
	DataDir string
	args    []string
	stderr  *bytes.Buffer
	done    chan struct{}

	// MQTTAddr is the MQTT agent's host:port, from its "mqtt listening"
	// log line (logged before "http listening").
	MQTTAddr string
	// MQTTSAddr is the MQTT over TLS listener's host:port, from its
	// "mqtts listening" log line.
	MQTTSAddr string

	mu    sync.Mutex
	msgs  map[string]chan struct{} // log messages seen (closed) or awaited
	seen  map[string]int           // how often each message was logged
	addr  string                   // from "http listening"
	mqtt  string                   // from "mqtt listening"
	mqtts string                   // from "mqtts listening"
	env   []string                 // added to the environment
}

// Start runs the binary with dataDir ("" = a fresh temporary one) and extra
// flags, waits for its "http listening" log line, and stops it (SIGTERM) at
// cleanup.
func Start(tb testing.TB, dataDir string, extra ...string) *Instance {
	tb.Helper()
	in := newInstance(tb, dataDir, extra)
	in.run()
	return in
}

// Launch runs the binary as Start does but returns at once, without
// waiting for it to listen: a test that kills it during start-up uses
// WaitLog to time the kill.
func Launch(tb testing.TB, dataDir string, extra ...string) *Instance {
	tb.Helper()
	in := newInstance(tb, dataDir, extra)
	in.launch()
	return in
}

// StartEnv is Start with environment variables added to the process's
// (KEY=value), for settings given as DOJOT_* variables.
func StartEnv(tb testing.TB, env []string, dataDir string, extra ...string) *Instance {
	tb.Helper()
	in := newInstance(tb, dataDir, extra)
	in.env = env
	in.run()
	return in
}

func newInstance(tb testing.TB, dataDir string, extra []string) *Instance {
	if dataDir == "" {
		dataDir = tb.TempDir()
	}
	// -mqtt-addr: never the default :1883, which this machine's Mosquitto
	// holds; a test's own -mqtt-addr comes later and wins. -mqtts-addr
	// likewise; the test process's CA (CAFiles), or a P-256 one, quick to
	// make, where a test asks for a generated CA.
	cert, key := CAFiles(tb)
	args := append([]string{"serve", "-http-addr=127.0.0.1:0", "-mqtt-addr=127.0.0.1:0", "-mqtts-addr=127.0.0.1:0", "-ca-key-type=p-256",
		"-ca-cert=" + cert, "-ca-key=" + key, "-data-dir=" + dataDir,
		"-admin-password=" + AdminPassword, "-log-format=json", "-log-level=info"}, extra...)
	in := &Instance{tb: tb, DataDir: dataDir, args: args}
	tb.Cleanup(in.Stop)
	return in
}

// logged is the channel closed when message msg is logged.
func (in *Instance) logged(msg string) chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.msgs == nil {
		in.msgs = map[string]chan struct{}{}
	}
	ch := in.msgs[msg]
	if ch == nil {
		ch = make(chan struct{})
		in.msgs[msg] = ch
	}
	return ch
}

// WaitLog waits until the process logged a record with message msg (since
// it was last started), and reports false if it exited or timeout passed
// first.
func (in *Instance) WaitLog(msg string, timeout time.Duration) bool {
	select {
	case <-in.logged(msg):
		return true
	case <-in.done:
		select {
		case <-in.logged(msg):
			return true
		default:
			return false
		}
	case <-time.After(timeout):
		return false
	}
}

func (in *Instance) run() {
	tb := in.tb
	tb.Helper()
	in.launch()
	select {
	case <-in.logged("http listening"):
		in.mu.Lock()
		in.URL = "http://" + in.addr
		in.MQTTAddr = in.mqtt
		in.MQTTSAddr = in.mqtts
		in.mu.Unlock()
	case <-in.done:
		tb.Fatalf("dojot exited before listening: %s", in.stderr.String())
	case <-time.After(120 * time.Second):
		// Not left running behind a failed test.
		_ = in.cmd.Process.Kill()
		<-in.done
		tb.Fatalf("dojot did not start in 120s: %s", in.stderr.String())
	}
}

// launch starts the process and follows its log.
func (in *Instance) launch() {
	tb := in.tb
	tb.Helper()
	in.mu.Lock()
	in.msgs, in.seen = nil, map[string]int{}
	in.mu.Unlock()
	cmd := exec.Command(Binary(tb), in.args...)
	if in.env != nil {
		cmd.Env = append(os.Environ(), in.env...)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	in.stderr = &bytes.Buffer{}
	cmd.Stderr = in.stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	in.cmd = cmd
	in.done = make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var tee io.Writer = io.Discard
		if f := os.Getenv("DOJOT_E2E_LOG"); f != "" { // every instance's log, for debugging
			if w, err := os.OpenFile(f, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
				defer w.Close()
				tee = w
			}
		}
		for sc.Scan() {
			fmt.Fprintf(tee, "%s\n", sc.Bytes())
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			in.mu.Lock()
			in.seen[rec.Msg]++
			switch rec.Msg {
			case "http listening", "http starting":
				in.addr = rec.Addr
			case "mqtt listening":
				in.mqtt = rec.Addr
			case "mqtts listening":
				in.mqtts = rec.Addr
			}
			in.mu.Unlock()
			ch := in.logged(rec.Msg)
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(in.done) }()
}

// StartingURL waits for the HTTP listener to answer while the instance
// starts (its "http starting" log line, before the log is replayed) and
// returns its URL, or "" if the process exited or timeout passed first.
func (in *Instance) StartingURL(timeout time.Duration) string {
	if !in.WaitLog("http starting", timeout) {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return "http://" + in.addr
}

// Pid is the process id.
func (in *Instance) Pid() int { return in.cmd.Process.Pid }

// Stop sends SIGTERM and waits for a graceful exit.
func (in *Instance) Stop() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	select {
	case <-in.done:
		return
	default:
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(20 * time.Second):
		in.tb.Errorf("dojot did not stop within 20s of SIGTERM")
		_ = in.cmd.Process.Kill()
		<-in.done
	}
}

// ExitCode is the exit code after Stop or Kill.
func (in *Instance) ExitCode() int { return in.cmd.ProcessState.ExitCode() }

// Kill SIGKILLs the process: no shutdown code runs.
func (in *Instance) Kill() {
	_ = in.cmd.Process.Kill()
	<-in.done
}

// Restart starts the same command line again (same data dir).
func (in *Instance) Restart() {
	in.tb.Helper()
	in.run()
}

// Relaunch starts the same command line again and returns at once, as
// Launch does: a crash test kills it during its recovery.
func (in *Instance) Relaunch() {
	in.tb.Helper()
	in.launch()
}

// Client talks to one instance as one user.
type Client struct {
	tb    testing.TB
	Base  string
	Token string
	HTTP  *http.Client
	// Authorization, when set, is sent as the Authorization header
	// instead of "Bearer <Token>" (device credentials, a forged token).
	Authorization string
}

// Client returns an anonymous client.
func (in *Instance) Client() *Client {
	return &Client{tb: in.tb, Base: in.URL, HTTP: http.DefaultClient}
}

// Login returns a client holding the user's token.
func (in *Instance) Login(user, pass string) *Client {
	in.tb.Helper()
	c := in.Client()
	body := c.Must(200, "POST", "/auth", map[string]string{"username": user, "passwd": pass})
	var r struct{ JWT string }
	MustJSON(in.tb, body, &r)
	c.Token = r.JWT
	return c
}

// With returns a copy of c using token.
func (c *Client) With(token string) *Client {
	cp := *c
	cp.Token = token
	return &cp
}

// Do sends v as JSON (a string or []byte is sent as is) and returns the
// status and body.
func (c *Client) Do(method, path string, v any) (int, []byte) {
	c.tb.Helper()
	code, body, err := c.Try(method, path, v)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	return code, body
}

// Try is Do without failing the test: for load generators.
func (c *Client) Try(method, path string, v any) (int, []byte, error) {
	var body io.Reader
	switch b := v.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			return 0, nil, err
		}
		body = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return 0, nil, err
	}
	if v != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.Authorization != "":
		req.Header.Set("Authorization", c.Authorization)
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Must sends the request and fails the test unless the status is want.
func (c *Client) Must(want int, method, path string, v any) []byte {
	c.tb.Helper()
	code, body := c.Do(method, path, v)
	if code != want {
		c.tb.Fatalf("%s %s = %d %s; want %d", method, path, code, Trunc(body), want)
	}
	return body
}

// MustJSON decodes b into v or fails the test.
func MustJSON(tb testing.TB, b []byte, v any) {
	tb.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("decode %s: %v", Trunc(b), err)
	}
}

// Trunc shortens a body for a failure message.
func Trunc(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// TB is the test the client reports to.
func (c *Client) TB() testing.TB { return c.tb }

// FreeAddr returns a 127.0.0.1 address with a port that was free just now.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Logged reports whether the process has logged a record with message msg
// since it was last started.
func (in *Instance) Logged(msg string) bool {
	select {
	case <-in.logged(msg):
		return true
	default:
		return false
	}
}

// Count is how many records with message msg the process has logged since
// it was last started: for a message logged once per episode (an outage
// and its end).
func (in *Instance) Count(msg string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.seen[msg]
}

// WaitCount waits until the process logged message msg n times (since it
// was last started), and reports false if timeout passed first.
func (in *Instance) WaitCount(msg string, n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for in.Count(msg) < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// Exited waits up to timeout for a process (started with Launch) to end by
// itself, and returns what it wrote on stderr; ok is false if it still runs.
func (in *Instance) Exited(timeout time.Duration) (stderr string, ok bool) {
	select {
	case <-in.done:
		return in.stderr.String(), true
	case <-time.After(timeout):
		return "", false
	}
}
