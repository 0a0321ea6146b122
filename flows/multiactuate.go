package flows

import "context"

// multiActuateNode sends the value at attrs as a configure to each target
// device (FLOWS.md 4.13); nothing downstream.
type multiActuateNode struct {
	attrs  string
	target targets
}

func init() {
	register("multi actuate", func(s *spec) Node {
		return &multiActuateNode{attrs: attrsPath(s), target: parseMultiTarget(s)}
	})
}

func (n *multiActuateNode) Process(ctx context.Context, c *Call, msg Msg) ([]Msg, error) {
	return nil, actuate(ctx, c, msg, n.attrs, n.target)
}
