package memory

import (
	"slices"

	"github.com/dojot-es/dojot"
)

// Pre-shared keys are applied with the rest of a device (device.updated
// with cause "psk" carries them all) and shown only by the internal reads,
// as dojot's sensitive_data serialization shows them.

// InternalDeviceJSON renders a device as GET /internal/device/:id shows
// it: as GET /device/:id, with each pre-shared key as its attribute's
// static value.
func (v *View) InternalDeviceJSON(tenant, id string) ([]byte, bool) {
	return v.deviceJSON(tenant, id, true)
}

// ListInternalDevices renders GET /internal/device's answer: GET
// /device's, with the pre-shared keys shown.
func (v *View) ListInternalDevices(tenant string, q dojot.DeviceQuery) []byte {
	return v.listDevices(tenant, q, true)
}

// lostPSKAttrs lists the attributes of old whose keys go with a template
// update: dojot deletes an attribute's pre_shared_keys rows when the
// attribute is removed or its value_type changes from psk.
func lostPSKAttrs(old *tmpl, nt dojot.Template) []int {
	if old == nil {
		return nil
	}
	var lost []int
	for _, a := range old.Attrs {
		if a.ValueType != "psk" {
			continue
		}
		i := slices.IndexFunc(nt.Attrs, func(b dojot.Attr) bool { return b.ID == a.ID })
		if i < 0 || nt.Attrs[i].ValueType != "psk" {
			lost = append(lost, a.ID)
		}
	}
	return lost
}

// dropPSKs removes the keys of attrs from every device of the tenant (a
// device keeps keys of a template it no longer uses, as dojot does). It
// is rare, so it scans.
func (t *dmTenant) dropPSKs(attrs []int) {
	if len(attrs) == 0 {
		return
	}
	for _, dv := range t.devices {
		if slices.ContainsFunc(dv.psks(), func(k dojot.Override) bool { return slices.Contains(attrs, k.AttrID) }) {
			// Replaced, not changed in place: readers may hold the old slice.
			psks := slices.DeleteFunc(slices.Clone(dv.psks()), func(k dojot.Override) bool { return slices.Contains(attrs, k.AttrID) })
			dv.setExtra(dv.updated(), dv.overrides(), psks)
		}
	}
}
