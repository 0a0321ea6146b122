package flows

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestFlowsInvalid: each check the engine makes at save time refuses the
// flow over HTTP, POST and PUT alike, with dojot's 400 "Given flow is
// invalid" and a detail naming the node and the reason; a flow of another
// tenant is 404 on every route that names it.
func TestFlowsInvalid(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	in := dojottest.Start(t, "")
	c := in.Login("admin", dojottest.AdminPassword)
	const head = `{"id":"h","type":"event device in","device_id":"abc","event_publish":true,"wires":[["n"]]}`
	cases := []struct {
		name, node, detail string
	}{
		{"unknown node type", `{"id":"n","type":"no such node","wires":[]}`, `node n: unknown node type "no such node"`},
		{"wire to a missing node", `{"id":"n","type":"change","rules":[{"t":"set","p":"a","pt":"msg","to":"1","tot":"num"}],"wires":[["nowhere"]]}`,
			`node n: `},
		{"missing required field", `{"id":"n","type":"multi device out","device_source":"self","devices_source_configured":[""],"wires":[]}`, `node n: Invalid data source: field is mandatory`},
		{"ill-typed required field", `{"id":"n","type":"multi device out","device_source":"self","attrs":42,"wires":[]}`, `node n: attrs must be a string`},
		{"bad regex", `{"id":"n","type":"switch","property":"payload","rules":[{"t":"regex","v":"(","vt":"str"}],"checkall":"true","outputs":1,"wires":[[]]}`,
			`node n: `},
		{"bad template", `{"id":"n","type":"template","field":"payload","syntax":"handlebars","template":"{{#if payload}} never closed","output":"str","wires":[[]]}`,
			`node n: `},
		{"numeric template_id", `{"id":"n","type":"event template in","template_id":6,"event_publish":true,"wires":[[]]}`, `node n: template_id must be a string`},
	}
	var created struct{ Flow struct{ ID string } }
	dojottest.MustJSON(t, c.Must(200, "POST", "/flows/v1/flow", `{"name":"good","flow":[`+head+`,{"id":"n","type":"change","rules":[],"wires":[]}]}`), &created)
	for _, tc := range cases {
		flow := `[` + head + `,` + tc.node + `]`
		if strings.Contains(tc.node, `"event template in"`) {
			flow = `[` + tc.node + `]`
		}
		for _, req := range []struct{ method, path string }{{"POST", "/flows/v1/flow"}, {"PUT", "/flows/v1/flow/" + created.Flow.ID}} {
			code, body := c.Do(req.method, req.path, `{"name":"bad","flow":`+flow+`}`)
			var got struct{ Message, Detail string }
			_ = json.Unmarshal(body, &got)
			if code != 400 || got.Message != "Given flow is invalid" || !strings.HasPrefix(got.Detail, tc.detail) || len(got.Detail) <= len("node n: ") {
				t.Errorf("%s: %s = %d %s; want 400, detail %q...", tc.name, req.method, code, body, tc.detail)
			} else if req.method == "POST" {
				t.Logf("%s: %s", tc.name, got.Detail)
			}
		}
	}
	// The refused PUTs changed nothing.
	if body := string(c.Must(200, "GET", "/flows/v1/flow/"+created.Flow.ID, nil)); !strings.Contains(body, `"name":"good"`) {
		t.Errorf("after refused PUTs: %s", dojottest.Trunc([]byte(body)))
	}

	c.Must(200, "POST", "/auth/user", map[string]string{"username": "flowother", "service": "othertenant", "email": "o@example.com", "name": "O", "profile": "user"})
	other := dojottest.LoginNewUser(t, in, c, "flowother")
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/flows/v1/flow/" + created.Flow.ID, ""},
		{"PUT", "/flows/v1/flow/" + created.Flow.ID, `{"name":"stolen"}`},
		{"DELETE", "/flows/v1/flow/" + created.Flow.ID, ""},
		{"GET", "/flows/v1/flow/" + created.Flow.ID + "/status", ""},
	} {
		var body any
		if req.body != "" {
			body = req.body
		}
		code, b := other.Do(req.method, req.path, body)
		if want := `{"message":"Unknown flow: ` + created.Flow.ID + `","flow":"` + created.Flow.ID + `"}`; code != 404 || strings.TrimSpace(string(b)) != want {
			t.Errorf("another tenant's %s %s = %d %s; want 404 %s", req.method, req.path, code, b, want)
		}
	}
	if body := string(c.Must(200, "GET", "/flows/v1/flow/"+created.Flow.ID, nil)); !strings.Contains(body, `"name":"good"`) {
		t.Errorf("after another tenant's PUT and DELETE: %s", dojottest.Trunc([]byte(body)))
	}
}

