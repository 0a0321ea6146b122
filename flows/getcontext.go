package flows

import (
	"context"
	"fmt"
)

// getContextNode reads a tenant or flow context into the message (FLOWS.md
// 4.14). No built-in node writes those contexts; the wiring may offer a
// way to (dojot only had remote nodes for it).
type getContextNode struct {
	flowLayer bool
	name      string
	nameMsg   bool // name is a msg path
	content   string
}

func init() { register("get context", newGetContext) }

func (*getContextNode) blocking() {}

func newGetContext(s *spec) Node {
	n := &getContextNode{flowLayer: s.oneOf("contextLayer", "tenant", "tenant", "flow") == "flow"}
	n.nameMsg = s.oneOf("contextNameType", "str", "str", "msg") == "msg"
	n.name = s.required("contextName")
	n.content = s.required("contextContent")
	return n
}

func (n *getContextNode) Process(ctx context.Context, c *Call, msg Msg) ([]Msg, error) {
	name := n.name
	if n.nameMsg {
		v, err := Get(msg, n.name)
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("context name at %s is not a string", n.name)
		}
		name = s
	}
	key := ContextKey{Tenant: c.Tenant, Name: name}
	if n.flowLayer {
		key.FlowID = c.FlowID
	}
	obj, _, err := readContext(ctx, c, key)
	if err != nil {
		return nil, err
	}
	if err := Set(msg, n.content, obj); err != nil {
		return nil, err
	}
	return []Msg{msg}, nil
}
