// Package history is dojot's persister and History: projections of the
// DATA stream (device readings) and of the EVENTS stream (actuations) into
// a history view, one document per attribute of each reading, queried as
// dojot's History API does.
//
// Two views: Memory, an index kept in the process (per device and
// attribute: timestamp and stream sequence, the values read back from
// JetStream), rebuilt at start and bounded by the DATA stream's retention;
// and Mongo, dojot's persister layout (database device_history, a
// collection <tenant>_<deviceid> per device, one document per attribute,
// indexes on ts and attr+ts, a TTL on ts).
//
// Both are fed by two projections.Runner, one per stream, each with its
// own checkpoint (Readings and Events); documents are keyed by stream and
// sequence, so applying a reading twice stores it once.
package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/internal/plainjson"
)

// Doc is one attribute of one reading, as dojot's persister stores it:
// {"attr","value","device_id","ts","metadata"}.
type Doc struct {
	Attr     string
	Value    json.RawMessage
	DeviceID string
	// TS is the reading's time, to the millisecond (a Mongo date).
	TS time.Time
	// Metadata is the reading's metadata without deviceid, tenant and
	// timestamp, as a JSON object ("{}" when nothing is left).
	Metadata json.RawMessage
	// Ref says where the doc comes from: the stream sequence of the
	// reading, with RefEvent set for an actuation from EVENTS. Docs of the
	// same time are ordered by Ref (it fits an int64 for Mongo).
	Ref uint64
}

// RefEvent marks a Doc.Ref that is an EVENTS sequence (a configure).
const RefEvent = 1 << 62

// Query selects the docs of one attribute of one device, as dojot's
// History parses lastN, hLimit, firstN, dateFrom and dateTo.
type Query struct {
	Attr string
	// Limit is how many docs at most (0: all).
	Limit int
	// Oldest returns the oldest first (firstN); else the newest first.
	Oldest bool
	// From and To bound ts, inclusive; a zero time is no bound.
	From, To time.Time
}

// MarshalJSON renders d as dojot's History does: Mongo's document order,
// ts as Python's isoformat() plus "Z".
func (d Doc) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 96+len(d.Value)+len(d.Metadata))
	b = append(b, `{"attr":`...)
	b = strconv.AppendQuote(b, d.Attr)
	b = append(b, `,"value":`...)
	b = append(b, d.Value...)
	b = append(b, `,"device_id":`...)
	b = strconv.AppendQuote(b, d.DeviceID)
	b = append(b, `,"ts":"`...)
	b = append(b, FormatTS(d.TS)...)
	b = append(b, `","metadata":`...)
	if len(d.Metadata) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, d.Metadata...)
	}
	return append(b, '}'), nil
}

// FormatTS is a time as dojot's History prints it: Python's
// datetime.isoformat() of a UTC time plus "Z", so microseconds when there
// is a fraction ("2018-02-14T13:43:33.306000Z") and none when there is not
// ("2018-02-14T13:43:33Z").
func FormatTS(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05") + "Z"
	}
	return t.Format("2006-01-02T15:04:05.000000") + "Z"
}

// Blank is the one value dojot's History never returns (its queries say
// value != " ").
func Blank(v json.RawMessage) bool { return string(v) == `" "` }

// ErrNoReading: a DATA message is not a reading the persister can store
// (not JSON, no metadata, no attrs object, another device's metadata). It
// is skipped with a log line, as dojot's persister skips it.
var ErrNoReading = errors.New("not a device reading")

// ReadingDocs is what dojot's persister stores of a reading from DATA
// (dojot.EventReading): one Doc per attribute, in the payload's order.
// The device is the one the DATA subject names; a reading whose
// metadata.deviceid names another is refused. With no usable timestamp
// the time is when JetStream stored it (dojot: when the persister read it).
func ReadingDocs(ev dojot.Event) ([]Doc, error) {
	if docs, ok := plainReadingDocs(ev); ok {
		return docs, nil
	}
	return decodeReadingDocs(ev)
}

// decodeReadingDocs is ReadingDocs by encoding/json, for any reading.
func decodeReadingDocs(ev dojot.Event) ([]Doc, error) {
	var r struct {
		Metadata map[string]json.RawMessage `json:"metadata"`
		Attrs    json.RawMessage            `json:"attrs"`
	}
	if err := json.Unmarshal(ev.Data, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoReading, err)
	}
	if r.Metadata == nil {
		return nil, fmt.Errorf("%w: no metadata", ErrNoReading)
	}
	var dev string
	if err := json.Unmarshal(r.Metadata["deviceid"], &dev); err != nil || dev == "" {
		return nil, fmt.Errorf("%w: no metadata.deviceid", ErrNoReading)
	}
	if dev != ev.AggregateID {
		return nil, fmt.Errorf("%w: metadata.deviceid %q on the subject of device %q", ErrNoReading, dev, ev.AggregateID)
	}
	ts, ok := parseTS(r.Metadata["timestamp"])
	if !ok {
		ts = ev.Time
	}
	delete(r.Metadata, "deviceid")
	delete(r.Metadata, "timestamp")
	delete(r.Metadata, "tenant")
	meta := json.RawMessage("{}")
	if len(r.Metadata) > 0 {
		var err error
		if meta, err = json.Marshal(r.Metadata); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoReading, err)
		}
	}
	return attrDocs(r.Attrs, dev, ts.Truncate(time.Millisecond), meta, ev.Seq)
}

