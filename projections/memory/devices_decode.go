package memory

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/dojot-es/dojot"
)

// decodeDevice is ev.Decode into a dojot.DeviceUpdated (the shape of both
// device.created and device.updated), keeping only the Device. Start-up
// replay decodes one such payload per device, and encoding/json took as
// long as the rest of applying it, so payloads as json.Marshal writes them
// (known keys once each, no escapes) take a direct path; anything else
// goes through ev.Decode. FuzzDecodeDevice checks the two agree.
//
// The id is taken from ev.AggregateID when equal (no copy), and a
// templates list equal to the previous device's is shared with it: applied
// state is never changed in place.
func (t *dmTenant) decodeDevice(ev dojot.Event, p *dojot.Device) error {
	if decodeDeviceFast(ev.Data, p, ev.AggregateID, &t.lastTemplates) {
		return nil
	}
	var u dojot.DeviceUpdated
	if err := ev.Decode(&u); err != nil {
		return err
	}
	*p = u.Device
	return nil
}

// Keys of a device payload, in the order json.Marshal writes them.
const (
	keyID = 1 << iota
	keyLabel
	keyCreated
	keyUpdated
	keyTemplates
	keyOverrides
	keyPSKs
	keyCause
)

// decodeDeviceFast reports false, with p in any state, when data is not a
// plain device payload. aggID is reused as p.ID when the bytes match;
// *last is a templates list to share when equal (and is updated).
func decodeDeviceFast(data []byte, p *dojot.Device, aggID string, last *[]int) bool {
	*p = dojot.Device{}
	d := jscan{b: data}
	if !d.consume('{') {
		return false
	}
	seen := 0
	if d.consume('}') {
		return d.end()
	}
	for {
		key, ok := d.str()
		if !ok || !d.consume(':') {
			return false
		}
		var bit int
		switch string(key) {
		case "id":
			bit = keyID
			var s []byte
			if s, ok = d.str(); ok {
				if string(s) == aggID {
					p.ID = aggID
				} else {
					p.ID = string(s)
				}
			}
		case "label":
			bit = keyLabel
			var s []byte
			if s, ok = d.str(); ok {
				p.Label = string(s)
			}
		case "created":
			bit = keyCreated
			ok = d.time(&p.Created)
		case "updated":
			bit = keyUpdated
			if !d.null() {
				var u time.Time
				if ok = d.time(&u); ok {
					p.Updated = &u
				}
			}
		case "templates":
			bit = keyTemplates
			p.Templates, ok = d.ints(*last)
			if ok && p.Templates != nil {
				*last = p.Templates
			}
		case "overrides":
			bit = keyOverrides
			p.Overrides, ok = d.overrides()
		case "psks":
			bit = keyPSKs
			p.PSKs, ok = d.overrides()
		case "cause":
			bit = keyCause
			_, ok = d.str()
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if d.consume('}') {
			return d.end()
		}
		if !d.consume(',') {
			return false
		}
	}
}

// jscan reads the plain subset of JSON that json.Marshal writes for
// payloads without escapes.
type jscan struct {
	b []byte
	i int
}

func (d *jscan) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jscan) consume(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *jscan) end() bool {
	d.ws()
	return d.i == len(d.b)
}

func (d *jscan) null() bool {
	d.ws()
	if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// str reads a string without escapes, control characters or invalid UTF-8
// (where encoding/json would unescape or substitute).
func (d *jscan) str() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.i
	ascii := true
	for ; d.i < len(d.b); d.i++ {
		switch c := d.b[d.i]; {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false
}

func (d *jscan) time(t *time.Time) bool {
	s, ok := d.str()
	return ok && t.UnmarshalText(s) == nil
}

// int reads an integer literal that fits an int (no fraction or exponent).
func (d *jscan) int() (int, bool) {
	d.ws()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if n := d.i - digits; n == 0 || n > 1 && d.b[digits] == '0' {
		return 0, false
	}
	if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(d.b[start:d.i]), 10, strconv.IntSize)
	return int(n), err == nil
}

// ints reads null (nil) or an array of ints; a list equal to last is
// returned as last itself.
func (d *jscan) ints(last []int) ([]int, bool) {
	if d.null() {
		return nil, true
	}
	if !d.consume('[') {
		return nil, false
	}
	var buf [8]int
	l := buf[:0]
	if !d.consume(']') {
		for {
			n, ok := d.int()
			if !ok {
				return nil, false
			}
			l = append(l, n)
			if d.consume(']') {
				break
			}
			if !d.consume(',') {
				return nil, false
			}
		}
	}
	if last != nil && slices.Equal(l, last) {
		return last, true
	}
	return slices.Clip(append(make([]int, 0, len(l)), l...)), true
}

// overrides reads null (nil) or an array of {"attr_id":n,"static_value":s}.
func (d *jscan) overrides() ([]dojot.Override, bool) {
	if d.null() {
		return nil, true
	}
	if !d.consume('[') {
		return nil, false
	}
	l := []dojot.Override{}
	if d.consume(']') {
		return l, true
	}
	for {
		var o dojot.Override
		if !d.consume('{') {
			return nil, false
		}
		seen := 0
		if !d.consume('}') {
			for {
				key, ok := d.str()
				if !ok || !d.consume(':') {
					return nil, false
				}
				switch string(key) {
				case "attr_id":
					if seen&1 != 0 {
						return nil, false
					}
					seen |= 1
					o.AttrID, ok = d.int()
				case "static_value":
					if seen&2 != 0 {
						return nil, false
					}
					seen |= 2
					var s []byte
					if s, ok = d.str(); ok {
						o.StaticValue = string(s)
					}
				default:
					return nil, false
				}
				if !ok {
					return nil, false
				}
				if d.consume('}') {
					break
				}
				if !d.consume(',') {
					return nil, false
				}
			}
		}
		l = append(l, o)
		if d.consume(']') {
			return l, true
		}
		if !d.consume(',') {
			return nil, false
		}
	}
}
