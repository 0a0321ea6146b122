package flows

import (
	"context"
	"fmt"
)

// deviceOutNode publishes the value at attrs as a reading of one device
// (FLOWS.md 4.10, deprecated in dojot's palette); nothing downstream.
type deviceOutNode struct {
	attrs  string
	target targets
}

func init() {
	register("device out", func(s *spec) Node { return &deviceOutNode{attrs: attrsPath(s), target: parseSingleTarget(s)} })
}

func (n *deviceOutNode) Process(ctx context.Context, c *Call, msg Msg) ([]Msg, error) {
	return nil, publishData(ctx, c, msg, n.attrs, n.target)
}

// publishData is device out's and multi device out's effect: one reading
// per target device, each with its own output id.
func publishData(ctx context.Context, c *Call, msg Msg, attrs string, t targets) error {
	if c.Effects.Data == nil {
		return errNoEffect("data publisher")
	}
	return eachTarget(c, msg, attrs, t, func(id, device string, v any) error {
		d := DeviceData{ID: id, Tenant: c.Tenant, DeviceID: device, Timestamp: c.nowMillis(), Attrs: v, Depth: c.Depth + 1}
		if err := c.Effects.Data.PublishData(ctx, d); err != nil {
			return fmt.Errorf("publish data of %s: %w", device, err)
		}
		return nil
	})
}