// TestFlowsLarge: a flow of 1,000 nodes (a chain of 997 change nodes
// between a head and a device out writing as another device) is accepted, stored, listed, and runs
// to its end: the reading it writes carries what the last change set. One
// larger than the event store takes is a 413.
func TestFlowsLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	in := dojottest.Start(t, "", "-mqtt-insecure")
	c := in.Login("admin", dojottest.AdminPassword)
	tmpl := dojottest.CreateTemplate(c, "Long")
	dev, sink := dojottest.CreateDevice(c, "long", tmpl), dojottest.CreateDevice(c, "sink", tmpl)
	const changes = 997
	var sb strings.Builder
	sb.WriteString(`{"name":"long","flow":[{"id":"t","type":"tab"},{"id":"h","type":"event device in","z":"t","device_id":"` + dev + `","event_publish":true,"wires":[["c0"]]}`)
	for i := range changes {
		next := fmt.Sprintf("c%d", i+1)
		if i == changes-1 {
			next = "o"
		}
		fmt.Fprintf(&sb, `,{"id":"c%d","type":"change","z":"t","name":"step %d","rules":[{"t":"set","p":"out.last","pt":"msg","to":"c%d","tot":"str"},{"t":"set","p":"out.steps","pt":"msg","to":"%d","tot":"num"}],"wires":[[%q]]}`, i, i, i, i+1, next)
	}
	sb.WriteString(`,{"id":"o","type":"multi device out","z":"t","device_source":"configured","devices_source_configured":["` + sink + `"],"attrs":"out","wires":[]}]}`)
	t.Logf("flow body: %d bytes", sb.Len())
	var created struct{ Flow struct{ ID string } }
	dojottest.MustJSON(t, c.Must(200, "POST", "/flows/v1/flow", sb.String()), &created)
	var got struct {
		Flow struct{ Flow []json.RawMessage }
	}
	dojottest.MustJSON(t, c.Must(200, "GET", "/flows/v1/flow/"+created.Flow.ID, nil), &got)
	if len(got.Flow.Flow) != 1000 {
		t.Errorf("GET: %d nodes; want 1000", len(got.Flow.Flow))
	}
	var list struct {
		Flows []struct {
			ID   string
			Flow []json.RawMessage
		}
	}
	dojottest.MustJSON(t, c.Must(200, "GET", "/flows/v1/flow", nil), &list)
	if len(list.Flows) != 1 || list.Flows[0].ID != created.Flow.ID || len(list.Flows[0].Flow) != 1000 {
		t.Errorf("list: %d flows", len(list.Flows))
	}
	// A flow larger than the event store takes (1 MB) is refused with a
	// 413 in dojot's body shape.
	huge := strings.Replace(sb.String(), `"name":"step `, `"name":"`+strings.Repeat("x", 1200)+` `, -1)
	if code, body := c.Do("POST", "/flows/v1/flow", huge); code != 413 || strings.TrimSpace(string(body)) != `{"message":"Given flow is too large to be stored"}` {
		t.Errorf("POST of a %d-byte flow = %d %s", len(huge), code, dojottest.Trunc(body))
	}
	began := time.Now()
	if out, err := dojottest.MosquittoPub(in, "admin:"+dev, "admin:"+dev+"/attrs", `{"temperature":1}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	docs := dojottest.WaitHistory(t, c, sink, "last", 1)
	if docs[0].Value != fmt.Sprintf("c%d", changes-1) {
		t.Errorf("last = %v; want c%d", docs[0].Value, changes-1)
	}
	if docs := dojottest.WaitHistory(t, c, sink, "steps", 1); docs[0].Value != float64(changes) {
		t.Errorf("steps = %v; want %d", docs[0].Value, changes)
	}
	t.Logf("the reading crossed %d nodes and was in history after %s", changes+1, time.Since(began).Round(time.Millisecond))
	var st struct {
		Stats struct {
			Runs  uint64
			Nodes map[string]struct{ In, Out, Errors uint64 }
		}
	}
	dojottest.MustJSON(t, c.Must(200, "GET", "/flows/v1/flow/"+created.Flow.ID+"/status", nil), &st)
	if n := st.Stats.Nodes["o"]; n.In != 1 || n.Errors != 0 || len(st.Stats.Nodes) != changes+1 {
		t.Errorf("status: runs %d, %d nodes, output node %+v", st.Stats.Runs, len(st.Stats.Nodes), n)
	}
}

// TestFlowsLoop: a flow that writes a reading as its own device (device
// out feeding the flow that made it) is cut at the engine's hop depth: it
// runs 8 times, the 9th input is counted as a loop cut in the flow's
// status, and the binary goes on serving and running flows. A flow that
// actuates the device whose configure events start it is cut the same way.
func TestFlowsLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	in := dojottest.Start(t, "", "-mqtt-insecure")
	c := in.Login("admin", dojottest.AdminPassword)
	dev := dojottest.CreateDevice(c, "echo", dojottest.CreateTemplate(c, "Echo"))
	var created struct{ Flow struct{ ID string } }
	dojottest.MustJSON(t, c.Must(200, "POST", "/flows/v1/flow", `{"name":"echo","flow":[{"id":"t","type":"tab"},`+
		`{"id":"h","type":"event device in","z":"t","device_id":"`+dev+`","event_publish":true,"wires":[["c"]]},`+
		`{"id":"c","type":"change","z":"t","rules":[{"t":"set","p":"out.echo","pt":"msg","to":"again","tot":"str"}],"wires":[["o"]]},`+
		`{"id":"o","type":"multi device out","z":"t","device_source":"self","devices_source_configured":[""],"attrs":"out","wires":[]}]}`), &created)
	if out, err := dojottest.MosquittoPub(in, "admin:"+dev, "admin:"+dev+"/attrs", `{"temperature":1}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	type status struct {
		Stats struct {
			Runs     uint64
			LoopsCut uint64 `json:"loops_cut"`
		}
	}
	var st status
	for deadline := time.Now().Add(20 * time.Second); ; {
		dojottest.MustJSON(t, c.Must(200, "GET", "/flows/v1/flow/"+created.Flow.ID+"/status", nil), &st)
		if st.Stats.LoopsCut > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // nothing more comes
	dojottest.MustJSON(t, c.Must(200, "GET", "/flows/v1/flow/"+created.Flow.ID+"/status", nil), &st)
	if st.Stats.Runs != 8 || st.Stats.LoopsCut != 1 {
		t.Errorf("status: runs %d, loops cut %d; want 8 and 1", st.Stats.Runs, st.Stats.LoopsCut)
	}
	if docs := dojottest.WaitHistory(t, c, dev, "echo", 8); len(docs) != 8 {
		t.Errorf("%d echoes in history; want 8", len(docs))
	}
	if code, body := in.Client().Do("GET", "/healthz", nil); code != 200 {
		t.Errorf("/healthz = %d %s", code, dojottest.Trunc(body))
	}
	// Still running flows: a new reading of the device loops (and is cut) again.
	if out, err := dojottest.MosquittoPub(in, "admin:"+dev, "admin:"+dev+"/attrs", `{"temperature":2}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	dojottest.WaitHistory(t, c, dev, "echo", 16)
	for deadline := time.Now().Add(20 * time.Second); st.Stats.LoopsCut < 2 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		dojottest.MustJSON(t, c.Must(200, "GET", "/flows/v1/flow/"+created.Flow.ID+"/status", nil), &st)
	}
	if st.Stats.Runs != 16 || st.Stats.LoopsCut != 2 {
		t.Errorf("after a second reading: runs %d, loops cut %d; want 16 and 2", st.Stats.Runs, st.Stats.LoopsCut)
	}

	// The same through actuations: a flow on a device's configure events
	// that actuates the device again.
	dojottest.MustJSON(t, c.Must(200, "POST", "/flows/v1/flow", `{"name":"reconfigure","flow":[{"id":"t","type":"tab"},`+
		`{"id":"h","type":"event device in","z":"t","device_id":"`+dev+`","event_configure":true,"wires":[["c"]]},`+
		`{"id":"c","type":"change","z":"t","rules":[{"t":"set","p":"out.target_temperature","pt":"msg","to":"payload.data.attrs.target_temperature","tot":"msg"}],"wires":[["a"]]},`+
		`{"id":"a","type":"multi actuate","z":"t","device_source":"self","devices_source_configured":[""],"attrs":"out","wires":[]}]}`), &created)
	c.Must(200, "PUT", "/device/"+dev+"/actuate", map[string]any{"attrs": map[string]any{"target_temperature": 21}})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		dojottest.MustJSON(t, c.Must(200, "GET", "/flows/v1/flow/"+created.Flow.ID+"/status", nil), &st)
		if st.Stats.LoopsCut > 0 || st.Stats.Runs > 100 || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(time.Second) // nothing more comes
	dojottest.MustJSON(t, c.Must(200, "GET", "/flows/v1/flow/"+created.Flow.ID+"/status", nil), &st)
	if st.Stats.Runs != 8 || st.Stats.LoopsCut != 1 {
		t.Errorf("actuation loop: runs %d, loops cut %d; want 8 and 1", st.Stats.Runs, st.Stats.LoopsCut)
	}
	if code, body := in.Client().Do("GET", "/healthz", nil); code != 200 {
		t.Errorf("/healthz = %d %s", code, dojottest.Trunc(body))
	}
}
