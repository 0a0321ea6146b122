package filter

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// isJSSpace reports whether r is WhiteSpace or LineTerminator in
// ECMAScript, the set String.prototype.trim and Number() strip.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

func jsTrim(s string) string {
	return strings.TrimFunc(s, isJSSpace)
}

// jsNumber is JavaScript's Number(string) (StringToNumber): trimmed, empty
// is 0, Infinity, 0x/0o/0b integers, decimal literals such as ".5" or "5.";
// anything else is NaN.
func jsNumber(s string) float64 {
	s = jsTrim(s)
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
				d := int(hexv(byte(c)))
				if c > 0x7f || d < 0 || d >= base {
					return math.NaN()
				}
				f = f*float64(base) + float64(d)
			}
			return f
		}
	}
	body := s
	if body[0] == '+' || body[0] == '-' {
		body = body[1:]
	}
	if body == "Infinity" {
		if s[0] == '-' {
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	// StrUnsignedDecimalLiteral: digits [. digits] | . digits, then [eE][+-]digits.
	i, intDigits, fracDigits := 0, 0, 0
	for i < len(body) && body[i] >= '0' && body[i] <= '9' {
		i++
		intDigits++
	}
	if i < len(body) && body[i] == '.' {
		i++
		for i < len(body) && body[i] >= '0' && body[i] <= '9' {
			i++
			fracDigits++
		}
	}
	if intDigits+fracDigits == 0 {
		return math.NaN()
	}
	if i < len(body) && (body[i] == 'e' || body[i] == 'E') {
		i++
		if i < len(body) && (body[i] == '+' || body[i] == '-') {
			i++
		}
		expDigits := 0
		for i < len(body) && body[i] >= '0' && body[i] <= '9' {
			i++
			expDigits++
		}
		if expDigits == 0 {
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

// appendJSNumber appends Number.prototype.toString(10) of f, which is also
// what JSON.stringify prints for finite numbers.
func appendJSNumber(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	case f == 0:
		return append(b, '0')
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64) // d[.ddd]e±XX
	mant, exp, _ := strings.Cut(string(e), "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k, n := len(digits), x+1
	switch {
	case k <= n && n <= 21:
		b = append(b, digits...)
		for i := 0; i < n-k; i++ {
			b = append(b, '0')
		}
	case 0 < n && n <= 21:
		b = append(b, digits[:n]...)
		b = append(b, '.')
		b = append(b, digits[n:]...)
	case -6 < n && n <= 0:
		b = append(b, "0."...)
		for i := 0; i < -n; i++ {
			b = append(b, '0')
		}
		b = append(b, digits...)
	default:
		b = append(b, digits[0])
		if k > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		if n-1 >= 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, int64(n-1), 10)
	}
	return b
}

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
		return jsNumber(v.s)
	case kArr:
		// Number([]) is 0 and Number([x]) is Number(String(x)); flat only
		// leaves empty arrays, unflatten may leave holes.
		return jsNumber(toJSString(v))
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
		return string(appendJSNumber(nil, v.n))
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
