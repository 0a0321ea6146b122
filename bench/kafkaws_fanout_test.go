package bench

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// BenchmarkKafkaWSFanout: DOJOT_BENCH_CONNS websockets (default 10,000) on
// admin.device-data of one dojot binary; readings published into DATA at
// DOJOT_BENCH_RATE per second (default 6) for DOJOT_BENCH_SECONDS (default
// 10) reach every socket. It reports frames delivered per second, publish
// -> frame latency (the reading carries its publish time), and the
// server's RSS growth per connection. The baseline, same run, same
// clients: a bare gorilla/websocket server in this process fanning the
// same messages out to as many sockets (a writer goroutine and a buffered
// channel per connection, nothing else). The bench raises its own
// open-files limit (the binary inherits it).
func BenchmarkKafkaWSFanout(b *testing.B) {
	conns := envInt(b, "DOJOT_BENCH_CONNS", 10000)
	rate := envInt(b, "DOJOT_BENCH_RATE", 6)
	d := time.Duration(envInt(b, "DOJOT_BENCH_SECONDS", 10)) * time.Second
	// The clients' sockets are in this process, each server's in its own.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if need := uint64(conns + 1024); lim.Cur < need {
		if lim.Max < need {
			b.Fatalf("%d sockets need %d open files; the hard limit is %d", conns, need, lim.Max)
		}
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			b.Fatalf("raise the open-files limit to %d: %v", lim.Cur, err)
		}
	}

	in, c, js := setup(b)
	rss0 := rssKB(b, in.Pid())
	wsURL := "ws" + strings.TrimPrefix(in.URL, "http") + "/kafka-ws/v1/topics/admin.device-data?ticket="
	dojot := dialAll(b, conns, func() string {
		var t struct{ Ticket string }
		dojottest.MustJSON(b, c.Must(200, "GET", "/kafka-ws/v1/ticket", nil), &t)
		return wsURL + t.Ticket
	})
	// Every socket is live once a warm-up reading reached all of them.
	publish := func(n int) {
		if _, err := js.Publish(b.Context(), "data.admin.bench", fanoutMessage(n)); err != nil {
			b.Fatal(err)
		}
	}
	dojot.warm(b, func() { publish(0) })
	rss1 := rssKB(b, in.Pid())
	cpu0, self0 := procCPU(in.Pid()), procCPU(os.Getpid())
	dr := dojot.run(b, rate, d, publish)
	cpu, self := procCPU(in.Pid())-cpu0, procCPU(os.Getpid())-self0
	dojot.close()

	raw := startRawFanout(b)
	base := dialAll(b, conns, func() string { return raw.ws })
	base.warm(b, func() { raw.broadcast(b, 0) })
	rcpu0, rself0 := procCPU(raw.pid), procCPU(os.Getpid())
	br := base.run(b, rate, d, func(n int) { raw.broadcast(b, n) })
	rcpu, rself := procCPU(raw.pid)-rcpu0, procCPU(os.Getpid())-rself0
	base.close()

	perConn := float64(rss1-rss0) * 1024 / float64(conns)
	b.ReportMetric(dr.framesPerSec, "frames/s")
	b.ReportMetric(ms(dr.lat.q(0.5)), "p50-ms")
	b.ReportMetric(ms(dr.lat.q(0.99)), "p99-ms")
	b.ReportMetric(perConn/1024, "KiB/conn")
	b.ReportMetric(br.framesPerSec, "raw-frames/s")
	b.ReportMetric(ms(br.lat.q(0.99)), "raw-p99-ms")
	b.ReportMetric(dr.framesPerSec/br.framesPerSec, "frames-ratio")
	b.Logf("dojot: %d sockets, %d msgs/s x %s: %d of %d frames (%.0f/s), publish -> frame p50 %.1f ms p99 %.1f ms max %.1f ms; "+
		"server RSS %d -> %d KiB (%.1f KiB per connection), server %.2f cores, clients %.2f cores",
		conns, rate, d, dr.got, dr.want, dr.framesPerSec, ms(dr.lat.q(0.5)), ms(dr.lat.q(0.99)), ms(dr.lat.q(1)),
		rss0, rss1, perConn/1024, cpu.Seconds()/dr.elapsed.Seconds(), self.Seconds()/dr.elapsed.Seconds())
	b.Logf("raw gorilla fan-out, same clients and schedule: %d of %d frames (%.0f/s), p50 %.1f ms p99 %.1f ms max %.1f ms; server %.2f cores, clients %.2f cores",
		br.got, br.want, br.framesPerSec, ms(br.lat.q(0.5)), ms(br.lat.q(0.99)), ms(br.lat.q(1)),
		rcpu.Seconds()/br.elapsed.Seconds(), rself.Seconds()/br.elapsed.Seconds())
}

