package flows

import "testing"

// TestActuate: actuate chooses its device as device out does
// (singleTargetCases) and sends an actuation instead of a reading.
func TestActuate(t *testing.T) {
	runEffectCases(t, "actuate", singleTargetCases(func(id, dev string, attrs any) Effect {
		return Effect{Kind: "actuation", Tenant: "admin", Value: Actuation{ID: id, Tenant: "admin", DeviceID: dev, Timestamp: testNow.UnixMilli(), Attrs: attrs, Depth: 1}}
	}))
}
