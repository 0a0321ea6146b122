package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

const concurrency = 16

// setup starts the binary with its embedded NATS also listening, so the
// baseline publishes to the very server the binary uses.
func setup(b *testing.B, extra ...string) (*dojottest.Instance, *dojottest.Client, jetstream.JetStream) {
	b.Helper()
	natsAddr := dojottest.FreeAddr(b)
	in := dojottest.Start(b, "", append([]string{"-nats-listen=" + natsAddr}, extra...)...)
	c := in.Login("admin", dojottest.AdminPassword)
	c.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	return in, c, js
}

func createTemplate(b *testing.B, c *dojottest.Client) int {
	body := c.Must(200, "POST", "/template", map[string]any{"label": "bench", "attrs": []map[string]any{
		{"label": "temperature", "type": "dynamic", "value_type": "float"},
		{"label": "model", "type": "static", "value_type": "string", "static_value": "m-1"},
	}})
	var r struct {
		Template struct {
			ID int `json:"id"`
		} `json:"template"`
	}
	dojottest.MustJSON(b, body, &r)
	return r.Template.ID
}

// parallel runs n calls of fn over concurrency workers and returns calls/s.
func parallel(n int, fn func(i int) error) (float64, error) {
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	rate := float64(n) / time.Since(start).Seconds()
	if err, _ := firstErr.Load().(error); err != nil {
		return rate, err
	}
	return rate, nil
}

// rawPublish is the baseline: JetStream synchronous publishes of a device
// event sized payload, same server, same concurrency.
func rawPublish(b *testing.B, js jetstream.JetStream, n int) float64 {
	payload := []byte(strings.Repeat("x", 400))
	rate, err := parallel(n, func(i int) error {
		_, err := js.Publish(context.Background(), "data.benchraw."+strconv.Itoa(i%1000), payload)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return rate
}

// BenchmarkCreateDevice: POST /device, one device per request, 16 at once.
func BenchmarkCreateDevice(b *testing.B) {
	_, c, js := setup(b)
	tmpl := createTemplate(b, c)
	n := max(b.N, 5000)
	base := rawPublish(b, js, n)
	body := fmt.Sprintf(`{"label":"dev","templates":[%d]}`, tmpl)
	b.ResetTimer()
	rate, err := parallel(n, func(int) error {
		code, resp, err := c.Try("POST", "/device", body)
		if err == nil && code != 200 {
			err = fmt.Errorf("POST /device = %d %s", code, resp)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rate, "devices/s")
	b.ReportMetric(base, "raw-publish/s")
	b.ReportMetric(base/rate, "x-raw-publish")
}

// BenchmarkCreateDevicesCount: 100,000 devices with POST /device?count=.
func BenchmarkCreateDevicesCount(b *testing.B) {
	_, c, js := setup(b)
	tmpl := createTemplate(b, c)
	const total, perRequest = 100_000, 10_000
	// Baseline: async publish of the same number of messages.
	payload := []byte(strings.Repeat("x", 400))
	start := time.Now()
	for i := range total {
		if _, err := js.PublishAsync("data.benchraw."+strconv.Itoa(i%1000), payload); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	base := time.Since(start)
	b.ResetTimer()
	start = time.Now()
	for range total / perRequest {
		c.Must(200, "POST", "/device?count="+strconv.Itoa(perRequest), map[string]any{"label": "bulk", "templates": []int{tmpl}})
	}
	took := time.Since(start)
	b.ReportMetric(took.Seconds(), "s/100k-devices")
	b.ReportMetric(float64(total)/took.Seconds(), "devices/s")
	b.ReportMetric(took.Seconds()/base.Seconds(), "x-raw-async-publish")
}

// BenchmarkListDevices: GET /device (page of 20) among 10,000 devices, 16 at
// once, beside a bare round trip (GET /healthz) on the same server.
func BenchmarkListDevices(b *testing.B) {
	_, c, _ := setup(b)
	tmpl := createTemplate(b, c)
	c.Must(200, "POST", "/device?count=10000", map[string]any{"label": "list", "templates": []int{tmpl}})
	n := max(b.N, 20000)
	base, err := parallel(n, func(int) error {
		_, _, err := c.Try("GET", "/healthz", nil)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	rate, err := parallel(n, func(i int) error {
		code, resp, err := c.Try("GET", "/device?page_size=20&page_num="+strconv.Itoa(1+i%500), nil)
		if err == nil && code != 200 {
			err = fmt.Errorf("GET /device = %d %s", code, resp)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rate, "req/s")
	b.ReportMetric(base/rate, "x-healthz")
}

// BenchmarkStartupReplay: a log of 1,000,000 devices (override with
// DOJOT_BENCH_DEVICES), then a restart: time to listen and RSS.
func BenchmarkStartupReplay(b *testing.B) {
	total := 1_000_000
	if s := os.Getenv("DOJOT_BENCH_DEVICES"); s != "" {
		total, _ = strconv.Atoi(s)
	}
	in, c, _ := setup(b)
	tmpl := createTemplate(b, c)
	const perRequest = 20_000
	for done := 0; done < total; done += perRequest {
		c.Must(200, "POST", "/device?count="+strconv.Itoa(min(perRequest, total-done)), map[string]any{"label": "r", "templates": []int{tmpl}})
	}
	in.Stop()
	b.ResetTimer()
	start := time.Now()
	in.Restart()
	took := time.Since(start)
	b.StopTimer()
	b.ReportMetric(took.Seconds(), "s-to-listen")
	b.ReportMetric(float64(total)/took.Seconds(), "devices-replayed/s")
	b.ReportMetric(float64(rssKB(b, in.Pid()))/1024, "MiB-RSS")
}

func rssKB(b *testing.B, pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb
		}
	}
	return 0
}