// plainReadingDocs is ReadingDocs on the direct path (internal/plainjson)
// for a reading in the shape the agents write:
// {"metadata":{"deviceid","tenant","timestamp"},"attrs":{...}}, with plain
// member names. ok is false for anything else (more metadata, a name that
// needs unescaping, a repeated or case-folded top-level member, a reading
// to refuse), which ReadingDocs then decodes with encoding/json: the
// persister indexes every reading, and decoding them with encoding/json
// cost more than storing them.
func plainReadingDocs(ev dojot.Event) (docs []Doc, ok bool) {
	d := plainjson.NewScanner(ev.Data)
	var dev []byte
	var ts time.Time
	var haveTS, haveMeta, haveAttrs bool
	metadata := func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "deviceid":
			dev, ok = d.Str()
		case "tenant":
			_, ok = d.Str()
		case "timestamp":
			var raw []byte
			if raw, ok = d.Value(); ok {
				ts, haveTS = plainTS(raw)
			}
		}
		// Any other key is more metadata: kept as dojot keeps it, by
		// encoding/json.
		return ok
	}
	ok = d.Object(func(name []byte) bool {
		switch string(name) {
		case "metadata":
			if haveMeta {
				return false
			}
			haveMeta = true
			return d.Object(metadata)
		case "attrs":
			if haveAttrs {
				return false
			}
			haveAttrs = true
			docs, ok = plainAttrs(&d)
			return ok
		}
		if strings.EqualFold(string(name), "metadata") || strings.EqualFold(string(name), "attrs") {
			return false
		}
		_, ok := d.Value()
		return ok
	})
	if !ok || !d.End() || !haveMeta || len(dev) == 0 || string(dev) != ev.AggregateID || !haveAttrs {
		return nil, false
	}
	if !haveTS {
		ts = ev.Time
	}
	ts = ts.Truncate(time.Millisecond)
	for i := range docs {
		docs[i].DeviceID, docs[i].TS, docs[i].Metadata, docs[i].Ref = ev.AggregateID, ts, emptyObject, ev.Seq
	}
	return docs, true
}

// plainTS is parseTS for the usual timestamp, a JSON number; ok is false
// for anything else.
func plainTS(raw []byte) (time.Time, bool) {
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return parseTS(raw)
	}
	f, err := strconv.ParseFloat(string(raw), 64) // a valid JSON number: what encoding/json reads
	if err != nil {
		return time.Time{}, false
	}
	return numberTS(f)
}

// plainAttrs reads the attrs object as attrDocs does (a name given twice
// keeps its first place and its last value), names and values only.
func plainAttrs(d *plainjson.Scanner) ([]Doc, bool) {
	docs := make([]Doc, 0, 4)
	ok := d.Object(func(name []byte) bool {
		v, ok := d.Value()
		if !ok {
			return false
		}
		if i := indexAttrBytes(docs, name); i >= 0 {
			docs[i].Value = v
		} else {
			docs = append(docs, Doc{Attr: string(name), Value: v})
		}
		return true
	})
	return docs, ok
}

// emptyObject is the metadata of a reading that has no more than
// deviceid, tenant and timestamp.
var emptyObject = json.RawMessage("{}")

func indexAttrBytes(docs []Doc, attr []byte) int {
	for i := range docs {
		if docs[i].Attr == string(attr) {
			return i
		}
	}
	return -1
}

// ActuationDocs is what dojot's persister stores of a configure event
// (device.actuated): its attrs as a reading at the event's timestamp.
func ActuationDocs(ev dojot.Event) ([]Doc, error) {
	var p dojot.DeviceActuated
	if err := ev.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoReading, err)
	}
	ts := time.UnixMilli(p.Timestamp).UTC()
	if p.Timestamp == 0 {
		ts = ev.Time
	}
	return attrDocs(p.Attrs, p.ID, ts.Truncate(time.Millisecond), json.RawMessage("{}"), ev.Seq|RefEvent)
}

// attrDocs splits a JSON object into one doc per key, in order; a key given
// twice keeps its first place and its last value, as Python's json does.
func attrDocs(attrs json.RawMessage, dev string, ts time.Time, meta json.RawMessage, ref uint64) ([]Doc, error) {
	dec := json.NewDecoder(bytes.NewReader(attrs))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("%w: attrs is not a JSON object", ErrNoReading)
	}
	var docs []Doc
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: attrs: %v", ErrNoReading, err)
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: attrs: %v", ErrNoReading, err)
		}
		d := Doc{Attr: key, Value: v, DeviceID: dev, TS: ts, Metadata: meta, Ref: ref}
		if i := indexAttr(docs, key); i >= 0 {
			docs[i].Value = v
			continue
		}
		docs = append(docs, d)
	}
	return docs, nil
}

func indexAttr(docs []Doc, attr string) int {
	for i := range docs {
		if docs[i].Attr == attr {
			return i
		}
	}
	return -1
}

// parseTS reads metadata.timestamp as dojot's persister does: a number up
// to 2^31-1 is seconds, a larger one milliseconds; a string is a number
// (the same rule) or an ISO-8601 time. ok is false when there is none or
// it cannot be read.
func parseTS(raw json.RawMessage) (time.Time, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, false
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return time.Time{}, false
	}
	return tsValue(v)
}

// tsValue is parseTS of a decoded value (encoding/json's or bsonOf's).
func tsValue(v any) (time.Time, bool) {
	switch v := v.(type) {
	case float64:
		return numberTS(v)
	case int64:
		return numberTS(float64(v))
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			return numberTS(f)
		}
		return ParseISO(v)
	}
	return time.Time{}, false
}

func numberTS(v float64) (time.Time, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1<<53 {
		return time.Time{}, false
	}
	if v > math.MaxInt32 {
		return time.UnixMilli(int64(v)).UTC(), true
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// isoLayouts are the ISO-8601 forms ParseISO accepts, most specific first.
var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// ParseISO reads an ISO-8601 date or time as dojot's History takes
// dateFrom and dateTo (dateutil): with no zone it is UTC.
func ParseISO(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range isoLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
