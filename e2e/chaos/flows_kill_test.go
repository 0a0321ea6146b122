package chaos

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestFlowsKillDuringBurst: a device publishes 5,000 QoS 1 readings
// through a 3-node flow (event device in -> change -> multi device out
// writing as a second device); the binary is SIGKILLed part way, restarted
// on the same data dir, and the device sends the rest. On Kafka
// (<tenant>.device-data, read with kcat from a Kafka that outlives the
// binary) every reading of the first device has exactly one output of the
// flow: one output id (its dojot-msg-id, made from the reading's DATA
// sequence), none lost, none made twice; the History API shows each once.
// The bridge itself delivers at least once, so a record may come twice
// with the same dojot-msg-id: that is counted and logged, not an error.
func TestFlowsKillDuringBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	t.Parallel() // see TestMain
	dojottest.NeedCommand(t, "kcat", "-V")
	const total = 5000
	broker, kdir := dojottest.FreeAddr(t), t.TempDir()
	k := dojottest.StartKafka(t, broker, kdir)
	defer k.Close()
	in := dojottest.Start(t, t.TempDir(), "-mqtt-insecure", "-kafka-brokers="+broker)
	c := in.Login("admin", dojottest.AdminPassword)
	tmpl := dojottest.CreateTemplate(c, "Burst")
	src, dst := dojottest.CreateDevice(c, "src", tmpl), dojottest.CreateDevice(c, "dst", tmpl)
	flowID := relayFlow(t, c, src, dst)

	var (
		mu    sync.Mutex
		acked = map[int]bool{}
		next  int // readings 0..next-1 were sent
	)
	// burst publishes readings from next on, up to 16 in flight, until
	// total are sent or stop is closed.
	burst := func(stop <-chan struct{}, acks *atomic.Int64) {
		cl, err := dialDevice(in.MQTTAddr, "burst-"+src, src)
		if err != nil {
			t.Error(err)
			return
		}
		defer cl.Disconnect(0)
		qos1Window{size: 16, wait: 5 * time.Second,
			next: func() (int, bool) {
				mu.Lock()
				defer mu.Unlock()
				if next == total {
					return 0, false
				}
				next++
				return next - 1, true
			},
			acked: func(n int) {
				mu.Lock()
				acked[n] = true
				mu.Unlock()
				acks.Add(1)
			},
		}.publish(stop, cl, src)
	}

	var acks atomic.Int64
	killed := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); burst(killed, &acks) }()
	for deadline := time.Now().Add(30 * time.Second); acks.Load() < total*2/5 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	var st struct{ Stats struct{ Runs uint64 } }
	dojottest.MustJSON(t, c.Must(200, "GET", "/flows/v1/flow/"+flowID+"/status", nil), &st)
	in.Kill()
	close(killed)
	<-done
	mu.Lock()
	sentBefore, ackedBefore := next, len(acked)
	mu.Unlock()
	t.Logf("SIGKILL after %d readings sent, %d acknowledged; the flow had run %d times just before", sentBefore, ackedBefore, st.Stats.Runs)
	if ackedBefore < 1000 || ackedBefore >= total {
		t.Fatalf("the kill did not land mid-burst: %d sent, %d acknowledged", sentBefore, ackedBefore)
	}

	in.Restart()
	restarted := time.Now()
	c = in.Login("admin", dojottest.AdminPassword)
	burst(nil, &acks)
	mu.Lock()
	sent := next
	mu.Unlock()
	if sent != total {
		t.Fatalf("%d readings sent; want %d", sent, total)
	}

	// Count on Kafka until every reading of src has its output (the
	// killed instance's unacknowledged inputs come again after the work
	// consumer's AckWait, 60 s).
	var inputs, outputs []flowRecord
	deadline := time.Now().Add(150 * time.Second)
	for {
		inputs, outputs = inputs[:0], outputs[:0]
		out, err := exec.Command("kcat", "-C", "-b", broker, "-t", "admin.device-data", "-o", "beginning", "-e", "-J", "-q").Output()
		if err != nil {
			t.Fatalf("kcat: %v", err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var m dojottest.KcatMessage
			dojottest.MustJSON(t, line, &m)
			var v struct {
				Metadata struct{ Deviceid string }
				Attrs    struct{ N *int }
			}
			dojottest.MustJSON(t, []byte(m.Payload), &v)
			if v.Attrs.N == nil {
				t.Fatalf("record without n: %s", m.Payload)
			}
			r := flowRecord{*v.Attrs.N, m.Header("dojot-seq"), m.Header("dojot-msg-id")}
			switch v.Metadata.Deviceid {
			case src:
				inputs = append(inputs, r)
			case dst:
				outputs = append(outputs, r)
			default:
				t.Fatalf("record of device %q: %s", v.Metadata.Deviceid, m.Payload)
			}
		}
		if distinct(outputs) >= distinct(inputs) && distinct(inputs) >= len(acked) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}

	// Each acknowledged reading on Kafka under one DATA sequence (a
	// second would be a second write; the bridge's copies repeat it), and
	// each input's output exactly once: one output id per reading, made
	// from that reading's sequence.
	ins, outs := seen{}, seen{}
	inputSeq := map[int]string{}
	for _, r := range inputs {
		ins.add(strconv.Itoa(r.n), r.seq)
		inputSeq[r.n] = r.seq
	}
	for _, r := range outputs {
		outs.add(strconv.Itoa(r.n), r.msgID)
		if seq, ok := inputSeq[r.n]; !ok {
			t.Errorf("output %s for reading %d, which is not an input", r.msgID, r.n)
		} else if !strings.HasPrefix(r.msgID, seq+":"+flowID+":o:") {
			t.Errorf("output of reading %d (DATA sequence %s) has id %s", r.n, seq, r.msgID)
		}
	}
	all := func(string) bool { return true }
	if tl := count(keysOf(acked), all, ins); tl.lost > 0 || tl.twice > 0 {
		t.Errorf("acknowledged readings on Kafka: %v: %v", tl, tl.example)
	}
	outTally := count(keysOf(inputSeq), all, outs)
	if outTally.lost > 0 || outTally.twice > 0 {
		t.Errorf("outputs of the %d readings of %d on Kafka: %v: %v", len(inputSeq), total, outTally, outTally.example)
	}
	// Order: the restarted instance takes a partition the killed one held
	// inputs of only once they come again (after the consumers' AckWait),
	// so outputs after the restart never overtake them.
	inversions, maxN, first := 0, -1, map[string]bool{}
	for _, r := range outputs {
		if first[r.msgID] {
			continue // the bridge's copy
		}
		first[r.msgID] = true
		if r.n < maxN {
			inversions++
		}
		maxN = max(maxN, r.n)
	}
	t.Logf("all outputs on Kafka %s after the restart; %d outputs behind a later reading's", time.Since(restarted).Round(100*time.Millisecond), inversions)
	if inversions > 0 {
		t.Errorf("%d outputs came behind a later reading's: the device's order was not kept across the crash", inversions)
	}
	t.Logf("Kafka: %d readings in (of %d sent, %d acknowledged), %d outputs with distinct ids, %d records again with an id already seen (the bridge's at-least-once)",
		len(inputSeq), total, len(acked), distinct(outputs), outTally.again)

	// The History API shows each output once.
	docs := dojottest.WaitHistory(t, c, dst, "n", len(inputSeq))
	hist := seen{}
	for _, d := range docs {
		hist.add(strconv.Itoa(int(d.Value.(float64))), "")
	}
	if tl := count(keysOf(inputSeq), all, hist); len(docs) != len(inputSeq) || tl.lost > 0 || tl.twice > 0 {
		t.Errorf("history of %s: %d outputs (%v); want %d", dst, len(docs), tl, len(inputSeq))
	}
}

