package filter

import (
	"fmt"
	"math"
	"strings"

	"github.com/dojot-es/dojot/internal/jsnum"
)

// Close codes dojot sends (app/Errors/ErrorCodes.js).
const (
	CodeInvalidSyntax        = 4000
	CodeInvalidOperator      = 4001
	CodeInvalidEscapeValue   = 4002
	CodeInvalidOperatorArity = 4003
	CodeInvalidValue         = 4004
	CodeInvalidPathname      = 4400
)

type op uint8

const (
	opEq op = iota
	opNeq
	opGt
	opGte
	opLt
	opLte
	opIn
	opNin
	opBool
)

var opNames = map[string]op{
	"eq": opEq, "neq": opNeq, "gt": opGt, "gte": opGte, "lt": opLt, "lte": opLte,
	"in": opIn, "nin": opNin, "bool": opBool,
}

// condition is one `selector=[op:]values;` after dojot's value processing.
type condition struct {
	param string   // the flattened key, e.g. "attrs.temperature"
	path  []string // param split on "."
	op    op
	num   float64   // eq..lte
	b     bool      // bool
	set   []matcher // in, nin
}

type token struct {
	kind byte // 'p' parameter, 'o' operator, 'v' values
	text string
}

const (
	isSelChar = 1 << iota // [a-zA-Z0-9 _-]
	isSelTail             // [.[a-zA-Z0-9 _-]
)

var charClass [256]uint8

func init() {
	for c := 0; c < 256; c++ {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || c == '_' || c == '-' {
			charClass[c] = isSelChar | isSelTail
		}
	}
	charClass['.'] |= isSelTail
	charClass['['] |= isSelTail
}

// lex returns the next token of where at pos, as the moo lexer of
// app/WhereProcessing/Lexer.js does: the first of its three rules that
// matches at pos wins.
func lex(where string, pos int) (token, int, *Error) {
	// parameter: /[a-zA-Z0-9 _-]+[.[a-zA-Z0-9 _-]+]*=/. The second class is
	// "[.[a-zA-Z0-9 _-]" followed by "+", then "]*": a selector needs at
	// least two characters, may hold "[" and "]", and "a=1;" does not lex
	// as a parameter in dojot.
	if charClass[where[pos]]&isSelChar != 0 {
		j := pos + 1
		for j < len(where) && charClass[where[j]]&isSelTail != 0 {
			j++
		}
		if j-pos >= 2 {
			k := j
			for k < len(where) && where[k] == ']' {
				k++
			}
			if k < len(where) && where[k] == '=' {
				return token{'p', where[pos:k]}, k + 1, nil
			}
		}
	}
	// operator: /[a-z]+:/, checked against the operator list right away.
	j := pos
	for j < len(where) && where[j] >= 'a' && where[j] <= 'z' {
		j++
	}
	if j > pos && j < len(where) && where[j] == ':' {
		name := where[pos:j]
		if _, ok := opNames[name]; !ok {
			return token{}, 0, errorf(CodeInvalidOperator, "invalid operator '%s'", name)
		}
		return token{'o', name}, j + 1, nil
	}
	// values: /.+?;/ where "." excludes the JavaScript line terminators.
	for k := pos; k < len(where); {
		c := where[k]
		if c == '\n' || c == '\r' || strings.HasPrefix(where[k:], "\u2028") || strings.HasPrefix(where[k:], "\u2029") {
			break
		}
		if c == ';' && k > pos {
			return token{'v', where[pos:k]}, k + 1, nil
		}
		k++
	}
	return token{}, 0, errInvalidSyntax
}

var errInvalidSyntax = &Error{Code: CodeInvalidSyntax, Reason: "invalid syntax"}

// parseWhere parses the where option like app/WhereProcessing: the grammar
// of Grammar.ne is `condition+` with condition -> parameter operator? values.
func parseWhere(where string) ([]condition, error) {
	type raw struct{ param, op, values string }
	var raws []raw
	state := 0 // 0: want parameter or end, 1: after parameter, 2: after operator
	var cur raw
	for pos := 0; pos < len(where); {
		tok, next, err := lex(where, pos)
		if err != nil {
			return nil, err
		}
		pos = next
		// dojot (nearley 2.20.1, as pinned in its package-lock) reports an
		// unexpected token and an unfinished where ("ab=gt:") with an error
		// it does not recognise and closes with 4999 "Internal error"; its
		// invalid-operator error is wrapped the same way. We send the codes
		// dojot's README, its error classes and its tests intend instead:
		// 4000 and 4001.
		switch {
		case state == 0 && tok.kind == 'p':
			cur = raw{param: tok.text, op: "eq"}
			state = 1
		case state == 1 && tok.kind == 'o':
			cur.op = tok.text
			state = 2
		case (state == 1 || state == 2) && tok.kind == 'v':
			cur.values = tok.text
			raws = append(raws, cur)
			state = 0
		default:
			return nil, errInvalidSyntax
		}
	}
	if state != 0 {
		return nil, errInvalidSyntax
	}
	conds := make([]condition, 0, len(raws))
	for _, r := range raws {
		c, err := processCondition(r.param, r.op, r.values)
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
	}
	return conds, nil
}

