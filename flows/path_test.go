package flows

import (
	"encoding/json"
	"reflect"
	"testing"
)

func msgOf(t testing.TB, s string) Msg {
	t.Helper()
	var m Msg
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGet(t *testing.T) {
	msg := `{"payload":{"data":{"attrs":{"temperature":35,"zero":0,"nil":null,"list":[10,{"x":"y"}]}}},"s":"héllo"}`
	tests := []struct {
		path string
		want any
		err  string
	}{
		{"payload.data.attrs.temperature", 35.0, ""},
		{"payload..data.attrs.temperature.", 35.0, ""}, // empty segments dropped
		{"payload.data.attrs.zero", 0.0, ""},
		{"payload.data.attrs.nil", nil, ""},
		{"payload.data.attrs.list.0", 10.0, ""},
		{"payload.data.attrs.list.1.x", "y", ""},
		{"payload.data.attrs.list.length", 2.0, ""},
		{"s.length", 5.0, ""},
		{"payload.data.attrs.humidity", nil, "Unknown property payload.data.attrs.humidity requested"},
		{"payload.data.attrs.list.2", nil, "Unknown property payload.data.attrs.list.2 requested"},
		{"payload.data.attrs.nil.x", nil, "Unknown property payload.data.attrs.nil.x requested"},
		{"msg.payload", nil, "Unknown property msg.payload requested"}, // no msg. prefix
		{"", nil, "Unknown property  requested"},
	}
	for _, tt := range tests {
		got, err := Get(msgOf(t, msg), tt.path)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("Get(%q) = %v, %v; want error %q", tt.path, got, err, tt.err)
			}
			if lookup(msgOf(t, msg), tt.path) != undef {
				t.Errorf("lookup(%q) is not undefined", tt.path)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Get(%q) = %#v, %v; want %#v", tt.path, got, err, tt.want)
		}
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		msg, path string
		value     any
		want      string
		err       string
	}{
		{`{}`, "saida.letreiro", "LOTADO", `{"saida":{"letreiro":"LOTADO"}}`, ""},
		{`{"a":{"b":1}}`, "a.c", 2.0, `{"a":{"b":1,"c":2}}`, ""},
		{`{"a":{"b":1}}`, "a.b", nil, `{"a":{"b":null}}`, ""},
		{`{"l":[1,2]}`, "l.1", 9.0, `{"l":[1,9]}`, ""},
		{`{"l":[1,2]}`, "l.2", 3.0, `{"l":[1,2,3]}`, ""},
		{`{"l":[1,2]}`, "l.2.x", 3.0, `{"l":[1,2,{"x":3}]}`, ""},
		{`{"l":[{"a":1}]}`, "l.0.b", 2.0, `{"l":[{"a":1,"b":2}]}`, ""},
		{`{"a":"text"}`, "a.b", 1.0, ``, "Cannot create property 'b' on string 'text'"},
		{`{"a":5}`, "a.b.c", 1.0, ``, "Cannot create property 'b' on number '5'"},
		{`{"l":[1]}`, "l.5", 1.0, ``, "cannot set property 5 of an array at l.5"},
		{`{}`, "..", 1.0, ``, "cannot set an empty path"},
	}
	for _, tt := range tests {
		m := msgOf(t, tt.msg)
		err := Set(m, tt.path, tt.value)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("Set(%s, %q) err = %v, want %q", tt.msg, tt.path, err, tt.err)
			}
			continue
		}
		got, _ := json.Marshal(m)
		if err != nil || string(got) != tt.want {
			t.Errorf("Set(%s, %q) = %s, %v; want %s", tt.msg, tt.path, got, err, tt.want)
		}
	}
}
