package bench

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	agenthttp "github.com/dojot-es/dojot/agents/http"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/gateway"
	"github.com/dojot-es/dojot/metrics"
)

type oneDevice struct{}

func (oneDevice) Device(tenant, id string) (dojot.Device, bool) {
	return dojot.Device{ID: id}, tenant == "admin" && id == "abc123"
}

func (oneDevice) CheckDeviceCredentials(tenant, id, password string) bool {
	return tenant == "admin" && id == "abc123" && password == "pw"
}

// BenchmarkMetricsIngest: the cost of the metrics on an ingest path. The
// agents' counters were atomics before and are only read at scrape time;
// what the metrics add to a request is the gateway's observer (route
// pattern, status, a histogram observation). So: one HTTP agent reading
// per request through the gateway's router into an embedded JetStream, in
// process (no sockets, so that the overhead is as large a share as it can
// be), with the observer and without it, each request paired with one
// of the other (their order alternating by rounds of 1,000 pairs) so that
// both see the same machine. Reports the median round's instrumented time
// over its uninstrumented time, and what one observation costs on its
// own.
//
//	go test -run '^$' -bench MetricsIngest -benchtime 20000x -count 5 ./bench/
func BenchmarkMetricsIngest(b *testing.B) {
	store := eventstoretest.Open(b)
	agent, err := agenthttp.New(agenthttp.Options{Store: store, Devices: oneDevice{}, Credentials: oneDevice{},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	reg := metrics.New()
	bare := gateway.New(gateway.Options{DeviceRoutes: agent.Routes(), Logger: slog.New(slog.DiscardHandler)})
	observed := gateway.New(gateway.Options{DeviceRoutes: agent.Routes(), Observer: reg, Logger: slog.New(slog.DiscardHandler)})
	body := []byte(`{"data":{"temperature":21.5,"humidity":60}}`)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin@abc123:pw"))
	post := func(h http.Handler) {
		req := httptest.NewRequest(http.MethodPost, "/http-agent/v1/incoming-messages", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			b.Fatalf("POST = %d %s", w.Code, w.Body)
		}
	}
	for range 500 { // warm both paths, the stream and the histogram's series
		post(bare)
		post(observed)
	}
	const round = 1000
	var tBare, tObserved time.Duration // totals
	var rBare, rObserved time.Duration // this round's
	var ratios []float64               // each round's observed / bare
	timed := func(h http.Handler, total, cur *time.Duration) {
		start := time.Now()
		post(h)
		d := time.Since(start)
		*total += d
		*cur += d
	}
	n := 0
	b.ResetTimer()
	for b.Loop() {
		// Each iteration posts once through each router, in an order
		// that alternates by round.
		if (n/round)%2 == 0 {
			timed(observed, &tObserved, &rObserved)
			timed(bare, &tBare, &rBare)
		} else {
			timed(bare, &tBare, &rBare)
			timed(observed, &tObserved, &rObserved)
		}
		n++
		if n%round == 0 {
			ratios = append(ratios, float64(rObserved)/float64(rBare))
			rBare, rObserved = 0, 0
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(tBare.Nanoseconds())/float64(n)/1e3, "us/req-uninstrumented")
	b.ReportMetric(float64(tObserved.Nanoseconds())/float64(n)/1e3, "us/req-instrumented")
	if len(ratios) > 0 {
		// The median round: a burst of load on the machine during one
		// round does not move it.
		slices.Sort(ratios)
		b.ReportMetric(ratios[len(ratios)/2], "x-uninstrumented")
	}

	start := time.Now()
	const obs = 200_000
	for range obs {
		reg.ObserveRequest("/http-agent/v1/*", http.MethodPost, http.StatusNoContent, time.Millisecond)
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/obs, "ns/observation")
}
