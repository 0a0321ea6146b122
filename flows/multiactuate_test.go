package flows

import "testing"

// TestMultiActuate: multi actuate chooses its devices as multi device out
// does (multiTargetCases) and sends actuations instead of readings.
func TestMultiActuate(t *testing.T) {
	runEffectCases(t, "multi actuate", multiTargetCases(func(id, dev string, attrs any) Effect {
		return Effect{Kind: "actuation", Tenant: "admin", Value: Actuation{ID: id, Tenant: "admin", DeviceID: dev, Timestamp: testNow.UnixMilli(), Attrs: attrs, Depth: 1}}
	}))
}
