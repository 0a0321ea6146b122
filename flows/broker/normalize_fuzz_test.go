package broker

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/projections/memory"
)

// FuzzNormalize: any stored reading or event. An input flows see is the
// subject's tenant and device, with data.attrs an object that has the
// device's static attributes, and a payload that encodes as JSON (every
// node's output does); an event type flows do not see gives none.
func FuzzNormalize(f *testing.F) {
	view := memory.New()
	cmds := commands.NewDevices(commands.Options{Store: &commandstest.Store{View: view}, Sync: commandstest.Syncer{},
		Now: func() time.Time { return time.UnixMilli(1775000000000) }, Rand: rand.NewChaCha8([32]byte{6})}, view)
	if _, err := cmds.CreateTemplate(f.Context(), "admin", []byte(`{"label":"T","attrs":[{"label":"model","type":"static","value_type":"string","static_value":"m1"},{"label":"t","type":"dynamic","value_type":"float"}]}`)); err != nil {
		f.Fatal(err)
	}
	if _, err := cmds.CreateDevices(f.Context(), "admin", []byte(`{"label":"pump","templates":[1],"id":"a1b2c3"}`), 1); err != nil {
		f.Fatal(err)
	}
	n := Normalizer{View: view}
	f.Add(false, []byte(`{"metadata":{"deviceid":"a1b2c3","tenant":"admin","timestamp":1775000000000},"attrs":{"t":21.5,"model":"x"}}`))
	f.Add(false, []byte(`{"attrs":null}`))
	f.Add(true, []byte(`{"type":"device.actuated","tenant":"admin","aggregate_id":"a1b2c3","data":{"attrs":{"t":1},"flow_depth":2}}`))
	f.Add(true, []byte(`{"type":"device.created","tenant":"admin","aggregate_id":"a1b2c3","data":{}}`))
	f.Fuzz(func(t *testing.T, event bool, data []byte) {
		subject := "data.admin.a1b2c3"
		if event {
			subject = "evt.admin.device.a1b2c3"
		}
		in, ok, err := n.Input(subject, 7, data)
		if err != nil || !ok {
			return
		}
		if _, err := json.Marshal(in.Payload); err != nil {
			t.Fatalf("Input(%s, %q): payload %#v does not encode: %v", subject, data, in.Payload, err)
		}
		d, _ := in.Payload["data"].(map[string]any)
		attrs, isMap := d["attrs"].(map[string]any)
		if !isMap || d["id"] != in.DeviceID {
			t.Fatalf("Input(%s, %q) = %+v", subject, data, in)
		}
		if in.Tenant == "admin" && in.DeviceID == "a1b2c3" && attrs["model"] != "m1" {
			t.Fatalf("Input(%s, %q): attrs %v without the static model", subject, data, attrs)
		}
		if !event && (in.Tenant != "admin" || in.DeviceID != "a1b2c3") {
			t.Fatalf("Input(%s, %q) = %+v", subject, data, in)
		}
	})
}
