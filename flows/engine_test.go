package flows

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
)

func publishInput(seq uint64, device string, attrs map[string]any) Input {
	return Input{Seq: seq, Tenant: "admin", Event: "publish", DeviceID: device, Templates: []string{"6"},
		Payload: Msg{"event": "publish", "metadata": map[string]any{"timestamp": 1623163659936.0, "tenant": "admin"},
			"data": map[string]any{"id": device, "attrs": attrs}}}
}

func mustParse(t testing.TB, flow string) *Graph {
	t.Helper()
	g, err := Parse(rawNodes(t, flow))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

type observed struct {
	node string
	port int
	msg  string
}

type observer struct{ got []observed }

func (o *observer) Emitted(_, node string, port int, m Msg) {
	o.got = append(o.got, observed{node, port, jsonStringify(map[string]any(m))})
}

// TestRunNotificationFlow is FLOWS.md 7.2 end to end in the engine.
func TestRunNotificationFlow(t *testing.T) {
	g, err := Parse(loadFlow(t, "notification.json"))
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder()
	eng := New(Options{Effects: rec.AsEffects(), Now: func() time.Time { return testNow }})
	f := Flow{ID: "f1", Enabled: true, Graph: g}
	for i, temp := range []float64{35, 30, 40} {
		if _, err := eng.Run(t.Context(), f, publishInput(uint64(100+i), "a1b2c3", map[string]any{"temperature": temp})); err != nil {
			t.Fatal(err)
		}
	}
	// another device and a disabled flow: nothing
	eng.Run(t.Context(), f, publishInput(200, "other", map[string]any{"temperature": 99.0}))
	eng.Run(t.Context(), Flow{ID: "f1", Graph: g}, publishInput(201, "a1b2c3", map[string]any{"temperature": 99.0}))

	var got []Notification
	for _, e := range rec.Recorded() {
		got = append(got, e.Value.(Notification))
	}
	want := []Notification{
		{MsgID: "100:f1:A377ec7c9094378:0", Timestamp: testNow.UnixMilli(), Message: "Temp 35 too high", MetaAttrsFilter: map[string]any{"priority": "low", "shouldPersist": true}, Subject: "user_notification"},
		{MsgID: "102:f1:A377ec7c9094378:0", Timestamp: testNow.UnixMilli(), Message: "Temp 40 too high", MetaAttrsFilter: map[string]any{"priority": "low", "shouldPersist": true}, Subject: "user_notification"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("notifications %+v\nwant %+v", got, want)
	}
	st := eng.Stats("f1")
	if st.Runs != 3 || st.Nodes["A81862d0e54a07"] != (NodeStats{In: 3, Out: 2}) || st.Nodes["A377ec7c9094378"] != (NodeStats{In: 2}) {
		t.Errorf("stats %+v", st)
	}
}

func TestRunFanOutCopies(t *testing.T) {
	// one switch port to two changes that set the same property; a second
	// port carrying the same message: each target must see its own copy.
	g := mustParse(t, `[
	 {"id":"h","type":"event device in","device_id":"d","event_publish":true,"wires":[["s"]]},
	 {"id":"s","type":"switch","property":"payload.data.attrs.v","rules":[{"t":"gt","v":"0","vt":"num"},{"t":"nnull"}],"wires":[["a","b"],["c"]]},
	 {"id":"a","type":"change","rules":[{"t":"set","p":"payload.data.attrs.v","to":"A"}],"wires":[]},
	 {"id":"b","type":"change","rules":[{"t":"set","p":"payload.data.attrs.w","to":"B"}],"wires":[]},
	 {"id":"c","type":"change","rules":[{"t":"delete","p":"payload.data"}],"wires":[]}]`)
	obs := &observer{}
	eng := New(Options{Observer: obs})
	in := publishInput(1, "d", map[string]any{"v": 1.0})
	res, err := eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, in)
	if err != nil || res.Executed != 4 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	want := []observed{
		{"s", 0, `{"payload":{"data":{"attrs":{"v":1},"id":"d"},"event":"publish","metadata":{"tenant":"admin","timestamp":1623163659936}}}`},
		{"s", 1, `{"payload":{"data":{"attrs":{"v":1},"id":"d"},"event":"publish","metadata":{"tenant":"admin","timestamp":1623163659936}}}`},
		{"a", 0, `{"payload":{"data":{"attrs":{"v":"A"},"id":"d"},"event":"publish","metadata":{"tenant":"admin","timestamp":1623163659936}}}`},
		{"b", 0, `{"payload":{"data":{"attrs":{"v":1,"w":"B"},"id":"d"},"event":"publish","metadata":{"tenant":"admin","timestamp":1623163659936}}}`},
		{"c", 0, `{"payload":{"event":"publish","metadata":{"tenant":"admin","timestamp":1623163659936}}}`},
	}
	if !reflect.DeepEqual(obs.got, want) {
		t.Errorf("emitted\n%v\nwant\n%v", obs.got, want)
	}
	if in.Payload["data"].(map[string]any)["attrs"].(map[string]any)["v"] != 1.0 {
		t.Error("Run changed the input")
	}
}

func TestRunFailureEndsBranch(t *testing.T) {
	g := mustParse(t, `[
	 {"id":"h","type":"event template in","template_id":"6","event_publish":true,"wires":[["bad","good"]]},
	 {"id":"bad","type":"change","rules":[{"t":"set","p":"x","to":"payload.nope","tot":"msg"}],"wires":[["after"]]},
	 {"id":"after","type":"change","rules":[],"wires":[]},
	 {"id":"good","type":"change","rules":[],"wires":[]}]`)
	eng := New(Options{Now: func() time.Time { return testNow }})
	res, err := eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, publishInput(1, "any", nil))
	if err != nil || res != (Result{Executed: 2, Failed: 1}) {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	st := eng.Stats("f")
	wantBad := NodeStats{In: 1, Errors: 1, LastError: "Unknown property payload.nope requested", LastErrorAt: testNow}
	if st.Nodes["bad"] != wantBad || st.Nodes["after"] != (NodeStats{}) || st.Nodes["good"] != (NodeStats{In: 1, Out: 1}) {
		t.Errorf("stats %+v", st.Nodes)
	}
	eng.Forget("f")
	if eng.Failed() != 1 {
		t.Errorf("Failed() = %d after a node failed and its flow was forgotten; want 1", eng.Failed())
	}
}

func TestRunLoops(t *testing.T) {
	// a wire cycle inside the flow is cut at MaxHops
	g := mustParse(t, `[
	 {"id":"h","type":"device in","_device_id":"d","wires":[["c"]]},
	 {"id":"c","type":"change","rules":[{"t":"set","p":"n","to":"1","tot":"num"}],"wires":[["c"]]}]`)
	eng := New(Options{MaxHops: 10})
	res, err := eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, publishInput(1, "d", map[string]any{"a": 1.0}))
	if err != nil || res != (Result{Executed: 10, Cut: 1}) {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if st := eng.Stats("f"); st.Nodes["c"].LoopsCut != 1 || st.Nodes["c"].In != 10 {
		t.Errorf("stats %+v", st.Nodes["c"])
	}
	// an input made by flow outputs MaxDepth times does not run
	in := publishInput(2, "d", map[string]any{"a": 1.0})
	in.Depth = 8
	res, _ = eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, in)
	if res != (Result{Cut: 1}) || eng.Stats("f").LoopsCut != 1 {
		t.Errorf("deep input: %+v, stats %+v", res, eng.Stats("f"))
	}
}

