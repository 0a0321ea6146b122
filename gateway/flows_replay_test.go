package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/flows/replay"
	"github.com/dojot-es/dojot/projections/memory"
)

// hotFlow: device a1b2c3's readings above 32 notify.
const hotFlow = `[{"id":"h","type":"event device in","device_id":"a1b2c3","event_publish":true,"wires":[["sw"]]},
 {"id":"sw","type":"switch","property":"payload.data.attrs.temperature","propertyType":"msg","rules":[{"t":"gt","v":"32","vt":"num"}],"checkall":"false","outputs":1,"wires":[["n"]]},
 {"id":"n","type":"notification","msgType":"static","messageStatic":"hot","source":"","wires":[]}]`

// replayAnswer is the part of a replay's answer the tests read.
type replayAnswer struct {
	Flow      string
	Limit     int
	Read      int
	Inputs    int
	Truncated bool
	Nodes     map[string]struct{ In, Out, Errors int }
	Effects   map[string]int
	Runs      []struct {
		Input struct {
			Stream   string
			DeviceID string `json:"device_id"`
			Payload  map[string]any
		}
		Records []struct {
			Kind, Node string
			Value      json.RawMessage
		}
	}
}

// TestFlowReplayAPI: POST /flows/v1/flow/:id/replay on a saved, disabled
// flow and POST /flows/v1/replay on a flow in the body, over readings
// stored in a real JetStream; the range as body keys or query parameters.
func TestFlowReplayAPI(t *testing.T) {
	store := eventstoretest.Open(t)
	srv := flowServerWith(t, func(o *Options, v *memory.View) {
		p := &replay.Replayer{Store: store, View: v, Logger: eventstoretest.Logger(t)}
		o.FlowReplay = func(ctx context.Context, r FlowReplay) (any, error) {
			return p.Replay(ctx, replay.Request{Tenant: r.Tenant, FlowID: r.FlowID, Nodes: r.Nodes, From: r.From, To: r.To, Limit: r.Limit})
		}
	})
	got := dmMust(t, srv, 200, "POST", "/flows/v1/flow", `{"name":"hot","enabled":false,"flow":`+hotFlow+`}`)
	var created struct{ Flow struct{ ID string } }
	if err := json.Unmarshal([]byte(got), &created); err != nil {
		t.Fatal(err)
	}
	id := created.Flow.ID
	from := time.Now()
	for _, temp := range []int{31, 35, 40} {
		payload := fmt.Sprintf(`{"metadata":{"deviceid":"a1b2c3","tenant":"t1","timestamp":1},"attrs":{"temperature":%d}}`, temp)
		if _, err := store.AppendData(t.Context(), "t1", "a1b2c3", []byte(payload), ""); err != nil {
			t.Fatal(err)
		}
	}
	to := time.Now()
	span := fmt.Sprintf(`"from":%d,"to":%q`, from.UnixMilli(), to.UTC().Format(time.RFC3339Nano))

	answer := func(body string) replayAnswer {
		t.Helper()
		var a replayAnswer
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return a
	}
	check := func(a replayAnswer, flow string) {
		t.Helper()
		if a.Flow != flow || a.Read != 3 || a.Inputs != 3 || len(a.Runs) != 3 || a.Truncated || a.Effects["notification"] != 2 {
			t.Fatalf("answer %+v", a)
		}
		if len(a.Runs[0].Records) != 0 || len(a.Runs[1].Records) != 2 || a.Runs[1].Records[1].Kind != "notification" || a.Runs[1].Records[1].Node != "n" ||
			!strings.Contains(string(a.Runs[2].Records[1].Value), `"message":"hot"`) || a.Runs[2].Input.DeviceID != "a1b2c3" {
			t.Errorf("runs %+v", a.Runs)
		}
		if n := a.Nodes["sw"]; n.In != 3 || n.Out != 2 || a.Nodes["n"].In != 2 {
			t.Errorf("nodes %+v", a.Nodes)
		}
	}
	// A saved flow, disabled: it replays.
	check(answer(dmMust(t, srv, 200, "POST", "/flows/v1/flow/"+id+"/replay", `{`+span+`}`)), id)
	// The same range as query parameters, with a limit.
	q := fmt.Sprintf("?from=%d&to=%s&limit=2", from.UnixMilli(), to.UTC().Format(time.RFC3339Nano))
	a := answer(dmMust(t, srv, 200, "POST", "/flows/v1/flow/"+id+"/replay"+q, ""))
	if len(a.Runs) != 2 || !a.Truncated || a.Limit != 2 {
		t.Errorf("limit 2: %+v", a)
	}
	// A flow not saved.
	check(answer(dmMust(t, srv, 200, "POST", "/flows/v1/replay", `{"flow":`+hotFlow+`,`+span+`}`)), "")
	// Defaults: the last hour, 100 inputs.
	if a := answer(dmMust(t, srv, 200, "POST", "/flows/v1/flow/"+id+"/replay", "")); a.Limit != replay.DefaultLimit || a.Inputs != 3 {
		t.Errorf("defaults: %+v", a)
	}

	// The flows API's Content-Type.
	resp, err := http.Post(srv.URL+"/flows/v1/flow/"+id+"/replay", "application/json", strings.NewReader(`{`+span+`}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != jsonExpress {
		t.Errorf("Content-Type %q", ct)
	}

	for _, c := range []struct {
		path, body string
		hdr        []string
		code       int
		want       string
	}{
		{"/flows/v1/flow/nope/replay", "", nil, 404, `{"message":"Unknown flow: nope","flow":"nope"}`},
		{"/flows/v1/flow/" + id + "/replay", "", []string{"tenant", "t2"}, 404, `{"message":"Unknown flow: ` + id + `","flow":"` + id + `"}`},
		{"/flows/v1/replay", `{"flow":[{"id":"x","type":"no such node","wires":[]}]}`, nil, 400, `{"message":"Given flow is invalid","detail":"node x: unknown node type \"no such node\""}`},
		{"/flows/v1/replay", `{"flow":{}}`, nil, 400, `{"message":"Given flow is invalid","detail":"flow must be an array of nodes"}`},
		{"/flows/v1/replay", `{}`, nil, 400, `{"message":"Missing mandatory field: flow"}`},
		{"/flows/v1/replay", `[1]`, nil, 400, `{"message":"Payload must be a JSON object"}`},
		{"/flows/v1/replay", `{"flow":[]`, nil, 400, `{"message":"Payload must be a JSON object"}`},
		{"/flows/v1/flow/" + id + "/replay", `{"from":"yesterday"}`, nil, 400, `{"message":"from must be an ISO 8601 time or epoch milliseconds, not \"yesterday\""}`},
		{"/flows/v1/flow/" + id + "/replay?to=x", ``, nil, 400, `{"message":"to must be an ISO 8601 time or epoch milliseconds, not \"x\""}`},
		{"/flows/v1/flow/" + id + "/replay", `{"from":"2026-01-02T00:00:00Z","to":"2026-01-01"}`, nil, 400, `{"message":"to (2026-01-01T00:00:00Z) is before from (2026-01-02T00:00:00Z)"}`},
		{"/flows/v1/flow/" + id + "/replay", `{"limit":0}`, nil, 400, `{"message":"limit must be a positive integer, not 0"}`},
		{"/flows/v1/flow/" + id + "/replay?limit=1.5", ``, nil, 400, `{"message":"limit must be a positive integer, not \"1.5\""}`},
		{"/flows/v1/flow/" + id + "/replay", `{"limit":10001}`, nil, 400, `{"message":"limit must be between 1 and 10000"}`},
		{"/flows/v1/flow/" + id + "/replay", `limit=1`, []string{"Content-Type", "text/plain"}, 400, `{"message":"Payload must be a JSON object, and Content-Type application/json"}`},
	} {
		code, got := dmCall(t, srv, "POST", c.path, c.body, c.hdr...)
		if code != c.code || got != c.want {
			t.Errorf("POST %s %s = %d %s; want %d %s", c.path, c.body, code, got, c.code, c.want)
		}
	}
}
