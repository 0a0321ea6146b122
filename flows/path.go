package flows

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Msg is a node-RED message: a JSON object as encoding/json decodes it.
type Msg = map[string]any

// A path names a value relative to the message, without node-RED's "msg."
// prefix: "payload.data.attrs.temperature". It is split on "." and empty
// segments are dropped; there is no bracket syntax, an array element is
// "list.0" (dojot's DataHandlerBase).

func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	if !strings.Contains(p, "..") && !strings.HasPrefix(p, ".") && !strings.HasSuffix(p, ".") {
		return strings.Split(p, ".")
	}
	var segs []string
	for _, s := range strings.Split(p, ".") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return segs
}

// child is hasOwnProperty + [] on one value: objects by key, arrays by
// index or "length", strings by index or "length" (JavaScript's own
// properties of a string primitive).
func child(v any, key string) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		c, ok := x[key]
		return c, ok
	case orderedObject:
		c, ok := x.m[key]
		return c, ok
	case []any:
		if key == "length" {
			return float64(len(x)), true
		}
		if i, ok := arrayIndex(key); ok && i < len(x) {
			return x[i], true
		}
	case string:
		if key == "length" {
			return float64(utf16Len(x)), true
		}
	}
	return nil, false
}

// utf16Len is JavaScript's string length, in UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// arrayIndex accepts the canonical decimal form JavaScript uses for array
// keys ("0", "12"; not "01" or "+1").
func arrayIndex(key string) (int, bool) {
	if key == "" || (len(key) > 1 && key[0] == '0') {
		return 0, false
	}
	for _, c := range key {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(key)
	return i, err == nil
}

// errUnknownProperty is dojot's message for a path that does not resolve.
func errUnknownProperty(path string) error {
	return fmt.Errorf("Unknown property %s requested", path) //nolint:staticcheck // dojot's exact text
}

// path is a msg path split once, when the flow is parsed.
type path struct {
	raw  string
	segs []string
}

func compilePath(p string) path { return path{raw: p, segs: splitPath(p)} }

// Get is dojot's _get: the value at path, or the error "Unknown property
// <path> requested" when a segment is missing (an empty path too).
func Get(msg Msg, p string) (any, error) { return compilePath(p).get(msg) }

func (p path) get(msg Msg) (any, error) {
	if len(p.segs) == 0 {
		return nil, errUnknownProperty(p.raw)
	}
	var v any = msg
	for _, s := range p.segs {
		c, ok := child(v, s)
		if !ok {
			return nil, errUnknownProperty(p.raw)
		}
		v = c
	}
	return v, nil
}

// lookup is switch's variant of get: undefined instead of an error.
func (p path) lookup(msg Msg) any {
	v, err := p.get(msg)
	if err != nil {
		return undef
	}
	return v
}

func lookup(msg Msg, p string) any { return compilePath(p).lookup(msg) }

// Set is dojot's _set: it creates the missing intermediate objects and
// replaces the last segment. Setting under an existing non-object value
// fails, as JavaScript's strict mode does ("Cannot create property").
// A NaN or infinite number is stored as null, as dojot's JSON round trip
// between hops turns it into null. An array element may be replaced or appended ("list.3" on 3 elements),
// not set beyond the end (JavaScript would leave holes).
func Set(msg Msg, p string, value any) error { return compilePath(p).set(msg, value) }

func (p path) set(msg Msg, value any) error {
	if f, ok := value.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		value = nil // what the JSON round trip of the next hop makes of it in dojot
	}
	segs, path := p.segs, p.raw
	if len(segs) == 0 {
		return fmt.Errorf("cannot set an empty path")
	}
	var at any = msg
	var parent func(any) // writes a grown array back where it came from
	for i, s := range segs {
		last := i == len(segs)-1
		switch x := at.(type) {
		case map[string]any:
			if last {
				x[s] = value
				return nil
			}
			next, ok := x[s]
			if !ok {
				next = map[string]any{}
				x[s] = next
			}
			parent = func(v any) { x[s] = v }
			at = next
		case []any:
			idx, ok := arrayIndex(s)
			if !ok || idx > len(x) {
				return fmt.Errorf("cannot set property %s of an array at %s", s, path)
			}
			if idx == len(x) {
				if !last {
					x = append(x, map[string]any{})
				} else {
					x = append(x, value)
				}
				parent(x)
			} else if last {
				x[idx] = value
			}
			if last {
				return nil
			}
			grown := x
			parent = func(v any) { grown[idx] = v }
			at = x[idx]
		default:
			return fmt.Errorf("Cannot create property '%s' on %s '%s'", s, jsTypeof(at), jsString(at)) //nolint:staticcheck // JavaScript's text
		}
	}
	return nil
}

func jsTypeof(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	}
	return "object"
}