func TestRunDeprecatedHeadPayload(t *testing.T) {
	g := mustParse(t, `[
	 {"id":"h","type":"device template in","device_template_id":"6","wires":[["c"]]},
	 {"id":"c","type":"change","rules":[],"wires":[]}]`)
	obs := &observer{}
	eng := New(Options{Observer: obs})
	eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, publishInput(1, "d", map[string]any{"passageiros": 42.0}))
	in := publishInput(2, "d", map[string]any{"passageiros": 42.0})
	in.Event = "configure" // deprecated heads fire on publish only
	eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, in)
	if want := []observed{{"c", 0, `{"payload":{"passageiros":42}}`}}; !reflect.DeepEqual(obs.got, want) {
		t.Errorf("emitted %v, want %v", obs.got, want)
	}
}

func TestRunCanceled(t *testing.T) {
	g, _ := Parse(loadFlow(t, "notification.json"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := New(Options{}).Run(ctx, Flow{ID: "f", Enabled: true, Graph: g}, publishInput(1, "a1b2c3", map[string]any{"temperature": 40.0})); err == nil {
		t.Error("Run on a canceled context succeeded; the input would be acked without its outputs")
	}
}

// TestRunSlowNodeTimeout: an http node that does not answer within
// NodeTimeout fails its branch (counted), and Run returns.
func TestRunSlowNodeTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	g := mustParse(t, `[
	 {"id":"h","type":"event device in","device_id":"d","event_publish":true,"wires":[["req"]]},
	 {"id":"req","type":"template","field":"body","syntax":"plain","template":"{}","wires":[["call"]]},
	 {"id":"call","type":"http","method":"GET","url":"`+srv.URL+`","body":"body","response":"res","wires":[]}]`)
	eng := New(Options{Effects: Effects{HTTP: srv.Client()}, NodeTimeout: 100 * time.Millisecond})
	// The server answers only once the test ends: without NodeTimeout, Run
	// waits until the bound ends it with an error. The bound is under the
	// 30 s default, so a NodeTimeout ignored for the default shows too, and
	// 200 times the 100 ms set, which no load stretches a timer to.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	res, err := eng.Run(ctx, Flow{ID: "f", Enabled: true, Graph: g}, publishInput(1, "d", nil))
	if err != nil || res.Failed != 1 || ctx.Err() != nil {
		t.Fatalf("Run = %+v, %v (bound: %v)", res, err, ctx.Err())
	}
	if st := eng.Stats("f").Nodes["call"]; st.Errors != 1 || !strings.Contains(st.LastError, "common.notification.errors.no-response") {
		t.Errorf("stats %+v", st)
	}
}

// TestRunConcurrent: runs of many devices in parallel share the engine
// (run with -race).
func TestRunConcurrent(t *testing.T) {
	g, _ := Parse(loadFlow(t, "notification.json"))
	note := &lastNotifier{}
	eng := New(Options{Effects: Effects{Notifier: note}})
	f := Flow{ID: "f", Enabled: true, Graph: g}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if _, err := eng.Run(t.Context(), f, publishInput(uint64(w*100+i), "a1b2c3", map[string]any{"temperature": 40.0})); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if note.n.Load() != 200 || eng.Stats("f").Runs != 200 || eng.Stats("f").Nodes["A377ec7c9094378"].In != 200 {
		t.Errorf("notified %d, stats %+v", note.n.Load(), eng.Stats("f"))
	}
}

// TestRunLongChain: a chain longer than MaxHops runs to its end (a path
// without a cycle never crosses more nodes than the flow has), and a cycle
// in such a flow is still cut, at the flow's node count.
func TestRunLongChain(t *testing.T) {
	const n = 300
	var sb strings.Builder
	sb.WriteString(`[{"id":"h","type":"device in","_device_id":"d","wires":[["c0"]]}`)
	for i := range n {
		next := fmt.Sprintf("c%d", i+1)
		if i == n-1 {
			next = "c0" // back to the start: a cycle of n nodes
		}
		fmt.Fprintf(&sb, `,{"id":"c%d","type":"change","rules":[{"t":"set","p":"last","pt":"msg","to":"c%d","tot":"str"}],"wires":[[%q]]}`, i, i, next)
	}
	sb.WriteString(`]`)
	g := mustParse(t, sb.String())
	obs := &observer{}
	eng := New(Options{MaxHops: 10, Observer: obs})
	res, err := eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, publishInput(1, "d", map[string]any{}))
	// n+1 nodes: the bound is n+1 hops, so the chain's n nodes all run once
	// and the cycle is cut at the second visit of c0.
	if err != nil || res.Executed != n+1 || res.Cut != 1 {
		t.Fatalf("Run = %+v, %v; want %d executions, 1 cut", res, err, n+1)
	}
	if last := obs.got[n-1]; last.node != fmt.Sprintf("c%d", n-1) || !strings.Contains(last.msg, fmt.Sprintf(`"last":"c%d"`, n-1)) {
		t.Errorf("node %d emitted %+v", n-1, last)
	}
}

