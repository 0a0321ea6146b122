package broker

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/flows"
)

func sp(s string) *string { return &s }

// view has device d1 (template 7: a static model, a static with no value,
// an overridden static) and no flows.
type view struct{}

func (view) Flows(string) []dojot.Flow { return nil }
func (view) FlowsSeq(string) uint64    { return 0 }
func (view) Device(tenant, id string) (dojot.Device, bool) {
	if tenant != "admin" || id != "d1" {
		return dojot.Device{}, false
	}
	return dojot.Device{ID: "d1", Label: "heater", Templates: []int{7}, Overrides: []dojot.Override{{AttrID: 3, StaticValue: "mine"}}}, true
}
func (view) Template(tenant string, id int) (dojot.Template, bool) {
	return dojot.Template{ID: 7, Attrs: []dojot.Attr{
		{ID: 1, Label: "model", Type: "static", StaticValue: sp("m-1")},
		{ID: 2, Label: "empty", Type: "static", StaticValue: sp("")},
		{ID: 3, Label: "owner", Type: "static", StaticValue: sp("theirs")},
		{ID: 4, Label: "temperature", Type: "dynamic"},
	}}, id == 7
}

func newBroker(t *testing.T) *Broker {
	b, err := New(Options{Store: nopStore{}, View: view{}, Actuator: nopActuator{}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadingInput: FLOWS.md 3.1's publish event: metadata without
// deviceid, the device's statics with a value merged over the published
// attrs, templates as strings.
func TestReadingInput(t *testing.T) {
	b := newBroker(t)
	in, ok, err := b.input(eventstore.WorkItem{Seq: 42, Subject: "data.admin.d1",
		Data: []byte(`{"metadata":{"deviceid":"d1","tenant":"admin","timestamp":1528226137452,"protocol":"mqtt"},"attrs":{"temperature":21.5,"model":"published"}}`)})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if in.Seq != 42 || in.Event != "publish" || in.Tenant != "admin" || in.DeviceID != "d1" || js(t, in.Templates) != `["7"]` {
		t.Errorf("input = %+v", in)
	}
	want := `{"data":{"attrs":{"model":"m-1","owner":"mine","temperature":21.5},"id":"d1"},"event":"publish","metadata":{"protocol":"mqtt","tenant":"admin","timestamp":1528226137452}}`
	if got := js(t, in.Payload); got != want {
		t.Errorf("payload =\n%s\nwant\n%s", got, want)
	}
}

// TestEventInput: device events as create/update/remove/configure, their
// sequence marked apart from readings'; other events are not inputs.
func TestEventInput(t *testing.T) {
	b := newBroker(t)
	ev := func(typ string, data any) eventstore.WorkItem {
		e, err := dojot.NewEvent(typ, "admin", dojot.KindDevice, "d1", time.UnixMilli(1528226137452), data)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(e)
		return eventstore.WorkItem{Seq: 42, Subject: "evt.admin.device.d1", Data: raw}
	}
	in, ok, err := b.input(ev(dojot.EventDeviceActuated, dojot.DeviceActuated{ID: "d1", Attrs: json.RawMessage(`{"led":true}`)}))
	if err != nil || !ok || in.Event != "configure" || in.Seq == 42 || in.Seq&^eventSeqBit != 42 {
		t.Fatalf("configure input = %+v %v %v", in, ok, err)
	}
	want := `{"data":{"attrs":{"led":true,"model":"m-1","owner":"mine"},"id":"d1","templates":["7"]},"event":"configure","metadata":{"tenant":"admin","timestamp":1528226137452}}`
	if got := js(t, in.Payload); got != want {
		t.Errorf("payload =\n%s\nwant\n%s", got, want)
	}
	if in.Depth != 0 {
		t.Errorf("a user's configure has depth %d", in.Depth)
	}
	// A flow's actuation carries its depth into the configure input, so a
	// flow that actuates the device whose configure starts it is cut.
	in, _, err = b.input(ev(dojot.EventDeviceActuated, dojot.DeviceActuated{ID: "d1", Attrs: json.RawMessage(`{"led":true}`), FlowDepth: 3}))
	if err != nil || in.Depth != 3 {
		t.Errorf("a flow's configure: depth %d, %v; want 3", in.Depth, err)
	}
	for typ, name := range map[string]string{dojot.EventDeviceCreated: "create", dojot.EventDeviceUpdated: "update", dojot.EventDeviceDeleted: "remove"} {
		in, ok, err := b.input(ev(typ, map[string]string{"id": "d1"}))
		if err != nil || !ok || in.Event != name {
			t.Errorf("%s: %+v %v %v", typ, in, ok, err)
		}
	}
	// The request that caused the event goes with the input, for the run's
	// logs and writes.
	caused := ev(dojot.EventDeviceUpdated, map[string]string{"id": "d1"})
	var e dojot.Event
	if err := json.Unmarshal(caused.Data, &e); err != nil {
		t.Fatal(err)
	}
	e.CorrelationID = "req-7"
	caused.Data, _ = json.Marshal(e)
	if in, _, err := b.input(caused); err != nil || in.RequestID != "req-7" {
		t.Errorf("input of an event with correlation_id req-7: RequestID %q, %v", in.RequestID, err)
	}
	if _, ok, err := b.input(ev(dojot.EventDeviceCredentialsSet, map[string]string{"id": "d1"})); ok || err != nil {
		t.Errorf("credentials_set is an input: %v %v", ok, err)
	}
}

type nopStore struct{ Store }
type nopActuator struct{ Actuator }

// TestCandidates: an input runs the flows naming its device or one of its
// templates, each once and in the tenant's order, and no other.
func TestCandidates(t *testing.T) {
	parse := func(id string, heads ...string) flows.Flow {
		nodes := []json.RawMessage{}
		for i, h := range heads {
			nodes = append(nodes, json.RawMessage(fmt.Sprintf(`{"id":"h%d",%s,"event_publish":true,"wires":[["c"]]}`, i, h)))
		}
		nodes = append(nodes, json.RawMessage(`{"id":"c","type":"change","rules":[],"wires":[]}`))
		g, err := flows.Parse(nodes)
		if err != nil {
			t.Fatal(err)
		}
		return flows.Flow{ID: id, Enabled: true, Graph: g}
	}
	tf := &tenantFlows{flows: []flows.Flow{
		parse("f0", `"type":"event device in","device_id":"d1"`),
		parse("f1", `"type":"event template in","template_id":"7"`),
		parse("f2", `"type":"event device in","device_id":"d2"`),
		parse("f3", `"type":"event template in","template_id":"7"`, `"type":"event device in","device_id":"d1"`),
		parse("f4", `"type":"event template in","template_id":"8"`),
	}}
	tf.index()
	for _, c := range []struct {
		dev       string
		templates []string
		want      string
	}{
		{"d1", nil, "[0 3]"},
		{"d1", []string{"7"}, "[0 1 3]"},
		{"d1", []string{"8", "7"}, "[0 1 3 4]"},
		{"d3", []string{"7"}, "[1 3]"},
		{"d3", []string{"9"}, "[]"},
		{"d2", []string{"8"}, "[2 4]"},
	} {
		if got := fmt.Sprint(tf.candidates(flows.Input{DeviceID: c.dev, Templates: c.templates})); got != c.want {
			t.Errorf("device %s templates %v: %s; want %s", c.dev, c.templates, got, c.want)
		}
	}
	if got := fmt.Sprint(tf.byDevice["d1"]); got != "[0 3]" {
		t.Errorf("candidates changed the index: %s", got)
	}
}
