package filter

import (
	"regexp"
	"strconv"
	"strings"
)

// matcher is one `in`/`nin` value. dojot calls value.toString().match(v),
// which turns v into new RegExp(v): a value is a JavaScript regular
// expression searched anywhere in the string, so `in:a.c` matches "abc".
// Most values hold no regexp syntax and are a plain substring search.
type matcher struct {
	literal string
	re      *regexp.Regexp
	// throws: new RegExp(v) throws a SyntaxError (e.g. "(") and dojot drops
	// the message when it gets there. Patterns JavaScript accepts but RE2
	// cannot run (lookaround, backreferences) are treated the same way.
	throws bool
}

const regexMeta = `\^$.|?*+()[]{}`

func newMatcher(v string) matcher {
	if !strings.ContainsAny(v, regexMeta) {
		return matcher{literal: v}
	}
	p, ok := jsRegexToGo(v)
	if !ok {
		return matcher{throws: true}
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return matcher{throws: true}
	}
	return matcher{re: re}
}

// match reports whether s matches; ok=false where JavaScript would throw.
func (m *matcher) match(s string) (matched, ok bool) {
	switch {
	case m.throws:
		return false, false
	case m.re != nil:
		return m.re.MatchString(s), true
	}
	return strings.Contains(s, m.literal), true
}

const jsSpaceClass = `\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`

