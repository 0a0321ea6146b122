package memory

import (
	"strconv"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/dmjson"
)

// touches reports whether any override is for one of the template's attrs.
func (m *tmpl) touches(ovs []dojot.Override) bool {
	for _, o := range ovs {
		if _, ok := m.attrs[o.AttrID]; ok {
			return true
		}
	}
	return false
}

// renderDevice writes a device as GET /device/:id shows it: its own fields
// and, per template (keys in numeric order, as Python sorted the int keys),
// the template's current attributes with the device's overrides applied.
// Templates without an override of this device reuse the template's cached
// rendering, so a device costs a few appends. internal (GET
// /internal/device) also shows the device's pre-shared keys.
func (t *dmTenant) renderDevice(b []byte, dv *device, internal bool) []byte {
	var psks []dojot.Override
	if internal {
		psks = dv.psks()
	}
	b = append(b, `{"attrs":{`...)
	tids := dv.templates
	if !sortedInts(tids) {
		tids = sortInts(tids)
	}
	n := 0
	for _, tid := range tids {
		m := t.templates[tid]
		if m == nil {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, '"')
		b = strconv.AppendInt(b, int64(tid), 10)
		b = append(b, `":`...)
		if (len(dv.overrides()) > 0 && m.touches(dv.overrides())) || (len(psks) > 0 && m.touches(psks)) {
			b = dmjson.AppendDeviceAttrs(b, m.Template, dv.overrides(), psks)
		} else {
			b = append(b, m.devAttrs...)
		}
	}
	b = append(b, `},"created":`...)
	b = dmjson.AppendISO(b, dv.created)
	b = append(b, `,"id":`...)
	b = dmjson.AppendString(b, dv.id)
	b = append(b, `,"label":`...)
	b = dmjson.AppendString(b, dv.label)
	b = append(b, `,"templates":[`...)
	n = 0
	for _, tid := range dv.templates {
		if t.templates[tid] == nil {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = strconv.AppendInt(b, int64(tid), 10)
	}
	b = append(b, ']')
	if dv.updated() != 0 {
		b = append(b, `,"updated":`...)
		b = dmjson.AppendISO(b, dv.updated())
	}
	return append(b, '}')
}

func sortedInts(s []int) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] > s[i] {
			return false
		}
	}
	return true
}

func sortInts(s []int) []int {
	c := make([]int, len(s))
	copy(c, s)
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j-1] > c[j]; j-- {
			c[j-1], c[j] = c[j], c[j-1]
		}
	}
	return c
}

func unixMicro(us int64) time.Time { return time.UnixMicro(us).UTC() }
