package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/dojot-es/dojot/e2e/dojottest"
	"github.com/dojot-es/dojot/projections/postgres/pgtest"
)

// TestCrashLoop SIGKILLs the binary at random moments of a mixed load:
// device CRUD over REST, MQTT QoS 1 and HTTP agent readings, actuations,
// a flow (event device in -> change -> multi device out) on one device's
// readings, the Kafka bridge to the embedded Kafka, the Postgres view,
// and two Kafka WS sockets (device-data and the device topic) that
// resume with since=<last seq + 1>. One cycle in four also kills the
// restarted process during its recovery. After each restart, every
// acknowledged write (REST 2xx, MQTT PUBACK, HTTP agent 204) is in the
// Postgres view (SQL and REST) and in history exactly once; on Kafka
// (read from where it stopped with kcat) and on the sockets at least
// once, a Kafka copy only with the id of the record it repeats, a socket
// never twice. The flow's outputs are checked at the end (an input the
// killed process held comes again only after its consumer's AckWait):
// one output per acknowledged input, on Kafka and in history.
//
// CI runs 3 cycles; DOJOT_CRASH_CYCLES=100 is the long mode, and
// DOJOT_CRASH_FSYNC (e.g. always) sets -fsync (RELIABILITY.md).
func TestCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	t.Parallel() // see TestMain
	dojottest.NeedCommand(t, "kcat", "-V")
	cycles := crashCycles(t, 3)
	broker, pg := dojottest.FreeAddr(t), pgtest.URL(t)
	flags := []string{"-mqtt-insecure", "-http-agent", "-http-agent-insecure", "-kafka-embedded-addr=" + broker,
		"-view=postgres", "-postgres-url=" + pg}
	if f := os.Getenv("DOJOT_CRASH_FSYNC"); f != "" {
		flags = append(flags, "-fsync="+f)
	}
	in := dojottest.Start(t, t.TempDir(), flags...)
	c := in.Login("admin", dojottest.AdminPassword)
	var tr struct{ Template dojottest.Template }
	dojottest.MustJSON(t, c.Must(200, "POST", "/template", map[string]any{"label": "Crash", "attrs": []map[string]any{
		{"label": "n", "type": "dynamic", "value_type": "integer"},
		{"label": "target", "type": "actuator", "value_type": "integer"}}}), &tr)
	tmpl := tr.Template.ID
	l := &crashLoad{
		tmpl:    tmpl,
		pg:      pg,
		mqtt:    []string{dojottest.CreateDevice(c, "mqtt-src", tmpl), dojottest.CreateDevice(c, "mqtt-2", tmpl)},
		agent:   dojottest.CreateDevice(c, "http", tmpl),
		dst:     dojottest.CreateDevice(c, "flow-out", tmpl),
		acked:   map[string]bool{},
		next:    map[string]int{},
		devices: map[string]*crudDevice{},
		ackedBy: map[string]int{},
	}
	l.actuated = l.mqtt[1]
	relayFlow(t, c, l.mqtt[0], l.dst)

	data := &kafkaTail{broker: broker, topic: "admin.device-data"}
	devs := &kafkaTail{broker: broker, topic: dojottest.DeviceTopic}
	wsData := &wsFollower{topic: "admin.device-data"}
	wsDevs := &wsFollower{topic: dojottest.DeviceTopic}
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	var recoveryKills int
	for cycle := 0; cycle <= cycles; cycle++ {
		if cycle > 0 {
			if rnd.IntN(4) == 0 { // killed again while it recovers
				in.Relaunch()
				time.Sleep(time.Duration(rnd.IntN(1500)) * time.Millisecond)
				in.Kill()
				recoveryKills++
			}
			in.Restart()
			c = in.Login("admin", dojottest.AdminPassword)
		}
		ctx, cancel := context.WithCancel(t.Context())
		var socks sync.WaitGroup
		for _, f := range []*wsFollower{wsData, wsDevs} {
			socks.Go(func() { f.follow(ctx, in.URL, c.Token) })
		}
		final := cycle == cycles
		checking := time.Now()
		r := l.check(t, c, data, devs, wsData, wsDevs, final)
		if cycle > 0 || final {
			t.Logf("cycle %d (checked in %s): %s", cycle, time.Since(checking).Round(100*time.Millisecond), r)
		}
		if t.Failed() || final {
			cancel()
			socks.Wait()
			l.report(t, cycle, recoveryKills, r, wsData, wsDevs)
			return
		}
		var load sync.WaitGroup
		for _, id := range l.mqtt {
			load.Go(func() { l.publish(ctx, in.MQTTAddr, id) })
		}
		load.Go(func() { l.post(ctx, c.With("")) }) // a device: no login token
		load.Go(func() { l.actuate(ctx, c) })
		for range 2 {
			load.Go(func() { l.crud(ctx, c) })
		}
		time.Sleep(time.Duration(200+rnd.IntN(2300)) * time.Millisecond)
		in.Kill()
		cancel()
		load.Wait()
		socks.Wait()
	}
}

