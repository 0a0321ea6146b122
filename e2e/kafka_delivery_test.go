package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// The bridge's log messages these tests wait for (bridges/kafka).
const (
	logKafkaDown = "kafka bridge: kafka unavailable; holding events until it is back"
	logKafkaBack = "kafka bridge: kafka is back; catching up"
)

// bridgeHealth is GET /healthz with the Kafka bridge on.
type bridgeHealth struct {
	Status string `json:"status"`
	NATS   string `json:"nats"`
	Bridge *struct {
		Acked     uint64    `json:"acked_seq"`
		Lag       uint64    `json:"lag"`
		KafkaOK   bool      `json:"kafka_ok"`
		LastError string    `json:"last_error"`
		Since     time.Time `json:"since"`
	} `json:"kafka_bridge"`
}

// healthz reads GET /healthz, which must answer 200 whatever Kafka does.
func healthz(t *testing.T, in *instance) bridgeHealth {
	t.Helper()
	body := in.Client().Must(200, "GET", "/healthz", nil)
	var h bridgeHealth
	mustJSON(t, body, &h)
	if h.Status != "ok" || h.NATS != "connected" || h.Bridge == nil {
		t.Fatalf("GET /healthz = %s; want status ok, nats connected, a kafka_bridge", body)
	}
	return h
}

