package flows

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/dojot-es/dojot/internal/jsnum"
)

// Values in a message are what encoding/json decodes into an any:
// map[string]any, []any, float64, string, bool and nil. dojot's nodes are
// JavaScript, and a few of them depend on JavaScript's coercions; the
// functions here reproduce those coercions for these Go values, so a node
// behaves as dojot's does on the same JSON. A missing value (JavaScript's
// undefined) is represented by the unexported undef marker below, never
// stored in a message.

type undefined struct{}

// undef is JavaScript's undefined: what switch's lookup gives for a
// missing property.
var undef any = undefined{}

// jsNumber is Number(v).
func jsNumber(v any) float64 {
	switch x := v.(type) {
	case nil:
		return 0
	case bool:
		if x {
			return 1
		}
		return 0
	case float64:
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case string:
		return jsnum.Number(x)
	case []any:
		return jsnum.Number(jsString(x))
	}
	return math.NaN() // undefined, objects
}

// jsNumberString is Number.prototype.toString() for a float64.
func jsNumberString(f float64) string { return string(jsnum.Append(nil, f)) }

// jsString is String(v): objects print "[object Object]", arrays their
// elements joined by "," (null and undefined elements empty).
func jsString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case undefined:
		return "undefined"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		return jsNumberString(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case string:
		return x
	case []any:
		var sb strings.Builder
		for i, e := range x {
			if i > 0 {
				sb.WriteByte(',')
			}
			if e != nil && e != undef {
				sb.WriteString(jsString(e))
			}
		}
		return sb.String()
	}
	return "[object Object]"
}

// jsTruthy is ToBoolean(v).
func jsTruthy(v any) bool {
	switch x := v.(type) {
	case nil, undefined:
		return false
	case bool:
		return x
	case float64:
		return x != 0 && !math.IsNaN(x)
	case string:
		return x != ""
	}
	return true
}

// jsStrictEqual is a === b: same type and value for primitives; objects
// and arrays are equal only to themselves, and a message never holds the
// same object twice after a copy, so they compare unequal.
func jsStrictEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case undefined:
		return b == undef
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y // NaN != NaN, as in JavaScript
	case string:
		y, ok := b.(string)
		return ok && x == y
	}
	return false
}

// jsToPrimitive is ToPrimitive with hint number for the relational
// operators: objects become "[object Object]", arrays their join.
func jsToPrimitive(v any) any {
	switch v.(type) {
	case map[string]any, []any:
		return jsString(v)
	}
	return v
}

// jsCompare is the Abstract Relational Comparison behind <, <=, >, >=: two
// strings compare lexically (by UTF-16 code units in JavaScript; here by
// bytes, which orders the same except around surrogate pairs), anything
// else numerically after Number(). ok is false when a NaN is involved,
// which makes every relational operator false.
func jsCompare(a, b any) (c int, ok bool) {
	a, b = jsToPrimitive(a), jsToPrimitive(b)
	if sa, isStr := a.(string); isStr {
		if sb, isStr := b.(string); isStr {
			return strings.Compare(sa, sb), true
		}
	}
	x, y := jsNumber(a), jsNumber(b)
	switch {
	case math.IsNaN(x) || math.IsNaN(y):
		return 0, false
	case x < y:
		return -1, true
	case x > y:
		return 1, true
	}
	return 0, true
}

func jsLess(a, b any) bool      { c, ok := jsCompare(a, b); return ok && c < 0 }
func jsLessEq(a, b any) bool    { c, ok := jsCompare(a, b); return ok && c <= 0 }
func jsGreater(a, b any) bool   { c, ok := jsCompare(a, b); return ok && c > 0 }
func jsGreaterEq(a, b any) bool { c, ok := jsCompare(a, b); return ok && c >= 0 }

// jsonStringify is JSON.stringify(v) for message values: encoding/json
// prints numbers as JavaScript does; undefined gives "" (JavaScript's
// undefined result, which templates print as nothing). SetEscapeHTML is
// off because JSON.stringify does not escape <, > and &.
func jsonStringify(v any) string {
	if v == undef {
		return ""
	}
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

// deepCopy copies a decoded JSON value, as dojot's JSON round trip between
// hops does.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}
