package flows

import (
	"reflect"
	"testing"
	"time"
)

// TestExampleFlows runs FLOWS.md 7.1 and 7.3 through Parse and Run with
// the Recorder, checking the effect dojot's docs describe.
func TestExampleFlows(t *testing.T) {
	tests := map[string]struct {
		file  string
		in    Input
		wants []Effect
	}{
		// 7.1: device of template 6 publishes passageiros 42 -> configure letreiro LOTADO
		"actuate full": {"actuate.json", publishInput(5, "bus1", map[string]any{"passageiros": 42.0}),
			[]Effect{{Kind: "actuation", Tenant: "admin", Value: Actuation{ID: "5:f:af8485c5.8352d8:0", Tenant: "admin", DeviceID: "bus1", Timestamp: testNow.UnixMilli(), Attrs: map[string]any{"letreiro": "LOTADO"}, Depth: 1}}}},
		"actuate free": {"actuate.json", publishInput(6, "bus1", map[string]any{"passageiros": 12.0}),
			[]Effect{{Kind: "actuation", Tenant: "admin", Value: Actuation{ID: "6:f:af8485c5.8352d8:0", Tenant: "admin", DeviceID: "bus1", Timestamp: testNow.UnixMilli(), Attrs: map[string]any{"letreiro": "JARDIM PAULISTA"}, Depth: 1}}}},
		"actuate other template": {"actuate.json", func() Input {
			in := publishInput(7, "car", map[string]any{"passageiros": 42.0})
			in.Templates = []string{"60"}
			return in
		}(), nil},
		// 7.3: inside the polygon -> device-data for the same device
		"geofence inside": {"geofence.json", publishInput(8, "bus2", map[string]any{"gps": "-22.8950, -47.0500"}),
			[]Effect{{Kind: "data", Tenant: "admin", Value: DeviceData{ID: "8:f:25c1c361.88827c:0", Tenant: "admin", DeviceID: "bus2", Timestamp: testNow.UnixMilli(), Attrs: map[string]any{"mensagem": "Está no Cambuí"}, Depth: 1}}}},
		"geofence outside": {"geofence.json", publishInput(9, "bus2", map[string]any{"gps": "-22.7000, -47.0500"}), nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g, err := Parse(loadFlow(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			rec := NewRecorder()
			eng := New(Options{Effects: rec.AsEffects(), Now: func() time.Time { return testNow }})
			if _, err := eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, tt.in); err != nil {
				t.Fatal(err)
			}
			if got := rec.Recorded(); !reflect.DeepEqual(got, tt.wants) {
				t.Errorf("recorded %+v\nwant     %+v", got, tt.wants)
			}
		})
	}
}

// TestRedeliveryIDs: running the same input twice makes the same output
// ids, so the sink can drop the second copy.
func TestRedeliveryIDs(t *testing.T) {
	g, _ := Parse(loadFlow(t, "geofence.json"))
	rec := NewRecorder()
	eng := New(Options{Effects: rec.AsEffects()})
	in := publishInput(42, "bus2", map[string]any{"gps": "-22.8950, -47.0500"})
	eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, in)
	eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, in)
	got := rec.Recorded()
	if len(got) != 2 || got[0].Value.(DeviceData).ID != got[1].Value.(DeviceData).ID {
		t.Errorf("recorded %+v; want two outputs with one id", got)
	}
}
