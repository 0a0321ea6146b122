package memory

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/dojot-es/dojot"
)

// The renderers write dojot's JSON by hand, byte for byte as Flask's
// jsonify wrote it: keys sorted, non-ASCII escaped, times in Python's
// isoformat. They append to a buffer so that a page of devices is one
// allocation, and they are fed only by applied state, so replaying the same
// events into an empty view renders the same bytes.

// appendISO writes t as Python's datetime.isoformat() of a UTC time, which
// leaves out the fraction when the microseconds are 0.
func appendISO(b []byte, us int64) []byte {
	t := time.UnixMicro(us).UTC()
	b = append(b, '"')
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	if micro := t.Nanosecond() / 1000; micro != 0 {
		b = append(b, '.')
		s := strconv.Itoa(micro)
		for i := len(s); i < 6; i++ {
			b = append(b, '0')
		}
		b = append(b, s...)
	}
	return append(b, "+00:00\""...)
}

func appendTime(b []byte, t time.Time) []byte { return appendISO(b, t.UnixMicro()) }

const hexDigits = "0123456789abcdef"

// appendString quotes s as Python's json.dumps(ensure_ascii=True) does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = appendU(b, rune(c))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r > 0xffff {
			r -= 0x10000
			b = appendU(b, 0xd800+(r>>10))
			b = appendU(b, 0xdc00+(r&0x3ff))
		} else {
			b = appendU(b, r) // utf8.RuneError for invalid bytes: \ufffd
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendU(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// renderTemplate writes a template as dojot's TemplateSchema dumps it, in
// the given attr_format.
func renderTemplate(b []byte, tp dojot.Template, f dojot.AttrFormat) []byte {
	tid := idText(tp.ID)
	list := func(b []byte, keep func(dojot.Attr) bool) []byte {
		b = append(b, '[')
		n := 0
		for _, a := range tp.Attrs {
			if !keep(a) {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = renderAttr(b, a, tid, nil, nil, false)
		}
		return append(b, ']')
	}
	all := func(dojot.Attr) bool { return true }
	isConfig := func(a dojot.Attr) bool { return !a.IsData() }
	isData := func(a dojot.Attr) bool { return a.IsData() }
	b = append(b, '{')
	if f != dojot.AttrFormatSplit {
		b = append(b, `"attrs":`...)
		b = list(b, all)
		b = append(b, ',')
	}
	if f != dojot.AttrFormatSingle {
		b = append(b, `"config_attrs":`...)
		b = list(b, isConfig)
		b = append(b, ',')
	}
	b = append(b, `"created":`...)
	b = appendTime(b, tp.Created)
	if f != dojot.AttrFormatSingle {
		b = append(b, `,"data_attrs":`...)
		b = list(b, isData)
	}
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, int64(tp.ID), 10)
	b = append(b, `,"label":`...)
	b = appendString(b, tp.Label)
	if tp.Updated != nil {
		b = append(b, `,"updated":`...)
		b = appendTime(b, *tp.Updated)
	}
	return append(b, '}')
}

// overrideOf finds a device's own value for attr id.
func overrideOf(ovs []dojot.Override, id int) (string, bool) {
	for _, o := range ovs {
		if o.AttrID == id {
			return o.StaticValue, true
		}
	}
	return "", false
}

// renderAttr writes an attribute as AttrSchema dumps it (null values and
// empty lists left out). In a device (dev true) it also says whether the
// static value is the device's own (dojot's is_static_overridden). A key in
// psks (given only to internal reads) replaces the static value after that
// flag is decided, as dojot's serialize_full_device does: an attribute with
// no static value of its own shows its key without the flag.
func renderAttr(b []byte, a dojot.Attr, tid string, ovs, psks []dojot.Override, dev bool) []byte {
	sv, overridden := overrideOf(ovs, a.ID)
	hasValue := overridden || a.StaticValue != nil
	if !overridden && a.StaticValue != nil {
		sv = *a.StaticValue
	}
	key, hasKey := overrideOf(psks, a.ID)
	b = append(b, `{"created":`...)
	b = appendTime(b, a.Created)
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, int64(a.ID), 10)
	if dev && hasValue {
		b = append(b, `,"is_static_overridden":`...)
		b = strconv.AppendBool(b, overridden)
	}
	b = append(b, `,"label":`...)
	b = appendString(b, a.Label)
	if len(a.Metadata) > 0 {
		b = append(b, `,"metadata":[`...)
		for i, m := range a.Metadata {
			if i > 0 {
				b = append(b, ',')
			}
			b = renderMeta(b, m, ovs, dev)
		}
		b = append(b, ']')
	}
	switch {
	case hasKey:
		b = append(b, `,"static_value":`...)
		b = appendString(b, key)
	case hasValue:
		b = append(b, `,"static_value":`...)
		b = appendString(b, sv)
	}
	b = append(b, `,"template_id":`...)
	b = appendString(b, tid)
	b = append(b, `,"type":`...)
	b = appendString(b, a.Type)
	if a.Updated != nil {
		b = append(b, `,"updated":`...)
		b = appendTime(b, *a.Updated)
	}
	b = append(b, `,"value_type":`...)
	b = appendString(b, a.ValueType)
	return append(b, '}')
}

// renderMeta writes a metadata child as dojot's MetaSchema dumps it: that
// schema has no null-removal, so static_value and updated appear as null;
// a device marks every child with is_static_overridden (its dump always
// has the static_value key).
func renderMeta(b []byte, m dojot.Attr, ovs []dojot.Override, dev bool) []byte {
	sv, overridden := overrideOf(ovs, m.ID)
	b = append(b, `{"created":`...)
	b = appendTime(b, m.Created)
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, int64(m.ID), 10)
	if dev {
		b = append(b, `,"is_static_overridden":`...)
		b = strconv.AppendBool(b, overridden)
	}
	b = append(b, `,"label":`...)
	b = appendString(b, m.Label)
	b = append(b, `,"static_value":`...)
	switch {
	case overridden:
		b = appendString(b, sv)
	case m.StaticValue != nil:
		b = appendString(b, *m.StaticValue)
	default:
		b = append(b, "null"...)
	}
	b = append(b, `,"type":`...)
	b = appendString(b, m.Type)
	b = append(b, `,"updated":`...)
	if m.Updated != nil {
		b = appendTime(b, *m.Updated)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"value_type":`...)
	b = appendString(b, m.ValueType)
	return append(b, '}')
}

// renderDeviceAttrs writes one template's attribute list as a device with
// overrides ovs (and, internally, pre-shared keys psks) shows it.
func renderDeviceAttrs(b []byte, tp dojot.Template, ovs, psks []dojot.Override) []byte {
	tid := idText(tp.ID)
	b = append(b, '[')
	for i, a := range tp.Attrs {
		if i > 0 {
			b = append(b, ',')
		}
		b = renderAttr(b, a, tid, ovs, psks, true)
	}
	return append(b, ']')
}

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
			b = renderDeviceAttrs(b, m.Template, dv.overrides(), psks)
		} else {
			b = append(b, m.devAttrs...)
		}
	}
	b = append(b, `},"created":`...)
	b = appendISO(b, dv.created)
	b = append(b, `,"id":`...)
	b = appendString(b, dv.id)
	b = append(b, `,"label":`...)
	b = appendString(b, dv.label)
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
		b = appendISO(b, dv.updated())
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