// fanoutMessage is reading n as both servers send it, with its publish
// time ("sent", ns) for the clients' latency.
func fanoutMessage(n int) []byte {
	now := time.Now()
	return fmt.Appendf(nil, `{"metadata":{"deviceid":"bench","tenant":"admin","timestamp":%d},"attrs":{"temperature":21.5,"n":%d,"sent":%d}}`,
		now.UnixMilli(), n, now.UnixNano())
}

// fleet is the client side: sockets that count frames and note the
// latency of each from the "sent" time it carries.
type fleet struct {
	// only, when set, is the start of the frames counted (socket.io's
	// 42["all",...]); others (a pong, the <deviceid> event) are read and
	// left out.
	only []byte
	ws   []*websocket.Conn
	// pollers and stop, for clients that are no websockets (socket.io's
	// long-polling): how many, and what ends them.
	pollers int
	stop    func()
	frames  atomic.Int64
	mu      sync.Mutex
	lat     latencies
	wg      sync.WaitGroup
}

func dialAll(b *testing.B, n int, url func() string) *fleet {
	return dialFleet(b, &fleet{}, n, url, nil)
}

// dialFleet opens n sockets for f; hello, when set, runs on each before
// the fleet reads it (socket.io's handshake).
func dialFleet(b *testing.B, f *fleet, n int, url func() string, hello func(*websocket.Conn) error) *fleet {
	dialer := websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 256, HandshakeTimeout: 30 * time.Second}
	urls := make(chan string, 64)
	go func() {
		for range n {
			urls <- url()
		}
		close(urls)
	}()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed error
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range urls {
				ws, _, err := dialer.Dial(u, nil)
				if err == nil && hello != nil {
					if err = hello(ws); err != nil {
						ws.Close()
					}
				}
				mu.Lock()
				if err != nil {
					failed = err
				} else {
					f.ws = append(f.ws, ws)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		b.Fatalf("dial: %v (%d connected)", failed, len(f.ws))
	}
	for _, ws := range f.ws {
		f.wg.Add(1)
		go f.read(ws)
	}
	return f
}

func (f *fleet) read(ws *websocket.Conn) {
	defer f.wg.Done()
	var mine []time.Duration
	defer f.keep(&mine)
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		f.count(msg, time.Now(), &mine)
	}
}

// count counts a frame received at now (unless f.only leaves it out) and
// notes its latency in mine.
func (f *fleet) count(msg []byte, now time.Time, mine *[]time.Duration) {
	if f.only != nil && !bytes.HasPrefix(msg, f.only) {
		return
	}
	f.frames.Add(1)
	if i := bytes.Index(msg, []byte(`"sent":`)); i >= 0 {
		j := i + len(`"sent":`)
		k := j
		for k < len(msg) && msg[k] >= '0' && msg[k] <= '9' {
			k++
		}
		if ns, err := strconv.ParseInt(string(msg[j:k]), 10, 64); err == nil && ns > 0 {
			*mine = append(*mine, now.Sub(time.Unix(0, ns)))
		}
	}
}

// keep hands a reader's latencies over as it ends.
func (f *fleet) keep(mine *[]time.Duration) {
	f.mu.Lock()
	f.lat.d = append(f.lat.d, *mine...)
	f.mu.Unlock()
}

// size is the number of clients: sockets, or pollers.
func (f *fleet) size() int {
	if f.pollers > 0 {
		return f.pollers
	}
	return len(f.ws)
}