// TestRunFanOutLoop: a cycle that doubles its messages is cut by MaxSteps.
func TestRunFanOutLoop(t *testing.T) {
	g := mustParse(t, `[
	 {"id":"h","type":"device in","_device_id":"d","wires":[["c"]]},
	 {"id":"c","type":"change","rules":[],"wires":[["c","c"]]}]`)
	eng := New(Options{MaxSteps: 100})
	res, err := eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, publishInput(1, "d", map[string]any{}))
	if err != nil || res.Executed != 100 || res.Cut == 0 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if eng.Stats("f").Nodes["c"].LoopsCut != 1 {
		t.Errorf("stats %+v", eng.Stats("f").Nodes["c"])
	}
}

type downNotifier struct{}

func (downNotifier) Notify(context.Context, string, Notification) error {
	return fmt.Errorf("notifications stream: %w", dojot.ErrUnavailable)
}

// TestRunUnavailableEffect: an output that could not be stored fails Run,
// so the input is retried instead of acked; other node errors do not.
func TestRunUnavailableEffect(t *testing.T) {
	g, _ := Parse(loadFlow(t, "notification.json"))
	eng := New(Options{Effects: Effects{Notifier: downNotifier{}}})
	_, err := eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, publishInput(1, "a1b2c3", map[string]any{"temperature": 40.0}))
	if !errors.Is(err, dojot.ErrUnavailable) {
		t.Errorf("Run err = %v, want dojot.ErrUnavailable", err)
	}
	if st := eng.Stats("f").Nodes["A377ec7c9094378"]; st.Errors != 1 {
		t.Errorf("stats %+v", st)
	}
}
