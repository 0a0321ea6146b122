package flows

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestHeads is FLOWS.md 3.2 and 4.1 as a table: which head fires for
// which event of which device, and the message its targets get. The head
// itself never runs; its message goes to every node of every port.
func TestHeads(t *testing.T) {
	const sink = `{"id":"s","type":"change","rules":[],"wires":[]},{"id":"s2","type":"change","rules":[],"wires":[]}`
	input := func(event, device string, templates ...string) Input {
		in := publishInput(1, device, map[string]any{"t": 30.0})
		in.Event, in.Templates = event, templates
		in.Payload["event"] = event
		return in
	}
	whole := func(in Input) string { return jsonStringify(map[string]any{"payload": map[string]any(in.Payload)}) }
	attrs := `{"payload":{"t":30}}`
	tests := map[string]struct {
		head  string
		in    Input
		fires bool
		msg   string // what s gets ("" = the whole event)
	}{
		"event device in publish":                {`{"id":"h","type":"event device in","device_id":"d1","event_publish":true,"event_configure":false,"wires":[["s"]]}`, input("publish", "d1"), true, ""},
		"event device in other device":           {`{"id":"h","type":"event device in","device_id":"d1","event_publish":true,"wires":[["s"]]}`, input("publish", "d2"), false, ""},
		"event device in flag off":               {`{"id":"h","type":"event device in","device_id":"d1","event_publish":false,"event_configure":true,"wires":[["s"]]}`, input("publish", "d1"), false, ""},
		"event device in configure":              {`{"id":"h","type":"event device in","device_id":"d1","event_configure":true,"wires":[["s"]]}`, input("configure", "d1"), true, ""},
		"event device in create (not in editor)": {`{"id":"h","type":"event device in","device_id":"d1","event_create":true,"wires":[["s"]]}`, input("create", "d1"), true, ""},
		"event device in flags default off":      {`{"id":"h","type":"event device in","device_id":"d1","wires":[["s"]]}`, input("publish", "d1"), false, ""},
		"event device in flag as string":         {`{"id":"h","type":"event device in","device_id":"d1","event_publish":"true","wires":[["s"]]}`, input("publish", "d1"), true, ""},
		"event template in publish":              {`{"id":"h","type":"event template in","template_id":"6","event_publish":true,"wires":[["s"]]}`, input("publish", "d9", "5", "6"), true, ""},
		"event template in create":               {`{"id":"h","type":"event template in","template_id":"6","event_create":true,"wires":[["s"]]}`, input("create", "d9", "6"), true, ""},
		"event template in update":               {`{"id":"h","type":"event template in","template_id":"6","event_update":true,"wires":[["s"]]}`, input("update", "d9", "6"), true, ""},
		"event template in remove":               {`{"id":"h","type":"event template in","template_id":"6","event_remove":true,"wires":[["s"]]}`, input("remove", "d9", "6"), true, ""},
		"event template in configure":            {`{"id":"h","type":"event template in","template_id":"6","event_configure":true,"wires":[["s"]]}`, input("configure", "d9", "6"), true, ""},
		"event template in other template":       {`{"id":"h","type":"event template in","template_id":"6","event_publish":true,"wires":[["s"]]}`, input("publish", "d9", "60"), false, ""},
		"event template in remove off":           {`{"id":"h","type":"event template in","template_id":"6","event_publish":true,"wires":[["s"]]}`, input("remove", "d9", "6"), false, ""},
		// dojot fired the deprecated heads for any device of a matched flow [bug, fixed]
		"device in its device":         {`{"id":"h","type":"device in","_device_id":"d1","device_source_id":"x (d1)","status":"false","wires":[["s"]]}`, input("publish", "d1"), true, attrs},
		"device in other device":       {`{"id":"h","type":"device in","_device_id":"d1","wires":[["s"]]}`, input("publish", "d2"), false, ""},
		"device in configure":          {`{"id":"h","type":"device in","_device_id":"d1","wires":[["s"]]}`, input("configure", "d1"), false, ""},
		"device template in":           {`{"id":"h","type":"device template in","device_template":{"id":"6"},"device_template_id":"6","wires":[["s"]]}`, input("publish", "d9", "6"), true, attrs},
		"device template in other":     {`{"id":"h","type":"device template in","device_template_id":"6","wires":[["s"]]}`, input("publish", "d9", "7"), false, ""},
		"device template in number id": {`{"id":"h","type":"device template in","device_template_id":6,"wires":[["s"]]}`, input("publish", "d9", "6"), true, attrs},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := mustParse(t, `[`+tt.head+`,`+sink+`]`)
			obs := &observer{}
			eng := New(Options{Observer: obs})
			res, err := eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.fires {
				if res.Executed != 0 {
					t.Errorf("fired: %+v", res)
				}
				return
			}
			want := tt.msg
			if want == "" {
				want = whole(tt.in)
			}
			if res.Executed != 1 || len(obs.got) != 1 || obs.got[0].msg != want {
				t.Errorf("res %+v emitted %v; want s to get %s", res, obs.got, want)
			}
		})
	}
}

