package chaos

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

func TestMQTTKillDuringBurst(t *testing.T) { dojottest.EachHistory(t, testMQTTKillDuringBurst) }

// testMQTTKillDuringBurst: devices publish QoS 1 readings as fast as they
// are acknowledged; the binary is SIGKILLed mid-burst and restarted. Every
// reading that got a PUBACK is in history exactly once, and nothing that
// was not sent is.
func testMQTTKillDuringBurst(t *testing.T, flags []string) {
	if testing.Short() {
		t.Skip("slow")
	}
	const devices = 8
	in := dojottest.Start(t, t.TempDir(), append([]string{"-mqtt-insecure"}, flags...)...)
	c := in.Login("admin", dojottest.AdminPassword)
	tmpl := dojottest.CreateTemplate(c, "Burst")
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = dojottest.CreateDevice(c, fmt.Sprintf("burst-%d", i), tmpl)
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
		cl, err := dialDevice(in.MQTTAddr, "burst-"+id, id)
		if err != nil {
			t.Fatal(err)
		}
		w := qos1Window{size: 16, wait: 5 * time.Second,
			next: func() (int, bool) {
				mu.Lock()
				defer mu.Unlock()
				sent[d]++
				return sent[d] - 1, true
			},
			acked: func(n int) {
				mu.Lock()
				acked[d][n] = true
				mu.Unlock()
				total.Add(1)
			}}
		wg.Go(func() {
			defer cl.Disconnect(0)
			w.publish(killed, cl, id)
		})
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
	c = in.Login("admin", dojottest.AdminPassword)
	for d, id := range ids {
		want := len(acked[d])
		var docs []dojottest.HistoryDoc
		deadline := time.Now().Add(30 * time.Second)
		for {
			docs = dojottest.WaitHistory(t, c, id, "n", 0)
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
