package flows

import (
	"context"
	"errors"
	"fmt"
)

// notificationNode publishes a user notification (FLOWS.md 5); nothing
// goes downstream.
type notificationNode struct {
	dynamic bool
	static  string
	msgPath path
	source  path
}

func init() { register("notification", newNotification) }

func newNotification(s *spec) Node {
	n := &notificationNode{dynamic: s.oneOf("msgType", "static", "static", "dynamic") == "dynamic"}
	n.source = compilePath(s.str("source", ""))
	if n.dynamic {
		n.msgPath = compilePath(s.required("messageDynamic"))
	} else {
		n.static = s.str("messageStatic", "")
		if n.static == "" {
			if !s.has("messageStatic") {
				s.fail("missing messageStatic")
			} else if _, ok := s.rawString("messageStatic"); ok {
				s.fail("messageStatic must not be empty (dojot: Message must be defined.)")
			}
		}
	}
	return n
}

func (n *notificationNode) Process(ctx context.Context, c *Call, msg Msg) ([]Msg, error) {
	meta := map[string]any{}
	if n.source.raw != "" {
		v, err := n.source.get(msg)
		if err != nil {
			return nil, err
		}
		switch m := v.(type) {
		case map[string]any:
			meta = m
		default:
			if !jsTruthy(v) { // dojot's !meta: null, false, 0, ""
				return nil, errors.New("Metadata must be defined.") //nolint:staticcheck // dojot's text
			}
			return nil, errors.New("Metadata must be an object except an array.") //nolint:staticcheck // dojot's text
		}
	}
	text := n.static
	if n.dynamic {
		v, err := n.msgPath.get(msg)
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		switch {
		case !jsTruthy(v): // dojot's !contentMessage: null, false, 0, ""
			return nil, errors.New("Message must be defined.") //nolint:staticcheck // dojot's text
		case !ok:
			return nil, errors.New("Message must be a string.") //nolint:staticcheck // dojot's text
		}
		text = s
	}
	if text == "" {
		return nil, errors.New("Message must be defined.") //nolint:staticcheck // dojot's text
	}
	if _, ok := meta["shouldPersist"]; !ok {
		meta["shouldPersist"] = true
	}
	if c.Effects.Notifier == nil {
		return nil, errNoEffect("notifier")
	}
	note := Notification{MsgID: c.NextID(), Timestamp: c.nowMillis(), Message: text, MetaAttrsFilter: meta, Subject: "user_notification"}
	if err := c.Effects.Notifier.Notify(ctx, c.Tenant, note); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return nil, nil
}

// errNoEffect is a wiring mistake: the engine was given no implementation
// of an effect a node needs.
func errNoEffect(what string) error { return fmt.Errorf("flows: no %s configured", what) }
