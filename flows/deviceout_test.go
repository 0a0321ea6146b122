package flows

import "testing"

func TestDeviceOut(t *testing.T) {
	runEffectCases(t, "device out", singleTargetCases(func(id, dev string, attrs any) Effect {
		return Effect{Kind: "data", Tenant: "admin", Value: DeviceData{ID: id, Tenant: "admin", DeviceID: dev, Timestamp: testNow.UnixMilli(), Attrs: attrs, Depth: 1}}
	}))
}

// singleTargetCases is the table of device out and actuate, which choose
// their device the same way; effect builds the effect each node makes.
func singleTargetCases(data func(id, dev string, attrs any) Effect) map[string]effectCase {
	in := `{"saida":{"mensagem":"Está no Cambuí"},"target":"abc123","payload":{}}`
	out := map[string]any{"mensagem": "Está no Cambuí"}
	return map[string]effectCase{
		"self":       {`{"device_source":"self","attrs":"saida"}`, in, []Effect{data("7:f1:n1:0", "dev1", out)}, ""},
		"default":    {`{"attrs":"saida"}`, in, []Effect{data("7:f1:n1:0", "dev1", out)}, ""},
		"configured": {`{"device_source":"configured","_device_id":"fe12","device_source_id":"pump (fe12)","attrs":"saida"}`, in, []Effect{data("7:f1:n1:0", "fe12", out)}, ""},
		"dynamic":    {`{"device_source":"dynamic","device_source_msg":"target","attrs":"saida"}`, in, []Effect{data("7:f1:n1:0", "abc123", out)}, ""},

		"no attrs":            {`{"device_source":"self"}`, in, nil, "Invalid data source: field is mandatory"},
		"empty attrs":         {`{"attrs":""}`, in, nil, "Invalid data source: field is mandatory"},
		"configured no id":    {`{"device_source":"configured","attrs":"saida"}`, in, nil, "Invalid Device id"},
		"dynamic no path":     {`{"device_source":"dynamic","attrs":"saida"}`, in, nil, "Invalid device source msg: field is mandatory"},
		"bad source":          {`{"device_source":"all","attrs":"saida"}`, in, nil, "Invalid device source"},
		"dynamic missing":     {`{"device_source":"dynamic","device_source_msg":"nope","attrs":"saida"}`, in, nil, "Unknown property nope requested"},
		"dynamic not an id":   {`{"device_source":"dynamic","device_source_msg":"payload","attrs":"saida"}`, in, nil, "Invalid Device id: {}"},
		"attrs path missing":  {`{"attrs":"nope"}`, in, nil, "Unknown property nope requested"},
		"device chosen first": {`{"device_source":"dynamic","device_source_msg":"nope","attrs":"nope2"}`, in, nil, "Unknown property nope requested"},
		"configured empty id": {`{"device_source":"configured","_device_id":"","attrs":"saida"}`, in, nil, "Invalid Device id"},
		"attrs ill-typed":     {`{"attrs":5}`, in, nil, "attrs must be a string"},
		"self copies attrs":   {`{"attrs":"payload"}`, `{"payload":{"a":[1]}}`, []Effect{data("7:f1:n1:0", "dev1", map[string]any{"a": []any{1.0}})}, ""},
		"dynamic list is one": {`{"device_source":"dynamic","device_source_msg":"l","attrs":"saida"}`, `{"l":["a"],"saida":1}`, nil, `Invalid Device id: ["a"]`},
	}
}
