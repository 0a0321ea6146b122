package bench

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// BenchmarkAgentIngest: one device's readings into DATA through the binary
// (embedded NATS), 16 clients each with one request in flight, by path:
// MQTT QoS 1 (each publish waits for its PUBACK, which comes once stored),
// the HTTP agent one reading per request, and 64 per request
// (create-many). Readings/s and per-request p50/p99, all in one run so
// the ratios hold on a noisy machine.
//
//	go test -run '^$' -bench AgentIngest -benchtime 20000x ./bench/
func BenchmarkAgentIngest(b *testing.B) {
	in := dojottest.Start(b, "", "-mqtt-addr=127.0.0.1:0", "-mqtt-insecure", "-http-agent")
	c := in.Login("admin", dojottest.AdminPassword)
	var created struct {
		Devices []struct{ ID string }
	}
	dojottest.MustJSON(b, c.Must(200, "POST", "/device", map[string]any{"label": "bench", "templates": []int{createTemplate(b, c)}}), &created)
	id := created.Devices[0].ID
	var cred struct {
		Credentials struct{ Username, Password string }
	}
	dojottest.MustJSON(b, c.Must(200, "POST", "/basic-auth/v1/devices/"+id+"/basic-credentials", nil), &cred)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	post := func(path string, body []byte) error {
		req, _ := http.NewRequest(http.MethodPost, in.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(cred.Credentials.Username, cred.Credentials.Password)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return fmt.Errorf("POST %s: %d", path, resp.StatusCode)
		}
		return nil
	}
	single := []byte(`{"data":{"temperature":21.5,"humidity":60}}`)
	batch := []byte("[" + strings.TrimSuffix(strings.Repeat(`{"ts":1528226137452,"data":{"temperature":21.5,"humidity":60}},`, 64), ",") + "]")
	// uniqueItems: make each batch item differ.
	for i := range 64 {
		batch = bytes.Replace(batch, []byte(`"ts":1528226137452,`), fmt.Appendf(nil, `"ts":%d,`, 1528226137000+i), 1)
	}

	b.Run("mqtt-qos1", func(b *testing.B) {
		clients := make([]paho.Client, concurrency)
		for i := range clients {
			o := paho.NewClientOptions().AddBroker("tcp://" + in.MQTTAddr).SetClientID(fmt.Sprintf("bench-%d", i)).SetUsername("admin:" + id)
			clients[i] = paho.NewClient(o)
			if t := clients[i].Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
				b.Fatalf("connect: %v", t.Error())
			}
			defer clients[i].Disconnect(100)
		}
		report(b, 1, func(w, i int) error {
			t := clients[w].Publish("admin:"+id+"/attrs", 1, false, single)
			if !t.WaitTimeout(10 * time.Second) {
				return fmt.Errorf("no PUBACK")
			}
			return t.Error()
		})
	})
	b.Run("http-single", func(b *testing.B) {
		report(b, 1, func(int, int) error { return post("/http-agent/v1/incoming-messages", single) })
	})
	b.Run("http-batch64", func(b *testing.B) {
		report(b, 64, func(int, int) error { return post("/http-agent/v1/incoming-messages/create-many", batch) })
	})
}

// report runs b.N requests of per readings each over concurrency workers
// (fn gets the worker and the request number) and reports readings/s and
// the requests' p50 and p99.
func report(b *testing.B, per int, fn func(worker, i int) error) {
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	var wg sync.WaitGroup
	next := make(chan int)
	var firstErr error
	b.ResetTimer()
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				err := fn(w, i)
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
