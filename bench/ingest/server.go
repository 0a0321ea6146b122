package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is a dojot process this run started (or only the addresses of
// one that runs: cmd is nil then).
type server struct {
	HTTP  string // http://host:port
	MQTT  string // host:port
	Kafka string // host:port, empty without the bridge
	NATS  string // nats://host:port, empty when unknown
	Pprof string // host:port of its -pprof-addr, empty without
	Pid   int

	cmd     *exec.Cmd
	tmp     string // binary and data dir, removed at stop
	done    chan struct{}
	mu      sync.Mutex
	tail    []string // last log lines, for errors
	logFile *os.File
}

// loopback reports whether addr (host:port or a URL) names a loopback host.
func loopback(addr string) bool {
	host := addr
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		host = u.Host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// freeAddr is a 127.0.0.1 address whose port was free just now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// moduleRoot is the directory of this module's go.mod.
func moduleRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Join(filepath.Dir(file), "..", "..")
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return root, nil
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		return "", errors.New("cannot find the module root: run from inside the dojot module or pass -binary")
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// startServer builds (unless cfg.Binary) and starts dojot serve on free
// loopback ports and waits until it listens.
func startServer(ctx context.Context, cfg *Config, logw io.Writer) (*server, error) {
	tmp, err := os.MkdirTemp("", "dojot-ingest")
	if err != nil {
		return nil, err
	}
	s := &server{tmp: tmp, done: make(chan struct{})}
	bin := cfg.Binary
	if bin == "" {
		root, err := moduleRoot()
		if err != nil {
			s.stop()
			return nil, err
		}
		bin = filepath.Join(tmp, "dojot")
		progress(logw, "go build ./cmd/dojot")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/dojot")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			s.stop()
			return nil, fmt.Errorf("go build ./cmd/dojot: %w\n%s", err, out)
		}
	}
	natsAddr, err := freeAddr()
	if err != nil {
		s.stop()
		return nil, err
	}
	args := []string{"serve", "-http-addr=127.0.0.1:0", "-mqtt-addr=127.0.0.1:0", "-mqtt-insecure", "-mqtts-addr=127.0.0.1:0", "-ca-key-type=p-256",
		"-data-dir=" + filepath.Join(tmp, "data"), "-admin-password=" + cfg.Password,
		"-nats-listen=" + natsAddr, "-log-format=json", "-log-level=info",
		// The load comes from one address and one user, logging in as
		// often as its pollers need: no login rate limit.
		"-login-limit-user=", "-login-limit-addr="}
	if cfg.Kafka {
		if s.Kafka, err = freeAddr(); err != nil {
			s.stop()
			return nil, err
		}
		args = append(args, "-kafka-embedded-addr="+s.Kafka)
	}
	if cfg.CPUProfile != "" {
		if s.Pprof, err = freeAddr(); err != nil {
			s.stop()
			return nil, err
		}
		args = append(args, "-pprof-addr="+s.Pprof)
	}
	args = append(args, cfg.ServerArgs...)
	s.NATS = "nats://" + natsAddr
	if cfg.ServerLog != "" {
		if s.logFile, err = os.OpenFile(cfg.ServerLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			s.stop()
			return nil, err
		}
	}
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		s.stop()
		return nil, err
	}
	cmd.Stderr = cmd.Stdout // one stream, read below
	if err := cmd.Start(); err != nil {
		s.stop()
		return nil, err
	}
	s.cmd, s.Pid = cmd, cmd.Process.Pid
	listening := make(chan struct{})
	go s.follow(stdout, listening)
	go func() { _ = cmd.Wait(); close(s.done) }()
	select {
	case <-listening:
	case <-s.done:
		err := fmt.Errorf("dojot exited before listening:\n%s", s.lastLines())
		s.stop()
		return nil, err
	case <-time.After(120 * time.Second):
		s.stop()
		return nil, fmt.Errorf("dojot did not listen in 120s:\n%s", s.lastLines())
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	progress(logw, "dojot pid %d: http %s, mqtt %s, nats %s, kafka %q", s.Pid, s.HTTP, s.MQTT, s.NATS, s.Kafka)
	return s, nil
}

// follow reads the server's log: the listen addresses, and a tail kept for
// errors.
func (s *server) follow(r io.Reader, listening chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	once := sync.Once{}
	for sc.Scan() {
		line := sc.Text()
		if s.logFile != nil {
			fmt.Fprintln(s.logFile, line)
		}
		s.mu.Lock()
		if s.tail = append(s.tail, line); len(s.tail) > 40 {
			s.tail = s.tail[1:]
		}
		s.mu.Unlock()
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch rec.Msg {
		case "mqtt listening":
			s.mu.Lock()
			s.MQTT = rec.Addr
			s.mu.Unlock()
		case "http listening":
			s.mu.Lock()
			s.HTTP = "http://" + rec.Addr
			s.mu.Unlock()
			once.Do(func() { close(listening) })
		}
	}
}

func (s *server) lastLines() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.tail, "\n")
}

// stop ends the process it started (SIGTERM, then SIGKILL after 20 s) and
// removes its temporary dir.
func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(20 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.done
			}
		}
	}
	if s.logFile != nil {
		s.logFile.Close()
	}
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
}

// exited reports whether a started process has exited.
func (s *server) exited() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}
