package memory

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dojot-es/dojot"
)

func TestPSKRendering(t *testing.T) {
	const ts = `"2018-01-25T12:30:42.164695+00:00"`
	keys := dojot.Template{ID: 1, Label: "Keys", Created: at0, Attrs: []dojot.Attr{
		{ID: 1, Label: "k", Type: "static", ValueType: "psk", Created: at0},
		{ID: 2, Label: "k2", Type: "static", ValueType: "psk", StaticValue: sp("none"), Created: at0},
		{ID: 3, Label: "t", Type: "dynamic", ValueType: "float", Created: at0},
	}}
	other := dojot.Template{ID: 2, Label: "Other", Created: at0, Attrs: []dojot.Attr{{ID: 4, Label: "x", Type: "dynamic", ValueType: "float", Created: at0}}}
	dev := dojot.Device{ID: "aa", Label: "lock", Created: at0, Templates: []int{1, 2}, Overrides: []dojot.Override{{AttrID: 2, StaticValue: "mine"}}}
	l := &log{}
	l.add(t, "t1", dojot.EventTemplateCreated, dojot.KindTemplate, "1", dojot.TemplateCreated{Template: keys})
	l.add(t, "t1", dojot.EventTemplateCreated, dojot.KindTemplate, "2", dojot.TemplateCreated{Template: other})
	l.add(t, "t1", dojot.EventDeviceCreated, dojot.KindDevice, "aa", dojot.DeviceCreated{Device: dev})
	dev.Updated = &at1
	dev.PSKs = []dojot.Override{{AttrID: 1, StaticValue: "0a0b"}, {AttrID: 2, StaticValue: "0c0d"}}
	l.add(t, "t1", dojot.EventDeviceUpdated, dojot.KindDevice, "aa", dojot.DeviceUpdated{Device: dev, Cause: dojot.CausePSK})
	v := l.view(t)

	attr3 := `{"created":` + ts + `,"id":3,"label":"t","template_id":"1","type":"dynamic","value_type":"float"}`
	tpl2 := `"2":[{"created":` + ts + `,"id":4,"label":"x","template_id":"2","type":"dynamic","value_type":"float"}]`
	tail := `},"created":` + ts + `,"id":"aa","label":"lock","templates":[1,2],"updated":"2018-01-25T13:00:00+00:00"}`
	public := `{"attrs":{"1":[{"created":` + ts + `,"id":1,"label":"k","template_id":"1","type":"static","value_type":"psk"},` +
		`{"created":` + ts + `,"id":2,"is_static_overridden":true,"label":"k2","static_value":"mine","template_id":"1","type":"static","value_type":"psk"},` +
		attr3 + `],` + tpl2 + tail
	// The key replaces the static value after is_static_overridden is
	// decided: k has no value of its own, so it gets no flag.
	internal := `{"attrs":{"1":[{"created":` + ts + `,"id":1,"label":"k","static_value":"0a0b","template_id":"1","type":"static","value_type":"psk"},` +
		`{"created":` + ts + `,"id":2,"is_static_overridden":true,"label":"k2","static_value":"0c0d","template_id":"1","type":"static","value_type":"psk"},` +
		attr3 + `],` + tpl2 + tail

	if got, _ := v.DeviceJSON("t1", "aa"); string(got) != public {
		t.Errorf("DeviceJSON =\n%s\nwant\n%s", got, public)
	}
	if got, _ := v.InternalDeviceJSON("t1", "aa"); string(got) != internal {
		t.Errorf("InternalDeviceJSON =\n%s\nwant\n%s", got, internal)
	}
	q := dojot.DeviceQuery{Page: dojot.Page{Num: 1, Size: 20}}
	if got := v.ListDevices("t1", q); bytes.Contains(got, []byte("0a0b")) || !bytes.Contains(got, []byte(public)) {
		t.Errorf("ListDevices = %s; want the public device", got)
	}
	if got := v.ListInternalDevices("t1", q); !bytes.Contains(got, []byte(internal)) {
		t.Errorf("ListInternalDevices = %s; want the internal device", got)
	}
	if _, ok := v.InternalDeviceJSON("t2", "aa"); ok {
		t.Error("InternalDeviceJSON of another tenant found the device")
	}
	if got := v.ListInternalDevices("t2", q); bytes.Contains(got, []byte(`"aa"`)) {
		t.Errorf("ListInternalDevices(t2) = %s", got)
	}

	// k stops being psk: dojot deletes its keys, so they do not come back
	// when it is psk again; k2's key stays.
	changed := keys
	changed.Attrs = []dojot.Attr{keys.Attrs[0], keys.Attrs[1], keys.Attrs[2]}
	changed.Attrs[0].ValueType = "string"
	l.add(t, "t1", dojot.EventTemplateUpdated, dojot.KindTemplate, "1", dojot.TemplateUpdated{Template: changed})
	l.add(t, "t1", dojot.EventTemplateUpdated, dojot.KindTemplate, "1", dojot.TemplateUpdated{Template: keys})
	v = l.view(t)
	got, _ := v.InternalDeviceJSON("t1", "aa")
	if strings.Contains(string(got), "0a0b") || !strings.Contains(string(got), `"static_value":"0c0d"`) {
		t.Errorf("after k left psk and came back: %s", got)
	}
	if d, _ := v.Device("t1", "aa"); len(d.PSKs) != 1 || d.PSKs[0].AttrID != 2 {
		t.Errorf("Device().PSKs = %+v; want only k2's", d.PSKs)
	}
	// Removing k2 from the template takes its key too.
	changed.Attrs = []dojot.Attr{keys.Attrs[0], keys.Attrs[2]}
	l.add(t, "t1", dojot.EventTemplateUpdated, dojot.KindTemplate, "1", dojot.TemplateUpdated{Template: changed})
	if d, _ := l.view(t).Device("t1", "aa"); len(d.PSKs) != 0 {
		t.Errorf("Device().PSKs = %+v after k2 was removed; want none", d.PSKs)
	}
}
