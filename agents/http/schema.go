package http

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// The JSON schemas of dojot's HTTP agent (connector/http-agent,
// app/express/schemas), checked as its ajv 8 (draft 2020-12, allErrors,
// ajv-formats' date-time) does: the errors, their order, paths and
// messages are ajv's, so a client that reads them sees dojot's.
const (
	SchemaSingle   = "2674a775-5e93-4370-8f1f-2e6f9d102e1f"
	SchemaMultiple = "65b79e1a-0c6e-4fdd-9eba-7e5f2a4373fb"
)

// maxItems is the batch schema's limit.
const maxItems = 64

// schemaError is one ajv 8 error.
type schemaError struct {
	InstancePath string         `json:"instancePath"`
	SchemaPath   string         `json:"schemaPath"`
	Keyword      string         `json:"keyword"`
	Params       map[string]any `json:"params"`
	Message      string         `json:"message"`
}

// message is one incoming message as the schema reads it.
type message struct {
	TS   json.RawMessage
	Data json.RawMessage
}

// jsonType is a JSON value's type as JSON Schema names it.
func jsonType(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// checkMessage checks one message object (raw is an object) at instance
// path at, with schema path prefix sp; tsRequired for the batch's items.
func checkMessage(raw json.RawMessage, at, sp string, tsRequired bool) (message, []schemaError) {
	var errs []schemaError
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	required := []string{"data"}
	if tsRequired {
		required = []string{"ts", "data"}
	}
	for _, key := range required {
		if _, ok := m[key]; !ok {
			errs = append(errs, schemaError{at, sp + "/required", "required", map[string]any{"missingProperty": key}, "must have required property '" + key + "'"})
		}
	}
	msg := message{TS: m["ts"], Data: m["data"]}
	if ts, ok := m["ts"]; ok {
		errs = append(errs, checkTS(ts, at+"/ts", sp+"/properties/ts")...)
	}
	if data, ok := m["data"]; ok && jsonType(data) != "object" {
		errs = append(errs, schemaError{at + "/data", sp + "/properties/data/type", "type", map[string]any{"type": "object"}, "must be object"})
	}
	return msg, errs
}

// checkTS is ts's anyOf: an RFC 3339 date-time string, or an integer >= 0.
func checkTS(ts json.RawMessage, at, sp string) []schemaError {
	var errs []schemaError
	typ := jsonType(ts)
	if typ == "string" {
		var s string
		_ = json.Unmarshal(ts, &s)
		if _, ok := parseDateTime(s); ok {
			return nil
		}
		errs = append(errs, schemaError{at, sp + "/anyOf/0/format", "format", map[string]any{"format": "date-time"}, `must match format "date-time"`})
	} else {
		errs = append(errs, schemaError{at, sp + "/anyOf/0/type", "type", map[string]any{"type": "string"}, "must be string"})
	}
	if n, ok := integer(ts); ok {
		if n >= 0 {
			return nil
		}
		errs = append(errs, schemaError{at, sp + "/anyOf/1/minimum", "minimum", map[string]any{"comparison": ">=", "limit": 0}, "must be >= 0"})
	} else {
		errs = append(errs, schemaError{at, sp + "/anyOf/1/type", "type", map[string]any{"type": "integer"}, "must be integer"})
	}
	return append(errs, schemaError{at, sp + "/anyOf", "anyOf", map[string]any{}, "must match a schema in anyOf"})
}

// integer reads a JSON number that is an integer, as JavaScript sees it (a
// float64 with no fraction: 1.0 is one).
func integer(raw json.RawMessage) (float64, bool) {
	if jsonType(raw) != "number" {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != math.Trunc(f) {
		return 0, false
	}
	return f, true
}

// dateTimeRe is ajv-formats 2's date-time: a date, 't' or a space, a time
// with optional fraction and zone (its check lets the zone be absent).
var dateTimeRe = regexp.MustCompile(`(?i)^(\d\d\d\d)-(\d\d)-(\d\d)[t ](\d\d):(\d\d):(\d\d)(\.\d+)?(z|([+-])(\d\d)(?::?(\d\d))?)?$`)

// parseDateTime checks s as ajv-formats does and returns the instant (UTC
// when s names no zone, as a server in UTC parses it).
func parseDateTime(s string) (time.Time, bool) {
	m := dateTimeRe.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	num := func(i int) int { n, _ := strconv.Atoi(m[i]); return n }
	year, month, day := num(1), num(2), num(3)
	hour, minute, sec := num(4), num(5), num(6)
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return time.Time{}, false
	}
	leap := hour == 23 && minute == 59 && sec == 60
	if !(hour <= 23 && minute <= 59 && sec <= 59) && !leap {
		return time.Time{}, false
	}
	if leap {
		sec = 59 // JavaScript's Date has no leap seconds either
	}
	var nanos int
	if m[7] != "" {
		frac := (m[7][1:] + "000000000")[:9]
		nanos, _ = strconv.Atoi(frac)
	}
	loc := time.UTC
	if m[9] != "" {
		off := num(10)*3600 + num(11)*60
		if m[9] == "-" {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc), true
}

func daysIn(year, month int) int {
	if month == 2 {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	if month == 4 || month == 6 || month == 9 || month == 11 {
		return 30
	}
	return 31
}

// checkBatch checks a create-many body: an array of 1 to 64 distinct
// messages, each with ts and data.
func checkBatch(body []byte) ([]message, []schemaError) {
	if jsonType(body) != "array" {
		return nil, []schemaError{{"", "#/type", "type", map[string]any{"type": "array"}, "must be array"}}
	}
	var items []json.RawMessage
	_ = json.Unmarshal(body, &items)
	var errs []schemaError
	if len(items) > maxItems {
		errs = append(errs, schemaError{"", "#/maxItems", "maxItems", map[string]any{"limit": maxItems}, fmt.Sprintf("must NOT have more than %d items", maxItems)})
	}
	if len(items) < 1 {
		errs = append(errs, schemaError{"", "#/minItems", "minItems", map[string]any{"limit": 1}, "must NOT have fewer than 1 items"})
	}
	msgs := make([]message, len(items))
	for i, item := range items {
		at := "/" + strconv.Itoa(i)
		if jsonType(item) != "object" {
			errs = append(errs, schemaError{at, "#/items/type", "type", map[string]any{"type": "object"}, "must be object"})
			continue
		}
		var e []schemaError
		msgs[i], e = checkMessage(item, at, "#/items", true)
		errs = append(errs, e...)
	}
	if i, j, dup := duplicate(items, msgs); dup {
		errs = append(errs, schemaError{"", "#/uniqueItems", "uniqueItems", map[string]any{"i": i, "j": j},
			fmt.Sprintf("must NOT have duplicate items (items ## %d and %d are identical)", j, i)})
	}
	return msgs, errs
}

// duplicate finds two equal items as ajv's uniqueItems does: the last item
// that repeats an earlier one (i), and the nearest such earlier one (j).
// Equal items have equal ts, so only items that share a ts are compared,
// by a canonical form (keys sorted, numbers as JavaScript's float64): a
// batch whose readings have distinct times costs no encoding at all.
func duplicate(items []json.RawMessage, msgs []message) (i, j int, ok bool) {
	byTS := make(map[string][]int, len(items))
	for k := range items {
		ts := canonical(msgs[k].TS)
		byTS[ts] = append(byTS[ts], k)
	}
	keys := make(map[int]string)
	key := func(k int) string {
		if s, ok := keys[k]; ok {
			return s
		}
		keys[k] = canonical(items[k])
		return keys[k]
	}
	for i = len(items) - 1; i > 0; i-- {
		same := byTS[canonical(msgs[i].TS)]
		for p := slices.Index(same, i) - 1; p >= 0; p-- {
			if key(same[p]) == key(i) {
				return i, same[p], true
			}
		}
	}
	return 0, 0, false
}

// canonical is raw re-encoded with sorted keys and numbers as float64
// (a string or a number as is when it is one already: the common ts).
func canonical(raw json.RawMessage) string {
	if t := jsonType(raw); t == "string" && bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	} else if t == "number" {
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	_ = d.Decode(&v)
	b, _ := json.Marshal(normalize(v))
	return string(b)
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		if err != nil {
			return x.String()
		}
		return f
	}
	return v
}
