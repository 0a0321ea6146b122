package e2e

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func TestMQTTKillDuringBurst(t *testing.T) { eachHistory(t, testMQTTKillDuringBurst) }

// testMQTTKillDuringBurst: devices publish QoS 1 readings as fast as they
// are acknowledged; the binary is SIGKILLed mid-burst and restarted. Every
// reading that got a PUBACK is in history exactly once, and nothing that
// was not sent is.
func testMQTTKillDuringBurst(t *testing.T, flags []string) {
	if testing.Short() {
		t.Skip("slow")
	}
	const devices = 8
	in := start(t, t.TempDir(), append([]string{"-mqtt-insecure"}, flags...)...)
	c := in.Login("admin", adminPassword)
	tmpl := createTemplate(c, "Burst")
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = createDevice(c, fmt.Sprintf("burst-%d", i), tmpl)
	}

	var (
		mu     sync.Mutex
		acked  = make([]map[int]bool, devices)
		sent   = make([]int, devices) // readings 0..sent-1 were sent
		total  atomic.Int64
		killed = make(chan struct{})
		wg     sync.WaitGroup
	)
	for d, id := range ids {
		acked[d] = map[int]bool{}
		o := paho.NewClientOptions().AddBroker("tcp://" + in.MQTTAddr).SetClientID("burst-" + id).
			SetUsername("admin:" + id).SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).
			SetWriteTimeout(5 * time.Second)
		cl := paho.NewClient(o)
		if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", id, tok.Error())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Disconnect(0)
			// Up to 16 in flight per device, as a device with a window would.
			inflight := make(chan struct{}, 16)
			var dwg sync.WaitGroup
			defer dwg.Wait()
			for n := 0; ; n++ {
				select {
				case <-killed:
					return
				case inflight <- struct{}{}:
				}
				tok := cl.Publish("admin:"+id+"/attrs", 1, false, fmt.Sprintf(`{"n":%d}`, n))
				mu.Lock()
				sent[d] = n + 1
				mu.Unlock()
				dwg.Add(1)
				go func() {
					defer dwg.Done()
					defer func() { <-inflight }()
					if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
						mu.Lock()
						acked[d][n] = true
						mu.Unlock()
						total.Add(1)
					}
				}()
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for total.Load() < 3000 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	in.Kill()
	close(killed)
	wg.Wait()
	var nAcked int
	for d := range acked {
		nAcked += len(acked[d])
	}
	if nAcked < 1000 {
		t.Fatalf("only %d readings acknowledged before the kill", nAcked)
	}

	in.Restart()
	c = in.Login("admin", adminPassword)
	for d, id := range ids {
		want := len(acked[d])
		var docs []historyDoc
		deadline := time.Now().Add(30 * time.Second)
		for {
			docs = waitHistory(t, c, id, "n", 0)
			if len(docs) >= want || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		seen := map[int]int{}
		for _, doc := range docs {
			n, err := json.Number(fmt.Sprint(doc.Value)).Int64()
			if err != nil {
				t.Fatalf("device %s: value %v", id, doc.Value)
			}
			seen[int(n)]++
		}
		lost, dups := 0, 0
		for n := range acked[d] {
			if seen[n] == 0 {
				lost++
			}
		}
		for n, k := range seen {
			if k > 1 {
				dups++
			}
			if n >= sent[d] {
				t.Errorf("device %s: reading %d in history was never sent", id, n)
			}
		}
		if lost > 0 || dups > 0 {
			t.Errorf("device %s: %d acknowledged, %d in history: %d acknowledged readings lost, %d stored twice", id, want, len(docs), lost, dups)
		}
		t.Logf("device %s: sent %d, acknowledged %d, in history %d", id, sent[d], want, len(docs))
	}
	t.Logf("%d readings acknowledged before SIGKILL", nAcked)
}
