package replay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/flows"
	"github.com/dojot-es/dojot/flows/replay"
)

// view: bus1 and bus2 of template 6 (static attr "linha"), sensor of none.
type view struct{}

func (view) Device(tenant, id string) (dojot.Device, bool) {
	if tenant != "admin" || (id != "bus1" && id != "bus2" && id != "sensor") {
		return dojot.Device{}, false
	}
	d := dojot.Device{ID: id, Label: id}
	if id != "sensor" {
		d.Templates = []int{6}
	}
	return d, true
}

func (view) Template(tenant string, id int) (dojot.Template, bool) {
	line := "701"
	return dojot.Template{ID: 6, Attrs: []dojot.Attr{{ID: 1, Label: "linha", Type: "static", StaticValue: &line}}}, tenant == "admin" && id == 6
}

func testdata(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type fixture struct {
	store *eventstore.Store
	p     *replay.Replayer
}

func newFixture(t *testing.T) fixture {
	s := eventstoretest.Open(t)
	return fixture{store: s, p: &replay.Replayer{Store: s, View: view{}, Logger: eventstoretest.Logger(t)}}
}

func (f fixture) reading(t *testing.T, tenant, dev, attrs string) {
	t.Helper()
	payload := fmt.Sprintf(`{"metadata":{"deviceid":%q,"tenant":%q,"timestamp":%d},"attrs":%s}`, dev, tenant, time.Now().UnixMilli(), attrs)
	if _, err := f.store.AppendData(t.Context(), tenant, dev, []byte(payload), ""); err != nil {
		t.Fatal(err)
	}
}

func (f fixture) event(t *testing.T, typ, dev string, data any) {
	t.Helper()
	ev, err := dojot.NewEvent(typ, "admin", dojot.KindDevice, dev, time.Now(), data)
	if err != nil {
		t.Fatal(err)
	}
	ev.NoExpect = true
	if _, err := f.store.Append(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// summary is a run as "<device>:<event> <kind>@<node>[:port] ...".
func summary(r replay.Run) string {
	parts := []string{r.Input.DeviceID + ":" + r.Input.Event}
	for _, rec := range r.Records {
		s := rec.Kind + "@" + rec.Node
		if rec.Port != nil {
			s += fmt.Sprintf(":%d", *rec.Port)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// checkRuns compares a replay's runs with want, one summary each.
func checkRuns(t *testing.T, res *replay.Result, want ...string) {
	t.Helper()
	var got []string
	for _, r := range res.Runs {
		got = append(got, summary(r))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("runs\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestReplayActuateFlow: FLOWS.md 7.1 (a template head, a two-port
// switch, a multi actuate to the device itself) over the readings of two
// buses, a sensor outside the template and another tenant: each bus
// reading runs, in stored order, its actuation recorded with the attrs
// the branch set; nothing else runs.
func TestReplayActuateFlow(t *testing.T) {
	f := newFixture(t)
	from := time.Now()
	f.reading(t, "admin", "bus1", `{"passageiros":42}`)
	f.reading(t, "admin", "sensor", `{"passageiros":50}`)
	f.reading(t, "other", "bus1", `{"passageiros":45}`)
	f.reading(t, "admin", "bus2", `{"passageiros":10}`)
	f.event(t, dojot.EventDeviceUpdated, "bus1", map[string]string{"id": "bus1"}) // not a publish: the deprecated head ignores it
	f.reading(t, "admin", "bus1", `{"passageiros":"40"}`)

	res, err := f.p.Replay(t.Context(), replay.Request{Tenant: "admin", FlowID: "f1", Nodes: testdata(t, "actuate.json"), From: from, To: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	checkRuns(t, res,
		"bus1:publish emit@e98654fe.c42fa8:0 emit@7fd783d8.7fa12c:0 actuation@af8485c5.8352d8",
		"bus2:publish emit@e98654fe.c42fa8:1 emit@f8be2e5c.7e6c7:0 actuation@af8485c5.8352d8",
		"bus1:publish emit@e98654fe.c42fa8:0 emit@7fd783d8.7fa12c:0 actuation@af8485c5.8352d8")
	if res.Read != 5 || res.Inputs != 3 || res.Truncated || res.Effects["actuation"] != 3 {
		t.Errorf("read %d, inputs %d, truncated %v, effects %v", res.Read, res.Inputs, res.Truncated, res.Effects)
	}
	act := res.Runs[1].Records[2].Value
	if js(act) != `{"attrs":{"letreiro":"JARDIM PAULISTA"},"device_id":"bus2","id":"`+fmt.Sprint(res.Runs[1].Input.Seq)+`:f1:af8485c5.8352d8:0"}` {
		t.Errorf("actuation %s", js(act))
	}
	// The input as the flow saw it: the device's static attr merged in.
	if p := res.Runs[0].Input.Payload; js(p["data"]) != `{"attrs":{"linha":"701","passageiros":42},"id":"bus1"}` || res.Runs[0].Input.Stream != "data" {
		t.Errorf("input %s", js(res.Runs[0].Input))
	}
	if js(res.Nodes["e98654fe.c42fa8"]) != `{"in":3,"out":3,"errors":0}` || res.Nodes["af8485c5.8352d8"].In != 3 || len(res.Nodes) != 4 {
		t.Errorf("nodes %s", js(res.Nodes))
	}

	// MaxRead: the read stops there, the answer says it stopped short.
	capped := replay.Replayer{Store: f.store, View: view{}, MaxRead: 2}
	res, err = capped.Replay(t.Context(), replay.Request{Tenant: "admin", Nodes: testdata(t, "actuate.json"), From: from, To: time.Now()})
	if err != nil || res.Read != 2 || len(res.Runs) != 1 || !res.Truncated {
		t.Fatalf("MaxRead 2: %+v, %v", res, err)
	}

	// Limit: the first input only, and the answer says it stopped short.
	res, err = f.p.Replay(t.Context(), replay.Request{Tenant: "admin", Nodes: testdata(t, "actuate.json"), From: from, To: time.Now(), Limit: 1})
	if err != nil || len(res.Runs) != 1 || !res.Truncated || res.Flow != "" {
		t.Fatalf("limit 1: %+v, %v", res, err)
	}
	if id := res.Runs[0].Records[2].Value.(map[string]any)["id"]; !strings.Contains(id.(string), ":replay:") {
		t.Errorf("an unsaved flow's output id %v", id)
	}
}

// TestReplayEventsAndContext: a device head on create, configure and
// publish, through a cumulative sum to a notification: device events and
// readings run merged in stored order; the sum starts from an empty
// sandbox context on each replay, so two replays answer the same.
func TestReplayEventsAndContext(t *testing.T) {
	f := newFixture(t)
	nodes := json.RawMessage(`[
	 {"id":"h","type":"event device in","device_id":"sensor","event_publish":true,"event_create":true,"event_configure":true,"wires":[["sw"]]},
	 {"id":"sw","type":"switch","property":"payload.event","propertyType":"msg","rules":[{"t":"eq","v":"publish","vt":"str"},{"t":"else"}],"checkall":"false","outputs":2,"wires":[["cs"],["n2"]]},
	 {"id":"cs","type":"cumulative sum","timePeriod":"60","targetAttribute":"payload.data.attrs.v","timestamp":"payload.metadata.timestamp","output":"meta.sum","wires":[["n1"]]},
	 {"id":"n1","type":"notification","msgType":"static","messageStatic":"sum","source":"meta","wires":[]},
	 {"id":"n2","type":"notification","msgType":"dynamic","messageDynamic":"payload.event","source":"","wires":[]}]`)
	from := time.Now()
	f.event(t, dojot.EventDeviceCreated, "sensor", map[string]string{"id": "sensor"})
	f.reading(t, "admin", "sensor", `{"v":2}`)
	f.reading(t, "admin", "bus1", `{"v":100}`)
	f.event(t, dojot.EventDeviceActuated, "sensor", dojot.DeviceActuated{ID: "sensor", Attrs: json.RawMessage(`{"led":true}`)})
	f.reading(t, "admin", "sensor", `{"v":3}`)
	f.reading(t, "admin", "sensor", `{"v":"x"}`) // the sum fails on it
	to := time.Now()

	var first string
	for range 2 {
		res, err := f.p.Replay(t.Context(), replay.Request{Tenant: "admin", FlowID: "f2", Nodes: nodes, From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		checkRuns(t, res,
			"sensor:create emit@sw:1 notification@n2",
			"sensor:publish emit@sw:0 emit@cs:0 notification@n1",
			"sensor:configure emit@sw:1 notification@n2",
			"sensor:publish emit@sw:0 emit@cs:0 notification@n1",
			"sensor:publish emit@sw:0 error@cs")
		if res.Runs[0].Input.Stream != "events" || res.Read != 5 { // bus1 is not read: the head names sensor only
			t.Errorf("input %+v, read %d", res.Runs[0].Input, res.Read)
		}
		sums := js(res.Runs[1].Records[1].Msg["meta"]) + js(res.Runs[3].Records[1].Msg["meta"])
		if sums != `{"sum":2}{"sum":5}` {
			t.Errorf("sums %s; want 2 then 5 (an empty context at the start)", sums)
		}
		n := res.Runs[3].Records[2].Value.(flows.Notification)
		if n.Message != "sum" || n.Timestamp != res.Runs[3].Input.Time.UnixMilli() {
			t.Errorf("notification %+v: stamped at %d, want the input's time", n, res.Runs[3].Input.Time.UnixMilli())
		}
		if st := res.Nodes["cs"]; st.Errors != 1 || st.LastError == "" || res.Effects["notification"] != 4 {
			t.Errorf("cs %+v, effects %v", st, res.Effects)
		}
		if first == "" {
			first = js(res)
		} else if js(res) != first {
			t.Errorf("a second replay answered otherwise:\n%s\n%s", js(res), first)
		}
	}
}

// TestReplayBadRequests: a flow that does not parse, a range that ends
// before it starts, a limit out of bounds; and an empty range answers at
// once with no runs.
func TestReplayBadRequests(t *testing.T) {
	f := newFixture(t)
	// The empty replays end at once: their reads do not wait on the idle
	// streams (they would for eventstoretest.RangeIdle, an hour, and fail
	// with the bound's error).
	ctx, cancel := context.WithTimeout(t.Context(), eventstoretest.ReadBound)
	defer cancel()
	var inv interface{ Detail() string }
	for _, nodes := range []string{`{}`, `[{"id":"x","type":"no such node","wires":[]}]`, `null`} {
		if _, err := f.p.Replay(ctx, replay.Request{Tenant: "admin", Nodes: json.RawMessage(nodes)}); !errors.As(err, &inv) || !errors.Is(err, dojot.ErrInvalid) || inv.Detail() == "" {
			t.Errorf("nodes %s: %v", nodes, err)
		}
	}
	now := time.Now()
	for _, r := range []replay.Request{
		{From: now, To: now.Add(-time.Second)},
		{Limit: -1},
		{Limit: replay.MaxLimit + 1},
	} {
		r.Tenant, r.Nodes = "admin", testdata(t, "notification.json")
		var de *dojot.Error
		if _, err := f.p.Replay(ctx, r); !errors.As(err, &de) || !errors.Is(err, dojot.ErrInvalid) {
			t.Errorf("%+v: %v", r, err)
		}
	}
	// A device id no device can have: nothing to read, no store error.
	res, err := f.p.Replay(ctx, replay.Request{Tenant: "admin", Nodes: json.RawMessage(`[{"id":"h","type":"event device in","device_id":"a b","event_publish":true,"wires":[["n"]]},
	 {"id":"n","type":"notification","msgType":"static","messageStatic":"x","source":"","wires":[]}]`)})
	if err != nil || res.Read != 0 || len(res.Runs) != 0 {
		t.Errorf("a device id that is no subject token: %+v, %v", res, err)
	}
	res, err = f.p.Replay(ctx, replay.Request{Tenant: "admin", Nodes: testdata(t, "notification.json")})
	if err != nil || len(res.Runs) != 0 || res.Limit != replay.DefaultLimit || res.To.Sub(res.From) != replay.DefaultSpan {
		t.Errorf("defaults: %+v, %v", res, err)
	}
}

// TestReplayLoopCut: a wire cycle inside the flow is cut at the engine's
// hop bound, and the run says so.
func TestReplayLoopCut(t *testing.T) {
	f := newFixture(t)
	from := time.Now()
	f.reading(t, "admin", "sensor", `{"v":1}`)
	res, err := f.p.Replay(t.Context(), replay.Request{Tenant: "admin", From: from, To: time.Now(), Nodes: json.RawMessage(`[
	 {"id":"h","type":"event device in","device_id":"sensor","event_publish":true,"wires":[["c"]]},
	 {"id":"c","type":"change","rules":[{"t":"set","p":"x","pt":"msg","to":"1","tot":"num"}],"wires":[["c"]]}]`)})
	if err != nil || len(res.Runs) != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	recs := res.Runs[0].Records
	if last := recs[len(recs)-1]; last.Kind != "loop_cut" || js(last.Value) != "1" || len(recs) != 257 || res.Nodes["c"].LoopsCut != 1 {
		t.Errorf("%d records, the last %+v; nodes %+v", len(recs), recs[len(recs)-1], res.Nodes)
	}
}

// blockingStore's ReadRange says it started, then waits for release.
type blockingStore struct{ started, release chan struct{} }

func (s blockingStore) ReadRange(ctx context.Context, _ eventstore.Range, _ func(eventstore.RangeItem) error) error {
	s.started <- struct{}{}
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestReplayParallel: past Parallel replays at once, the next waits for
// one to end, or gives up with its ctx.
func TestReplayParallel(t *testing.T) {
	st := blockingStore{started: make(chan struct{}, 3), release: make(chan struct{})}
	p := &replay.Replayer{Store: st, View: view{}, Parallel: 1}
	req := replay.Request{Tenant: "admin", Nodes: testdata(t, "notification.json")}
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := p.Replay(t.Context(), req)
			done <- err
		}()
	}
	<-st.started
	select {
	case <-st.started:
		t.Fatal("two replays read at once with Parallel 1")
	case <-time.After(200 * time.Millisecond):
	}
	// A third gives up when its ctx ends while it waits.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Replay(ctx, req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a waiting replay whose ctx ended: %v", err)
	}
	st.release <- struct{}{}
	<-st.started // the second starts once the first ended
	st.release <- struct{}{}
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
