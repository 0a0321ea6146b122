package mqtt

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
)

// oneDevice is a device view with the device admin:a1b2c3 only.
type oneDevice struct{}

func (oneDevice) Device(tenant, id string) (dojot.Device, bool) {
	return dojot.Device{ID: id}, tenant == "admin" && id == "a1b2c3"
}

// FuzzReading: a publish's topic and payload. A topic that parses names a
// device; a payload accepted on it is a JSON object within MaxPayload, and
// the reading stored is that device's, with the payload as attrs, byte for
// byte, and the payload's timestamp when it has one.
func FuzzReading(f *testing.F) {
	for _, s := range payloadSeeds {
		f.Add("admin:a1b2c3/attrs", []byte(s))
	}
	f.Add("/admin/a1b2c3/attrs", []byte(`{"t":1}`))
	f.Add("admin:ffffff/attrs", []byte(`{"t":1}`))
	a := &Agent{opts: Options{MaxPayload: 4096, Devices: oneDevice{}}}
	now := time.UnixMilli(1775000000000)
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		tp, err := ParseTopic(topic)
		if err != nil || tp.Kind != KindAttrs {
			return
		}
		reading, ref := a.reading(tp, payload, now)
		var obj map[string]json.RawMessage
		isObject := json.Unmarshal(payload, &obj) == nil && obj != nil
		known := tp.Tenant == "admin" && tp.Device == "a1b2c3"
		if ref != nil {
			if isObject && known && len(payload) <= 4096 {
				t.Fatalf("%s %q refused: %s", topic, payload, ref.msg)
			}
			return
		}
		if !isObject || !known {
			t.Fatalf("%s %q accepted", topic, payload)
		}
		var r struct {
			Metadata struct {
				DeviceID, Tenant string
				Timestamp        int64
			}
			Attrs json.RawMessage
		}
		if err := json.Unmarshal(reading, &r); err != nil || r.Metadata.DeviceID != tp.Device || r.Metadata.Tenant != tp.Tenant ||
			!bytes.Equal(r.Attrs, bytes.TrimSpace(payload)) || r.Metadata.Timestamp != dojot.ReadingTime(obj["timestamp"], now) {
			t.Fatalf("%s %q: reading %q (%v)", topic, payload, reading, err)
		}
	})
}
