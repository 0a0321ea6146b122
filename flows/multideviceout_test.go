package flows

import "testing"

func TestMultiDeviceOut(t *testing.T) {
	runEffectCases(t, "multi device out", multiTargetCases(func(id, dev string, attrs any) Effect {
		return Effect{Kind: "data", Tenant: "admin", Value: DeviceData{ID: id, Tenant: "admin", DeviceID: dev, Timestamp: testNow.UnixMilli(), Attrs: attrs, Depth: 1}}
	}))
}

// multiTargetCases is the table of multi device out and multi actuate
// (FLOWS.md 7.3 and 7.1 use them with device_source self).
func multiTargetCases(data func(id, dev string, attrs any) Effect) map[string]effectCase {
	in := `{"saida":{"mensagem":"Está no Cambuí"},"ids":["b","a","b"],"one":"c"}`
	out := map[string]any{"mensagem": "Está no Cambuí"}
	return map[string]effectCase{
		"self": {`{"device_source":"self","devices_source_dynamic":"","devices_source_dynamicFieldType":"msg","devices_source_configured":[""],"attrs":"saida"}`, in,
			[]Effect{data("7:f1:n1:0", "dev1", out)}, ""},
		"configured deduplicated": {`{"device_source":"configured","devices_source_configured":["x","y","x",""],"attrs":"saida"}`, in,
			[]Effect{data("7:f1:n1:0", "x", out), data("7:f1:n1:1", "y", out)}, ""},
		"dynamic list": {`{"device_source":"dynamic","devices_source_dynamic":"ids","attrs":"saida"}`, in,
			[]Effect{data("7:f1:n1:0", "b", out), data("7:f1:n1:1", "a", out)}, ""},
		"dynamic one": {`{"device_source":"dynamic","devices_source_dynamic":"one","attrs":"saida"}`, in,
			[]Effect{data("7:f1:n1:0", "c", out)}, ""},

		"no attrs":             {`{"device_source":"self"}`, in, nil, "Invalid data source: field is mandatory"},
		"configured empty":     {`{"device_source":"configured","devices_source_configured":[""],"attrs":"saida"}`, in, nil, "Could not define target devices"},
		"dynamic no path":      {`{"device_source":"dynamic","devices_source_dynamic":"","attrs":"saida"}`, in, nil, "Could not define target devices"},
		"dynamic missing":      {`{"device_source":"dynamic","devices_source_dynamic":"nope","attrs":"saida"}`, in, nil, "Could not define target devices"},
		"dynamic empty":        {`{"device_source":"dynamic","devices_source_dynamic":"e","attrs":"saida"}`, `{"e":[],"saida":1}`, nil, "Could not define target devices"},
		"dynamic bad id":       {`{"device_source":"dynamic","devices_source_dynamic":"e","attrs":"saida"}`, `{"e":["a.b"],"saida":1}`, nil, `Invalid Device id: "a.b"`},
		"bad source":           {`{"device_source":"x","attrs":"saida"}`, in, nil, "Invalid device source"},
		"attrs read first":     {`{"device_source":"dynamic","devices_source_dynamic":"nope","attrs":"nope2"}`, in, nil, "Unknown property nope2 requested"},
		"dynamic null":         {`{"device_source":"dynamic","devices_source_dynamic":"n","attrs":"saida"}`, `{"n":null,"saida":1}`, nil, "Invalid Device id: null"},
		"configured ill-typed": {`{"device_source":"configured","devices_source_configured":"x","attrs":"saida"}`, in, nil, "devices_source_configured must be an array of device ids"},
	}
}