// waitHealth polls /healthz until the bridge reports kafkaOK, or fails.
func waitHealth(t *testing.T, in *instance, kafkaOK bool, timeout time.Duration) bridgeHealth {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		h := healthz(t, in)
		if h.Bridge.KafkaOK == kafkaOK {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s /healthz kafka_bridge = %+v; want kafka_ok %v", timeout, *h.Bridge, kafkaOK)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deviceRecord is one record of the device topic, decoded.
type deviceRecord struct {
	dojottest.KcatMessage
	Event string
	ID    string
	Label string
}

// deviceRecords decodes what kcat read of the device topic.
func deviceRecords(t *testing.T, msgs []dojottest.KcatMessage) []deviceRecord {
	t.Helper()
	out := make([]deviceRecord, 0, len(msgs))
	for _, m := range msgs {
		var v struct {
			Event string `json:"event"`
			Data  struct{ ID, Label string }
		}
		if err := json.Unmarshal([]byte(m.Payload), &v); err != nil {
			t.Fatalf("payload %s: %v", m.Payload, err)
		}
		out = append(out, deviceRecord{m, v.Event, v.Data.ID, v.Data.Label})
	}
	return out
}

// written is what the HTTP client was told was done: per device, its
// labels in the order they were acknowledged (the first one by the
// create).
type written struct {
	mu     sync.Mutex
	labels map[string][]string
	n      int
}

func (w *written) add(id, label string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.labels == nil {
		w.labels = map[string][]string{}
	}
	w.labels[id] = append(w.labels[id], label)
	w.n++
}

// checkDelivery checks the device topic against what was acknowledged:
// every write is there at least once; a duplicate repeats the first copy's
// event id, part, key and payload; per device the create comes first and
// the updates follow in the order they were acknowledged. It returns the
// number of duplicates and of records missing.
func checkDelivery(t *testing.T, recs []deviceRecord, w *written, report bool) (dups, missing int) {
	t.Helper()
	type rid struct{ event, part string }
	first := map[rid]deviceRecord{}
	seen := map[string][]string{} // device -> labels, duplicates dropped
	order := map[string][]string{}
	for _, r := range recs {
		id := rid{r.Header("dojot-event-id"), r.Header("dojot-part")}
		if id.event == "" {
			t.Fatalf("record at offset %d without dojot-event-id: %v", r.Offset, r.Headers)
		}
		if f, ok := first[id]; ok {
			dups++
			if report && (f.Payload != r.Payload || *f.Key != *r.Key || f.Header("dojot-seq") != r.Header("dojot-seq")) {
				t.Errorf("duplicate of event %s at offset %d differs from its first copy at %d:\n%s key %s\n%s key %s",
					id.event, r.Offset, f.Offset, r.Payload, *r.Key, f.Payload, *f.Key)
			}
			continue
		}
		first[id] = r
		if r.Key == nil || *r.Key != r.ID {
			t.Errorf("%s of %s at offset %d: key %v; want the device id", r.Event, r.ID, r.Offset, r.Key)
		}
		seen[r.ID] = append(seen[r.ID], r.Label)
		order[r.ID] = append(order[r.ID], r.Event)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, want := range w.labels {
		got := seen[id]
		// Events the client was not told about (a write cut by the kill)
		// may be there too: look for want as a subsequence, in order.
		i := 0
		for _, l := range got {
			if i < len(want) && l == want[i] {
				i++
			}
		}
		missing += len(want) - i
		if !report {
			continue
		}
		if i < len(want) {
			t.Errorf("device %s: labels in Kafka %v; want %v in this order", id, got, want)
		}
		if ev := order[id]; len(ev) == 0 || ev[0] != "create" || strings.Count(strings.Join(ev, ","), "create") != 1 {
			t.Errorf("device %s: events %v; want one create, first", id, ev)
		}
	}
	return dups, missing
}

// consumeAll reads the device topic with kcat until every acknowledged
// write is there (or 60 s passed) and checks it.
func consumeAll(t *testing.T, broker string, w *written) (recs []deviceRecord, dups int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	n := w.n
	for {
		recs = deviceRecords(t, dojottest.KcatUntil(t, broker, dojottest.DeviceTopic, n))
		_, missing := checkDelivery(t, recs, w, false)
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		n = len(recs) + missing
	}
	dups, _ = checkDelivery(t, recs, w, true)
	return recs, dups
}

// TestKafkaBridgeKill: the binary with the embedded Kafka is SIGKILLed
// while it bridges a stream of device writes, three times; after each
// restart (same data dir, same address) every acknowledged write is in
// Kafka at least once, a duplicate only as an exact copy (same event id
// header, same payload), and each device's events in order.
func TestKafkaBridgeKill(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "kcat", "-V")
	broker := dojottest.FreeAddr(t)
	in := start(t, "", "-kafka-embedded-addr="+broker)
	c := in.Login("admin", adminPassword)
	tmpl := dojottest.CreateTemplate(c, "Killed")
	var w written
	const rounds, count, workers = 3, 2000, 8
	for round := range rounds {
		body := c.Must(200, "POST", fmt.Sprintf("/device?count=%d", count),
			map[string]any{"label": fmt.Sprintf("r%d", round), "templates": []int{tmpl}})
		var r struct{ Devices []struct{ ID, Label string } }
		mustJSON(t, body, &r)
		if len(r.Devices) != count {
			t.Fatalf("POST /device?count=%d created %d", count, len(r.Devices))
		}
		for _, d := range r.Devices {
			w.add(d.ID, d.Label)
		}
		// Updates from several clients, each owning its devices, until
		// the kill cuts them; only those answered 200 count.
		var (
			wg    sync.WaitGroup
			acked atomic.Int64
		)
		for k := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for u := 1; ; u++ {
					for i := k; i < len(r.Devices); i += workers {
						id := r.Devices[i].ID
						label := fmt.Sprintf("r%d-%s-u%d", round, id, u)
						code, _, err := c.Try("PUT", "/device/"+id, map[string]any{"label": label, "templates": []int{tmpl}})
						if err != nil || code != 200 {
							return // killed
						}
						w.add(id, label)
						acked.Add(1)
					}
				}
			}()
		}
		for deadline := time.Now().Add(time.Minute); acked.Load() < 1500; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("only %d updates acknowledged in a minute", acked.Load())
			}
		}
		h := healthz(t, in)
		in.Kill()
		wg.Wait()
		t.Logf("round %d: killed with %d updates acknowledged; bridge just before: acked_seq %d lag %d",
			round, acked.Load(), h.Bridge.Acked, h.Bridge.Lag)
		started := time.Now()
		in.Restart()
		c = in.Login("admin", adminPassword)
		recs, dups := consumeAll(t, broker, &w)
		t.Logf("round %d: restarted; %d records for %d acknowledged writes, %d duplicates, all there after %s",
			round, len(recs), w.n, dups, time.Since(started).Round(time.Millisecond))
		if t.Failed() {
			return
		}
	}
	waitHealth(t, in, true, 10*time.Second)
}

