package memory

import (
	"context"
	"slices"
	"testing"

	"github.com/dojot-es/dojot"
)

// TestDevicesByStatic: the index from keyed static values to devices
// follows devices (created, overridden, moved between templates, deleted)
// and template updates, across tenants.
func TestDevicesByStatic(t *testing.T) {
	l := &log{}
	lora := dojot.Template{ID: 1, Label: "lora", Created: at0, Attrs: []dojot.Attr{
		{ID: 1, Label: "dev_eui", Type: "static", ValueType: "string", StaticValue: sp("0011"), Created: at0},
		{ID: 2, Label: "distance", Type: "dynamic", ValueType: "float", Created: at0},
		{ID: 3, Label: "device", Type: "dynamic", ValueType: "string", Created: at0}, // not static: not a key
	}}
	plain := dojot.Template{ID: 2, Label: "plain", Created: at0, Attrs: []dojot.Attr{
		{ID: 4, Label: "x", Type: "dynamic", ValueType: "float", Created: at0},
	}}
	for _, tenant := range []string{"t1", "t2"} {
		l.add(t, tenant, dojot.EventTemplateCreated, dojot.KindTemplate, "1", dojot.TemplateCreated{Template: lora})
		l.add(t, tenant, dojot.EventTemplateCreated, dojot.KindTemplate, "2", dojot.TemplateCreated{Template: plain})
	}
	dev := func(tenant, id string, templates []int, ov ...dojot.Override) {
		l.add(t, tenant, dojot.EventDeviceCreated, dojot.KindDevice, id, dojot.DeviceCreated{Device: dojot.Device{ID: id, Label: id, Created: at0, Templates: templates, Overrides: ov}})
	}
	dev("t1", "a", []int{1})
	dev("t1", "b", []int{1}, dojot.Override{AttrID: 1, StaticValue: "0022"})
	dev("t2", "a", []int{1})
	dev("t1", "c", []int{2})
	v := l.view(t)
	check := func(value string, want ...dojot.DeviceKey) {
		t.Helper()
		if got := v.DevicesByStatic(dojot.AttrDevEUI, value); !slices.Equal(got, want) {
			t.Errorf("DevicesByStatic(dev_eui, %s) = %v; want %v", value, got, want)
		}
	}
	check("0011", dojot.DeviceKey{Tenant: "t1", ID: "a"}, dojot.DeviceKey{Tenant: "t2", ID: "a"})
	check("0022", dojot.DeviceKey{Tenant: "t1", ID: "b"})
	check("0033")
	// EUIs compare whatever their case and byte separators.
	dev("t2", "e", []int{1}, dojot.Override{AttrID: 1, StaticValue: "70-B3-D5-7E-D0-00-00-0A"})
	v = l.view(t)
	check("70b3d57ed000000a", dojot.DeviceKey{Tenant: "t2", ID: "e"})
	check("70B3D57ED000000A", dojot.DeviceKey{Tenant: "t2", ID: "e"})
	check("70:b3:d5:7e:d0:00:00:0a", dojot.DeviceKey{Tenant: "t2", ID: "e"})
	if got := v.DevicesByStatic(dojot.AttrSigfoxDevice, ""); got != nil {
		t.Errorf("a dynamic attr was indexed: %v", got)
	}
	if s, ok := v.StaticValue("t1", "b", "dev_eui"); !ok || s != "0022" {
		t.Errorf("StaticValue(t1, b) = %q %v", s, ok)
	}
	if s, ok := v.StaticValue("t1", "a", "dev_eui"); !ok || s != "0011" {
		t.Errorf("StaticValue(t1, a) = %q %v", s, ok)
	}
	if _, ok := v.StaticValue("t1", "c", "dev_eui"); ok {
		t.Error("StaticValue of a device without the attr")
	}

	apply := func(tenant, typ, kind, id string, data any) {
		t.Helper()
		l.add(t, tenant, typ, kind, id, data)
		if err := v.Apply(context.Background(), l.evs[len(l.evs)-1]); err != nil {
			t.Fatal(err)
		}
	}
	// b drops its override, c takes the template, a of t2 goes.
	apply("t1", dojot.EventDeviceUpdated, dojot.KindDevice, "b", dojot.DeviceUpdated{Device: dojot.Device{ID: "b", Label: "b", Created: at0, Templates: []int{1}}})
	apply("t1", dojot.EventDeviceUpdated, dojot.KindDevice, "c", dojot.DeviceUpdated{Device: dojot.Device{ID: "c", Label: "c", Created: at0, Templates: []int{2, 1}}})
	apply("t2", dojot.EventDeviceDeleted, dojot.KindDevice, "a", dojot.DeviceDeleted{ID: "a"})
	apply("t2", dojot.EventDeviceDeleted, dojot.KindDevice, "e", dojot.DeviceDeleted{ID: "e"})
	check("0011", dojot.DeviceKey{Tenant: "t1", ID: "a"}, dojot.DeviceKey{Tenant: "t1", ID: "b"}, dojot.DeviceKey{Tenant: "t1", ID: "c"})
	check("0022")

	// The template's value changes for every device that does not
	// override it; then the attribute goes.
	lora.Attrs[0].StaticValue = sp("00aa")
	apply("t1", dojot.EventTemplateUpdated, dojot.KindTemplate, "1", dojot.TemplateUpdated{Template: lora})
	apply("t1", dojot.EventDeviceUpdated, dojot.KindDevice, "c", dojot.DeviceUpdated{Device: dojot.Device{ID: "c", Label: "c", Created: at0, Templates: []int{2, 1}, Overrides: []dojot.Override{{AttrID: 1, StaticValue: "00cc"}}}})
	check("0011")
	check("00aa", dojot.DeviceKey{Tenant: "t1", ID: "a"}, dojot.DeviceKey{Tenant: "t1", ID: "b"})
	check("00cc", dojot.DeviceKey{Tenant: "t1", ID: "c"})
	lora.Attrs = lora.Attrs[1:]
	apply("t1", dojot.EventTemplateUpdated, dojot.KindTemplate, "1", dojot.TemplateUpdated{Template: lora})
	check("00aa")
	check("00cc")
	if n := len(v.dm.tenants["t1"].static); n != 0 {
		t.Errorf("%d index entries left", n)
	}
}
