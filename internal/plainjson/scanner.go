package plainjson

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// A Scanner reads one JSON document from a byte slice. Each method skips
// leading white space, and reports false when the next token is not what
// it reads (the position is then unspecified).
type Scanner struct {
	b []byte
	i int
}

// NewScanner returns a Scanner at the start of b.
func NewScanner(b []byte) Scanner { return Scanner{b: b} }

func (d *Scanner) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// Consume reads the byte c.
func (d *Scanner) Consume(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// End reports whether only white space is left.
func (d *Scanner) End() bool {
	d.ws()
	return d.i == len(d.b)
}

// Null reads the literal null.
func (d *Scanner) Null() bool {
	d.ws()
	if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// Str reads a string without escapes, control characters or invalid UTF-8
// (where encoding/json would unescape or substitute). The result aliases
// the input.
func (d *Scanner) Str() ([]byte, bool) {
	if !d.Consume('"') {
		return nil, false
	}
	start := d.i
	ascii := true
	for ; d.i < len(d.b); d.i++ {
		switch c := d.b[d.i]; {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false
}

// Time reads a string as time.Time.UnmarshalText does.
func (d *Scanner) Time(t *time.Time) bool {
	s, ok := d.Str()
	return ok && t.UnmarshalText(s) == nil
}

// Uint reads an unsigned integer literal that fits a uint64.
func (d *Scanner) Uint() (uint64, bool) {
	d.ws()
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	digits := d.b[start:d.i]
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(digits), 10, 64)
	return n, err == nil
}

// Int reads an integer literal that fits an int (no fraction or exponent).
func (d *Scanner) Int() (int, bool) {
	d.ws()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if n := d.i - digits; n == 0 || n > 1 && d.b[digits] == '0' {
		return 0, false
	}
	if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(d.b[start:d.i]), 10, strconv.IntSize)
	return int(n), err == nil
}

// Object reads an object, calling member with each member's name; the
// scanner is then at the member's value, which member must read. It
// reports false when the next value is not an object of plain names, or
// when member does.
func (d *Scanner) Object(member func(name []byte) bool) bool {
	if !d.Consume('{') {
		return false
	}
	if d.Consume('}') {
		return true
	}
	for {
		name, ok := d.Str()
		if !ok || !d.Consume(':') || !member(name) {
			return false
		}
		if d.Consume('}') {
			return true
		}
		if !d.Consume(',') {
			return false
		}
	}
}

// Value returns the next JSON value of an object or array as it is, up to
// the comma or closing bracket that ends it, checked with json.Valid (for
// payloads that are small next to what encloses them). The result aliases
// the input.
func (d *Scanner) Value() ([]byte, bool) {
	d.ws()
	start := d.i
	depth := 0
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // the enclosing value's closing bracket
				v := bytes.TrimRight(d.b[start:d.i], " \t\r\n")
				return v, len(v) > 0 && json.Valid(v)
			}
			depth--
		case ',':
			if depth == 0 {
				v := bytes.TrimRight(d.b[start:d.i], " \t\r\n")
				return v, len(v) > 0 && json.Valid(v)
			}
		case '"':
			for d.i++; d.i < len(d.b) && d.b[d.i] != '"'; d.i++ {
				if d.b[d.i] == '\\' {
					d.i++
				}
			}
		}
		d.i++
	}
	return nil, false
}
