package bench

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// BenchmarkHistoryLatency: GET /history/device/:id/history?attr=temperature
// &lastN=10 of a random device among 1,000, at a fixed rate
// (DOJOT_BENCH_RATE, default 500 req/s) for DOJOT_BENCH_SECONDS (default
// 10), open loop, from the memory history holding DOJOT_BENCH_READINGS
// readings (default 1,000,000: the DATA stream's whole content is what the
// memory history keeps). The readings are published straight into DATA
// through the embedded NATS, then the history catches up before timing.
// The baseline is the same load on GET /healthz, same binary, same run.
func BenchmarkHistoryLatency(b *testing.B) {
	rate := envInt(b, "DOJOT_BENCH_RATE", 500)
	d := time.Duration(envInt(b, "DOJOT_BENCH_SECONDS", 10)) * time.Second
	readings := envInt(b, "DOJOT_BENCH_READINGS", 1_000_000)
	const devices = 1000

	in, c, js := setup(b)
	c.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096}}
	tmpl := createTemplate(b, c)
	body := c.Must(200, "POST", fmt.Sprintf("/device?count=%d", devices), map[string]any{"label": "hist", "templates": []int{tmpl}})
	var created struct{ Devices []struct{ ID string } }
	dojottest.MustJSON(b, body, &created)
	ids := make([]string, len(created.Devices))
	for i, dv := range created.Devices {
		ids[i] = dv.ID
	}

	// Fill DATA: readings one second apart per device, round robin.
	start := time.Now().Add(-time.Duration(readings/devices) * time.Second)
	fill := time.Now()
	for i := range readings {
		id := ids[i%devices]
		ts := start.Add(time.Duration(i/devices) * time.Second).UnixMilli()
		msg := fmt.Sprintf(`{"metadata":{"deviceid":"%s","tenant":"admin","timestamp":%d},"attrs":{"temperature":%d.%d,"hum":%d}}`,
			id, ts, 10+i%30, i%10, i%100)
		if _, err := js.PublishAsync("data.admin."+id, []byte(msg)); err != nil {
			b.Fatal(err)
		}
		if i%2000 == 1999 { // stay under the library's pending limit
			<-js.PublishAsyncComplete()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		b.Fatal("DATA fill did not complete")
	}
	filled := time.Since(fill)
	// The history catches up with DATA.
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var h struct {
			History struct {
				ReadingsSeq uint64 `json:"readings_seq"`
				ReadingsLag uint64 `json:"readings_lag"`
			} `json:"history"`
		}
		dojottest.MustJSON(b, c.Must(200, "GET", "/healthz", nil), &h)
		if h.History.ReadingsSeq >= uint64(readings) && h.History.ReadingsLag == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("history at %d of %d readings after 10m", h.History.ReadingsSeq, readings)
		}
		time.Sleep(200 * time.Millisecond)
	}
	caughtUp := time.Since(fill)
	var docs []map[string]any
	dojottest.MustJSON(b, c.Must(200, "GET", "/history/device/"+ids[0]+"/history?attr=temperature&lastN=10", nil), &docs)
	if len(docs) != 10 {
		b.Fatalf("lastN=10 gave %d docs", len(docs))
	}

	do := func(path string) (int, error) {
		code, _, err := c.Try("GET", path, nil)
		return code, err
	}
	healthz := func(int) (int, string) { return kindHealthz, "/healthz" }
	hist := func(int) (int, string) {
		return kindGet, "/history/device/" + ids[rand.IntN(len(ids))] + "/history?attr=temperature&lastN=10"
	}
	var runs []loadRun
	var cpu []time.Duration
	for _, next := range []func(int) (int, string){healthz, hist} {
		openLoop(rate, time.Second, next, do) // warm-up
		before := procCPU(in.Pid())
		r := openLoop(rate, d, next, do)
		cpu = append(cpu, (procCPU(in.Pid())-before)/time.Duration(len(r.shots)))
		runs = append(runs, r)
	}
	b.StopTimer()
	var st [2]latencies
	errs := 0
	for i, r := range runs {
		for _, s := range r.shots {
			st[i].add(s.took)
			if s.err != nil || s.code != http.StatusOK {
				errs++
				if errs <= 5 {
					b.Errorf("%d %v", s.code, s.err)
				}
			}
		}
	}
	var tab strings.Builder
	fmt.Fprintf(&tab, "\nDATA: %d readings from %d devices published in %v; history caught up %v after the first\n",
		readings, devices, filled.Round(time.Millisecond), caughtUp.Round(time.Millisecond))
	for i, name := range []string{"healthz", "lastN=10"} {
		fmt.Fprintf(&tab, "%-9s %6d req in %v: p50 %.3f ms, p99 %.3f ms, max %.3f ms, CPU %.0f µs/req; generator lag p99 %.3f ms\n",
			name, len(runs[i].shots), runs[i].elapsed.Round(time.Millisecond), ms(st[i].q(0.5)), ms(st[i].q(0.99)), ms(st[i].q(1)),
			us(cpu[i]), ms(runs[i].lag(0.99)))
	}
	fmt.Fprintf(&tab, "lastN=10 / healthz: p50 %.2fx, p99 %.2fx; RSS %d MiB\n",
		ratio(st[1].q(0.5), st[0].q(0.5)), ratio(st[1].q(0.99), st[0].q(0.99)), rssKB(b, in.Pid())>>10)
	b.Log(tab.String())
	if errs > 0 {
		b.Fatalf("%d requests did not answer 200", errs)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(st[1].q(0.5)), "p50-lastN10-ms")
	b.ReportMetric(ms(st[1].q(0.99)), "p99-lastN10-ms")
	b.ReportMetric(ms(st[0].q(0.99)), "p99-healthz-ms")
	b.ReportMetric(us(cpu[1]), "dojot-cpu-us/read")
}
