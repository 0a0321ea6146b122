package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"

	"github.com/dojot-es/dojot"
)

// Actuate sends configuration to a device (PUT /device/:id/actuate):
// every key of the body's "attrs" must be one of its actuator attributes,
// else nothing is sent and the caller gets dojot's 403 body.
func (d *Devices) Actuate(ctx context.Context, tenant, deviceID string, body []byte) error {
	return d.appendOne(ctx, func() (dojot.Event, error) {
		return decideActuate(d.st, d.env(ctx), tenant, deviceID, body, 0)
	})
}

// ActuateAs is Actuate with the event's id given (a flow's deterministic
// output id): the store takes the id as its dedupe id, so the same
// actuation appended again, by a redelivered flow input, is stored once.
// flowDepth is the flow output's depth, kept in the event
// (DeviceActuated.FlowDepth) so that an actuation loop through flows is cut.
func (d *Devices) ActuateAs(ctx context.Context, tenant, deviceID string, body []byte, eventID string, flowDepth int) error {
	return d.appendOne(ctx, func() (dojot.Event, error) {
		ev, err := decideActuate(d.st, d.env(ctx), tenant, deviceID, body, flowDepth)
		if err == nil && eventID != "" {
			ev.ID = eventID
		}
		return ev, err
	})
}

func decideActuate(st DeviceState, e decideEnv, tenant, deviceID string, body []byte, flowDepth int) (dojot.Event, error) {
	dv, ok := st.Device(tenant, deviceID)
	if !ok {
		return dojot.Event{}, dmNotFound("No such device: %s", deviceID)
	}
	attrs, keys, err := parseActuation(body)
	if err != nil {
		return dojot.Event{}, err
	}
	invalid := []string{}
	for _, k := range keys {
		if !hasActuator(st, tenant, dv, k) && !slices.Contains(invalid, k) {
			invalid = append(invalid, k)
		}
	}
	if len(invalid) > 0 {
		return dojot.Event{}, &dojot.Error{
			Kind:    dojot.ErrForbidden,
			Message: "some of the attributes are not configurable",
			Body:    map[string]any{"status": "some of the attributes are not configurable", "attrs": invalid},
		}
	}
	return e.newEvent(st, dojot.EventDeviceActuated, tenant, dojot.KindDevice, deviceID,
		dojot.DeviceActuated{ID: deviceID, Attrs: attrs, Timestamp: e.now.UnixMilli(), FlowDepth: flowDepth})
}

func hasActuator(st DeviceState, tenant string, dv dojot.Device, label string) bool {
	for _, tid := range dv.Templates {
		tp, ok := st.Template(tenant, tid)
		if ok && slices.ContainsFunc(tp.Attrs, func(a dojot.Attr) bool { return a.Label == label && a.Type == "actuator" }) {
			return true
		}
	}
	return false
}

// parseActuation returns the body's "attrs" object as sent and its keys in
// order (dojot lists refused attributes in the order it read them).
func parseActuation(body []byte) (json.RawMessage, []string, error) {
	var p struct {
		Attrs json.RawMessage `json:"attrs"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, nil, errPayload
	}
	dec := json.NewDecoder(bytes.NewReader(p.Attrs))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, parseFailed("failed to parse input", fieldErrs{"attrs": []string{msgRequired}})
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, errPayload
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, nil, errPayload
		}
	}
	return p.Attrs, keys, nil
}
