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

// TestFlowsTwoInstances: two instances on one NATS share a flow's inputs
// by device partition: both run some, every reading's output is stored
// once, and each device's outputs come in the order of its readings.
func TestFlowsTwoInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	addr := dojottest.FreeAddr(t)
	a := dojottest.Start(t, "", "-nats-listen="+addr, "-jwt-secret=shared-e2e-secret")
	b := dojottest.Start(t, "", "-nats-url=nats://"+addr, "-jwt-secret=shared-e2e-secret")
	ca := a.Login("admin", dojottest.AdminPassword)
	cb := b.Login("admin", dojottest.AdminPassword)

	sources := dojottest.CreateTemplate(ca, "Sources")
	sink := dojottest.CreateDevice(ca, "sink", dojottest.CreateTemplate(ca, "Sinks"))
	const devices, each = 12, 60
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = dojottest.CreateDevice(ca, fmt.Sprintf("src-%d", i), sources)
	}
	var flow struct {
		Flow struct {
			ID string `json:"id"`
		} `json:"flow"`
	}
	dojottest.MustJSON(t, ca.Must(200, "POST", "/flows/v1/flow", `{"name":"relay","flow":[{"id":"t","type":"tab"},`+
		`{"id":"h","type":"event template in","z":"t","template_id":"`+fmt.Sprint(sources)+`","event_publish":true,"wires":[["c"]]},`+
		`{"id":"c","type":"change","z":"t","rules":[{"t":"set","p":"out.n","pt":"msg","to":"payload.data.attrs.temperature","tot":"msg"},`+
		`{"t":"set","p":"out.src","pt":"msg","to":"payload.data.id","tot":"msg"}],"wires":[["o"]]},`+
		`{"id":"o","type":"multi device out","z":"t","device_source":"configured","devices_source_configured":["`+sink+`"],"attrs":"out","wires":[]}]}`), &flow)
	time.Sleep(3 * time.Second) // both instances announced and hold their partitions

	js := dojottest.JetStream(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for n := range each {
		for _, id := range ids {
			r := fmt.Sprintf(`{"metadata":{"deviceid":%q,"tenant":"admin","timestamp":%d},"attrs":{"temperature":%d}}`, id, time.Now().UnixMilli(), n)
			if _, err := js.PublishAsync("data.admin."+id, []byte(r)); err != nil {
				t.Fatal(err)
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("readings not stored")
	}

	// The sink's readings, in DATA order.
	cons, err := js.OrderedConsumer(ctx, "DATA", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"data.*.admin." + sink}})
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]int{}
	seen := map[string]bool{}
	for len(seen) < devices*each {
		m, err := cons.Next(jetstream.FetchMaxWait(30 * time.Second))
		if err != nil {
			t.Fatalf("after %d of %d outputs: %v", len(seen), devices*each, err)
		}
		var r struct {
			Attrs struct {
				N   int    `json:"n"`
				Src string `json:"src"`
			} `json:"attrs"`
		}
		if err := json.Unmarshal(m.Data(), &r); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprint(r.Attrs.Src, "/", r.Attrs.N)
		if seen[key] {
			t.Errorf("output of %s stored twice", key)
		}
		seen[key] = true
		if prev, ok := last[r.Attrs.Src]; ok && r.Attrs.N <= prev {
			t.Errorf("%s: output of reading %d after %d", r.Attrs.Src, r.Attrs.N, prev)
		}
		last[r.Attrs.Src] = r.Attrs.N
	}
	// Both instances ran some of them: each status counts its own.
	for name, c := range map[string]*dojottest.Client{"a": ca, "b": cb} {
		var resp struct {
			Stats struct {
				Nodes map[string]struct {
					In uint64 `json:"in"`
				} `json:"nodes"`
			} `json:"stats"`
		}
		dojottest.MustJSON(t, c.Must(200, "GET", "/flows/v1/flow/"+flow.Flow.ID+"/status", nil), &resp)
		st := resp.Stats
		t.Logf("instance %s ran %d inputs", name, st.Nodes["c"].In)
		if st.Nodes["c"].In == 0 {
			t.Errorf("instance %s ran none of the inputs: %+v", name, st)
		}
	}
}
