package dmjson

import (
	"slices"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/internal/plainjson"
)

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

// DecodeDevice decodes a device.created or device.updated payload as
// json.Marshal writes it (known keys once each, no escapes) into p, and
// reports false, with p in any state, for anything else: the caller then
// decodes it with encoding/json. Replays decode one such payload per
// device, and encoding/json took as long as the rest of applying it.
// aggID is reused as p.ID when the bytes match (no copy); *last, when last
// is not nil, is a templates list to share when equal (and is updated):
// applied state is never changed in place.
func DecodeDevice(data []byte, p *dojot.Device, aggID string, last *[]int) bool {
	*p = dojot.Device{}
	d := plainjson.NewScanner(data)
	if !d.Consume('{') {
		return false
	}
	seen := 0
	if d.Consume('}') {
		return d.End()
	}
	for {
		key, ok := d.Str()
		if !ok || !d.Consume(':') {
			return false
		}
		var bit int
		switch string(key) {
		case "id":
			bit = keyID
			var s []byte
			if s, ok = d.Str(); ok {
				if string(s) == aggID {
					p.ID = aggID
				} else {
					p.ID = string(s)
				}
			}
		case "label":
			bit = keyLabel
			var s []byte
			if s, ok = d.Str(); ok {
				p.Label = string(s)
			}
		case "created":
			bit = keyCreated
			ok = d.Time(&p.Created)
		case "updated":
			bit = keyUpdated
			if !d.Null() {
				var u time.Time
				if ok = d.Time(&u); ok {
					p.Updated = &u
				}
			}
		case "templates":
			bit = keyTemplates
			var prev []int
			if last != nil {
				prev = *last
			}
			p.Templates, ok = decodeInts(&d, prev)
			if ok && p.Templates != nil && last != nil {
				*last = p.Templates
			}
		case "overrides":
			bit = keyOverrides
			p.Overrides, ok = decodeOverrides(&d)
		case "psks":
			bit = keyPSKs
			p.PSKs, ok = decodeOverrides(&d)
		case "cause":
			bit = keyCause
			_, ok = d.Str()
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if d.Consume('}') {
			return d.End()
		}
		if !d.Consume(',') {
			return false
		}
	}
}

// decodeInts reads null (nil) or an array of ints; a list equal to last is
// returned as last itself.
func decodeInts(d *plainjson.Scanner, last []int) ([]int, bool) {
	if d.Null() {
		return nil, true
	}
	if !d.Consume('[') {
		return nil, false
	}
	var buf [8]int
	l := buf[:0]
	if !d.Consume(']') {
		for {
			n, ok := d.Int()
			if !ok {
				return nil, false
			}
			l = append(l, n)
			if d.Consume(']') {
				break
			}
			if !d.Consume(',') {
				return nil, false
			}
		}
	}
	if last != nil && slices.Equal(l, last) {
		return last, true
	}
	return slices.Clip(append(make([]int, 0, len(l)), l...)), true
}

// decodeOverrides reads null (nil) or an array of {"attr_id":n,"static_value":s}.
func decodeOverrides(d *plainjson.Scanner) ([]dojot.Override, bool) {
	if d.Null() {
		return nil, true
	}
	if !d.Consume('[') {
		return nil, false
	}
	l := []dojot.Override{}
	if d.Consume(']') {
		return l, true
	}
	for {
		var o dojot.Override
		if !d.Consume('{') {
			return nil, false
		}
		seen := 0
		if !d.Consume('}') {
			for {
				key, ok := d.Str()
				if !ok || !d.Consume(':') {
					return nil, false
				}
				switch string(key) {
				case "attr_id":
					if seen&1 != 0 {
						return nil, false
					}
					seen |= 1
					o.AttrID, ok = d.Int()
				case "static_value":
					if seen&2 != 0 {
						return nil, false
					}
					seen |= 2
					var s []byte
					if s, ok = d.Str(); ok {
						o.StaticValue = string(s)
					}
				default:
					return nil, false
				}
				if !ok {
					return nil, false
				}
				if d.Consume('}') {
					break
				}
				if !d.Consume(',') {
					return nil, false
				}
			}
		}
		l = append(l, o)
		if d.Consume(']') {
			return l, true
		}
		if !d.Consume(',') {
			return nil, false
		}
	}
}