// warm sends until every socket got a frame, then forgets what it saw.
func (f *fleet) warm(b *testing.B, send func()) {
	deadline := time.Now().Add(2 * time.Minute)
	for f.frames.Load() < int64(f.size()) {
		if time.Now().After(deadline) {
			b.Fatalf("warm-up: %d frames for %d sockets", f.frames.Load(), f.size())
		}
		send()
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(time.Second)
	f.frames.Store(0)
	f.mu.Lock()
	f.lat.d = nil
	f.mu.Unlock()
}

type fanoutRun struct {
	got, want    int64
	framesPerSec float64
	elapsed      time.Duration
	lat          latencies
}

// run publishes rate messages per second for d and waits (up to 30 s) for
// every frame.
func (f *fleet) run(b *testing.B, rate int, d time.Duration, send func(n int)) fanoutRun {
	start := time.Now()
	total := int(float64(rate) * d.Seconds())
	for i := range total {
		if w := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); w > 0 {
			time.Sleep(w)
		}
		send(i + 1)
	}
	want := int64(total) * int64(f.size())
	deadline := time.Now().Add(30 * time.Second)
	for f.frames.Load() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	got := f.frames.Load()
	f.close() // readers hand over their latencies as they end
	f.wg.Wait()
	r := fanoutRun{got: got, want: want, elapsed: elapsed, framesPerSec: float64(got) / elapsed.Seconds()}
	r.lat.d = f.lat.d
	return r
}

func (f *fleet) close() {
	if f.stop != nil {
		f.stop()
	}
	for _, ws := range f.ws {
		ws.Close()
	}
}

// rawFanout is the baseline server, gorilla/websocket and nothing else,
// in a process of its own (this test binary, TestRawFanoutServer) as
// dojot's server is: POST /broadcast?n= sends a message to every socket.
type rawFanout struct {
	ws, http string
	client   *http.Client
	pid      int
}

func startRawFanout(b *testing.B) *rawFanout {
	addr := dojottest.FreeAddr(b)
	cmd := exec.Command(os.Args[0], "-test.run=^TestRawFanoutServer$")
	cmd.Env = append(os.Environ(), "DOJOT_BENCH_RAW_FANOUT="+addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	r := &rawFanout{ws: "ws://" + addr + "/", http: "http://" + addr, client: &http.Client{}, pid: cmd.Process.Pid}
	for i := 0; ; i++ {
		if res, err := r.client.Get(r.http + "/ready"); err == nil {
			res.Body.Close()
			return r
		}
		if i > 500 {
			b.Fatal("baseline server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *rawFanout) broadcast(b *testing.B, n int) {
	res, err := r.client.Post(r.http+"/broadcast?n="+strconv.Itoa(n), "", nil)
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
}

// TestRawFanoutServer is the baseline server of BenchmarkKafkaWSFanout,
// run by it in a child process; otherwise it is skipped.
func TestRawFanoutServer(t *testing.T) {
	addr := os.Getenv("DOJOT_BENCH_RAW_FANOUT")
	if addr == "" {
		t.Skip("the baseline server of BenchmarkKafkaWSFanout")
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	var mu sync.Mutex
	var conns []chan []byte
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/broadcast", func(w http.ResponseWriter, req *http.Request) {
		n, _ := strconv.Atoi(req.URL.Query().Get("n"))
		msg := fanoutMessage(n)
		mu.Lock()
		defer mu.Unlock()
		for _, ch := range conns {
			select {
			case ch <- msg:
			default:
			}
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		ws, err := up.Upgrade(w, req, nil)
		if err != nil {
			return
		}
		ch := make(chan []byte, 64)
		mu.Lock()
		conns = append(conns, ch)
		mu.Unlock()
		go func() {
			for {
				if _, _, err := ws.NextReader(); err != nil {
					return
				}
			}
		}()
		go func() {
			defer ws.Close()
			for m := range ch {
				if ws.WriteMessage(websocket.TextMessage, m) != nil {
					return
				}
			}
		}()
	})
	t.Fatal(http.ListenAndServe(addr, mux))
}