// TestHeadAllPorts: a head's message goes to every node of every port
// (FLOWS.md 3.2.3), each a copy.
func TestHeadAllPorts(t *testing.T) {
	g := mustParse(t, `[{"id":"h","type":"event device in","device_id":"d1","event_publish":true,"wires":[["a","b"],["c"]]},
	 {"id":"a","type":"change","rules":[{"t":"set","p":"payload.x","to":"a"}],"wires":[]},
	 {"id":"b","type":"change","rules":[{"t":"set","p":"payload.x","to":"b"}],"wires":[]},
	 {"id":"c","type":"change","rules":[{"t":"set","p":"payload.x","to":"c"}],"wires":[]}]`)
	obs := &observer{}
	res, err := New(Options{Observer: obs}).Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, publishInput(1, "d1", map[string]any{}))
	if err != nil || res.Executed != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	var got []string
	for _, o := range obs.got {
		got = append(got, o.node+"="+jsonStringify(msgOf(t, o.msg)["payload"].(map[string]any)["x"]))
	}
	if want := []string{`a="a"`, `b="b"`, `c="c"`}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestHeadsInvalid: what dojot stored and never matched, or failed on, is
// refused when the flow is saved.
func TestHeadsInvalid(t *testing.T) {
	for name, tt := range map[string]struct{ head, want string }{
		"numeric template_id":           {`{"id":"h","type":"event template in","template_id":6,"event_publish":true,"wires":[]}`, "template_id must be a string"},
		"empty template_id":             {`{"id":"h","type":"event template in","template_id":"","event_publish":true,"wires":[]}`, "template_id must not be empty"},
		"missing template_id":           {`{"id":"h","type":"event template in","event_publish":true,"wires":[]}`, "missing template_id"},
		"empty device_id":               {`{"id":"h","type":"event device in","device_id":"","event_publish":true,"wires":[]}`, "device_id must not be empty"},
		"device_id number":              {`{"id":"h","type":"event device in","device_id":5,"event_publish":true,"wires":[]}`, "device_id must be a string"},
		"device in without _device_id":  {`{"id":"h","type":"device in","wires":[]}`, "missing _device_id"},
		"device template in without id": {`{"id":"h","type":"device template in","wires":[]}`, "missing device_template_id"},
		"device template in object id":  {`{"id":"h","type":"device template in","device_template_id":{},"wires":[]}`, "device_template_id must be a string or a number"},
		"device template in empty id":   {`{"id":"h","type":"device template in","device_template_id":"","wires":[]}`, "device_template_id must not be empty"},
		"flag not boolean":              {`{"id":"h","type":"event template in","template_id":"6","event_remove":1,"wires":[]}`, "event_remove must be a boolean"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(rawNodes(t, `[`+tt.head+`]`))
			var ie *InvalidError
			if !errors.As(err, &ie) || len(ie.Problems) != 1 || ie.Problems[0].Node != "h" || !strings.Contains(ie.Problems[0].Reason, tt.want) {
				t.Errorf("Parse = %v; want node h: %s", err, tt.want)
			}
		})
	}
}