// jsRegexToGo translates a JavaScript (non-unicode, Annex B) pattern into
// RE2 syntax. ok=false when JavaScript rejects it or RE2 lacks the feature.
func jsRegexToGo(p string) (string, bool) {
	var b strings.Builder
	rs := []rune(p)
	depth := 0
	canRepeat := false // an atom precedes, so a quantifier is allowed
	named := strings.Contains(p, "(?<")
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch c {
		case '\\':
			if i+1 >= len(rs) {
				return "", false
			}
			i++
			s, atom, ok := jsEscape(rs, &i, false, named)
			if !ok {
				return "", false
			}
			b.WriteString(s)
			canRepeat = atom
		case '[':
			j := i + 1
			neg := false
			if j < len(rs) && rs[j] == '^' {
				neg = true
				j++
			}
			var cls strings.Builder
			empty := true
			for ; j < len(rs) && rs[j] != ']'; j++ {
				empty = false
				switch rs[j] {
				case '\\':
					if j+1 >= len(rs) {
						return "", false
					}
					j++
					s, _, ok := jsEscape(rs, &j, true, named)
					if !ok {
						return "", false
					}
					cls.WriteString(s)
				case '[', '&', '~', ':':
					cls.WriteString(`\` + string(rs[j]))
				default:
					cls.WriteRune(rs[j])
				}
			}
			if j >= len(rs) {
				return "", false // unterminated class
			}
			switch {
			case empty && neg:
				b.WriteString(`(?s:.)`)
			case empty:
				b.WriteString(`[^\x00-\x{10FFFF}]`)
			case neg:
				b.WriteString("[^" + cls.String() + "]")
			default:
				b.WriteString("[" + cls.String() + "]")
			}
			i = j
			canRepeat = true
		case '(':
			if i+1 < len(rs) && rs[i+1] == '?' {
				switch {
				case i+2 < len(rs) && rs[i+2] == ':':
					b.WriteString("(?:")
					i += 2
				case i+2 < len(rs) && (rs[i+2] == '=' || rs[i+2] == '!'):
					return "", false // lookahead: RE2 has none
				case i+2 < len(rs) && rs[i+2] == '<' && i+3 < len(rs) && rs[i+3] != '=' && rs[i+3] != '!':
					b.WriteString("(?P<")
					i += 2
				default:
					return "", false
				}
			} else {
				b.WriteByte('(')
			}
			depth++
			canRepeat = false
		case ')':
			if depth == 0 {
				return "", false
			}
			depth--
			b.WriteByte(')')
			canRepeat = true
		case '|':
			b.WriteByte('|')
			canRepeat = false
		case '^', '$':
			b.WriteRune(c)
			canRepeat = false
		case '.':
			b.WriteString(`[^\n\r\x{2028}\x{2029}]`)
			canRepeat = true
		case '*', '+', '?':
			if !canRepeat {
				return "", false
			}
			b.WriteRune(c)
			if i+1 < len(rs) && rs[i+1] == '?' {
				b.WriteByte('?')
				i++
			}
			canRepeat = false
		case '{':
			n, m, end, isQ := braceQuantifier(rs, i)
			if !isQ {
				b.WriteString(`\{`)
				canRepeat = true
				continue
			}
			if !canRepeat || (m >= 0 && m < n) {
				return "", false
			}
			if n > 1000 || m > 1000 {
				return "", false // RE2's repeat limit
			}
			b.WriteString(string(rs[i : end+1]))
			i = end
			if i+1 < len(rs) && rs[i+1] == '?' {
				b.WriteByte('?')
				i++
			}
			canRepeat = false
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
			canRepeat = true
		}
	}
	if depth != 0 {
		return "", false
	}
	return b.String(), true
}

// braceQuantifier parses {n}, {n,} or {n,m} at rs[i]; m=-1 for no maximum.
func braceQuantifier(rs []rune, i int) (n, m, end int, ok bool) {
	j := i + 1
	num := func() (int, bool) {
		s := j
		for j < len(rs) && rs[j] >= '0' && rs[j] <= '9' {
			j++
		}
		if j == s {
			return 0, false
		}
		v, err := strconv.Atoi(string(rs[s:j]))
		if err != nil {
			v = 1 << 30
		}
		return v, true
	}
	n, ok = num()
	if !ok {
		return 0, 0, 0, false
	}
	m = n
	if j < len(rs) && rs[j] == ',' {
		j++
		m = -1
		if j < len(rs) && rs[j] >= '0' && rs[j] <= '9' {
			m, _ = num()
		}
	}
	if j >= len(rs) || rs[j] != '}' {
		return 0, 0, 0, false
	}
	return n, m, j, true
}

// jsEscape translates the escape whose letter is rs[*i]; atom reports
// whether a quantifier may follow it.
func jsEscape(rs []rune, i *int, inClass, named bool) (s string, atom, ok bool) {
	c := rs[*i]
	hex := func(n int) (rune, bool) {
		if *i+n >= len(rs) {
			return 0, false
		}
		var r rune
		for k := 1; k <= n; k++ {
			h := rune(-1)
			if rs[*i+k] < 0x80 {
				h = hexv(byte(rs[*i+k]))
			}
			if h < 0 {
				return 0, false
			}
			r = r<<4 | h
		}
		*i += n
		return r, true
	}
	switch c {
	case 'd', 'D', 'w', 'W':
		return `\` + string(c), true, true
	case 's':
		if inClass {
			return jsSpaceClass, true, true
		}
		return "[" + jsSpaceClass + "]", true, true
	case 'S':
		if inClass {
			return `\S`, true, true // approximation: RE2's ASCII \S
		}
		return "[^" + jsSpaceClass + "]", true, true
	case 'b':
		if inClass {
			return `\x08`, true, true
		}
		return `\b`, false, true
	case 'B':
		if inClass {
			return "B", true, true
		}
		return `\B`, false, true
	case 'n', 'r', 't', 'f', 'v':
		return `\` + string(c), true, true
	case '0':
		if *i+1 < len(rs) && rs[*i+1] >= '0' && rs[*i+1] <= '9' {
			return "", false, false // legacy octal
		}
		return `\x00`, true, true
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "", false, false // backreference or legacy octal
	case 'x':
		if r, ok := hex(2); ok {
			return `\x{` + strconv.FormatInt(int64(r), 16) + `}`, true, true
		}
		return "x", true, true
	case 'u':
		if r, ok := hex(4); ok {
			if r >= 0xD800 && r <= 0xDFFF {
				return "", false, false
			}
			return `\x{` + strconv.FormatInt(int64(r), 16) + `}`, true, true
		}
		return "u", true, true
	case 'c':
		if *i+1 < len(rs) && (rs[*i+1]|0x20) >= 'a' && (rs[*i+1]|0x20) <= 'z' {
			*i++
			return `\x{` + strconv.FormatInt(int64(rs[*i]%32), 16) + `}`, true, true
		}
		*i-- // Annex B: a lone "\c" is a backslash then "c"
		return `\\`, true, true
	case 'k':
		if named {
			return "", false, false
		}
	}
	if c < 0x80 && !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return `\` + string(c), true, true // identity escape; RE2 takes \ before any punctuation
	}
	return regexp.QuoteMeta(string(c)), true, true
}
