package chaos

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// natsServerBinary is nats-server at go.mod's version, as a separate
// process can be killed: DOJOT_TEST_NATS_SERVER (.ci/run sets it), else
// .ci/bin/nats-server when it is that version, else one `go install`ed into
// the user's cache dir, kept for the next run.
func natsServerBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DOJOT_TEST_NATS_SERVER"); p != "" {
		return p
	}
	root, ver := dojottest.GoModNATSServer(t)
	isVer := func(bin string) bool {
		out, err := exec.Command(bin, "--version").Output()
		return err == nil && strings.TrimSpace(string(out)) == "nats-server: "+ver
	}
	if bin := filepath.Join(root, ".ci", "bin", "nats-server"); isVer(bin) {
		return bin
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "dojot-e2e", "nats-server-"+ver)
	bin := filepath.Join(dir, "nats-server")
	if !isVer(bin) {
		cmd := exec.Command("go", "install", "github.com/nats-io/nats-server/v2@"+ver)
		cmd.Dir, cmd.Env = root, append(os.Environ(), "GOBIN="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go install nats-server@%s: %v\n%s", ver, err, out)
		}
	}
	return bin
}

// natsNode is one nats-server process of a test cluster.
type natsNode struct {
	t    *testing.T
	name string
	URL  string
	args []string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan struct{}
}

// startNATSCluster runs three nats-server processes routed into one
// JetStream cluster (RECIPES.md), each on free ports and a store dir of
// the test's, waits until JetStream answers (a meta leader), and returns
// them with a JetStream client of the cluster that follows it through
// node losses.
func startNATSCluster(t *testing.T) ([]*natsNode, jetstream.JetStream) {
	t.Helper()
	bin := natsServerBinary(t)
	clientAddr, clusterAddr := make([]string, 3), make([]string, 3)
	var routes []string
	for i := range 3 {
		clientAddr[i], clusterAddr[i] = dojottest.FreeAddr(t), dojottest.FreeAddr(t)
		routes = append(routes, "nats://"+clusterAddr[i])
	}
	nodes := make([]*natsNode, 3)
	for i := range nodes {
		host, port, _ := strings.Cut(clientAddr[i], ":")
		name := fmt.Sprintf("n%d", i+1)
		n := &natsNode{t: t, name: name, URL: "nats://" + clientAddr[i], args: []string{bin,
			"-a", host, "-p", port, "-js", "-sd", t.TempDir(), "-n", name,
			"--cluster_name", "c1", "--cluster", "nats://" + clusterAddr[i], "--routes", strings.Join(routes, ","),
		}}
		n.start()
		t.Cleanup(n.kill) // the one running then, after a restart
		nodes[i] = n
	}
	js := dojottest.JetStreamURL(t, clusterURL(nodes), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return nodes, js
		}
		if time.Now().After(deadline) {
			t.Fatalf("the NATS cluster has no JetStream after 30s: %v\n%s", err, nodes[0].log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (n *natsNode) start() {
	n.t.Helper()
	n.cmd = exec.Command(n.args[0], n.args[1:]...)
	n.log = &bytes.Buffer{}
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(n.done) }()
}

// kill SIGKILLs the node (no leader hand-over, no flush) unless it is
// down already.
func (n *natsNode) kill() {
	_ = n.cmd.Process.Kill()
	<-n.done
}

// clusterURL lists the nodes' client URLs, as -nats-url takes them.
func clusterURL(nodes []*natsNode) string {
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.URL)
	}
	return strings.Join(urls, ",")
}

// streamCluster is the stream's cluster info (nil while it cannot answer).
func streamCluster(ctx context.Context, js jetstream.JetStream, stream string) *jetstream.ClusterInfo {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil
	}
	return s.CachedInfo().Cluster
}

// caughtUp reports whether node is the leader of stream or one of its
// replicas, current and online.
func caughtUp(ci *jetstream.ClusterInfo, node string) bool {
	if ci == nil {
		return false
	}
	if ci.Leader == node {
		return true
	}
	for _, r := range ci.Replicas {
		if r.Name == node && r.Current && !r.Offline {
			return true
		}
	}
	return false
}

