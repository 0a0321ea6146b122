package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/flows"
	"github.com/dojot-es/dojot/projections/memory"
)

// TestFlowsValidation: what dojot stored and failed on at run time (FLOWS.md
// 1.4 "Not validated") is a 400 with dojot's message and a detail naming the
// node and the reason, on POST and on PUT; the stored flow is unchanged.
func TestFlowsValidation(t *testing.T) {
	srv := flowServerWith(t, func(o *Options, view *memory.View) {
		o.FlowCommands = commands.NewFlows(commands.Options{Store: &commandstest.Store{View: view}, Sync: commandstest.Syncer{},
			Now: func() time.Time { return testNow }, Rand: rand.NewChaCha8([32]byte{3})}, view, flows.Check)
	})
	const head = `{"id":"h","type":"event device in","device_id":"d1","event_publish":true,"wires":[["n"]]}`
	node := func(n string) string { return `[` + head + `,` + n + `]` }
	for name, tt := range map[string]struct{ flow, detail string }{
		"unknown node type":   {node(`{"id":"n","type":"email","wires":[]}`), `node n: unknown node type \"email\"`},
		"wire to missing":     {`[{"id":"h","type":"event device in","device_id":"d1","event_publish":true,"wires":[["gone"]]}]`, `node h: wire to missing node \"gone\"`},
		"wire to a head":      {node(`{"id":"n","type":"change","rules":[],"wires":[["h"]]}`), `node n: wire to node \"h\" of type \"event device in\", which takes no input`},
		"missing field":       {node(`{"id":"n","type":"geofence","points":[{"latitude":0,"longitude":0},{"latitude":0,"longitude":1},{"latitude":1,"longitude":0}],"wires":[]}`), `node n: missing geopoint`},
		"ill-typed field":     {node(`{"id":"n","type":"switch","rules":{},"wires":[]}`), `node n: rules must be an array of rules`},
		"bad regex":           {node(`{"id":"n","type":"switch","rules":[{"t":"regex","v":"(","vt":"str"}],"wires":[[]]}`), `node n: rules[0]: bad regex: error parsing regexp: missing closing ): ` + "`(`"},
		"bad template":        {node(`{"id":"n","type":"template","syntax":"mustache","template":"{{#a}}","wires":[]}`), `node n: bad mustache template: {{#a}} is not closed`},
		"numeric template_id": {`[{"id":"h","type":"event template in","template_id":6,"event_publish":true,"wires":[]}]`, `node h: template_id must be a string (dojot compares template ids as strings, a number never matches)`},
		"duplicate id":        {`[{"id":"a","type":"tab"},{"id":"a","type":"tab"}]`, `node a: duplicate id`},
		"every problem":       {`[{"id":"a","type":"nope","wires":[["x"]]}]`, `node a: unknown node type \"nope\"; node a: wire to missing node \"x\"`},
	} {
		t.Run(name, func(t *testing.T) {
			want := `{"message":"Given flow is invalid","detail":"` + tt.detail + `"}`
			if code, got := dmCall(t, srv, "POST", "/flows/v1/flow", `{"name":"bad","flow":`+tt.flow+`}`); code != 400 || got != want {
				t.Errorf("POST = %d %s\nwant 400 %s", code, got, want)
			}
			id := regexp.MustCompile(`"id":"([0-9a-f-]{36})"`).FindStringSubmatch(dmMust(t, srv, 200, "POST", "/flows/v1/flow", `{"name":"good","flow":`+node(`{"id":"n","type":"change","rules":[],"wires":[]}`)+`}`))[1]
			if code, got := dmCall(t, srv, "PUT", "/flows/v1/flow/"+id, `{"flow":`+tt.flow+`}`); code != 400 || got != want {
				t.Errorf("PUT = %d %s\nwant 400 %s", code, got, want)
			}
			if got := dmMust(t, srv, 200, "GET", "/flows/v1/flow/"+id, ""); !strings.Contains(got, `"type":"change"`) {
				t.Errorf("after a refused PUT: %s", got)
			}
		})
	}
	// A valid flow is stored as sent (extra editor keys kept), enabled by
	// default; PUT enabled false disables it and true enables it again.
	got := dmMust(t, srv, 200, "POST", "/flows/v1/flow", `{"name":"ok","flow":[{"id":"t","type":"tab","label":"x"},`+head+`,{"id":"n","type":"change","z":"t","x":1.5,"rules":[],"wires":[]}],"isNew":true}`)
	if !strings.Contains(got, `"enabled":true`) || !strings.Contains(got, `{"id":"n","type":"change","z":"t","x":1.5,"rules":[],"wires":[]}`) {
		t.Errorf("POST = %s", got)
	}
	id := regexp.MustCompile(`"id":"([0-9a-f-]{36})"`).FindStringSubmatch(got)[1]
	for _, enabled := range []bool{false, true} {
		body := `{"enabled":` + strconv.FormatBool(enabled) + `}`
		if got := dmMust(t, srv, 200, "PUT", "/flows/v1/flow/"+id, body); !strings.Contains(got, `"name":"ok","enabled":`+strconv.FormatBool(enabled)) {
			t.Errorf("PUT %s = %s", body, got)
		}
	}
	// enabled: absent or null is true; false at creation is kept.
	if got := dmMust(t, srv, 200, "POST", "/flows/v1/flow", `{"name":"off","flow":[],"enabled":false}`); !strings.Contains(got, `"enabled":false`) {
		t.Errorf("POST enabled false = %s", got)
	}
}

