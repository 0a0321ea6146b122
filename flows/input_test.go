package flows

import (
	"reflect"
	"strings"
	"testing"
)

func TestDataInput(t *testing.T) {
	tests := map[string]struct {
		record string
		static map[string]any
		want   string // payload
		err    string
	}{
		// FLOWS.md 3.1's docs example
		"static merged": {`{"metadata":{"deviceid":"9face8","tenant":"admin","timestamp":1623163659936},"attrs":{"temperature":10}}`,
			map[string]any{"static_example": "static_example_value", "empty": ""},
			`{"data":{"attrs":{"static_example":"static_example_value","temperature":10},"id":"9face8"},"event":"publish","metadata":{"tenant":"admin","timestamp":1623163659936}}`, ""},
		"static overwrites": {`{"metadata":{"deviceid":"d","tenant":"t"},"attrs":{"model":"x"}}`, map[string]any{"model": "m1"},
			`{"data":{"attrs":{"model":"m1"},"id":"d"},"event":"publish","metadata":{"tenant":"t"}}`, ""},
		"no attrs": {`{"metadata":{"deviceid":"d","tenant":"t"}}`, nil, `{"data":{"attrs":{},"id":"d"},"event":"publish","metadata":{"tenant":"t"}}`, ""},

		"no device": {`{"metadata":{"tenant":"t"},"attrs":{}}`, nil, "", "metadata.deviceid and metadata.tenant are required"},
		"not JSON":  {`{`, nil, "", "decode device data"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			in, err := DataInput(3, []byte(tt.record), []string{"6"}, tt.static, 1)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := jsonStringify(map[string]any(in.Payload)); got != tt.want {
				t.Errorf("payload %s\nwant    %s", got, tt.want)
			}
			if in.Seq != 3 || in.Event != "publish" || in.Depth != 1 || !reflect.DeepEqual(in.Templates, []string{"6"}) {
				t.Errorf("input %+v", in)
			}
		})
	}
}