// processCondition is WhereParser.processCondition plus OperatorValidator.
func processCondition(param, opName, values string) (condition, error) {
	vals, err := separateValues(values)
	if err != nil {
		return condition{}, err
	}
	c := condition{param: param, path: strings.Split(param, "."), op: opNames[opName]}
	switch c.op {
	case opIn, opNin:
		c.set = make([]matcher, len(vals))
		for i, v := range vals {
			c.set[i] = newMatcher(v)
		}
	case opBool:
		if len(vals) != 1 {
			return c, errorf(CodeInvalidOperatorArity, "invalid arity %d for '%s'", len(vals), opName)
		}
		b, ok := parseBoolean(value{k: kStr, s: vals[0]})
		if !ok {
			return c, errorf(CodeInvalidValue, "invalid value %s for operator '%s'", vals[0], opName)
		}
		c.b = b
	default:
		if len(vals) != 1 {
			return c, errorf(CodeInvalidOperatorArity, "invalid arity %d for '%s'", len(vals), opName)
		}
		n := jsnum.Number(vals[0])
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return c, errorf(CodeInvalidValue, "invalid value %s for operator '%s'", vals[0], opName)
		}
		c.num = n
	}
	return c, nil
}

// separateValues is WhereParser.separateValues: without a double quote the
// values are split on ","; otherwise the quoted values come first (with
// their escapes resolved) and then the unquoted ones, empty ones dropped.
func separateValues(values string) ([]string, error) {
	if !strings.Contains(values, `"`) {
		return strings.Split(values, ","), nil
	}
	quoted := extractQuotedValues(values)
	rest := values
	for _, q := range quoted {
		rest = strings.Replace(rest, `"`+q+`"`, "", 1)
	}
	out := make([]string, 0, len(quoted)+2)
	for _, q := range quoted {
		e, err := escapeString(q)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	for _, v := range strings.Split(rest, ",") {
		if v != "" {
			out = append(out, v)
		}
	}
	return out, nil
}

// extractQuotedValues is dojot's loop as written, quirks included: a quote
// is a closing one only when the previous character is not a backslash and
// it is not at index 0 or 1 (so `""` at the start does not close).
func extractQuotedValues(values string) []string {
	var out []string
	var cur []byte
	for i := 0; i < len(values); i++ {
		c := values[i]
		if len(cur) > 0 {
			if c == '"' && i-1 > 0 && values[i-1] != '\\' {
				out = append(out, string(cur[1:]))
				cur = cur[:0]
			} else {
				cur = append(cur, c)
			}
		} else if c == '"' {
			cur = append(cur, c)
		}
	}
	return out
}

var escapeChars = map[byte]byte{'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// escapeString is WhereParser.escapeString: `\` + letter must be one of
// b f n r t (else 4002), `\` + anything else is that character.
func escapeString(v string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			b.WriteByte(v[i])
			continue
		}
		if i+1 >= len(v) {
			// Unreachable from extractQuotedValues (a quoted value never
			// ends with a backslash); dojot would throw a TypeError here.
			return "", errInvalidSyntax
		}
		c := v[i+1]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			e, ok := escapeChars[c]
			if !ok {
				return "", errorf(CodeInvalidEscapeValue, "invalid escape value \\%c", c)
			}
			b.WriteByte(e)
		} else {
			// A multi-byte character is copied whole by the next iterations.
			b.WriteByte(c)
		}
		i++
	}
	return b.String(), nil
}

func errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Reason: truncateReason(fmt.Sprintf(format, args...))}
}

// truncateReason keeps a close reason within the 123 bytes RFC 6455 allows.
// dojot passes long reasons (a long invalid value) to ws.close, which throws
// a RangeError, and the socket then stays open and silent.
func truncateReason(s string) string {
	if len(s) <= 123 {
		return s
	}
	s = s[:123]
	for len(s) > 0 && s[len(s)-1]&0xC0 == 0x80 {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] >= 0xC0 {
		s = s[:len(s)-1]
	}
	return s
}
