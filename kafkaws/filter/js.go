package filter

import (
	"math"
	"strings"
	"unicode/utf8"

	"github.com/dojot-es/dojot/internal/jsnum"
)

func jsTrim(s string) string { return strings.TrimFunc(s, jsnum.IsSpace) }

// toNumber is Number(v) for the values a flattened message holds.
func toNumber(v value) float64 {
	switch v.k {
	case kNull:
		return 0
	case kBool:
		if v.b {
			return 1
		}
		return 0
	case kNum:
		return v.n
	case kStr:
		return jsnum.Number(v.s)
	case kArr:
		// Number([]) is 0 and Number([x]) is Number(String(x)); flat only
		// leaves empty arrays, unflatten may leave holes.
		return jsnum.Number(toJSString(v))
	}
	return math.NaN()
}

// truthy is JavaScript's ToBoolean.
func truthy(v value) bool {
	switch v.k {
	case kUndef, kNull:
		return false
	case kBool:
		return v.b
	case kNum:
		return v.n != 0 && !math.IsNaN(v.n)
	case kStr:
		return v.s != ""
	}
	return true
}

// toJSString is v.toString() (String(v) for arrays: elements joined by ",").
func toJSString(v value) string {
	switch v.k {
	case kUndef:
		return "undefined"
	case kNull:
		return "null"
	case kBool:
		if v.b {
			return "true"
		}
		return "false"
	case kNum:
		return string(jsnum.Append(nil, v.n))
	case kStr:
		return v.s
	case kArr:
		var sb strings.Builder
		for i, e := range v.arr {
			if i > 0 {
				sb.WriteByte(',')
			}
			if e.k != kUndef && e.k != kNull {
				sb.WriteString(toJSString(e))
			}
		}
		return sb.String()
	case kFunc:
		return "function " + v.s + "() { [native code] }"
	}
	return "[object Object]"
}

// parseBoolean is dojot's Utils.parseBoolean; ok=false where it throws.
func parseBoolean(v value) (b, ok bool) {
	if v.k == kUndef || v.k == kNull || (v.k == kStr && v.s == "") || (v.k == kNum && math.IsNaN(v.n)) {
		return false, false
	}
	switch strings.ToLower(jsTrim(toJSString(v))) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// utf16Units splits s into its UTF-16 code units, each as a JavaScript
// one-unit string (lone surrogates in WTF-8), the way Object.keys and
// indexing see a string.
func utf16Units(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		if s[i] == 0xED && i+2 < len(s) && s[i+1] >= 0xA0 {
			out = append(out, s[i:i+3])
			i += 3
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, string(appendWTF8(nil, 0xD800+(r>>10))), string(appendWTF8(nil, 0xDC00+(r&0x3FF))))
		} else {
			out = append(out, s[i:i+n])
		}
		i += n
	}
	return out
}
