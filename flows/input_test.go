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

func TestDeviceInput(t *testing.T) {
	tests := map[string]struct {
		record    string
		templates []string // the cache's
		want      string
		wantTpl   []string
		ignored   bool
		err       string
	}{
		"create": {`{"event":"create","meta":{"service":"acme"},"data":{"id":"d1","label":"pump","templates":[6,7],"attrs":{"6":[{"label":"t","type":"dynamic","value_type":"float","id":1}],"7":[{"label":"m","type":"static","static_value":"x"}]},"created":"2026-01-01T00:00:00+00:00"}}`,
			[]string{"stale"},
			`{"data":{"attrs":{"m":{"static_value":"x","type":"static"},"t":{"id":1,"type":"dynamic","value_type":"float"}},"created":"2026-01-01T00:00:00+00:00","id":"d1","label":"pump","templates":["6","7"]},"event":"create","metadata":{"tenant":"acme"}}`,
			[]string{"6", "7"}, false, ""},
		"configure": {`{"event":"configure","meta":{"service":"acme","timestamp":1700000000000},"data":{"id":"d1","attrs":{"target":21.5}}}`,
			[]string{"6"},
			`{"data":{"attrs":{"model":"m1","target":21.5},"id":"d1"},"event":"configure","metadata":{"tenant":"acme","timestamp":1700000000000}}`,
			[]string{"6"}, false, ""},
		"remove": {`{"event":"remove","meta":{"service":"acme"},"data":{"id":"d1"}}`, []string{"6"},
			`{"data":{"id":"d1"},"event":"remove","metadata":{"tenant":"acme"}}`, []string{"6"}, false, ""},
		"template.update ignored": {`{"event":"template.update","meta":{"service":"acme"},"data":{}}`, nil, "", nil, true, ""},
		"no tenant":               {`{"event":"remove","meta":{},"data":{"id":"d1"}}`, nil, "", nil, false, "meta.service and data.id are required"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			in, ok, err := DeviceInput(9, []byte(tt.record), tt.templates, map[string]any{"model": "m1"}, 0)
			if tt.err != "" || tt.ignored {
				if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) || tt.ignored && (ok || err != nil) {
					t.Fatalf("ok %v err %v", ok, err)
				}
				return
			}
			if err != nil || !ok {
				t.Fatalf("ok %v err %v", ok, err)
			}
			if got := jsonStringify(map[string]any(in.Payload)); got != tt.want {
				t.Errorf("payload %s\nwant    %s", got, tt.want)
			}
			if !reflect.DeepEqual(in.Templates, tt.wantTpl) || in.DeviceID != "d1" || in.Tenant != "acme" {
				t.Errorf("input %+v", in)
			}
		})
	}
}
