package flows

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestFlowsLive: a tenant created while the binary runs gets its flows
// run at once, an edit applies to the next reading, and a disabled flow
// stops running, all without a restart.
func TestFlowsLive(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	addr := dojottest.FreeAddr(t)
	in := dojottest.Start(t, "", "-nats-listen="+addr)
	admin := in.Login("admin", dojottest.AdminPassword)
	admin.Must(200, "POST", "/auth/user", map[string]any{"username": "liv", "service": "livetenant",
		"email": "liv@example.com", "name": "Liv", "profile": "admin"})
	c := dojottest.LoginNewUser(t, in, admin, "liv")
	src := dojottest.CreateDevice(c, "src", dojottest.CreateTemplate(c, "Sources"))
	sink := dojottest.CreateDevice(c, "sink", dojottest.CreateTemplate(c, "Sinks"))
	flowBody := func(tag string, enabled bool) string {
		return fmt.Sprintf(`{"name":"tagger","enabled":%t,"flow":[{"id":"t","type":"tab"},`+
			`{"id":"h","type":"event device in","z":"t","device_id":%q,"event_publish":true,"wires":[["c"]]},`+
			`{"id":"c","type":"change","z":"t","rules":[{"t":"set","p":"out.tag","pt":"msg","to":%q,"tot":"str"},`+
			`{"t":"set","p":"out.n","pt":"msg","to":"payload.data.attrs.temperature","tot":"msg"}],"wires":[["o"]]},`+
			`{"id":"o","type":"multi device out","z":"t","device_source":"configured","devices_source_configured":[%q],"attrs":"out","wires":[]}]}`,
			enabled, src, tag, sink)
	}
	var created struct {
		Flow struct {
			ID string `json:"id"`
		} `json:"flow"`
	}
	dojottest.MustJSON(t, c.Must(200, "POST", "/flows/v1/flow", flowBody("v1", true)), &created)

	js := dojottest.JetStream(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, "DATA", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"data.*.livetenant." + sink}})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(n int) {
		r := fmt.Sprintf(`{"metadata":{"deviceid":%q,"tenant":"livetenant","timestamp":%d},"attrs":{"temperature":%d}}`, src, time.Now().UnixMilli(), n)
		if _, err := js.Publish(ctx, "data.livetenant."+src, []byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	type out struct {
		Tag string `json:"tag"`
		N   int    `json:"n"`
	}
	next := func(wait time.Duration) (out, bool) {
		m, err := cons.Next(jetstream.FetchMaxWait(wait))
		if err != nil {
			return out{}, false
		}
		var r struct {
			Attrs out `json:"attrs"`
		}
		dojottest.MustJSON(t, m.Data(), &r)
		return r.Attrs, true
	}

	publish(1)
	if o, ok := next(20 * time.Second); !ok || o != (out{"v1", 1}) {
		t.Fatalf("first output = %+v %v; want tag v1 of reading 1", o, ok)
	}
	c.Must(200, "PUT", "/flows/v1/flow/"+created.Flow.ID, json.RawMessage(flowBody("v2", true)))
	publish(2)
	if o, ok := next(20 * time.Second); !ok || o != (out{"v2", 2}) {
		t.Fatalf("output after the edit = %+v %v; want tag v2 of reading 2", o, ok)
	}
	c.Must(200, "PUT", "/flows/v1/flow/"+created.Flow.ID, map[string]any{"enabled": false})
	publish(3)
	if o, ok := next(3 * time.Second); ok {
		t.Errorf("a disabled flow ran: %+v", o)
	}
}
