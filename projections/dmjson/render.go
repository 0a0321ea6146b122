// Package dmjson writes DeviceManager's JSON (templates, devices,
// pagination) byte for byte as dojot's Flask service does, and holds
// dojot's query semantics (LIKE filters, attr filters, paging), so that
// every view (memory, Postgres, Mongo) answers identically.
package dmjson

import (
	"slices"
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

// AppendISO writes t as Python's datetime.isoformat() of a UTC time, which
// leaves out the fraction when the microseconds are 0.
func AppendISO(b []byte, us int64) []byte {
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

func AppendTime(b []byte, t time.Time) []byte { return AppendISO(b, t.UnixMicro()) }

const hexDigits = "0123456789abcdef"

// AppendString quotes s as Python's json.dumps(ensure_ascii=True) does.
func AppendString(b []byte, s string) []byte {
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

// AppendTemplate writes a template as dojot's TemplateSchema dumps it, in
// the given attr_format.
func AppendTemplate(b []byte, tp dojot.Template, f dojot.AttrFormat) []byte {
	tid := strconv.Itoa(tp.ID)
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
			b = appendAttr(b, a, tid, nil, nil, false)
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
	b = AppendTime(b, tp.Created)
	if f != dojot.AttrFormatSingle {
		b = append(b, `,"data_attrs":`...)
		b = list(b, isData)
	}
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, int64(tp.ID), 10)
	b = append(b, `,"label":`...)
	b = AppendString(b, tp.Label)
	if tp.Updated != nil {
		b = append(b, `,"updated":`...)
		b = AppendTime(b, *tp.Updated)
	}
	return append(b, '}')
}

// OverrideOf finds a device's own value for attr id.
func OverrideOf(ovs []dojot.Override, id int) (string, bool) {
	for _, o := range ovs {
		if o.AttrID == id {
			return o.StaticValue, true
		}
	}
	return "", false
}

// appendAttr writes an attribute as AttrSchema dumps it (null values and
// empty lists left out). In a device (dev true) it also says whether the
// static value is the device's own (dojot's is_static_overridden). A key in
// psks (given only to internal reads) replaces the static value after that
// flag is decided, as dojot's serialize_full_device does: an attribute with
// no static value of its own shows its key without the flag.
func appendAttr(b []byte, a dojot.Attr, tid string, ovs, psks []dojot.Override, dev bool) []byte {
	sv, overridden := OverrideOf(ovs, a.ID)
	hasValue := overridden || a.StaticValue != nil
	if !overridden && a.StaticValue != nil {
		sv = *a.StaticValue
	}
	key, hasKey := OverrideOf(psks, a.ID)
	b = append(b, `{"created":`...)
	b = AppendTime(b, a.Created)
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, int64(a.ID), 10)
	if dev && hasValue {
		b = append(b, `,"is_static_overridden":`...)
		b = strconv.AppendBool(b, overridden)
	}
	b = append(b, `,"label":`...)
	b = AppendString(b, a.Label)
	if len(a.Metadata) > 0 {
		b = append(b, `,"metadata":[`...)
		for i, m := range a.Metadata {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendMeta(b, m, ovs, dev)
		}
		b = append(b, ']')
	}
	switch {
	case hasKey:
		b = append(b, `,"static_value":`...)
		b = AppendString(b, key)
	case hasValue:
		b = append(b, `,"static_value":`...)
		b = AppendString(b, sv)
	}
	b = append(b, `,"template_id":`...)
	b = AppendString(b, tid)
	b = append(b, `,"type":`...)
	b = AppendString(b, a.Type)
	if a.Updated != nil {
		b = append(b, `,"updated":`...)
		b = AppendTime(b, *a.Updated)
	}
	b = append(b, `,"value_type":`...)
	b = AppendString(b, a.ValueType)
	return append(b, '}')
}

// appendMeta writes a metadata child as dojot's MetaSchema dumps it: that
// schema has no null-removal, so static_value and updated appear as null;
// a device marks every child with is_static_overridden (its dump always
// has the static_value key).
func appendMeta(b []byte, m dojot.Attr, ovs []dojot.Override, dev bool) []byte {
	sv, overridden := OverrideOf(ovs, m.ID)
	b = append(b, `{"created":`...)
	b = AppendTime(b, m.Created)
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, int64(m.ID), 10)
	if dev {
		b = append(b, `,"is_static_overridden":`...)
		b = strconv.AppendBool(b, overridden)
	}
	b = append(b, `,"label":`...)
	b = AppendString(b, m.Label)
	b = append(b, `,"static_value":`...)
	switch {
	case overridden:
		b = AppendString(b, sv)
	case m.StaticValue != nil:
		b = AppendString(b, *m.StaticValue)
	default:
		b = append(b, "null"...)
	}
	b = append(b, `,"type":`...)
	b = AppendString(b, m.Type)
	b = append(b, `,"updated":`...)
	if m.Updated != nil {
		b = AppendTime(b, *m.Updated)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"value_type":`...)
	b = AppendString(b, m.ValueType)
	return append(b, '}')
}

// AppendDeviceAttrs writes one template's attribute list as a device with
// overrides ovs (and, internally, pre-shared keys psks) shows it.
func AppendDeviceAttrs(b []byte, tp dojot.Template, ovs, psks []dojot.Override) []byte {
	tid := strconv.Itoa(tp.ID)
	b = append(b, '[')
	for i, a := range tp.Attrs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAttr(b, a, tid, ovs, psks, true)
	}
	return append(b, ']')
}

// AppendDevice writes a device as GET /device/:id shows it: its own fields
// and, per template (keys in numeric order, as Python sorted the int keys),
// the template's current attributes with the device's overrides applied;
// templates that tpl does not find (deleted) are left out. internal (GET
// /internal/device) also shows the device's pre-shared keys. The memory
// view has a cached equivalent; this one serves views that load a device's
// rows and its templates per read.
func AppendDevice(b []byte, d dojot.Device, tpl func(id int) (*dojot.Template, bool), internal bool) []byte {
	var psks []dojot.Override
	if internal {
		psks = d.PSKs
	}
	tids := slices.Clone(d.Templates)
	slices.Sort(tids)
	b = append(b, `{"attrs":{`...)
	n := 0
	for _, tid := range tids {
		tp, ok := tpl(tid)
		if !ok {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, '"')
		b = strconv.AppendInt(b, int64(tid), 10)
		b = append(b, `":`...)
		b = AppendDeviceAttrs(b, *tp, d.Overrides, psks)
	}
	b = append(b, `},"created":`...)
	b = AppendTime(b, d.Created)
	b = append(b, `,"id":`...)
	b = AppendString(b, d.ID)
	b = append(b, `,"label":`...)
	b = AppendString(b, d.Label)
	b = append(b, `,"templates":[`...)
	n = 0
	for _, tid := range d.Templates {
		if _, ok := tpl(tid); !ok {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = strconv.AppendInt(b, int64(tid), 10)
	}
	b = append(b, ']')
	if d.Updated != nil {
		b = append(b, `,"updated":`...)
		b = AppendTime(b, *d.Updated)
	}
	return append(b, '}')
}
