package mqtt

import (
	"encoding/json"
	"testing"
)

var payloadSeeds = []string{
	`{}`, ` { } `, `{"timestamp":1}`, `{"a":1,"timestamp":"2020-01-01T00:00:00Z","b":[1,{"timestamp":2}]}`,
	`{"timestamp":1,"timestamp":2}`, `{"t\u0069mestamp":3}`, `{"a":"x\"}","timestamp":4}`,
	`{"a":{"b":"]}"},"timestamp" : -1.5e3 }`, `{"timestamp":null}`, `{"timestamp":{"x":[]}}`,
	`{"Timestamp":1}`, `[]`, `[1,2]`, `null`, `1`, `"s"`, `true`, ``, `{`, `{"a":}`, `not json`,
	`{"a":1}x`, "{\"a\":\"\xff\"}", "\t{\"timestamp\":\t5\n}\r\n",
}

// TestObjectMember: objectMember agrees with decoding into a map, which
// it replaces.
func TestObjectMember(t *testing.T) {
	for _, s := range payloadSeeds {
		checkObjectMember(t, []byte(s))
	}
}

func FuzzObjectMember(f *testing.F) {
	for _, s := range payloadSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkObjectMember)
}

func checkObjectMember(t *testing.T, p []byte) {
	var m map[string]json.RawMessage
	err := json.Unmarshal(p, &m)
	wantOK := err == nil && m != nil
	got, ok := objectMember(p, "timestamp")
	if ok != wantOK {
		t.Fatalf("objectMember(%q) ok = %v; decoding into a map: %v, %v", p, ok, m, err)
	}
	if ok && string(got) != string(m["timestamp"]) {
		t.Fatalf("objectMember(%q) = %q; want %q", p, got, m["timestamp"])
	}
}