// crashLoad is the load of TestCrashLoop and what it was told was done.
type crashLoad struct {
	tmpl     int
	pg       string   // the Postgres view's database
	mqtt     []string // devices publishing over MQTT; the first is the flow's input
	agent    string   // device posting to the HTTP agent
	actuated string   // device the actuations go to
	dst      string   // the flow's output device

	mu       sync.Mutex
	acked    map[string]bool // keys (see dataKey, deviceKey) of acknowledged writes
	next     map[string]int  // next reading value per device (values 0..next-1 were sent)
	devices  map[string]*crudDevice
	nextID   int
	ackedBy  map[string]int // acknowledged writes by kind, for the report
	unanswer int            // writes cut by a kill, with no answer
}

// crudDevice is what REST said of one device: its acknowledged labels in
// order, whether its delete was acknowledged, and the one write that got
// no answer (after which the device is left alone): a label, or "" for a
// delete.
type crudDevice struct {
	labels  []string
	deleted bool
	pending *string
}

// allowed are the states the view may show the device in: a label, or
// "" for absent.
func (d *crudDevice) allowed() []string {
	var now string
	if !d.deleted && len(d.labels) > 0 {
		now = d.labels[len(d.labels)-1]
	}
	out := []string{now}
	if d.pending != nil {
		out = append(out, *d.pending)
	}
	return out
}

func (l *crashLoad) value(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.next[id]
	l.next[id]++
	return n
}

func (l *crashLoad) ack(kind, key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked[key] = true
	l.ackedBy[kind]++
}

// publish sends QoS 1 readings of device id, up to 8 in flight, until
// ctx ends or the connection fails; a PUBACK acknowledges one.
func (l *crashLoad) publish(ctx context.Context, addr, id string) {
	cl, err := dialDevice(addr, "crash-"+id, id)
	if err != nil {
		return // killed already
	}
	defer cl.Disconnect(0)
	qos1Window{size: 8, wait: 10 * time.Second, pause: 2 * time.Millisecond,
		next:  func() (int, bool) { return l.value(id), true },
		acked: func(n int) { l.ack("mqtt", fmt.Sprintf("r/%s/%d", id, n)) },
	}.publish(ctx.Done(), cl, id)
}

