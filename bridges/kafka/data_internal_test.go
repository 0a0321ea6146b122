package kafka

import (
	"encoding/json"
	"testing"

	"github.com/dojot-es/dojot"
)

func FuzzParseReading(f *testing.F) {
	f.Add("admin.device-data", []byte(`{"metadata":{"deviceid":"c6ea4b","tenant":"admin","timestamp":1528226137452},"attrs":{"humidity":60}}`))
	f.Add("admin.device-data", []byte(`{"metadata":{"deviceid":"c6.ea4b","tenant":"admin"},"attrs":{}}`))
	f.Add("x.device-data", []byte(`null`))
	f.Fuzz(func(t *testing.T, topic string, value []byte) {
		tenant, device, err := parseReading(topic, value)
		if err != nil {
			return
		}
		if !dojot.ValidTenant(tenant) || !dojot.ValidToken(device) || topic != tenant+".device-data" || !json.Valid(value) {
			t.Errorf("parseReading(%q, %s) = %q, %q: accepted an unsafe record", topic, value, tenant, device)
		}
	})
}
