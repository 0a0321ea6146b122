package flows

import (
	"encoding/json"
	"strings"
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
		kinds = append(kinds, e.Kind+":"+e.Node)
		if e.Kind == "emit" && e.Value.(Emit).Node != e.Node {
			t.Errorf("emit of %s recorded as %s's", e.Value.(Emit).Node, e.Node)
		}
	}
	// Each effect is the node's that ran: the notification node's, not
	// the template's that fed it.
	want := `["emit:A81862d0e54a07","emit:A73ec539051f47c","notification:A377ec7c9094378"]`
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

// TestSandboxFailures: as a RunObserver the Recorder records a node's
// failure where it happened, between the effects of the nodes around it;
// Take hands over each run's record and starts the next one empty.
func TestSandboxFailures(t *testing.T) {
	g := mustParse(t, `[
	 {"id":"h","type":"event device in","device_id":"d1","event_publish":true,"wires":[["n","a"]]},
	 {"id":"n","type":"notification","msgType":"static","messageStatic":"hot","source":"no.such.path","wires":[]},
	 {"id":"a","type":"actuate","device_source":"self","attrs":"payload.data.attrs","wires":[]}]`)
	rec := NewRecorder()
	eng := New(Options{Effects: rec.AsEffects(), Observer: rec, Now: func() time.Time { return testNow }})
	for seq := range uint64(2) {
		res, err := eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, publishInput(seq+1, "d1", map[string]any{"led": true}))
		if err != nil || res.Failed != 1 {
			t.Fatalf("run = %+v, %v; want one failure", res, err)
		}
		got := rec.Take()
		if len(got) != 2 || got[0].Kind != "error" || got[0].Node != "n" || !strings.Contains(got[0].Value.(string), "no.such.path") ||
			got[1].Kind != "actuation" || got[1].Node != "a" {
			t.Fatalf("run %d recorded %+v", seq, got)
		}
	}
	if st := eng.Stats("f"); st.Nodes["n"].Errors != 2 || st.Nodes["a"].In != 2 {
		t.Errorf("stats %+v", st)
	}
}
