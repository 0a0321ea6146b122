package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// BenchmarkSocketIOFanout: socket.io against Kafka WS in the same run,
// each on a fresh binary (`dojot serve`, embedded NATS with
// -nats-listen): DOJOT_BENCH_SIO_WS sockets (default 1,000) over
// socket.io's websocket transport and as many Kafka WS websockets on
// admin.device-data; then DOJOT_BENCH_SIO_POLL socket.io long-polling
// clients (default 200, GUI v1's transport) and as many Kafka WS
// websockets. Readings published into DATA at DOJOT_BENCH_RATE per second
// (default 20) for DOJOT_BENCH_SECONDS (default 10) reach every client;
// a socket.io client gets each as two events (<deviceid> and all), counted
// once (all). Reported for each: readings delivered per second,
// publish -> event p50/p99 (the reading carries its publish time), and
// the server's RSS growth per connection. The clients are EIO3 clients in
// this process, as socket.io-client 2.x speaks it (handshake, 40, the
// client's ping every 20 s). With DOJOT_BENCH_PPROF=<dir>, the server's
// CPU profile of each phase's run is written there (<phase>.pprof, read
// with go tool pprof -top).
func BenchmarkSocketIOFanout(b *testing.B) {
	wsN := envInt(b, "DOJOT_BENCH_SIO_WS", 1000)
	pollN := envInt(b, "DOJOT_BENCH_SIO_POLL", 200)
	rate := envInt(b, "DOJOT_BENCH_RATE", 20)
	d := time.Duration(envInt(b, "DOJOT_BENCH_SECONDS", 10)) * time.Second
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	type result struct {
		name string
		n    int
		r    fanoutRun
		kib  float64
		cpu  float64
		// us is the server's CPU per reading delivered to a client, in
		// µs: unlike cores, it does not depend on how long a run that
		// fell behind took to catch up (the machine is shared).
		us float64
	}
	var results []result
	profDir := os.Getenv("DOJOT_BENCH_PPROF")
	phase := func(name string, n int, open func(in *dojottest.Instance, c *dojottest.Client) *fleet) {
		var extra []string
		pprofAddr := ""
		if profDir != "" {
			pprofAddr = dojottest.FreeAddr(b)
			extra = append(extra, "-pprof-addr="+pprofAddr)
		}
		in, c, js := setup(b, extra...)
		rss0 := rssKB(b, in.Pid())
		f := open(in, c)
		publish := func(i int) {
			if _, err := js.Publish(b.Context(), "data.admin.bench", fanoutMessage(i)); err != nil {
				b.Fatal(err)
			}
		}
		f.warm(b, func() { publish(0) })
		rss1 := rssKB(b, in.Pid())
		cpu0 := procCPU(in.Pid())
		var profiled chan struct{}
		if pprofAddr != "" {
			profiled = make(chan struct{})
			file := filepath.Join(profDir, strings.NewReplacer(" ", "-", ".", "").Replace(name)+"-"+strconv.Itoa(n)+".pprof")
			go func() { defer close(profiled); cpuProfile(b, pprofAddr, d, file) }()
		}
		r := f.run(b, rate, d, publish)
		cpu := procCPU(in.Pid()) - cpu0
		if profiled != nil {
			<-profiled
		}
		f.close()
		in.Stop()
		res := result{name, n, r, float64(rss1-rss0) / float64(n), cpu.Seconds() / r.elapsed.Seconds(), 0}
		if r.got > 0 {
			res.us = float64(cpu.Microseconds()) / float64(r.got)
		}
		results = append(results, res)
		b.Logf("%s, %d clients, %d readings/s x %s: %d of %d readings (%.0f/s), publish -> event p50 %.1f ms p99 %.1f ms max %.1f ms; "+
			"server RSS %d -> %d KiB (%.1f KiB per connection), server %.2f cores, %.1f µs per reading delivered",
			name, n, rate, d, r.got, r.want, r.framesPerSec, ms(r.lat.q(0.5)), ms(r.lat.q(0.99)), ms(r.lat.q(1)), rss0, rss1, res.kib, res.cpu, res.us)
	}
	kafkaWS := func(n int) func(*dojottest.Instance, *dojottest.Client) *fleet {
		return func(in *dojottest.Instance, c *dojottest.Client) *fleet {
			url := "ws" + strings.TrimPrefix(in.URL, "http") + "/kafka-ws/v1/topics/admin.device-data?ticket="
			return dialAll(b, n, func() string {
				var t struct{ Ticket string }
				dojottest.MustJSON(b, c.Must(200, "GET", "/kafka-ws/v1/ticket", nil), &t)
				return url + t.Ticket
			})
		}
	}
	phase("kafka-ws", wsN, kafkaWS(wsN))
	phase("socket.io websocket", wsN, func(in *dojottest.Instance, c *dojottest.Client) *fleet {
		url := "ws" + strings.TrimPrefix(in.URL, "http") + "/socket.io/?EIO=3&transport=websocket&token="
		f := dialFleet(b, &fleet{only: []byte(`42["all",`)}, wsN, func() string { return url + sioToken(b, c) }, sioHello)
		f.stop = sioPinger(f.ws)
		return f
	})
	phase("kafka-ws", pollN, kafkaWS(pollN))
	phase("socket.io polling", pollN, func(in *dojottest.Instance, c *dojottest.Client) *fleet {
		return pollAll(b, in.URL, pollN, func() string { return sioToken(b, c) })
	})

	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	kw, sw, kp, sp := results[0], results[1], results[2], results[3]
	b.ReportMetric(sw.r.framesPerSec, "sio-ws-readings/s")
	b.ReportMetric(ms(sw.r.lat.q(0.99)), "sio-ws-p99-ms")
	b.ReportMetric(sw.kib, "sio-ws-KiB/conn")
	b.ReportMetric(sp.r.framesPerSec, "sio-poll-readings/s")
	b.ReportMetric(ms(sp.r.lat.q(0.99)), "sio-poll-p99-ms")
	b.ReportMetric(sp.kib, "sio-poll-KiB/conn")
	b.ReportMetric(kw.r.framesPerSec, "kws-readings/s")
	b.ReportMetric(ms(kw.r.lat.q(0.99)), "kws-p99-ms")
	b.ReportMetric(kw.kib, "kws-KiB/conn")
	b.Logf("socket.io/Kafka WS, %d websockets: readings/s %.2fx, p99 %.2fx, KiB/conn %.2fx, server cores %.2fx, CPU per reading %.2fx",
		wsN, ratio(sw.r.framesPerSec, kw.r.framesPerSec), ratio(ms(sw.r.lat.q(0.99)), ms(kw.r.lat.q(0.99))), ratio(sw.kib, kw.kib), ratio(sw.cpu, kw.cpu), ratio(sw.us, kw.us))
	b.Logf("socket.io polling/Kafka WS, %d clients: readings/s %.2fx, p99 %.2fx, KiB/conn %.2fx, server cores %.2fx, CPU per reading %.2fx",
		pollN, ratio(sp.r.framesPerSec, kp.r.framesPerSec), ratio(ms(sp.r.lat.q(0.99)), ms(kp.r.lat.q(0.99))), ratio(sp.kib, kp.kib), ratio(sp.cpu, kp.cpu), ratio(sp.us, kp.us))
}

