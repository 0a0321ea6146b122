package plainjson

import (
	"testing"
	"time"
)

func TestScanner(t *testing.T) {
	tests := map[string]struct {
		in   string
		read func(d *Scanner) (any, bool)
		want any // when ok
		ok   bool
	}{
		"consume":          {` {`, func(d *Scanner) (any, bool) { return nil, d.Consume('{') }, nil, true},
		"consume other":    {`[`, func(d *Scanner) (any, bool) { return nil, d.Consume('{') }, nil, false},
		"end":              {" \t\r\n", func(d *Scanner) (any, bool) { return nil, d.End() }, nil, true},
		"end not":          {" x", func(d *Scanner) (any, bool) { return nil, d.End() }, nil, false},
		"null":             {` null`, func(d *Scanner) (any, bool) { return nil, d.Null() }, nil, true},
		"null short":       {`nul`, func(d *Scanner) (any, bool) { return nil, d.Null() }, nil, false},
		"str":              {` "pump é"`, str, "pump é", true},
		"str empty":        {`""`, str, "", true},
		"str escape":       {`"a\"b"`, str, nil, false},
		"str control":      {"\"a\tb\"", str, nil, false},
		"str bad utf-8":    {"\"a\xffb\"", str, nil, false},
		"str unterminated": {`"ab`, str, nil, false},
		"time":             {`"2026-11-24T10:11:12.5+02:00"`, tm, "2026-11-24T08:11:12.5Z", true},
		"time bad":         {`"yesterday"`, tm, nil, false},
		"uint":             {` 18446744073709551615`, unsigned, uint64(1<<64 - 1), true},
		"uint zero":        {`0`, unsigned, uint64(0), true},
		"uint leading 0":   {`01`, unsigned, nil, false},
		"uint overflow":    {`18446744073709551616`, unsigned, nil, false},
		"uint negative":    {`-1`, unsigned, nil, false},
		"int":              {` -42`, integer, -42, true},
		"int max":          {`9223372036854775807`, integer, 1<<63 - 1, true},
		"int minus zero":   {`-0`, integer, 0, true},
		"int leading 0":    {`-01`, integer, nil, false},
		"int fraction":     {`1.5`, integer, nil, false},
		"int exponent":     {`1e3`, integer, nil, false},
		"int sign only":    {`-`, integer, nil, false},
		"value object":     {` {"a":[1,"x,}]"]} ,`, value, `{"a":[1,"x,}]"]}`, true},
		"value last":       {`null }`, value, `null`, true},
		"value escaped":    {`"a\"}b"}`, value, `"a\"}b"`, true},
		"value invalid":    {`{"a":}}`, value, nil, false},
		"value empty":      {` }`, value, nil, false},
		"value unended":    {`[1,2]`, value, nil, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d := NewScanner([]byte(tt.in))
			got, ok := tt.read(&d)
			if ok != tt.ok || ok && got != tt.want {
				t.Errorf("%s on %q = %v, %v; want %v, %v", name, tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func str(d *Scanner) (any, bool)      { s, ok := d.Str(); return string(s), ok }
func unsigned(d *Scanner) (any, bool) { return d.Uint() }
func integer(d *Scanner) (any, bool)  { return d.Int() }
func value(d *Scanner) (any, bool)    { v, ok := d.Value(); return string(v), ok }
func tm(d *Scanner) (any, bool) {
	var t time.Time
	ok := d.Time(&t)
	return t.UTC().Format(time.RFC3339Nano), ok
}

func TestObject(t *testing.T) {
	for _, c := range []struct {
		in    string
		names string
		ok    bool
	}{
		{`{}`, "", true}, {` { "a" : 1 , "b":[2] } `, "ab", true}, {`{"a":1,}`, "a", false},
		{`{,}`, "", false}, {`{"a" 1}`, "", false}, {`{"a\\n":1}`, "", false}, {`[1]`, "", false}, {`{"a":1`, "a", false},
	} {
		d := NewScanner([]byte(c.in))
		var names string
		ok := d.Object(func(name []byte) bool {
			names += string(name)
			_, ok := d.Value()
			return ok
		})
		if ok != c.ok || names != c.names {
			t.Errorf("Object(%s) = %v with names %q; want %v, %q", c.in, ok, names, c.ok, c.names)
		}
	}
}