// keysOf are the readings' n of m, as keys of seen.
func keysOf[V any](m map[int]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for n := range m {
		out[strconv.Itoa(n)] = true
	}
	return out
}

// relayFlow creates the flow of TestFlowsKillDuringBurst and
// TestCrashLoop, event device in -> change -> multi device out: each
// reading of device src makes one of device dst with the same n. It
// returns the flow's id.
func relayFlow(t *testing.T, c *dojottest.Client, src, dst string) string {
	t.Helper()
	var created struct{ Flow struct{ ID string } }
	dojottest.MustJSON(t, c.Must(200, "POST", "/flows/v1/flow", `{"name":"relay","flow":[{"id":"t","type":"tab"},`+
		`{"id":"h","type":"event device in","z":"t","device_id":"`+src+`","event_publish":true,"wires":[["c"]]},`+
		`{"id":"c","type":"change","z":"t","rules":[{"t":"set","p":"out.n","pt":"msg","to":"payload.data.attrs.n","tot":"msg"}],"wires":[["o"]]},`+
		`{"id":"o","type":"multi device out","z":"t","device_source":"configured","devices_source_configured":["`+dst+`"],"attrs":"out","wires":[]}]}`), &created)
	return created.Flow.ID
}

// flowRecord is a reading on <tenant>.device-data: its n, its DATA
// sequence (dojot-seq) and its id (dojot-msg-id).
type flowRecord struct {
	n          int
	seq, msgID string
}

// distinct counts the records' distinct dojot-msg-ids.
func distinct(rs []flowRecord) int {
	ids := map[string]bool{}
	for _, r := range rs {
		ids[r.msgID] = true
	}
	return len(ids)
}
