package eventstore

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/dojot-es/dojot"
)

// decodeEvent is json.Unmarshal(data, ev) for an envelope. Replaying the
// log at start-up decodes every event, and encoding/json spent more time on
// that than NATS did delivering them, so envelopes as json.Marshal writes
// them (known keys, no escapes in the short strings) take a direct path;
// anything else goes through json.Unmarshal.
func decodeEvent(data []byte, ev *dojot.Event, strs *interner) error {
	if decodeFast(data, ev, strs) {
		return nil
	}
	*ev = dojot.Event{}
	return json.Unmarshal(data, ev)
}

// decodeFast reports false, with ev in any state, when data is not a plain
// envelope; FuzzDecodeEvent checks it agrees with json.Unmarshal otherwise.
func decodeFast(data []byte, ev *dojot.Event, strs *interner) bool {
	d := scanner{b: data}
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return d.end()
	}
	for {
		key, ok := d.str()
		if !ok || !d.consume(':') {
			return false
		}
		switch string(key) {
		case "id":
			ok = d.strField(&ev.ID, nil)
		case "type":
			ok = d.strField(&ev.Type, strs)
		case "tenant":
			ok = d.strField(&ev.Tenant, strs)
		case "kind":
			ok = d.strField(&ev.Kind, strs)
		case "aggregate_id":
			ok = d.strField(&ev.AggregateID, nil)
		case "actor":
			ok = d.strField(&ev.Actor, strs)
		case "version":
			ok = d.uintField(&ev.Version)
		case "time":
			var s []byte
			if s, ok = d.str(); ok {
				ok = ev.Time.UnmarshalText(s) == nil
			}
		case "data":
			var v []byte
			if v, ok = d.value(); ok {
				ev.Data = append(json.RawMessage(nil), v...)
			}
		default:
			return false
		}
		if !ok {
			return false
		}
		if d.consume('}') {
			return d.end()
		}
		if !d.consume(',') {
			return false
		}
	}
}

type scanner struct {
	b []byte
	i int
}

func (d *scanner) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *scanner) consume(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *scanner) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// str reads a string without escapes, control characters or invalid UTF-8
// (where encoding/json would unescape or substitute).
func (d *scanner) str() ([]byte, bool) {
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

func (d *scanner) strField(dst *string, strs *interner) bool {
	s, ok := d.str()
	if ok {
		*dst = strs.get(s)
	}
	return ok
}

func (d *scanner) uintField(dst *uint64) bool {
	d.ws()
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	digits := d.b[start:d.i]
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return false
	}
	n, err := strconv.ParseUint(string(digits), 10, 64)
	*dst = n
	return err == nil
}

// value returns the next JSON value as it is, checked with json.Valid (the
// payload is small next to the envelope).
func (d *scanner) value() ([]byte, bool) {
	d.ws()
	start := d.i
	depth := 0
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // the envelope's own closing brace
				v := bytes.TrimRight(d.b[start:d.i], " \t\r\n")
				return v, len(v) > 0 && json.Valid(v)
			}
			depth--
		case ',':
			if depth == 0 {
				v := bytes.TrimRight(d.b[start:d.i], " \t\r\n")
				return v, len(v) > 0 && json.Valid(v)
			}
		case '"':
			for d.i++; d.i < len(d.b) && d.b[d.i] != '"'; d.i++ {
				if d.b[d.i] == '\\' {
					d.i++
				}
			}
		}
		d.i++
	}
	return nil, false
}

// interner shares the strings that repeat in every event (type, tenant,
// kind, actor) instead of allocating each again; bounded, since a long log
// can name many tenants and users.
type interner struct{ m map[string]string }

const maxInterned = 4096

func (in *interner) get(b []byte) string {
	if in == nil {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if in.m == nil {
		in.m = make(map[string]string)
	}
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
}