// cpuProfile writes the CPU profile of the server at pprofAddr
// (-pprof-addr) over the next d to file.
func cpuProfile(b *testing.B, pprofAddr string, d time.Duration, file string) {
	res, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, max(int(d.Seconds()), 1)))
	if err != nil {
		b.Errorf("cpu profile: %v", err)
		return
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != 200 {
		err = fmt.Errorf("%d %s", res.StatusCode, body)
	}
	if err == nil {
		err = os.WriteFile(file, body, 0o644)
	}
	if err != nil {
		b.Errorf("cpu profile: %v", err)
	}
}

func sioToken(b *testing.B, c *dojottest.Client) string {
	var t struct{ Token string }
	dojottest.MustJSON(b, c.Must(200, "GET", "/stream/socketio", nil), &t)
	return t.Token
}

// sioHello reads a websocket's EIO3 open packet and socket.io CONNECT.
func sioHello(ws *websocket.Conn) error {
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer ws.SetReadDeadline(time.Time{})
	for _, want := range []string{"0{", "40"} {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		if !strings.HasPrefix(string(msg), want) {
			return fmt.Errorf("socket.io handshake: %q, want %s…", msg, want)
		}
	}
	return nil
}

// sioPinger sends the EIO3 client's ping ("2") on every socket every 20
// s (the server closes a socket silent for 30 s); the result stops it.
func sioPinger(wss []*websocket.Conn) func() {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		t := time.NewTicker(20 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				for _, ws := range wss {
					_ = ws.WriteMessage(websocket.TextMessage, []byte("2"))
				}
			}
		}
	}()
	return cancel
}

// pollAll connects n EIO3 long-polling clients (socket.io-client 2.x with
// transports:['polling'], as GUI v1): each polls in a loop, and pings
// every 20 s with a POST.
func pollAll(b *testing.B, base string, n int, token func() string) *fleet {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fleet{only: []byte(`42["all",`), pollers: n, stop: cancel}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * n, MaxConnsPerHost: 0}}
	get := func(url string) ([]string, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		res, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != 200 {
			return nil, fmt.Errorf("poll: %d %s %v", res.StatusCode, body, err)
		}
		return eio3Packets(body)
	}
	for range n {
		url := base + "/socket.io/?EIO=3&transport=polling&token=" + token()
		pks, err := get(url)
		if err != nil || len(pks) == 0 || !strings.HasPrefix(pks[0], "0{") {
			b.Fatalf("handshake: %q %v", pks, err)
		}
		var open struct{ Sid string }
		if err := json.Unmarshal([]byte(pks[0][1:]), &open); err != nil {
			b.Fatal(err)
		}
		url += "&sid=" + open.Sid
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			var mine []time.Duration
			defer f.keep(&mine)
			go func() { // the client's heartbeat
				t := time.NewTicker(20 * time.Second)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
						req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader("1:2"))
						if res, err := hc.Do(req); err == nil {
							res.Body.Close()
						}
					}
				}
			}()
			for ctx.Err() == nil {
				pks, err := get(url)
				now := time.Now()
				if err != nil {
					if ctx.Err() == nil {
						b.Errorf("poller: %v", err)
					}
					return
				}
				for _, pk := range pks {
					f.count([]byte(pk), now, &mine)
				}
			}
		}()
	}
	return f
}

// eio3Packets splits an EIO3 payload, <length>:<packet>...; the readings
// here are ASCII, so a UTF-16 length is a byte count.
func eio3Packets(body []byte) ([]string, error) {
	var out []string
	for len(body) > 0 {
		i := bytes.IndexByte(body, ':')
		if i < 0 {
			return nil, fmt.Errorf("payload %q", body)
		}
		n, err := strconv.Atoi(string(body[:i]))
		if err != nil || i+1+n > len(body) {
			return nil, fmt.Errorf("payload %q", body)
		}
		out = append(out, string(body[i+1:i+1+n]))
		body = body[i+1+n:]
	}
	return out, nil
}