// failingFlows fails every read and write with an error of no known kind.
type failingFlows struct{}

var errDown = errors.New("disk on fire")

func (failingFlows) Create(context.Context, string, []byte) (dojot.Flow, error) {
	return dojot.Flow{}, errDown
}
func (failingFlows) Update(context.Context, string, string, []byte) (dojot.Flow, error) {
	return dojot.Flow{}, errDown
}
func (failingFlows) Delete(context.Context, string, string) (dojot.Flow, error) {
	return dojot.Flow{}, errDown
}
func (failingFlows) DeleteAll(context.Context, string) error { return errDown }
func (failingFlows) Flow(context.Context, string, string) (dojot.Flow, bool, error) {
	return dojot.Flow{}, false, errDown
}
func (failingFlows) Flows(context.Context, string) ([]dojot.Flow, error) { return nil, errDown }

// TestFlowsFailures: an unexpected failure is dojot's 500 of the route
// (FLOWS.md 1.2), the cause only in the log; a known kind keeps its status.
func TestFlowsFailures(t *testing.T) {
	srv := flowServerWith(t, func(o *Options, _ *memory.View) { o.FlowCommands, o.FlowView = failingFlows{}, failingFlows{} })
	for _, tt := range []struct{ method, path, body, want string }{
		{"GET", "/flows/v1/flow", "", "Failed to list flows"},
		{"POST", "/flows/v1/flow", `{"name":"a","flow":[]}`, "failed to create flow"},
		{"DELETE", "/flows/v1/flow", "", "failed to remove flows"},
		{"GET", "/flows/v1/flow/x", "", "Failed to get flow"},
		{"PUT", "/flows/v1/flow/x", `{"name":"b"}`, "Failed to update flows"},
		{"DELETE", "/flows/v1/flow/x", "", "Failed to remove flow"},
	} {
		if code, got := dmCall(t, srv, tt.method, tt.path, tt.body); code != 500 || got != `{"message":"`+tt.want+`"}` {
			t.Errorf("%s %s = %d %s; want 500 %q", tt.method, tt.path, code, got, tt.want)
		}
	}
	unavailable := flowServerWith(t, func(o *Options, _ *memory.View) { o.FlowView = unavailableFlows{} })
	if code, _ := dmCall(t, unavailable, "GET", "/flows/v1/flow", ""); code != 503 {
		t.Errorf("store unavailable: %d, want 503", code)
	}
}

type unavailableFlows struct{ failingFlows }

func (unavailableFlows) Flows(context.Context, string) ([]dojot.Flow, error) {
	return nil, dojot.ErrUnavailable
}

// TestFlowsTimes: created = updated on POST; PUT sets updated and keeps
// created (FLOWS.md 1.3).
func TestFlowsTimes(t *testing.T) {
	var mu sync.Mutex
	now := testNow
	srv := flowServerWith(t, func(o *Options, view *memory.View) {
		o.FlowCommands = commands.NewFlows(commands.Options{Store: &commandstest.Store{View: view}, Sync: commandstest.Syncer{},
			Now: func() time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Second); return now }, Rand: rand.NewChaCha8([32]byte{4})}, view, flows.Check)
	})
	var got struct {
		Flow struct {
			ID               string
			Created, Updated int64
		}
	}
	json.Unmarshal([]byte(dmMust(t, srv, 200, "POST", "/flows/v1/flow", `{"name":"a","flow":[]}`)), &got)
	created := got.Flow.Created
	if got.Flow.Updated != created || created <= testNow.UnixMilli() {
		t.Fatalf("POST: %+v", got)
	}
	json.Unmarshal([]byte(dmMust(t, srv, 200, "PUT", "/flows/v1/flow/"+got.Flow.ID, `{"name":"b"}`)), &got)
	if got.Flow.Created != created || got.Flow.Updated <= created {
		t.Errorf("PUT: created %d updated %d; want created %d and a later updated", got.Flow.Created, got.Flow.Updated, created)
	}
}
