package lorawan

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/agents/lorawan/lorawantest"
	agentsigfox "github.com/dojot-es/dojot/agents/sigfox"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// nopStore stores nothing, at once: the benchmarks measure the agents.
type nopStore struct{}

func (nopStore) AppendDataAsync(string, string, []byte) (func(<-chan time.Time) (uint64, error), error) {
	return func(<-chan time.Time) (uint64, error) { return 1, nil }, nil
}

// BenchmarkWebhook: one uplink callback through the handler, in process,
// storing nothing: the documented ChirpStack and TTS messages against the
// Sigfox callback (the baseline of the same run).
//
//	go test ./agents/lorawan -run '^$' -bench Webhook -benchmem
func BenchmarkWebhook(b *testing.B) {
	v := view(b)
	a, err := New(Options{Store: nopStore{}, Devices: v, ChirpStackSecret: "cs", TTSSecret: "tts", Logger: eventstoretest.Logger(b)})
	if err != nil {
		b.Fatal(err)
	}
	sfx, err := agentsigfox.New(agentsigfox.Options{Store: nopStore{}, Devices: sigfoxDevices{}, Secret: "sfx", Logger: eventstoretest.Logger(b)})
	if err != nil {
		b.Fatal(err)
	}
	routes := a.Routes()
	for _, tc := range []struct {
		name, target, secret, body string
		h                          http.Handler
	}{
		{"sigfox", "/sigfox", "sfx", `{"device":"4D5E","timestamp":1528226137,"data":"0a1b2c","station_lat":-22.8,"station_lng":-47.06}`, sfx},
		{"chirpstack", "/lorawan/chirpstack?event=up&tenant=t1", "cs", lorawantest.ChirpStackUp, routes["/lorawan/chirpstack"]},
		{"tts", "/lorawan/tts", "tts", lorawantest.TTSUplink, routes["/lorawan/tts"]},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, tc.target, strings.NewReader(tc.body))
				r.Header.Set("Authorization", "Bearer "+tc.secret)
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				tc.h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

type sigfoxDevices struct{}

func (sigfoxDevices) DevicesByStatic(label, value string) []dojot.DeviceKey {
	return []dojot.DeviceKey{{Tenant: "t1", ID: "s"}}
}
