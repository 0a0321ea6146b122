package kafkamsg_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/kafkamsg"
	"github.com/dojot-es/dojot/projections/memory"
)

// TestRender: dojot's messages for the events that have one, none for
// the others, and an error (next to what could be rendered) for a device
// the view lacks.
func TestRender(t *testing.T) {
	view := memory.New()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	seq := uint64(0)
	render := func(typ, tenant, kind, id string, data any) ([]kafkamsg.Message, error) {
		t.Helper()
		ev, err := dojot.NewEvent(typ, tenant, kind, id, t0, data)
		if err != nil {
			t.Fatal(err)
		}
		seq++
		ev.Seq = seq
		if err := view.Apply(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		return kafkamsg.Render(view, ev)
	}
	one := func(msgs []kafkamsg.Message, err error, topic, key, value string) {
		t.Helper()
		if err != nil || len(msgs) != 1 || msgs[0].Topic != topic || msgs[0].Key != key || string(msgs[0].Value) != value {
			t.Errorf("got %+v (%v); want one message %s %s %s", msgs, err, topic, key, value)
		}
	}
	msgs, err := render(dojot.EventTenantCreated, "acme", dojot.KindTenant, "acme", dojot.TenantCreated{Tenant: "acme"})
	one(msgs, err, "dojot-management.dojot.tenancy", "acme", `{"type":"CREATE","tenant":"acme"}`)

	msgs, err = render(dojot.EventDeviceCreated, "acme", dojot.KindDevice, "d1", dojot.DeviceCreated{Device: dojot.Device{ID: "d1", Label: "pump", Created: t0, Templates: []int{}}})
	one(msgs, err, "acme.dojot.device-manager.device", "d1",
		`{"event":"create","meta":{"service":"acme"},"data":{"attrs":{},"created":"2026-01-01T00:00:00+00:00","id":"d1","label":"pump","templates":[]}}`)

	msgs, err = render(dojot.EventDeviceActuated, "acme", dojot.KindDevice, "d1", dojot.DeviceActuated{ID: "d1", Attrs: json.RawMessage(`{"target":21.5}`), Timestamp: 1700000000000})
	one(msgs, err, "acme.dojot.device-manager.device", "d1",
		`{"event":"configure","meta":{"service":"acme","timestamp":1700000000000},"data":{"id":"d1","attrs":{"target":21.5}}}`)

	// A device the view does not hold: an error, no message.
	ev, _ := dojot.NewEvent(dojot.EventDeviceActuated, "acme", dojot.KindDevice, "ghost", t0, dojot.DeviceActuated{ID: "ghost", Attrs: json.RawMessage(`{}`)})
	if msgs, err := kafkamsg.Render(view, ev); err != nil || len(msgs) != 1 {
		t.Errorf("configure of a device not in the view: %+v %v; want its message (it needs no view)", msgs, err)
	}
	ev, _ = dojot.NewEvent(dojot.EventDeviceUpdated, "acme", dojot.KindDevice, "ghost", t0, dojot.DeviceUpdated{Device: dojot.Device{ID: "ghost"}})
	if msgs, err := kafkamsg.Render(view, ev); err == nil || len(msgs) != 0 {
		t.Errorf("update of a device not in the view: %+v %v; want an error", msgs, err)
	}
}