// kindCounts counts outcomes by kind, for the figures.
type kindCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *kindCounts) add(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[kind]++
}

func (c *kindCounts) get(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[kind]
}

func (c *kindCounts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.n)
}

// TestNATSClusterNodeLoss: the production shape (docker-compose.yml's
// cluster profile): three nats-server processes as one JetStream cluster,
// R3 streams, two instances of the binary. During MQTT and HTTP agent
// ingest and POST /device writes on both instances, the node that leads
// EVENTS is SIGKILLed, then instance B; then both come back. Nothing
// acknowledged is lost (every device created and every reading stored is
// in both instances' views and history), the clients recover by
// themselves (MQTT clients reconnect, requests succeed again), the durable
// consumers and the history catch up (lag 0), and the node rejoins every
// stream. Requests in flight ride through the election (the event store's
// bounded retry): the 503s of the node kill are counted and logged, and
// RELIABILITY.md keeps the figures.
func TestNATSClusterNodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	t.Parallel() // see TestMain
	nodes, js := startNATSCluster(t)
	flags := append([]string{"-nats-url=" + clusterURL(nodes), "-jwt-secret=cluster-e2e-secret",
		"-mqtt-insecure", "-http-agent", "-http-agent-insecure"}, dojottest.ClusterFlags...)
	a := dojottest.Start(t, "", flags...)
	b := dojottest.Start(t, "", flags...)
	ca := a.Login("admin", dojottest.AdminPassword)
	tmpl := dojottest.CreateTemplate(ca, "Cluster")
	mqttDevs := []string{dojottest.CreateDevice(ca, "mqtt-a", tmpl), dojottest.CreateDevice(ca, "mqtt-b", tmpl)}
	httpDevs := []string{dojottest.CreateDevice(ca, "http-a", tmpl), dojottest.CreateDevice(ca, "http-b", tmpl)}
	// B's view has them too before its MQTT agent is asked to take them.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if code, _, _ := b.Client().With(ca.Token).Try("GET", "/device/"+httpDevs[1], nil); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("instance B never saw the devices created on A")
		}
		time.Sleep(50 * time.Millisecond)
	}

	var (
		clients   [2]atomic.Pointer[dojottest.Client] // per instance, replaced when B restarts
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		phase     atomic.Int32 // 0 steady, 1 node killed, 2 instance B killed, 3 all back
		recovered time.Time    // when phase 3 began
		out       kindCounts   // outcomes by "<who> phase<n> <code>", n the phase a request began in
		mu        sync.Mutex
		devices   []string             // acknowledged by POST /device
		readings  = map[string][]int{} // per device, the n of each acknowledged reading
		lastOK    = map[string]time.Time{}
	)
	clients[0].Store(ca)
	clients[1].Store(b.Client().With(ca.Token))
	ok := func(who string) {
		mu.Lock()
		lastOK[who] = time.Now()
		mu.Unlock()
	}
	outcome := func(who string, began int32, code int, err error) {
		if err != nil {
			out.add(fmt.Sprintf("%s phase%d refused", who, began))
			return
		}
		out.add(fmt.Sprintf("%s phase%d %d", who, began, code))
	}
	// load calls send every pause, with a counter and the phase it began
	// in, until stop.
	load := func(pause time.Duration, send func(n int, began int32)) {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(pause):
				}
				send(n, phase.Load())
			}
		})
	}
	ackedReading := func(who, id string, n int) {
		mu.Lock()
		readings[id] = append(readings[id], n)
		mu.Unlock()
		ok(who)
	}
	// POST /device on each instance, ~16/s each.
	for i, name := range []string{"device-a", "device-b"} {
		load(60*time.Millisecond, func(n int, began int32) {
			code, body, err := clients[i].Load().Try("POST", "/device", map[string]any{"label": fmt.Sprintf("%s-%d", name, n), "templates": []int{tmpl}})
			outcome(name, began, code, err)
			if err != nil || code != 200 {
				if err == nil && code != 503 {
					t.Logf("%s: POST /device = %d %s", name, code, dojottest.Trunc(body))
				}
				return
			}
			var r struct{ Devices []dojottest.Device }
			dojottest.MustJSON(t, body, &r)
			mu.Lock()
			devices = append(devices, r.Devices[0].ID)
			mu.Unlock()
			ok(name)
		})
	}
	// HTTP agent readings, one device per instance.
	for i, id := range httpDevs {
		name := "http-" + "ab"[i:i+1]
		load(50*time.Millisecond, func(n int, began int32) {
			code, _, err := clients[i].Load().With("").Try("POST", "/http-agent/v1/unsecure/incoming-messages?tenant=admin&deviceId="+id,
				map[string]any{"data": map[string]any{"n": n}})
			outcome(name, began, code, err)
			if err == nil && code == 204 {
				ackedReading(name, id, n)
			}
		})
	}
	// MQTT QoS 1 readings, one device per instance; its client reconnects
	// by itself, to the other instance when its own is gone.
	for i, id := range mqttDevs {
		name := "mqtt-" + "ab"[i:i+1]
		own, other := a.MQTTAddr, b.MQTTAddr
		if i == 1 {
			own, other = other, own
		}
		o := paho.NewClientOptions().AddBroker("tcp://" + own).AddBroker("tcp://" + other).SetClientID("cluster-" + id).
			SetUsername("admin:" + id).SetProtocolVersion(4).SetAutoReconnect(true).SetConnectRetry(true).
			SetMaxReconnectInterval(500 * time.Millisecond).SetConnectTimeout(2 * time.Second).SetWriteTimeout(5 * time.Second)
		cl := paho.NewClient(o)
		if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("mqtt connect %s: %v", id, tok.Error())
		}
		t.Cleanup(func() { cl.Disconnect(0) })
		load(20*time.Millisecond, func(n int, began int32) {
			tok := cl.Publish("admin:"+id+"/attrs", 1, false, fmt.Sprintf(`{"n":%d}`, n))
			if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
				out.add(fmt.Sprintf("%s phase%d unacknowledged", name, began))
				return
			}
			out.add(fmt.Sprintf("%s phase%d acknowledged", name, began))
			ackedReading(name, id, n)
		})
	}

	time.Sleep(3 * time.Second)
	ci := streamCluster(t.Context(), js, "EVENTS")
	if ci == nil || ci.Leader == "" {
		t.Fatalf("stream EVENTS has no leader: %+v", ci)
	}
	var victim *natsNode
	for _, n := range nodes {
		if n.name == ci.Leader {
			victim = n
		}
	}
	t.Logf("SIGKILL of NATS node %s, leader of EVENTS", victim.name)
	phase.Store(1)
	killed := time.Now()
	victim.kill()
	for time.Since(killed) < 8*time.Second {
		if ci := streamCluster(t.Context(), js, "EVENTS"); ci != nil && ci.Leader != "" && ci.Leader != victim.name {
			t.Logf("EVENTS has a new leader, %s, %.1f s after the kill", ci.Leader, time.Since(killed).Seconds())
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Until(killed.Add(8 * time.Second)))
	t.Log("SIGKILL of instance B")
	phase.Store(2)
	b.Kill()
	bKilled := time.Now()
	time.Sleep(2 * time.Second)
	victim.start()
	b.Restart()
	clients[1].Store(b.Client().With(ca.Token))
	mu.Lock()
	recovered = time.Now()
	mu.Unlock()
	phase.Store(3)
	time.Sleep(6 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("outcomes: %s", &out)

	// Every writer and client succeeded again after the recovery.
	for _, who := range []string{"device-a", "device-b", "http-a", "http-b", "mqtt-a", "mqtt-b"} {
		if !lastOK[who].After(recovered) {
			t.Errorf("%s: no success since everything came back (last at %s)", who, lastOK[who].Format(time.StampMilli))
		}
	}
	// The node rejoined every stream and caught up.
	names := []string{}
	for n := range js.StreamNames(t.Context()).Name() {
		names = append(names, n)
	}
	for _, stream := range names {
		deadline := time.Now().Add(30 * time.Second)
		for !caughtUp(streamCluster(t.Context(), js, stream), victim.name) {
			if time.Now().After(deadline) {
				t.Fatalf("node %s never caught up on stream %s: %+v", victim.name, stream, streamCluster(t.Context(), js, stream))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Nothing acknowledged is lost: in both instances' views and history.
	cb := clients[1].Load()
	for _, c := range []*dojottest.Client{ca, cb} {
		checkDevices(t, c, devices)
		for id, ns := range readings {
			checkReadings(t, c, id, ns)
		}
	}
	// The durable consumers (shared by the instances) and the history
	// caught up: nothing pending, nothing unacknowledged. What B held when
	// it died is handed out again after the consumer's AckWait (the flows'
	// work consumers: 60 s, their partition paused meanwhile to keep the
	// order), so that is awaited too.
	for _, stream := range names {
		st, err := js.Stream(t.Context(), stream)
		if err != nil {
			t.Fatal(err)
		}
		for info := range st.ListConsumers(t.Context()).Info() {
			if info.Config.Durable == "" {
				continue // an ordered consumer of some instance, maybe the killed one
			}
			deadline := bKilled.Add(info.Config.AckWait + 30*time.Second)
			for info.NumPending > 0 || info.NumAckPending > 0 {
				if time.Now().After(deadline) {
					t.Errorf("consumer %s of %s: %d pending, %d unacknowledged", info.Name, stream, info.NumPending, info.NumAckPending)
					break
				}
				time.Sleep(200 * time.Millisecond)
				if cons, err := st.Consumer(t.Context(), info.Name); err == nil {
					info, _ = cons.Info(t.Context())
				}
			}
		}
	}
	for _, c := range []*dojottest.Client{ca, cb} {
		var h struct {
			History struct {
				ReadingsLag uint64 `json:"readings_lag"`
			}
		}
		dojottest.MustJSON(t, c.Must(200, "GET", "/healthz", nil), &h)
		if h.History.ReadingsLag != 0 {
			t.Errorf("%s /healthz: history readings_lag %d", c.Base, h.History.ReadingsLag)
		}
	}
	var n503 int
	for ph := range 4 {
		n503 += out.get(fmt.Sprintf("device-a phase%d 503", ph)) + out.get(fmt.Sprintf("device-b phase%d 503", ph))
	}
	if n503 > 0 {
		t.Errorf("POST /device answered 503 %d times; want the writes to ride through the election", n503)
	}
	var stored int
	for _, ns := range readings {
		stored += len(ns)
	}
	t.Logf("figures: %d devices and %d readings acknowledged, 0 lost; POST /device: %d answers 503, %d answers 200 to requests sent while the node was down",
		len(devices), stored, n503, out.get("device-a phase1 200")+out.get("device-b phase1 200"))
}

// checkDevices fails the test unless c's view lists every id (waiting a
// while for it to catch up).
func checkDevices(t *testing.T, c *dojottest.Client, ids []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got []string
		dojottest.MustJSON(t, c.Must(200, "GET", "/device?idsOnly=true&page_size=100000", nil), &got)
		have := map[string]bool{}
		for _, id := range got {
			have[id] = true
		}
		var missing []string
		for _, id := range ids {
			if !have[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %d of %d acknowledged devices missing: %v", c.Base, len(missing), len(ids), missing)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkReadings fails the test unless the device's history on c holds a
// reading with each n (waiting a while for it to catch up).
func checkReadings(t *testing.T, c *dojottest.Client, id string, ns []int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var docs []dojottest.HistoryDoc
		if code, body := c.Do("GET", "/history/device/"+id+"/history?attr=n", nil); code == 200 {
			dojottest.MustJSON(t, body, &docs)
		}
		have := map[string]bool{}
		for _, d := range docs {
			have[fmt.Sprint(d.Value)] = true
		}
		var missing []int
		for _, n := range ns {
			if !have[fmt.Sprint(n)] {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: device %s: %d of %d acknowledged readings missing from history: %v", c.Base, id, len(missing), len(ns), missing)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
