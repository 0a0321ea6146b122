package filter

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/dojot-es/dojot/internal/jsnum"
)

// Parse errors. Codes and reasons are dojot's app/Errors/*; the cases come
// from test/integration/WhereProcessing.test.js and
// test/unit/OperatorValidators.test.js unless marked otherwise.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		where  string
		code   int
		reason string
	}{
		{"temperature=gte:20,10;", 4003, "invalid arity 2 for 'gte'"},
		{"temperature=gte:x;", 4004, "invalid value x for operator 'gte'"},
		{"status=itn:failed;", 4001, "invalid operator 'itn'"},
		{"hi)", 4000, "invalid syntax"},
		{`sensor.status=in:"fa\S\iled",stop\ped;`, 4002, `invalid escape value \S`},
		{"ab=bool:;", 4000, "invalid syntax"},                         // values need one character
		{`ab=bool:"";`, 4004, `invalid value "" for operator 'bool'`}, // "" at the start is not a quoted value
		{"ab=bool:1,0;", 4003, "invalid arity 2 for 'bool'"},          // OperatorValidators: bool arity
		{"ab=gt:1,;", 4003, "invalid arity 2 for 'gt'"},               // the empty value counts
		// CONTRACT.md checklist 16 expects 4001, but "x=" is too short to be
		// a selector, so "x=foo:1" lexes as values: a syntax error (dojot
		// itself closes with 4999). With two characters it is 4001.
		{"x=foo:1;", 4000, "invalid syntax"},
		{"xy=foo:1;", 4001, "invalid operator 'foo'"},
		{"ab=on;", 4004, "invalid value on for operator 'eq'"}, // eq is numeric only
		{"ab=gt:Infinity;", 4004, "invalid value Infinity for operator 'gt'"},
		{"a=5;", 4000, "invalid syntax"},      // a selector needs two characters (Lexer.js regexp)
		{"ab=5", 4000, "invalid syntax"},      // no ";"
		{"ab=gt:", 4000, "invalid syntax"},    // unfinished
		{"ab=gt:5;;", 4000, "invalid syntax"}, // ";" alone is no token
		{"ab=ab=5;", 4000, "invalid syntax"},  // two selectors
		{"ab=5;\n", 4000, "invalid syntax"},   // line breaks match no token
		{"ab=in:x:y;", 4001, "invalid operator 'x'"},
		{`ab=in:"\q";`, 4002, `invalid escape value \q`},
		{"ab=gte:" + strings.Repeat("x", 200) + ";", 4004, ("invalid value " + strings.Repeat("x", 200))[:123]},
	}
	for _, tt := range tests {
		t.Run(tt.where, func(t *testing.T) {
			r, err := Parse("", tt.where)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) = %v, %v; want *Error %d", tt.where, r, err, tt.code)
			}
			if e.Code != tt.code || e.Reason != tt.reason {
				t.Errorf("Parse(%q) = %d %q, want %d %q", tt.where, e.Code, e.Reason, tt.code, tt.reason)
			}
			if len(e.Reason) > 123 {
				t.Errorf("reason is %d bytes", len(e.Reason))
			}
		})
	}
}

// Apply on the shapes dojot's IoT agents publish (CONTRACT.md §5 and §7).
func TestApply(t *testing.T) {
	msg := `{"metadata":{"deviceid":"a1998e","tenant":"admin","timestamp":1600000000000},"attrs":{"temperature":22.5,"on":true,"label":"pump-01"}}`
	tests := []struct {
		name, fields, where, value string
		want                       string // "" = no frame
	}{
		{"passthrough keeps bytes", "", "", "{ \"a\" : 1.0 }", "{ \"a\" : 1.0 }"},
		{"passthrough non-JSON", "", "", "\xff not json", "\xff not json"},
		{"where holds", "", "attrs.temperature=gte:20;", msg, msg},
		{"where fails", "", "attrs.temperature=gte:30;", msg, ""},
		{"fields", "attrs/temperature", "", msg, `{"attrs":{"temperature":22.5}}`},
		{"both", "metadata/deviceid,attrs(on)", "attrs.on=bool:true;attrs.label=in:pump;", msg, `{"metadata":{"deviceid":"a1998e"},"attrs":{"on":true}}`},
		{"missing path", "", "attrs.rain=neq:1;", msg, ""},
		{"absent keys", "attrs/rain", "", msg, ""}, // {"attrs":{}}: README's example, sent
		{"reformatted", "a", "", `{"a":1.50, "b":2}`, `{"a":1.5}`},
		{"in is a regexp", "", "attrs.label=in:p.mp-\\d+;", msg, msg},
		{"nin", "", "attrs.label=nin:valve;", msg, msg},
		{"not JSON", "a", "", `{"a":1`, ""},
	}
	tests[7].want = `{"attrs":{}}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.fields, tt.where)
			if err != nil {
				t.Fatal(err)
			}
			out, ok := r.Apply([]byte(tt.value))
			if got := string(out); ok != (tt.want != "") || got != tt.want {
				t.Errorf("Apply(%s) = %q, %v; want %q", tt.value, got, ok, tt.want)
			}
		})
	}
}

func TestApplyConcurrent(t *testing.T) {
	r, err := Parse("a/*,b", "c.d=in:x,y;")
	if err != nil {
		t.Fatal(err)
	}
	in := []byte(`{"a":{"k":[1,2,{"z":null}]},"b":"s","c":{"d":"yy"},"n.m":1}`)
	want, _ := r.Apply(in)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if out, _ := r.Apply(in); string(out) != string(want) {
					t.Errorf("Apply = %s, want %s", out, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestJSNumber(t *testing.T) {
	// test/unit/Utils.test.js isNumber cases, plus Number() corners.
	for _, s := range []string{"0", "1", "20", "-0", "-1", "-20", "0.0", "1.0", "20.015", "-0.0", "-1.0", "-20.015", "-.0", "-0.", " 7 ", "", "0x1F", "0b11", "0o7", "1e3", "+5"} {
		if n := jsnum.Number(s); n != n {
			t.Errorf("jsnum.Number(%q) = NaN", s)
		}
	}
	for _, s := range []string{"a", "-", "-.", "1_0", "0x", "-0x1", "1e", "Infinityx", "١"} {
		if n := jsnum.Number(s); n == n {
			t.Errorf("jsnum.Number(%q) = %v, want NaN", s, n)
		}
	}
	for f, want := range map[float64]string{1e21: "1e+21", 1e20: "100000000000000000000", 1e-7: "1e-7", 0.000001: "0.000001", 123.456: "123.456", -1.5e-10: "-1.5e-10", 2e-323: "2e-323"} {
		if got := string(jsnum.Append(nil, f)); got != want {
			t.Errorf("jsnum.Append(%v) = %s, want %s", f, got, want)
		}
	}
}
