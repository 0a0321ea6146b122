package flows

import (
	"encoding/json"
	"fmt"
)

// DataInput normalises a DATA stream record, dojot's device-data shape
// {"metadata":{"deviceid","tenant","timestamp",…},"attrs":{…}}, into a
// publish Input (FLOWS.md 3.1): {"event":"publish","metadata":{<metadata
// minus deviceid>},"data":{"id","attrs"}}, with the device's static attrs
// (label -> static_value, those with a non-empty value) written over the
// published ones, as dojot does. depth is what the record carries from a
// flow's device out (0 for a device's own reading).
func DataInput(seq uint64, record []byte, templates []string, static map[string]any, depth int) (Input, error) {
	var rec struct {
		Metadata map[string]any `json:"metadata"`
		Attrs    map[string]any `json:"attrs"`
	}
	if err := json.Unmarshal(record, &rec); err != nil {
		return Input{}, fmt.Errorf("decode device data: %w", err)
	}
	device, _ := rec.Metadata["deviceid"].(string)
	tenant, _ := rec.Metadata["tenant"].(string)
	if device == "" || tenant == "" {
		return Input{}, fmt.Errorf("decode device data: metadata.deviceid and metadata.tenant are required")
	}
	delete(rec.Metadata, "deviceid")
	if rec.Attrs == nil {
		rec.Attrs = map[string]any{}
	}
	for label, v := range static {
		if s, ok := v.(string); ok && s == "" {
			continue
		}
		rec.Attrs[label] = v
	}
	return Input{
		Seq: seq, Tenant: tenant, Event: "publish", DeviceID: device, Templates: templates, Depth: depth,
		Payload: Msg{"event": "publish", "metadata": rec.Metadata, "data": map[string]any{"id": device, "attrs": rec.Attrs}},
	}, nil
}
