package flows

import "context"

// multiDeviceOutNode publishes the value at attrs as a reading of each
// target device (FLOWS.md 4.11); nothing downstream.
type multiDeviceOutNode struct {
	attrs  string
	target targets
}

func init() {
	register("multi device out", func(s *spec) Node {
		return &multiDeviceOutNode{attrs: attrsPath(s), target: parseMultiTarget(s)}
	})
}

func (n *multiDeviceOutNode) Process(ctx context.Context, c *Call, msg Msg) ([]Msg, error) {
	return nil, publishData(ctx, c, msg, n.attrs, n.target)
}
