package sigfox

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzParse: any callback body. One that is accepted gives a JSON object
// of attrs keeping the body's members, the Sigfox id the body names, and,
// when the body has a timestamp, that time in epoch ms and as the ISO
// string in the attrs.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"device":"1A2B3C","timestamp":1600000000,"data":"0a0b","station_lat":-22.81,"station_lng":"-47.06"}`))
	f.Add([]byte(`{"device":12345,"timestamp":"1600000000.5","seqNumber":7}`))
	f.Add([]byte(`{"device":"","data":"00"}`))
	f.Add([]byte(`{"device":"X"} {}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		attrs, ts, id, err := parse(body)
		if err != nil {
			if attrs != nil || id != "" {
				t.Fatalf("parse(%q) = %q, %q with %v", body, attrs, id, err)
			}
			return
		}
		d := json.NewDecoder(bytes.NewReader(attrs))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil || m == nil || id == "" {
			t.Fatalf("parse(%q) = %q, %q", body, attrs, id)
		}
		var in map[string]json.RawMessage
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("parse(%q) accepted what is not an object: %v", body, err)
		}
		for k := range in {
			if _, ok := m[k]; !ok {
				t.Fatalf("parse(%q) lost %q: %s", body, k, attrs)
			}
		}
		if _, ok := in["timestamp"]; ok {
			s, _ := m["timestamp"].(string)
			at, err := time.Parse(time.RFC3339Nano, s)
			if err != nil || at.UnixMilli() != ts || ts < 0 {
				t.Fatalf("parse(%q): timestamp %q, ts %d", body, s, ts)
			}
		} else if ts != 0 {
			t.Fatalf("parse(%q): ts %d without a timestamp", body, ts)
		}
	})
}
