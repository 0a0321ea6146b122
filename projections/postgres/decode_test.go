package postgres

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/dmjson"
)

// FuzzDecodeDevice: wherever the direct decoder accepts a payload, it
// reads what encoding/json reads.
func FuzzDecodeDevice(f *testing.F) {
	for _, s := range []string{
		`{"id":"a1","label":"x","created":"2025-03-01T10:00:00.123456Z","templates":[1,2]}`,
		`{"id":"a1","label":"x","created":"2025-03-01T10:00:00Z","updated":"2025-03-01T10:00:01Z","templates":[],"overrides":[{"attr_id":3,"static_value":"v"}],"psks":[{"attr_id":5,"static_value":"k"}],"cause":"psk"}`,
		`{"id":"a1","label":"x","created":"2025-03-01T10:00:00Z","templates":null,"updated":null}`,
		`{"id":"a1","id":"b2"}`, `{"label":"\u00e7"}`, `{}`, `{"templates":[1.5]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast dojot.Device
		if !dmjson.DecodeDevice(data, &fast, "", nil) {
			return
		}
		var std dojot.DeviceUpdated
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatalf("fast decoder accepted %s, encoding/json: %v", data, err)
		}
		if !reflect.DeepEqual(fast, std.Device) {
			t.Fatalf("%s:\n fast %+v\n json %+v", data, fast, std.Device)
		}
	})
}
