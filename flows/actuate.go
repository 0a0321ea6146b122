package flows

import (
	"context"
	"fmt"
)

// actuateNode sends the value at attrs as a configure to one device
// (FLOWS.md 4.12, deprecated in dojot's palette); nothing downstream. The
// Actuator goes through the commands, which check the attrs against the
// device's actuators (dojot did not, #1313).
type actuateNode struct {
	attrs  string
	target targets
}

func init() {
	register("actuate", func(s *spec) Node { return &actuateNode{attrs: attrsPath(s), target: parseSingleTarget(s)} })
}

func (n *actuateNode) Process(ctx context.Context, c *Call, msg Msg) ([]Msg, error) {
	return nil, actuate(ctx, c, msg, n.attrs, n.target)
}

// actuate is actuate's and multi actuate's effect: one actuation per
// target device, each with its own output id.
func actuate(ctx context.Context, c *Call, msg Msg, attrs string, t targets) error {
	if c.Effects.Actuator == nil {
		return errNoEffect("actuator")
	}
	return eachTarget(c, msg, attrs, t, func(id, device string, v any) error {
		a := Actuation{ID: id, Tenant: c.Tenant, DeviceID: device, Timestamp: c.nowMillis(), Attrs: v, Depth: c.Depth + 1}
		if err := c.Effects.Actuator.Actuate(ctx, a); err != nil {
			return fmt.Errorf("actuate %s: %w", device, err)
		}
		return nil
	})
}
