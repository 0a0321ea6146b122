package flows

import (
	"encoding/json"
	"testing"
)

// FuzzRun: the example flows (testdata) on a device message of any attrs:
// the run ends without error, and every effect it had (notification,
// actuation, data published...) encodes as JSON, as the sinks send it.
func FuzzRun(f *testing.F) {
	var graphs []*Graph
	for _, name := range []string{"notification.json", "actuate.json", "geofence.json"} {
		g, err := Parse(loadFlow(f, name))
		if err != nil {
			f.Fatal(err)
		}
		graphs = append(graphs, g)
	}
	f.Add([]byte(`{"temperature":35,"lat":-22.8,"lng":-47.06,"location":"-22.81,-47.06","s":"x"}`))
	f.Add([]byte(`{"temperature":"35","location":{"lat":1,"lng":2},"list":[1,"two",null]}`))
	f.Add([]byte(`{"temperature":1e308,"location":"a,b,c"}`))
	f.Add([]byte(`{"passageiros":45,"gps":"-22.8937,-47.0553"}`))
	f.Add([]byte(`{"passageiros":"12","gps":[-22.9,-47.05]}`))
	f.Fuzz(func(t *testing.T, attrs []byte) {
		var a map[string]any
		if json.Unmarshal(attrs, &a) != nil || a == nil {
			return
		}
		for _, g := range graphs {
			rec := NewRecorder()
			eng := New(Options{Effects: rec.AsEffects(), MaxHops: 50})
			devices := append([]string{"a1b2c3"}, g.Devices...)
			in := Input{Event: "publish", Tenant: "admin", DeviceID: devices[len(devices)-1], Templates: g.Templates,
				Payload: Msg{"event": "publish", "metadata": map[string]any{"tenant": "admin", "timestamp": 1775000000000.0},
					"data": map[string]any{"id": devices[len(devices)-1], "attrs": a}}}
			if _, err := eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, in); err != nil {
				t.Fatalf("Run on %s: %v", attrs, err)
			}
			for _, e := range rec.Recorded() {
				if _, err := json.Marshal(e); err != nil {
					t.Fatalf("Run on %s: effect %+v does not encode: %v", attrs, e, err)
				}
			}
		}
	})
}
