package plainjson

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzScanner: what the Scanner accepts, encoding/json (which it stands
// in for) reads the same way. The input is read as an object whose
// members are each tried as a string, an int, a uint, null, a time and
// finally any value.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		`{"id":"a1b2c3","n":-12,"u":18446744073709551615,"x":null,"t":"2026-11-24T10:11:12.5+02:00","v":{"a":[1,"]}"]}}`,
		` { "a" : "pump é" , "b" : 0 } `, `{}`, `{"a":"x\"y"}`, `{"a":01}`, `{"a":1.5e3}`, `{"a":[}`, "{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := map[string]any{}
		d := NewScanner(b)
		ok := d.Object(func(name []byte) bool {
			for _, read := range []func(d *Scanner) (any, bool){
				func(d *Scanner) (any, bool) { s, ok := d.Str(); return string(s), ok },
				func(d *Scanner) (any, bool) { return d.Int() },
				func(d *Scanner) (any, bool) { return d.Uint() },
				func(d *Scanner) (any, bool) { return nil, d.Null() },
				func(d *Scanner) (any, bool) { var t time.Time; ok := d.Time(&t); return t, ok },
				func(d *Scanner) (any, bool) { v, ok := d.Value(); return json.RawMessage(v), ok },
			} {
				save := d
				if v, ok := read(&d); ok {
					got[string(name)] = v
					return true
				}
				d = save
			}
			return false
		}) && d.End()
		if !ok {
			return
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("Scanner accepted %q; encoding/json: %v", b, err)
		}
		if len(want) != len(got) {
			t.Fatalf("%q: Scanner read %d members, encoding/json %d", b, len(got), len(want))
		}
		for name, v := range got {
			raw, present := want[name]
			if !present {
				t.Fatalf("%q: member %q unknown to encoding/json", b, name)
			}
			switch v := v.(type) {
			case json.RawMessage:
				if !bytes.Equal(bytes.TrimSpace(v), raw) {
					t.Fatalf("%q: %q is %q; encoding/json: %q", b, name, v, raw)
				}
			case time.Time:
				var w time.Time
				if err := json.Unmarshal(raw, &w); err != nil || !w.Equal(v) {
					t.Fatalf("%q: %q is %v; encoding/json: %v, %v", b, name, v, w, err)
				}
			case string:
				sameAs(t, b, name, raw, v)
			case int:
				sameAs(t, b, name, raw, v)
			case uint64:
				sameAs(t, b, name, raw, v)
			case nil:
				if string(raw) != "null" {
					t.Fatalf("%q: %q is null; encoding/json: %s", b, name, raw)
				}
			}
		}
	})
}

// sameAs checks that encoding/json reads raw, member name of b, as v.
func sameAs[T comparable](t *testing.T, b []byte, name string, raw json.RawMessage, v T) {
	t.Helper()
	var w T
	if err := json.Unmarshal(raw, &w); err != nil || w != v {
		t.Fatalf("%q: %q is %v; encoding/json: %v, %v", b, name, v, w, err)
	}
}
