package flows

import (
	"errors"
	"fmt"
	"strings"
)

// targets is how device out, multi device out, actuate and multi actuate
// choose devices (FLOWS.md 4.10-4.13): the device that started the run
// (self), ids in the node (configured), or ids read from the message
// (dynamic).
type targets struct {
	source     string
	configured []string
	dynamic    string
	multi      bool
}

// parseSingleTarget reads device out's and actuate's fields.
func parseSingleTarget(s *spec) targets {
	t := targets{source: s.str("device_source", "self")}
	switch t.source {
	case "self", "":
		t.source = "self"
	case "configured":
		id := s.str("_device_id", "")
		if id == "" {
			s.fail("Invalid Device id")
		}
		t.configured = []string{id}
	case "dynamic":
		t.dynamic = s.str("device_source_msg", "")
		if len(splitPath(t.dynamic)) == 0 {
			s.fail("Invalid device source msg: field is mandatory")
		}
	default:
		s.fail("Invalid device source")
	}
	return t
}

// parseMultiTarget reads multi device out's and multi actuate's fields.
func parseMultiTarget(s *spec) targets {
	t := targets{source: s.str("device_source", "self"), multi: true}
	switch t.source {
	case "self", "":
		t.source = "self"
	case "configured":
		var ids []string
		s.into("devices_source_configured", &ids, "an array of device ids")
		for _, id := range ids {
			if id != "" {
				t.configured = append(t.configured, id)
			}
		}
		if len(t.configured) == 0 {
			s.fail("Could not define target devices")
		}
	case "dynamic":
		t.dynamic = s.str("devices_source_dynamic", "")
		if len(splitPath(t.dynamic)) == 0 {
			s.fail("Could not define target devices")
		}
	default:
		s.fail("Invalid device source")
	}
	return t
}

var errNoTargets = errors.New("Could not define target devices") //nolint:staticcheck // dojot's text

// ids resolves the target devices for one message, de-duplicated in
// order. A device id must be a non-empty string usable as a subject token
// (dojot sent whatever it found; here a bad id fails the node).
func (t targets) ids(c *Call, msg Msg) ([]string, error) {
	var raw []any
	switch t.source {
	case "self":
		raw = []any{c.OriginatorDeviceID}
	case "configured":
		for _, id := range t.configured {
			raw = append(raw, id)
		}
	case "dynamic":
		v, err := Get(msg, t.dynamic)
		if err != nil {
			if t.multi {
				return nil, errNoTargets // dojot logs the path error and finds no device
			}
			return nil, err
		}
		if list, ok := v.([]any); ok && t.multi {
			raw = list
		} else {
			raw = []any{v}
		}
	}
	seen := make(map[string]bool, len(raw))
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		id, ok := v.(string)
		if !ok || !validDeviceID(id) {
			return nil, fmt.Errorf("Invalid Device id: %s", jsonStringify(v)) //nolint:staticcheck // dojot's text, with the value
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil, errNoTargets
	}
	return out, nil
}

func validDeviceID(id string) bool {
	return id != "" && !strings.ContainsAny(id, ".*> \t\r\n")
}

// attrsPath reads the "attrs" field all four nodes require.
func attrsPath(s *spec) string {
	p := ""
	if s.has("attrs") && !s.into("attrs", &p, "a string") {
		return "" // one reason: its type
	}
	if len(splitPath(p)) == 0 {
		s.fail("Invalid data source: field is mandatory")
	}
	return p
}

// eachTarget resolves the targets and the value at attrs, then calls emit
// once per device with the next output id and a copy of the value. As in
// dojot, the single-device nodes choose the device first and the multi
// ones read attrs first, which decides the error of a message that has
// neither.
func eachTarget(c *Call, msg Msg, attrs string, t targets, emit func(id, device string, v any) error) error {
	var ids []string
	var v any
	var err error
	if t.multi {
		if v, err = Get(msg, attrs); err != nil {
			return err
		}
	}
	if ids, err = t.ids(c, msg); err != nil {
		return err
	}
	if !t.multi {
		if v, err = Get(msg, attrs); err != nil {
			return err
		}
	}
	for _, device := range ids {
		if err := emit(c.NextID(), device, deepCopy(v)); err != nil {
			return err
		}
	}
	return nil
}
