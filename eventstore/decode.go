package eventstore

import (
	"encoding/json"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/internal/plainjson"
)

// Decode reads an envelope of the EVENTS stream as the store's own reads
// do, secrets opened (Options.Sealer): for consumers of the stream that
// read its messages themselves (the Kafka bridge).
func (s *Store) Decode(data []byte) (dojot.Event, error) {
	var ev dojot.Event
	err := s.decode(data, &ev, nil)
	return ev, err
}

// decode is decodeEvent followed by the Sealer's Open. An event whose
// secrets do not open (another key than the one they were sealed with) is
// logged and returned as it is, secrets still sealed: a view then shows
// the device without its keys rather than miss the whole event. Load,
// which commands decide on, refuses it instead (loadDecode).
func (s *Store) decode(data []byte, ev *dojot.Event, strs *interner) error {
	if err := decodeEvent(data, ev, strs); err != nil {
		return err
	}
	if err := s.open(ev); err != nil {
		s.unopened(ev, err)
	}
	return nil
}

// loadDecode is decode for Load: a command decided without a device's
// keys would store the device without them, so secrets that do not open
// are an error.
func (s *Store) loadDecode(data []byte, ev *dojot.Event, strs *interner) error {
	if err := decodeEvent(data, ev, strs); err != nil {
		return err
	}
	return s.open(ev)
}

// Unopened counts the events whose secrets did not open since the store
// was opened (logged one by one).
func (s *Store) Unopened() uint64 { return s.unopenedN.Load() }

func (s *Store) unopened(ev *dojot.Event, err error) {
	s.unopenedN.Add(1)
	s.log.Error("event secrets not opened: every instance needs the key they were sealed with", "type", ev.Type, "tenant", ev.Tenant, "id", ev.AggregateID, "err", err)
}

func (s *Store) open(ev *dojot.Event) error {
	if s.opts.Sealer == nil {
		return nil
	}
	return s.opts.Sealer.Open(ev)
}

// opened is an EVENTS message with its secrets opened, for readers of raw
// envelopes (ReadRange): data itself when nothing in it is sealed, or when
// it does not open (logged, as decode does).
func (s *Store) opened(data []byte) ([]byte, error) {
	var ev dojot.Event
	if err := decodeEvent(data, &ev, nil); err != nil || len(ev.Data) == 0 {
		return data, nil // not an envelope: the reader skips it as before
	}
	sealed := ev.Data
	if err := s.open(&ev); err != nil {
		s.unopened(&ev, err)
		return data, nil
	}
	if len(ev.Data) == len(sealed) && &ev.Data[0] == &sealed[0] { // Open left it as it was
		return data, nil
	}
	return encodeEvent(ev)
}

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
	d := plainjson.NewScanner(data)
	if !d.Consume('{') {
		return false
	}
	if d.Consume('}') {
		return d.End()
	}
	for {
		key, ok := d.Str()
		if !ok || !d.Consume(':') {
			return false
		}
		switch string(key) {
		case "id":
			ok = strField(&d, &ev.ID, nil)
		case "type":
			ok = strField(&d, &ev.Type, strs)
		case "tenant":
			ok = strField(&d, &ev.Tenant, strs)
		case "kind":
			ok = strField(&d, &ev.Kind, strs)
		case "aggregate_id":
			ok = strField(&d, &ev.AggregateID, nil)
		case "actor":
			ok = strField(&d, &ev.Actor, strs)
		case "correlation_id":
			ok = strField(&d, &ev.CorrelationID, nil)
		case "version":
			ev.Version, ok = d.Uint()
		case "time":
			ok = d.Time(&ev.Time)
		case "data":
			var v []byte
			if v, ok = d.Value(); ok {
				ev.Data = append(json.RawMessage(nil), v...)
			}
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

// strField reads a string into dst, through strs when not nil.
func strField(d *plainjson.Scanner, dst *string, strs *interner) bool {
	s, ok := d.Str()
	if ok {
		*dst = strs.get(s)
	}
	return ok
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
