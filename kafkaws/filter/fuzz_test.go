package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

var validCodes = map[int]bool{4000: true, 4001: true, 4002: true, 4003: true, 4004: true, 4400: true}

func FuzzParse(f *testing.F) {
	f.Add("attrs/temperature", "attrs.temperature=gte:20;")
	f.Add("a(b,c),d/*/e", `ab=in:"x\ty",z;cd=bool:1;`)
	f.Add("", "x=foo:1;")
	f.Add("/(", `ab=nin:"",(,[;`)
	f.Fuzz(func(t *testing.T, fields, where string) {
		r, err := Parse(fields, where)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !validCodes[e.Code] || len(e.Reason) > 123 || r != nil {
				t.Fatalf("Parse(%q, %q) = %v, %v", fields, where, r, err)
			}
			return
		}
		r.Apply([]byte(`{"ab":"x","cd":[1,{"e":2}],"a":{"b":1}}`))
	})
}

func FuzzApply(f *testing.F) {
	rules := []*Rule{}
	for _, o := range [][2]string{
		{"", "ab=in:a,b;"},
		{"a/*/c,b(x)", ""},
		{"*", "ab.0=gte:1;cd=bool:true;"},
		{"ab,0", "ab=nin:^x.*;"},
		{"a,b", "ab=neq:3;"},
	} {
		r, err := Parse(o[0], o[1])
		if err != nil {
			f.Fatal(err)
		}
		rules = append(rules, r)
	}
	f.Add([]byte(`{"ab":[1,2],"cd":true,"a":{"x":{"c":1}}}`))
	f.Add([]byte(`{"a.b":1,"x":{"1":"y","":2},"ab":"abc","__proto__":{"z":1}}`))
	f.Add([]byte(`"abc"`))
	f.Add([]byte(`[{"ab":"a"},null,5e400,"\ud800"]`))
	f.Fuzz(func(t *testing.T, value []byte) {
		for _, r := range rules {
			r.Apply(value)
		}
	})
}

// FuzzRule: a rule that parses, applied to any value, sends JSON (the
// value itself, byte for byte, when the rule has neither fields nor
// where), and the same answer again after another value (the Rule
// remembers its last message).
func FuzzRule(f *testing.F) {
	f.Add("attrs/temperature", "attrs.temperature=gte:20;", []byte(`{"attrs":{"temperature":21,"h":1},"metadata":{"deviceid":"a1"}}`))
	f.Add("a(b,c),d/*/e", `ab=in:"x\ty",z;cd=bool:1;`, []byte(`{"ab":"z","cd":true,"a":{"b":1,"c":[2]},"d":{"q":{"e":3}}}`))
	f.Add("", "", []byte(`not JSON`))
	f.Add("*", "ab.0=gte:1;", []byte(`{"ab":[1e400,2]}`))
	f.Fuzz(func(t *testing.T, fields, where string, value []byte) {
		r, err := Parse(fields, where)
		if err != nil {
			return
		}
		out, ok := r.Apply(value)
		if ok && fields == "" && where == "" && !bytes.Equal(out, value) {
			t.Fatalf("Parse(%q, %q).Apply(%q) = %q; want the value back", fields, where, value, out)
		}
		if ok && (fields != "" || where != "") && !json.Valid(out) {
			t.Fatalf("Parse(%q, %q).Apply(%q) = %q, not JSON", fields, where, value, out)
		}
		out = bytes.Clone(out)
		r.Apply([]byte(`{"other":1}`))
		if again, ok2 := r.Apply(value); ok2 != ok || !bytes.Equal(again, out) {
			t.Fatalf("Parse(%q, %q).Apply(%q) = %q, %v, then %q, %v", fields, where, value, out, ok, again, ok2)
		}
	})
}
