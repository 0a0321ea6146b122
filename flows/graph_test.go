package flows

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
)

func loadFlow(t testing.TB, name string) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []json.RawMessage
	if err := json.Unmarshal(b, &nodes); err != nil {
		t.Fatal(err)
	}
	return nodes
}

func rawNodes(t testing.TB, s string) []json.RawMessage {
	t.Helper()
	var nodes []json.RawMessage
	if err := json.Unmarshal([]byte(s), &nodes); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return nodes
}

func TestParseExample(t *testing.T) {
	g, err := Parse(loadFlow(t, "notification.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.HeadIDs, []string{"A3a45957906e36a"}) || !reflect.DeepEqual(g.Devices, []string{"a1b2c3"}) || g.Templates != nil {
		t.Errorf("heads %v devices %v templates %v", g.HeadIDs, g.Devices, g.Templates)
	}
	if g.Len() != 5 {
		t.Errorf("Len = %d, want 5 (tab kept)", g.Len())
	}
}

func TestParseHeads(t *testing.T) {
	const sw = `{"id":"s","type":"switch","rules":[],"wires":[]}`
	tests := map[string]struct {
		flow               string
		heads, devs, tmpls []string
		publish, fromOther bool // does a publish of device d1 (template "6") / of d2 (template "7") match
	}{
		"event device in": {`[{"id":"h","type":"event device in","device_id":"d1","event_publish":true,"wires":[["s"]]},` + sw + `]`,
			[]string{"h"}, []string{"d1"}, nil, true, false},
		"event device in configure only": {`[{"id":"h","type":"event device in","device_id":"d1","event_configure":true,"wires":[["s"]]},` + sw + `]`,
			[]string{"h"}, []string{"d1"}, nil, false, false},
		"event template in": {`[{"id":"h","type":"event template in","template_id":"6","event_publish":true,"wires":[["s"]]},` + sw + `]`,
			[]string{"h"}, nil, []string{"6"}, true, false},
		"device in checks its device": {`[{"id":"h","type":"device in","_device_id":"d1","wires":[["s"]]},` + sw + `]`,
			[]string{"h"}, []string{"d1"}, nil, true, false},
		"device template in numeric id": {`[{"id":"h","type":"device template in","device_template_id":6,"wires":[["s"]]},` + sw + `]`,
			[]string{"h"}, nil, []string{"6"}, true, false},
		"head without wires is not a head": {`[{"id":"h","type":"event device in","device_id":"d1","event_publish":true},` + sw + `]`,
			nil, nil, nil, false, false},
		"tab is kept": {`[{"id":"t","type":"tab","label":"x"},` + sw + `]`, nil, nil, nil, false, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g, err := Parse(rawNodes(t, tt.flow))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g.HeadIDs, tt.heads) || !reflect.DeepEqual(g.Devices, tt.devs) || !reflect.DeepEqual(g.Templates, tt.tmpls) {
				t.Errorf("heads %v devices %v templates %v; want %v %v %v", g.HeadIDs, g.Devices, g.Templates, tt.heads, tt.devs, tt.tmpls)
			}
			f := Flow{ID: "f", Enabled: true, Graph: g}
			if got := f.Matches(Input{Event: "publish", DeviceID: "d1", Templates: []string{"6"}}); got != tt.publish {
				t.Errorf("publish of d1 matches = %v, want %v", got, tt.publish)
			}
			if got := f.Matches(Input{Event: "publish", DeviceID: "d2", Templates: []string{"7"}}); got != tt.fromOther {
				t.Errorf("publish of d2 matches = %v, want %v", got, tt.fromOther)
			}
			f.Enabled = false
			if f.Matches(Input{Event: "publish", DeviceID: "d1", Templates: []string{"6"}}) {
				t.Error("a disabled flow matches")
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := map[string]struct {
		flow string
		want []string // "node: reason" substrings, in order
	}{
		"not an object":                 {`[1]`, []string{"#0: not a JSON object"}},
		"no id":                         {`[{"type":"switch"}]`, []string{"#0: missing id"}},
		"no type":                       {`[{"id":"a"}]`, []string{"a: missing type"}},
		"duplicate id":                  {`[{"id":"a","type":"tab"},{"id":"a","type":"tab"}]`, []string{"a: duplicate id"}},
		"unknown type":                  {`[{"id":"a","type":"email","wires":[]}]`, []string{`a: unknown node type "email"`}},
		"wire to missing":               {`[{"id":"a","type":"change","rules":[],"wires":[["b"]]}]`, []string{`a: wire to missing node "b"`}},
		"wire to head":                  {`[{"id":"a","type":"change","rules":[],"wires":[["h"]]},{"id":"h","type":"device in","_device_id":"d","wires":[]}]`, []string{`a: wire to node "h" of type "device in", which takes no input`}},
		"wire to tab":                   {`[{"id":"t","type":"tab"},{"id":"a","type":"change","rules":[],"wires":[["t"]]}]`, []string{`a: wire to node "t" of type "tab"`}},
		"bad wires":                     {`[{"id":"a","type":"change","rules":[],"wires":"b"}]`, []string{"a: wires must be an array of arrays of node ids"}},
		"numeric template":              {`[{"id":"h","type":"event template in","template_id":6,"event_publish":true,"wires":[]}]`, []string{"h: template_id must be a string"}},
		"missing device_id":             {`[{"id":"h","type":"event device in","event_publish":true,"wires":[]}]`, []string{"h: missing device_id"}},
		"ill-typed flag":                {`[{"id":"h","type":"event device in","device_id":"d","event_publish":"yes","wires":[]}]`, []string{"h: event_publish must be a boolean"}},
		"device template in without id": {`[{"id":"h","type":"device template in","wires":[]}]`, []string{"h: missing device_template_id"}},
		"bad regex":                     {`[{"id":"s","type":"switch","rules":[{"t":"regex","v":"(("}],"wires":[]}]`, []string{"s: rules[0]: bad regex"}},
		"bad template":                  {`[{"id":"t","type":"template","template":"{{#a}}","wires":[]}]`, []string{"t: bad handlebars template"}},
		"ill-typed attrs, one reason":   {`[{"id":"o","type":"multi device out","device_source":"self","attrs":5,"wires":[]}]`, []string{"o: attrs must be a string"}},
		"every problem": {`[{"id":"a","type":"nope","wires":[["x"]]},{"id":"b","type":"switch","rules":5,"wires":[]}]`,
			[]string{`a: unknown node type "nope"`, `a: wire to missing node "x"`, "b: rules must be an array of rules"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g, err := Parse(rawNodes(t, tt.flow))
			var ie *InvalidError
			if !errors.As(err, &ie) || !errors.Is(err, dojot.ErrInvalid) {
				t.Fatalf("Parse = %v, %v; want an *InvalidError wrapping dojot.ErrInvalid", g, err)
			}
			if len(ie.Problems) != len(tt.want) {
				t.Fatalf("problems %+v, want %d: %v", ie.Problems, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				node, reason, _ := strings.Cut(w, ": ")
				p := ie.Problems[i]
				id := p.Node
				if id == "" {
					id = fmt.Sprintf("#%d", p.Index)
				}
				if id != node || !strings.Contains(p.Reason, reason) {
					t.Errorf("problem %d = %+v, want node %s reason %q", i, p, node, reason)
				}
			}
			if !strings.Contains(err.Error(), "node ") {
				t.Errorf("Error() = %q names no node", err.Error())
			}
		})
	}
}

// bigFlow is n nodes: a head, then a chain of changes and switches.
func bigFlow(n int) []json.RawMessage {
	nodes := []json.RawMessage{json.RawMessage(`{"id":"tab","type":"tab","label":"big"}`),
		json.RawMessage(`{"id":"n1","type":"event device in","device_id":"d1","event_publish":true,"wires":[["n2"]]}`)}
	for i := 2; i < n; i++ {
		port := fmt.Sprintf(`["n%d"]`, i+1)
		if i == n-1 {
			port = `[]`
		}
		next := "[" + port + "]"
		var node string
		if i%2 == 0 {
			node = fmt.Sprintf(`{"id":"n%d","type":"change","z":"tab","name":"c%d","rules":[{"t":"set","p":"payload.step","pt":"msg","to":"%d","tot":"num"}],"x":%d,"y":10,"wires":%s}`, i, i, i, i, next)
		} else {
			node = fmt.Sprintf(`{"id":"n%d","type":"switch","z":"tab","property":"payload.step","propertyType":"msg","rules":[{"t":"gte","v":"0","vt":"num"},{"t":"regex","v":"^\\d+$"}],"checkall":"false","outputs":2,"wires":[%s,[]]}`, i, port)
		}
		nodes = append(nodes, json.RawMessage(node))
	}
	return nodes
}

func TestParseThousandNodes(t *testing.T) {
	nodes := bigFlow(1000)
	start := time.Now()
	g, err := Parse(nodes)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("parsed %d nodes in %v", g.Len(), time.Since(start))
	// A run goes through the whole chain (hops are within the default bound
	// only if raised: 998 nodes in a row).
	eng := New(Options{MaxHops: 2000, Effects: NewRecorder().AsEffects()})
	res, err := eng.Run(t.Context(), Flow{ID: "big", Enabled: true, Graph: g}, Input{Event: "publish", DeviceID: "d1", Payload: Msg{"data": map[string]any{"attrs": map[string]any{}}}})
	if err != nil || res.Executed != 998 || res.Failed != 0 {
		t.Errorf("Run = %+v, %v; want 998 executions", res, err)
	}
}

func BenchmarkParse1000(b *testing.B) {
	nodes := bigFlow(1000)
	for b.Loop() {
		if _, err := Parse(nodes); err != nil {
			b.Fatal(err)
		}
	}
}

func TestInvalidErrorDetail(t *testing.T) {
	_, err := Parse(rawNodes(t, `[{"id":"a","type":"nope","wires":[]},{"type":"tab"}]`))
	var ie *InvalidError
	if !errors.As(err, &ie) {
		t.Fatal(err)
	}
	if got, want := ie.Detail(), `node a: unknown node type "nope"; node #1: missing id`; got != want {
		t.Errorf("Detail() = %q, want %q", got, want)
	}
	if got, want := err.Error(), "invalid flow: "+ie.Detail(); got != want {
		t.Errorf("Error() = %q", got)
	}
}

// TestCheck: the API's check answers the problems as one detail line.
func TestCheck(t *testing.T) {
	if err := Check(json.RawMessage(`[{"id":"t","type":"tab"}]`)); err != nil {
		t.Errorf("valid flow: %v", err)
	}
	if err := Check(json.RawMessage(`[{"id":"a","type":"nope","wires":[["b"]]}]`)); err == nil || err.Error() != `node a: unknown node type "nope"; node a: wire to missing node "b"` {
		t.Errorf("invalid flow: %v", err)
	}
	if err := Check(json.RawMessage(`{}`)); err == nil {
		t.Error("an object passed")
	}
}
