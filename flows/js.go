package flows

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
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

// isJSSpace is ECMAScript's WhiteSpace or LineTerminator, what Number()
// trims.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// jsStringToNumber is Number(s): trimmed; "" is 0; decimal literals
// (".5", "5.", "1e3"), Infinity and 0x/0o/0b integers; anything else NaN.
// strconv alone would also accept "inf", "NaN", "1_0" and hex floats.
func jsStringToNumber(s string) float64 {
	s = strings.TrimFunc(s, isJSSpace)
	if s == "" {
		return 0
	}
	if len(s) > 2 && s[0] == '0' {
		base := 0
		switch s[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 0 {
			f := 0.0
			for _, c := range s[2:] {
				d, err := strconv.ParseUint(string(c), base, 8)
				if err != nil {
					return math.NaN()
				}
				f = f*float64(base) + float64(d)
			}
			return f
		}
	}
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 {
		return math.NaN()
	}
	if body == "Infinity" {
		if s[0] == '-' {
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	digits, i := 0, 0
	for ; i < len(body) && body[i] >= '0' && body[i] <= '9'; i++ {
		digits++
	}
	if i < len(body) && body[i] == '.' {
		for i++; i < len(body) && body[i] >= '0' && body[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return math.NaN()
	}
	if i < len(body) && (body[i] == 'e' || body[i] == 'E') {
		i++
		if i < len(body) && (body[i] == '+' || body[i] == '-') {
			i++
		}
		exp := 0
		for ; i < len(body) && body[i] >= '0' && body[i] <= '9'; i++ {
			exp++
		}
		if exp == 0 {
			return math.NaN()
		}
	}
	if i != len(body) {
		return math.NaN()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return math.NaN()
	}
	return f
}

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
		return jsStringToNumber(x)
	case []any:
		return jsStringToNumber(jsString(x))
	}
	return math.NaN() // undefined, objects
}

// jsNumberString is Number.prototype.toString() for a float64. JavaScript
// and encoding/json share the same shortest-digits algorithm; only the
// exponent form differs ("1e-7", not "1e-07").
func jsNumberString(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	abs, format := math.Abs(f), byte('f')
	if abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	b := strconv.AppendFloat(nil, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return string(b)
}

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
