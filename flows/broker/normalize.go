package broker

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/flows"
)

// DeviceView is what normalising an input reads: a device's templates and
// the static attributes they give it.
type DeviceView interface {
	Device(tenant, id string) (dojot.Device, bool)
	Template(tenant string, id int) (dojot.Template, bool)
}

// Normalizer makes flows.Inputs of stored messages as dojot's flowbroker
// did (FLOWS.md 3.1): the broker's live inputs and a replay's past ones
// (flows/replay) go through this one code. Static attrs and template ids
// are the device's in View now.
type Normalizer struct{ View DeviceView }

// Input normalises a DATA reading (subject data.<tenant>.<device>) or a
// device event (evt.<tenant>.device.<id>, the event envelope) stored at
// seq; ok is false for events flows do not see.
func (n Normalizer) Input(subject string, seq uint64, data []byte) (flows.Input, bool, error) {
	if strings.HasPrefix(subject, "data.") {
		return n.reading(subject, seq, data)
	}
	return n.deviceEvent(seq, data)
}

func (n Normalizer) reading(subject string, seq uint64, data []byte) (flows.Input, bool, error) {
	parts := strings.SplitN(subject, ".", 3)
	if len(parts) != 3 {
		return flows.Input{}, false, fmt.Errorf("subject %s", subject)
	}
	tenant, device := parts[1], parts[2]
	var r struct {
		Metadata map[string]any `json:"metadata"`
		Attrs    map[string]any `json:"attrs"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return flows.Input{}, false, err
	}
	if r.Metadata == nil {
		r.Metadata = map[string]any{}
	}
	delete(r.Metadata, "deviceid")
	r.Metadata["tenant"] = tenant
	if r.Attrs == nil {
		r.Attrs = map[string]any{}
	}
	templates := n.mergeStatics(tenant, device, r.Attrs)
	return flows.Input{Seq: seq, Tenant: tenant, Event: "publish", DeviceID: device, Templates: templates,
		Payload: flows.Msg{"event": "publish", "metadata": r.Metadata, "data": map[string]any{"id": device, "attrs": r.Attrs}}}, true, nil
}

// mergeStatics writes the device's static attributes with a value into
// attrs (over a published value, as dojot did) and returns its template
// ids as strings.
func (n Normalizer) mergeStatics(tenant, device string, attrs map[string]any) []string {
	dv, ok := n.View.Device(tenant, device)
	if !ok {
		return nil
	}
	templates := make([]string, len(dv.Templates))
	for i, tid := range dv.Templates {
		templates[i] = strconv.Itoa(tid)
		tp, ok := n.View.Template(tenant, tid)
		if !ok {
			continue
		}
		for _, a := range tp.Attrs {
			if a.Type != "static" {
				continue
			}
			v := a.StaticValue
			for _, o := range dv.Overrides {
				if o.AttrID == a.ID {
					v = &o.StaticValue
				}
			}
			if v != nil && *v != "" {
				attrs[a.Label] = *v
			}
		}
	}
	return templates
}

// eventSeqBit marks an event's stream sequence in flows.Input.Seq: DATA
// and EVENTS count from 1 each, and an output's id is made from its
// input's sequence, so a reading and an event at the same position must
// not give the same ids (the sinks would drop one as a duplicate).
const eventSeqBit = 1 << 63

// events flows see, by event type.
var flowEvents = map[string]string{
	dojot.EventDeviceCreated:  "create",
	dojot.EventDeviceUpdated:  "update",
	dojot.EventDeviceDeleted:  "remove",
	dojot.EventDeviceActuated: "configure",
}

func (n Normalizer) deviceEvent(seq uint64, raw []byte) (flows.Input, bool, error) {
	var ev dojot.Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return flows.Input{}, false, err
	}
	name, ok := flowEvents[ev.Type]
	if !ok {
		return flows.Input{}, false, nil
	}
	attrs := map[string]any{}
	data := map[string]any{"id": ev.AggregateID}
	depth := 0
	if ev.Type == dojot.EventDeviceActuated {
		var p dojot.DeviceActuated
		if err := ev.Decode(&p); err != nil {
			return flows.Input{}, false, err
		}
		depth = p.FlowDepth
		if err := json.Unmarshal(p.Attrs, &attrs); err != nil {
			return flows.Input{}, false, err
		}
	} else if dv, ok := n.View.Device(ev.Tenant, ev.AggregateID); ok {
		data["label"] = dv.Label
	}
	templates := n.mergeStatics(ev.Tenant, ev.AggregateID, attrs)
	data["attrs"] = attrs
	data["templates"] = templates
	return flows.Input{Seq: seq | eventSeqBit, Tenant: ev.Tenant, Event: name, DeviceID: ev.AggregateID, Templates: templates, Depth: depth, RequestID: ev.CorrelationID,
		Payload: flows.Msg{"event": name, "metadata": map[string]any{"tenant": ev.Tenant, "timestamp": ev.Time.UnixMilli()}, "data": data}}, true, nil
}
