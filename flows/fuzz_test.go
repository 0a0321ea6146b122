package flows

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// FuzzParse feeds flow bodies to Parse: it must never panic, fail only
// with an *InvalidError, and a parsed graph must run without panicking.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"notification.json", "actuate.json", "geofence.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`[{"id":"a","type":"switch","rules":[{"t":"regex","v":"a+"}],"wires":[["a"]]}]`))
	f.Add([]byte(`[{"id":"h","type":"device in","_device_id":"d","wires":[["c"]]},{"id":"c","type":"change","rules":[{"t":"set","p":"a.b","to":"payload","tot":"msg"}],"wires":[["c"]]}]`))
	f.Add([]byte(`[{"id":"t","type":"template","template":"{{#each payload}}{{@index}}{{/each}}","wires":[]}]`))
	f.Add([]byte(`[{"id":"h","type":"device in","_device_id":"d","wires":[["s"]]},{"id":"s","type":"switch","property":"payload.a","rules":[{"t":"istype","v":"number","vt":"number"},{"t":"hask","v":"a"},{"t":"empty"},{"t":"else"}],"checkall":"false","wires":[["c"],[],[],["c"]]},{"id":"c","type":"change","rules":[{"t":"change","p":"payload.a","from":"1","fromt":"num","to":"x"},{"t":"move","p":"payload","to":"out"}],"wires":[]}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var nodes []json.RawMessage
		if json.Unmarshal(body, &nodes) != nil {
			return
		}
		g, err := Parse(nodes)
		if err != nil {
			var ie *InvalidError
			if !errors.As(err, &ie) || len(ie.Problems) == 0 {
				t.Fatalf("Parse error %v is not an *InvalidError with problems", err)
			}
			return
		}
		eng := New(Options{Effects: NewRecorder().AsEffects(), MaxHops: 50})
		in := Input{Event: "publish", DeviceID: "d", Templates: []string{"6"},
			Payload: Msg{"event": "publish", "data": map[string]any{"id": "d", "attrs": map[string]any{"a": 1.0}}}}
		for _, d := range append(g.Devices, "d") {
			in.DeviceID = d
			if _, err := eng.Run(t.Context(), Flow{ID: "f", Enabled: true, Graph: g}, in); err != nil {
				t.Fatalf("Run: %v", err)
			}
		}
	})
}

// FuzzTemplate: the hand-written template parser never panics, and
// renders whatever it accepts.
func FuzzTemplate(f *testing.F) {
	f.Add("{{#each a}}{{@index}}{{this}}{{else}}none{{/each}}", true)
	f.Add("{{#a}}{{.}}{{/a}}{{^b}}x{{/b}}{{{c}}}{{&d}}{{! e }}", false)
	f.Add(`{{{parseAndSelect s "k"}}} {{stringify a}} {{#with a}}{{../b}}{{/with}}`, true)
	f.Fuzz(func(t *testing.T, src string, handlebars bool) {
		tpl, err := parseTemplate(src, handlebars)
		if err != nil {
			return
		}
		view := map[string]any{"a": []any{1.0, map[string]any{"x": "y"}}, "b": true, "s": `{"k":[1]}`, "c": nil, "d": "<&>"}
		tpl.render(view)
	})
}

// FuzzPath: whatever Set accepts, Get reads back.
func FuzzPath(f *testing.F) {
	f.Add("a.b.0", `{"a":{"b":[1]}}`)
	f.Add("l.2.x", `{"l":[1,2]}`)
	f.Add("..a..", `{}`)
	f.Fuzz(func(t *testing.T, p, doc string) {
		var m Msg
		if json.Unmarshal([]byte(doc), &m) != nil || m == nil {
			return
		}
		if err := Set(m, p, "x"); err != nil {
			return
		}
		if v, err := Get(m, p); err != nil || v != "x" {
			t.Fatalf("Set(%s, %q) then Get = %v, %v", doc, p, v, err)
		}
	})
}
