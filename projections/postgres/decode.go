package postgres

import (
	"slices"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/internal/plainjson"
)

// decodeDevice is ev.Decode into a dojot.DeviceUpdated (the shape of both
// device.created and device.updated), keeping the Device. A rebuild
// decodes one such payload per device on the applier's critical path
// (the batch waits for it before it is sent), and encoding/json took a
// sixth of a rebuild, so payloads as json.Marshal writes them take a
// direct path (plainjson), as in the memory view; anything else goes
// through encoding/json. FuzzDecodeDevice checks that the two agree.
func decodeDevice(ev dojot.Event) (dojot.Device, error) {
	var p dojot.Device
	if decodeDeviceFast(ev.Data, &p) {
		return p, nil
	}
	var u dojot.DeviceUpdated
	err := ev.Decode(&u)
	return u.Device, err
}

// deviceKeys are the keys of a device payload.
var deviceKeys = []string{"id", "label", "created", "updated", "templates", "overrides", "psks", "cause"}

// decodeDeviceFast reports false, with p in any state, when data is not a
// plain device payload: each known key at most once, no other key, no
// escapes in strings.
func decodeDeviceFast(data []byte, p *dojot.Device) bool {
	*p = dojot.Device{}
	d := plainjson.NewScanner(data)
	if !d.Consume('{') {
		return false
	}
	if d.Consume('}') {
		return d.End()
	}
	seen := 0 // a bit per key in the order of keys
	for {
		key, ok := d.Str()
		if !ok || !d.Consume(':') {
			return false
		}
		i := slices.Index(deviceKeys, string(key))
		if i < 0 || seen&(1<<i) != 0 {
			return false
		}
		seen |= 1 << i
		switch string(key) {
		case "id":
			var s []byte
			if s, ok = d.Str(); ok {
				p.ID = string(s)
			}
		case "label":
			var s []byte
			if s, ok = d.Str(); ok {
				p.Label = string(s)
			}
		case "created":
			ok = d.Time(&p.Created)
		case "updated":
			if !d.Null() {
				var u time.Time
				if ok = d.Time(&u); ok {
					p.Updated = &u
				}
			}
		case "templates":
			p.Templates, ok = decodeInts(&d)
		case "overrides":
			p.Overrides, ok = decodeOverrides(&d)
		case "psks":
			p.PSKs, ok = decodeOverrides(&d)
		case "cause":
			_, ok = d.Str()
		default:
			return false
		}
		if !ok {
			return false
		}
		if d.Consume('}') {
			return d.End()
		}
		if !d.Consume(',') {
			return false
		}
	}
}

// decodeInts reads null (nil) or an array of ints.
func decodeInts(d *plainjson.Scanner) ([]int, bool) {
	if d.Null() {
		return nil, true
	}
	if !d.Consume('[') {
		return nil, false
	}
	l := []int{}
	if d.Consume(']') {
		return l, true
	}
	for {
		n, ok := d.Int()
		if !ok {
			return nil, false
		}
		l = append(l, n)
		if d.Consume(']') {
			return l, true
		}
		if !d.Consume(',') {
			return nil, false
		}
	}
}

// decodeOverrides reads null (nil) or an array of
// {"attr_id":n,"static_value":s}, each key at most once.
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
