package flows

import (
	"context"
	"encoding/json"
	"fmt"
)

// templateNode renders a template with the message and sets the text (or
// the JSON it parses to) at field (FLOWS.md 4.4).
type templateNode struct {
	field path
	plain string
	tmpl  *template // nil for plain
	json  bool
}

func init() { register("template", newTemplate) }

const defaultTemplate = "This is the payload: {{{stringify payload}}} !"

func newTemplate(s *spec) Node {
	field := s.str("field", "payload")
	if len(splitPath(field)) == 0 {
		field = "payload"
	}
	n := &templateNode{field: compilePath(field)}
	text := s.str("template", defaultTemplate)
	// dojot rejects other syntaxes per message with "configuration error";
	// here the flow is refused when saved.
	syntax := s.str("syntax", "handlebars")
	switch syntax {
	case "":
		syntax = "handlebars"
	case "handlebars", "mustache", "plain":
	default:
		s.fail("configuration error: syntax %q is not handlebars, mustache or plain", syntax)
	}
	n.json = s.oneOf("output", "str", "str", "json") == "json"
	switch syntax {
	case "plain":
		n.plain = text
		if n.json && !json.Valid([]byte(text)) {
			s.fail("template is not JSON but output is json")
		}
	default:
		t, err := parseTemplate(text, syntax == "handlebars")
		if err != nil {
			s.fail("bad %s template: %v", syntax, err)
		}
		n.tmpl = t
	}
	return n
}

func (n *templateNode) Process(_ context.Context, c *Call, msg Msg) ([]Msg, error) {
	text := n.plain
	if n.tmpl != nil {
		// dojot renders a deep copy with payloadMetadata assigned; rendering
		// never changes the data, so the message itself is the context and
		// payloadMetadata an extra top-level name that hides the message's.
		var err error
		if text, err = n.tmpl.renderWith(map[string]any(msg), map[string]any{"payloadMetadata": c.Meta.asMap()}); err != nil {
			return nil, err
		}
	}
	var out any = text
	if n.json {
		if err := json.Unmarshal([]byte(text), &out); err != nil {
			return nil, fmt.Errorf("template output is not JSON: %w", err)
		}
	}
	if err := n.field.set(msg, out); err != nil {
		return nil, err
	}
	return []Msg{msg}, nil
}

// asMap is Meta as a template sees it (JSON round trip: no timestamp key
// when it is undefined), keeping dojot's key order for stringify.
func (m Meta) asMap() orderedObject {
	o := orderedObject{keys: []string{"flowId", "tenant", "originatorDeviceId"},
		m: map[string]any{"flowId": m.FlowID, "tenant": m.Tenant, "originatorDeviceId": m.OriginatorDeviceID}}
	if m.Timestamp != nil {
		o.keys, o.m["timestamp"] = append(o.keys, "timestamp"), m.Timestamp
	}
	return o
}

// orderedObject is a read-only object that keeps its key order in JSON,
// as JavaScript objects do. Messages decoded from JSON lose their order
// (Go maps): JSON made from them has sorted keys, which JSON readers do
// not see; the payloadMetadata dojot builds is the one object a template
// prints whole often enough for its order to be kept.
type orderedObject struct {
	keys []string
	m    map[string]any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b []byte
	b = append(b, '{')
	for i, k := range o.keys {
		if i > 0 {
			b = append(b, ',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(o.m[k])
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, kb...), ':'), vb...)
	}
	return append(b, '}'), nil
}
