package flows

import (
	"encoding/json"
	"fmt"
)

// DataInput normalises a DATA stream record, dojot's device-data shape
// {"metadata":{"deviceid","tenant","timestamp",…},"attrs":{…}}, into a
// publish Input (FLOWS.md 3.1): {"event":"publish","metadata":{<metadata
// minus deviceid>},"data":{"id","attrs"}}, with the device's static attrs
// (label -> static_value, those with a non-empty value) written over the
// published ones, as dojot does. depth is what the record carries from a
// flow's device out (0 for a device's own reading).
func DataInput(seq uint64, record []byte, templates []string, static map[string]any, depth int) (Input, error) {
	var rec struct {
		Metadata map[string]any `json:"metadata"`
		Attrs    map[string]any `json:"attrs"`
	}
	if err := json.Unmarshal(record, &rec); err != nil {
		return Input{}, fmt.Errorf("decode device data: %w", err)
	}
	device, _ := rec.Metadata["deviceid"].(string)
	tenant, _ := rec.Metadata["tenant"].(string)
	if device == "" || tenant == "" {
		return Input{}, fmt.Errorf("decode device data: metadata.deviceid and metadata.tenant are required")
	}
	delete(rec.Metadata, "deviceid")
	if rec.Attrs == nil {
		rec.Attrs = map[string]any{}
	}
	for label, v := range static {
		if s, ok := v.(string); ok && s == "" {
			continue
		}
		rec.Attrs[label] = v
	}
	return Input{
		Seq: seq, Tenant: tenant, Event: "publish", DeviceID: device, Templates: templates, Depth: depth,
		Payload: Msg{"event": "publish", "metadata": rec.Metadata, "data": map[string]any{"id": device, "attrs": rec.Attrs}},
	}, nil
}

// DeviceInput normalises a device-manager message, dojot's
// <tenant>.dojot.device-manager.device record {"event","meta":{"service",…},
// "data":{…}} (what kafkamsg.Render makes of a device event), into an
// Input (FLOWS.md 3.1): meta becomes metadata with service renamed
// tenant; for create and update the templates become strings and
// data.attrs {"<template id>":[{label,…}]} becomes {"<label>":{…attr
// without label}}; remove keeps data as sent; configure gets the static
// attrs merged into data.attrs. remove and configure take the device's
// templates from templates (the caller's cache, read before a removal).
// ok is false for the events flows ignore (template.update and any other).
func DeviceInput(seq uint64, record []byte, templates []string, static map[string]any, depth int) (in Input, ok bool, err error) {
	var rec struct {
		Event string         `json:"event"`
		Meta  map[string]any `json:"meta"`
		Data  map[string]any `json:"data"`
	}
	if err := json.Unmarshal(record, &rec); err != nil {
		return Input{}, false, fmt.Errorf("decode device event: %w", err)
	}
	switch rec.Event {
	case "create", "update", "remove", "configure":
	default:
		return Input{}, false, nil
	}
	tenant, _ := rec.Meta["service"].(string)
	device, _ := rec.Data["id"].(string)
	if tenant == "" || device == "" {
		return Input{}, false, fmt.Errorf("decode device event: meta.service and data.id are required")
	}
	metadata := rec.Meta
	delete(metadata, "service")
	metadata["tenant"] = tenant
	switch rec.Event {
	case "create", "update":
		templates = nil
		list, _ := rec.Data["templates"].([]any)
		strs := make([]any, len(list))
		for i, t := range list {
			strs[i] = jsString(t)
			templates = append(templates, jsString(t))
		}
		rec.Data["templates"] = strs
		attrs := map[string]any{}
		byTemplate, _ := rec.Data["attrs"].(map[string]any)
		for _, tid := range sortedMapKeys(byTemplate) { // a label in two templates: the later template id wins
			list, _ := byTemplate[tid].([]any)
			for _, a := range list {
				attr, _ := a.(map[string]any)
				label, ok := attr["label"].(string)
				if !ok {
					continue
				}
				rest := make(map[string]any, len(attr))
				for k, v := range attr {
					if k != "label" {
						rest[k] = v
					}
				}
				attrs[label] = rest
			}
		}
		rec.Data["attrs"] = attrs
	case "configure":
		attrs, _ := rec.Data["attrs"].(map[string]any)
		if attrs == nil {
			attrs = map[string]any{}
		}
		for label, v := range static {
			if s, ok := v.(string); ok && s == "" {
				continue
			}
			attrs[label] = v
		}
		rec.Data["attrs"] = attrs
	}
	return Input{
		Seq: seq, Tenant: tenant, Event: rec.Event, DeviceID: device, Templates: templates, Depth: depth,
		Payload: Msg{"event": rec.Event, "metadata": metadata, "data": rec.Data},
	}, true, nil
}
