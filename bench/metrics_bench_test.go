package bench

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
// be), with the observer and without it, alternating in rounds of 2,000
// requests so that both see the same machine. Reports the instrumented
// time per request over the uninstrumented one, and what one observation
// costs on its own.
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
	const round = 2000
	var tBare, tObserved time.Duration
	var nBare, nObserved int
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Rounds alternate; b.N requests go through the observed router,
		// as many through the bare one.
		if (i/round)%2 == 0 {
			start := time.Now()
			post(observed)
			tObserved += time.Since(start)
			nObserved++
			start = time.Now()
			post(bare)
			tBare += time.Since(start)
			nBare++
		} else {
			start := time.Now()
			post(bare)
			tBare += time.Since(start)
			nBare++
			start = time.Now()
			post(observed)
			tObserved += time.Since(start)
			nObserved++
		}
	}
	b.StopTimer()
	perBare := float64(tBare.Nanoseconds()) / float64(nBare)
	perObserved := float64(tObserved.Nanoseconds()) / float64(nObserved)
	b.ReportMetric(perBare/1e3, "us/req-uninstrumented")
	b.ReportMetric(perObserved/1e3, "us/req-instrumented")
	b.ReportMetric(perObserved/perBare, "x-uninstrumented")

	start := time.Now()
	const n = 200_000
	for range n {
		reg.ObserveRequest("/http-agent/v1/*", http.MethodPost, http.StatusNoContent, time.Millisecond)
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/n, "ns/observation")
}
