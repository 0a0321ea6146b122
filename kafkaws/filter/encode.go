package filter

import (
	"math"

	"github.com/dojot-es/dojot/internal/jsnum"
)

const hexDigits = "0123456789abcdef"

// appendJSON is JSON.stringify(v): numbers as JavaScript prints them,
// non-finite ones as null, functions and undefined left out of objects and
// null in arrays, and strings escaped only where JSON.stringify escapes
// them (", \, control characters, lone surrogates).
func appendJSON(b []byte, v value) []byte {
	switch v.k {
	case kNull, kUndef, kFunc:
		return append(b, "null"...)
	case kBool:
		if v.b {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case kNum:
		if math.IsNaN(v.n) || math.IsInf(v.n, 0) {
			return append(b, "null"...)
		}
		return jsnum.Append(b, v.n)
	case kStr:
		return appendJSONString(b, v.s)
	case kArr:
		b = append(b, '[')
		for i, e := range v.arr {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	}
	b = append(b, '{')
	first := true
	for _, m := range v.obj.m {
		if m.val.k == kUndef || m.val.k == kFunc {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, m.key)
		b = append(b, ':')
		b = appendJSON(b, m.val)
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != 0xED {
			i++
			continue
		}
		if c == 0xED && !(i+2 < len(s) && s[i+1] >= 0xA0) {
			i++ // an ordinary character U+D000..U+D7FF
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case 0xED: // a lone surrogate kept from a \u escape
			r := rune(0xD000) | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F)
			b = append(b, '\\', 'u', hexDigits[r>>12], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
			i += 3
			start = i
			continue
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