// post sends readings to the HTTP agent, one at a time; a 204
// acknowledges one.
func (l *crashLoad) post(ctx context.Context, c *dojottest.Client) {
	for ctx.Err() == nil {
		n := l.value(l.agent)
		code, _, err := c.Try("POST", "/http-agent/v1/unsecure/incoming-messages?tenant=admin&deviceId="+l.agent,
			map[string]any{"data": map[string]any{"n": n}})
		if err != nil {
			return
		}
		if code == http.StatusNoContent {
			l.ack("http-agent", fmt.Sprintf("r/%s/%d", l.agent, n))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// actuate sends actuations of distinct targets; a 200 acknowledges one.
func (l *crashLoad) actuate(ctx context.Context, c *dojottest.Client) {
	for ctx.Err() == nil {
		n := l.value("actuate")
		code, _, err := c.Try("PUT", "/device/"+l.actuated+"/actuate", map[string]any{"attrs": map[string]any{"target": n}})
		if err != nil {
			return
		}
		if code == http.StatusOK {
			l.ack("actuation", fmt.Sprintf("a/%d", n))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// crud creates devices with ids of its own, updates each twice and
// deletes one in three, until ctx ends or a write gets no answer.
func (l *crashLoad) crud(ctx context.Context, c *dojottest.Client) {
	for ctx.Err() == nil {
		l.mu.Lock()
		l.nextID++
		k := l.nextID
		id := fmt.Sprintf("%06x", 0xc00000+k)
		d := &crudDevice{}
		l.devices[id] = d
		l.mu.Unlock()
		for u := range 4 {
			label := fmt.Sprintf("%s-%d", id, u)
			method, path, key := "PUT", "/device/"+id, "d/"+id+"/"+label
			var body any = map[string]any{"label": label, "templates": []int{l.tmpl}}
			switch {
			case u == 0:
				method, path = "POST", "/device"
				body = map[string]any{"id": id, "label": label, "templates": []int{l.tmpl}}
			case u == 3 && k%3 != 0:
				continue
			case u == 3:
				method, body, label, key = "DELETE", nil, "", "x/"+id
			}
			answered, ok := l.write(c, d, method, path, body, label, key)
			if !answered {
				return // killed
			}
			if !ok {
				break // refused (a 503 while it recovers): the device is left alone
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// write sends one device write and records its answer. A write with no
// answer, or not a 200, may or may not have been applied: the device is
// then left alone (pending).
func (l *crashLoad) write(c *dojottest.Client, d *crudDevice, method, path string, body any, label, key string) (answered, ok bool) {
	code, _, err := c.Try(method, path, body)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || code != http.StatusOK {
		d.pending = &label
		l.unanswer++
		return err == nil, false
	}
	if method == "DELETE" {
		d.deleted = true
	} else {
		d.labels = append(d.labels, label)
	}
	l.acked[key] = true
	l.ackedBy["rest"]++
	return true, true
}

// dataKey is the key of a device-data message: r/<device>/<n> for a
// reading, f/<n> for the flow's output.
func (l *crashLoad) dataKey(payload []byte) string {
	var v struct {
		Metadata struct{ Deviceid string }
		Attrs    map[string]json.RawMessage
	}
	if json.Unmarshal(payload, &v) != nil || v.Attrs["n"] == nil {
		return "?" + string(payload)
	}
	if v.Metadata.Deviceid == l.dst {
		return "f/" + string(v.Attrs["n"])
	}
	return "r/" + v.Metadata.Deviceid + "/" + string(v.Attrs["n"])
}

// deviceKey is the key of a device topic message: d/<id>/<label> for a
// create or update, x/<id> for a remove, a/<target> for an actuation.
func deviceKey(payload []byte) string {
	var v struct {
		Event string
		Data  struct {
			ID, Label string
			Attrs     map[string]json.RawMessage
		}
	}
	if json.Unmarshal(payload, &v) != nil {
		return "?" + string(payload)
	}
	switch v.Event {
	case "create", "update":
		return "d/" + v.Data.ID + "/" + v.Data.Label
	case "remove":
		return "x/" + v.Data.ID
	case "configure":
		return "a/" + string(v.Data.Attrs["target"])
	}
	return v.Event
}

func prefix(p string) func(string) bool {
	return func(k string) bool { return strings.HasPrefix(k, p) }
}

// crashReport is one check of every place.
type crashReport struct {
	view, history, flowHistory, kafkaDevices, kafkaData, flows, wsData, wsDevices tally
}

func (r crashReport) String() string {
	return fmt.Sprintf("view: %v; history: %v; Kafka devices: %v; Kafka data: %v; sockets: data %v, devices %v; flow outputs: Kafka %v, history %v",
		r.view, r.history, r.kafkaDevices, r.kafkaData, r.wsData, r.wsDevices, r.flows, r.flowHistory)
}

// check waits until every acknowledged write is in every place (or a
// minute passes; at the end, with the flow's outputs, three) and reports
// it as errors otherwise.
func (l *crashLoad) check(t *testing.T, c *dojottest.Client, data, devs *kafkaTail, wsData, wsDevs *wsFollower, final bool) crashReport {
	t.Helper()
	l.mu.Lock()
	acked := make(map[string]bool, len(l.acked))
	for k := range l.acked {
		acked[k] = true
		if final && strings.HasPrefix(k, "r/"+l.mqtt[0]+"/") {
			acked["f/"+strings.TrimPrefix(k, "r/"+l.mqtt[0]+"/")] = true // its output
		}
	}
	devices := map[string][]string{}
	for id, d := range l.devices {
		devices[id] = d.allowed()
	}
	l.mu.Unlock()
	readings, actuations, outputs := prefix("r/"), prefix("a/"), prefix("f/")
	writes := func(k string) bool {
		return strings.HasPrefix(k, "d/") || strings.HasPrefix(k, "x/") || strings.HasPrefix(k, "a/")
	}
	timeout := time.Minute
	if final {
		timeout = 3 * time.Minute
	}
	var r crashReport
	for deadline := time.Now().Add(timeout); ; time.Sleep(time.Second) {
		r = crashReport{view: l.viewTally(t, c, devices)}
		hist := seen{}
		for _, id := range append([]string{l.agent, l.dst}, l.mqtt...) {
			for _, d := range l.history(t, c, id, "n") {
				hist.add(l.dataKey(d), "")
			}
		}
		for _, d := range l.history(t, c, l.actuated, "target") {
			hist.add(string(d), "")
		}
		r.history = count(acked, func(k string) bool { return readings(k) || actuations(k) }, hist)
		r.flowHistory = count(acked, outputs, hist)
		r.kafkaData = count(acked, readings, data.read(t, l.dataKey))
		r.flows = count(acked, outputs, data.seen)
		r.kafkaDevices = count(acked, writes, devs.read(t, deviceKey))
		r.wsData = count(acked, readings, wsData.read(l.dataKey))
		r.wsDevices = count(acked, writes, wsDevs.read(deviceKey))
		all := []tally{r.view, r.history, r.kafkaData, r.kafkaDevices, r.wsData, r.wsDevices}
		if final {
			all = append(all, r.flows, r.flowHistory)
		}
		lost := 0
		for _, tl := range all {
			lost += tl.lost
		}
		if lost == 0 || time.Now().After(deadline) {
			break
		}
	}
	for name, tl := range map[string]tally{"view": r.view, "history": r.history, "Kafka device topic": r.kafkaDevices,
		"Kafka device-data": r.kafkaData, "Kafka WS device-data": r.wsData, "Kafka WS devices": r.wsDevices,
		"flow outputs on Kafka": r.flows, "flow outputs in history": r.flowHistory} {
		bad := tl.twice > 0 || tl.lost > 0 && (final || !strings.HasPrefix(name, "flow"))
		if strings.HasPrefix(name, "Kafka WS") {
			bad = bad || tl.again > 0 // since=last+1 repeats nothing
		}
		if bad {
			t.Errorf("%s: %v: %v", name, tl, tl.example)
		}
	}
	return r
}

// history is the values (as data keys) of device id's attr in the
// History API.
func (l *crashLoad) history(t *testing.T, c *dojottest.Client, id, attr string) [][]byte {
	t.Helper()
	code, body, err := c.Try("GET", "/history/device/"+id+"/history?attr="+attr, nil)
	if err != nil || code == 404 { // nothing yet
		return nil
	}
	var docs []dojottest.HistoryDoc
	if code != 200 || json.Unmarshal(body, &docs) != nil {
		t.Fatalf("history of %s: %d %s", id, code, dojottest.Trunc(body))
	}
	out := make([][]byte, len(docs))
	for i, d := range docs {
		v, _ := json.Marshal(d.Value) // as the device sent it: 100000, not 1e+05
		if attr == "target" {
			out[i] = append([]byte("a/"), v...)
		} else {
			out[i] = fmt.Appendf(nil, `{"metadata":{"deviceid":%q},"attrs":{"n":%s}}`, id, v)
		}
	}
	return out
}

// viewTally checks the CRUD devices in the Postgres view, through SQL and
// through GET /device: each in a state its acknowledged writes allow,
// once, and the view's device count equal to its rows.
func (l *crashLoad) viewTally(t *testing.T, c *dojottest.Client, devices map[string][]string) tally {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, l.pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	schema := pgx.Identifier{dojottest.ServedSchema(t, conn, "dojot")}.Sanitize()
	rows, err := conn.Query(ctx, `SELECT d.id, d.label, (SELECT count(*) FROM `+schema+`.device_template dt
		WHERE dt.tenant = d.tenant AND dt.device_id = d.id) FROM `+schema+`.devices d WHERE d.tenant = 'admin'`)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{}
	var tl tally
	for rows.Next() {
		var id, label string
		var templates int
		if err := rows.Scan(&id, &label, &templates); err != nil {
			t.Fatal(err)
		}
		labels[id] = label
		if templates != 1 {
			tl.twice++
			tl.example = append(tl.example, fmt.Sprintf("device %s has %d template rows", id, templates))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var counted int
	if err := conn.QueryRow(ctx, `SELECT devices FROM `+schema+`.device_counts WHERE tenant = 'admin'`).Scan(&counted); err != nil {
		t.Fatal(err)
	}
	if counted != len(labels) {
		tl.twice++
		tl.example = append(tl.example, fmt.Sprintf("device_counts says %d devices; the table has %d", counted, len(labels)))
	}
	var ids []string
	code, body, err := c.Try("GET", "/device?idsOnly=true&page_size=1000000", nil)
	if err != nil || code != 200 || json.Unmarshal(body, &ids) != nil {
		return tally{lost: 1, example: []string{fmt.Sprintf("GET /device?idsOnly=true&page_size=1000000: %d %v", code, err)}}
	}
	listed := map[string]int{}
	for _, id := range ids {
		listed[id]++
	}
	for id, allowed := range devices {
		tl.checked++
		if listed[id] > 1 {
			tl.twice++
			tl.example = append(tl.example, fmt.Sprintf("device %s listed %d times", id, listed[id]))
		}
		label, ok := labels[id]
		if ok != (listed[id] > 0) {
			tl.lost++
			tl.example = append(tl.example, fmt.Sprintf("device %s: in the table %v, listed by GET /device %v", id, ok, listed[id] > 0))
		}
		if !slices.Contains(allowed, label) {
			tl.lost++
			if len(tl.example) < 5 {
				tl.example = append(tl.example, fmt.Sprintf("device %s: label %q; acknowledged writes allow %q", id, label, allowed))
			}
		}
	}
	return tl
}

// report logs the run's figures, as RELIABILITY.md quotes them.
func (l *crashLoad) report(t *testing.T, cycles, recoveryKills int, r crashReport, wsData, wsDevs *wsFollower) {
	l.mu.Lock()
	defer l.mu.Unlock()
	total := 0
	for _, n := range l.ackedBy {
		total += n
	}
	t.Logf("crash loop: %d cycles (%d more kills during recovery); %d acknowledged writes checked (%v), %d writes cut by a kill without an answer",
		cycles, recoveryKills, total, l.ackedBy, l.unanswer)
	t.Logf("lost: view %d, history %d, Kafka %d, sockets %d, flow outputs %d; duplicates in views: %d (history %d, Postgres %d); Kafka: %d copies with the same id, %d writes under two ids; sockets: %d repeated frames over %d connections",
		r.view.lost, r.history.lost, r.kafkaData.lost+r.kafkaDevices.lost, r.wsData.lost+r.wsDevices.lost, r.flows.lost+r.flowHistory.lost,
		r.history.twice+r.view.twice+r.flowHistory.twice, r.history.twice+r.flowHistory.twice, r.view.twice,
		r.kafkaData.again+r.kafkaDevices.again+r.flows.again, r.kafkaData.twice+r.kafkaDevices.twice+r.flows.twice,
		r.wsData.again+r.wsDevices.again, wsData.connects+wsDevs.connects)
}

// kafkaTail reads a topic's partition 0 with kcat (librdkafka, as dojot's
// consumers), each time from where it stopped.
type kafkaTail struct {
	broker, topic string
	next          int64
	seen          seen
}

func (k *kafkaTail) read(t *testing.T, key func([]byte) string) seen {
	t.Helper()
	if k.seen == nil {
		k.seen = seen{}
	}
	out, err := exec.Command("kcat", "-C", "-b", k.broker, "-t", k.topic, "-p", "0", "-o", strconv.FormatInt(k.next, 10), "-e", "-J", "-q").Output()
	if err != nil {
		return k.seen // not there yet, or the broker restarting
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var m dojottest.KcatMessage
		dojottest.MustJSON(t, []byte(line), &m)
		id := m.Header("dojot-msg-id")
		if id == "" {
			id = m.Header("dojot-event-id") + "/" + m.Header("dojot-part")
		}
		k.seen.add(key([]byte(m.Payload)), id)
		k.next = m.Offset + 1
	}
	return k.seen
}

// wsFollower is a Kafka WS client of one topic that asks for sequences
// (seq=true) and, after every restart, resumes with since=<last + 1>.
type wsFollower struct {
	topic    string
	mu       sync.Mutex
	last     uint64
	frames   []wsFrame
	connects int
}

type wsFrame struct {
	seq   uint64
	value json.RawMessage
}

// follow reads one connection until ctx ends or the server goes away.
func (f *wsFollower) follow(ctx context.Context, base, token string) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/kafka-ws/v1/ticket", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	var tk struct{ Ticket string }
	err = json.NewDecoder(res.Body).Decode(&tk)
	res.Body.Close()
	if err != nil {
		return
	}
	f.mu.Lock()
	since := f.last + 1
	f.connects++
	f.mu.Unlock()
	u := "ws" + strings.TrimPrefix(base, "http") + "/kafka-ws/v1/topics/" + f.topic + "?ticket=" + url.QueryEscape(tk.Ticket) +
		"&seq=true&since=" + strconv.FormatUint(since, 10)
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, u, nil)
	if err != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	defer ws.Close()
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var fr struct {
			Seq   uint64
			Value json.RawMessage
		}
		if json.Unmarshal(msg, &fr) != nil {
			continue
		}
		f.mu.Lock()
		f.frames = append(f.frames, wsFrame{fr.Seq, fr.Value})
		f.last = max(f.last, fr.Seq)
		f.mu.Unlock()
	}
}

// read is what the socket showed so far, by key and sequence.
func (f *wsFollower) read(key func([]byte) string) seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := seen{}
	for _, fr := range f.frames {
		s.add(key(fr.value), strconv.FormatUint(fr.seq, 10))
	}
	return s
}
