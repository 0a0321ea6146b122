package flows

import (
	"encoding/json"
	"testing"
	"time"
)

// TestSandboxReplay is how replay uses the package: an Engine on a
// Recorder, as effects and as observer, runs a flow over past inputs and
// answers what each node emitted and which effects it would have had.
func TestSandboxReplay(t *testing.T) {
	g, err := Parse(loadFlow(t, "notification.json"))
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder()
	eng := New(Options{Effects: rec.AsEffects(), Observer: rec, Now: func() time.Time { return testNow }})
	for i, temp := range []float64{31, 33} {
		if _, err := eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, publishInput(uint64(i+1), "a1b2c3", map[string]any{"temperature": temp})); err != nil {
			t.Fatal(err)
		}
	}
	var kinds []string
	for _, e := range rec.Recorded() {
		kinds = append(kinds, e.Kind)
		if e.Kind == "emit" {
			kinds[len(kinds)-1] += ":" + e.Value.(Emit).Node
		}
	}
	want := `["emit:A81862d0e54a07","emit:A73ec539051f47c","notification"]`
	if got, _ := json.Marshal(kinds); string(got) != want {
		t.Errorf("recorded %s, want %s", got, want)
	}
	if _, err := json.Marshal(rec.Recorded()); err != nil {
		t.Errorf("the record is not JSON for the replay answer: %v", err)
	}
	st := eng.Stats("f")
	if _, ok := st.Nodes["A3a45957906e36a"]; ok || len(st.Nodes) != 3 {
		t.Errorf("stats list non-executed nodes: %+v", st.Nodes)
	}
	eng.Forget("f")
	if eng.Stats("f").Runs != 0 {
		t.Error("Forget kept the counters")
	}
}