// outage is how long TestKafkaUnreachable keeps Kafka down mid-run:
// DOJOT_E2E_KAFKA_OUTAGE (a Go duration), default 10 s (the issue asks
// for 30 s; the default keeps CI quick).
func outage(t *testing.T) time.Duration {
	d := 10 * time.Second
	if v := os.Getenv("DOJOT_E2E_KAFKA_OUTAGE"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("DOJOT_E2E_KAFKA_OUTAGE=%q: %v", v, err)
		}
	}
	return d
}

// TestKafkaUnreachable: Kafka is not there when the binary starts, and
// goes away for a while mid-run. Writes keep succeeding, the bridge logs
// the outage and its end once each, /healthz (200 throughout) shows it,
// and after each outage every acknowledged write reaches Kafka.
func TestKafkaUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "kcat", "-V")
	broker, dir := dojottest.FreeAddr(t), t.TempDir()
	in := start(t, "", "-kafka-brokers="+broker)
	c := in.Login("admin", adminPassword)
	tmpl := dojottest.CreateTemplate(c, "Unreachable")
	var w written
	writes := func(label string) {
		body := c.Must(200, "POST", "/device?count=500", map[string]any{"label": label, "templates": []int{tmpl}})
		var r struct{ Devices []struct{ ID, Label string } }
		mustJSON(t, body, &r)
		for _, d := range r.Devices {
			w.add(d.ID, d.Label)
		}
		for _, d := range r.Devices[:100] {
			l := d.Label + "-" + d.ID + "-2"
			c.Must(200, "PUT", "/device/"+d.ID, map[string]any{"label": l, "templates": []int{tmpl}})
			w.add(d.ID, l)
		}
	}

	// Down at start.
	writes("before")
	if !in.WaitLog(logKafkaDown, 30*time.Second) {
		t.Fatalf("no %q log line while nothing listens on %s", logKafkaDown, broker)
	}
	h := waitHealth(t, in, false, 10*time.Second)
	if h.Bridge.LastError == "" || h.Bridge.Since.IsZero() {
		t.Errorf("/healthz kafka_bridge = %+v; want last_error and since", *h.Bridge)
	}
	t.Logf("Kafka down at start: /healthz kafka_bridge lag %d since %s error %s", h.Bridge.Lag, h.Bridge.Since, trunc([]byte(h.Bridge.LastError)))
	k := dojottest.StartKafka(t, broker, dir)
	up := time.Now()
	if !in.WaitLog(logKafkaBack, 30*time.Second) {
		t.Fatalf("no %q log line within 30 s of Kafka starting", logKafkaBack)
	}
	back := time.Since(up)
	_, dups := consumeAll(t, broker, &w)
	t.Logf("Kafka up after the start: bridge back in %s, all %d writes in Kafka after %s, %d duplicates",
		back.Round(time.Millisecond), w.n, time.Since(up).Round(time.Millisecond), dups)
	waitHealth(t, in, true, 10*time.Second)

	// Down mid-run.
	k.Close()
	down := outage(t)
	stopped := time.Now()
	writes("during")
	if !in.WaitCount(logKafkaDown, 2, down) {
		t.Errorf("no second %q log line during the %s outage", logKafkaDown, down)
	}
	h = waitHealth(t, in, false, time.Until(stopped.Add(down)))
	t.Logf("Kafka down mid-run: /healthz kafka_bridge acked_seq %d lag %d since %s error %s (%d bytes)",
		h.Bridge.Acked, h.Bridge.Lag, h.Bridge.Since, trunc([]byte(h.Bridge.LastError)), len(h.Bridge.LastError))
	time.Sleep(time.Until(stopped.Add(down)))
	k = dojottest.StartKafka(t, broker, dir)
	defer k.Close()
	up = time.Now()
	if !in.WaitCount(logKafkaBack, 2, 30*time.Second) {
		t.Fatalf("no second %q log line within 30 s of Kafka restarting", logKafkaBack)
	}
	back = time.Since(up)
	_, dups = consumeAll(t, broker, &w)
	t.Logf("Kafka back after %s down: bridge back in %s, all %d writes in Kafka after %s, %d duplicates",
		down, back.Round(time.Millisecond), w.n, time.Since(up).Round(time.Millisecond), dups)
	waitHealth(t, in, true, 10*time.Second)
	if n := in.Count(logKafkaDown) + in.Count(logKafkaBack); n != 4 {
		t.Errorf("%d down/back log lines; want 4 (one each per outage)", n)
	}
}
