package flows

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestFlowReplay: readings published with mosquitto_pub, then a saved,
// disabled flow (a template head, a switch, a change and a multi actuate
// on one port, a notification on both) replayed over them with POST
// /flows/v1/flow/:id/replay: each reading's run is answered in order,
// with the actuations and notifications it would have made; none was
// made for real (mosquitto_sub on the devices' config topics gets
// nothing, EVENTS holds no actuation, NOTIFICATIONS nothing), its
// cumulative sum counted from an empty sandbox context and wrote nothing
// in FLOW_CONTEXT, and the flow is still disabled. The same flow sent unsaved to POST
// /flows/v1/replay answers the same.
func TestFlowReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "sh", "-c", "command -v mosquitto_sub && command -v mosquitto_pub")
	natsAddr := dojottest.FreeAddr(t)
	in := dojottest.Start(t, "", "-mqtt-insecure", "-nats-listen="+natsAddr)
	c := in.Login("admin", dojottest.AdminPassword)
	tmpl := dojottest.CreateTemplate(c, "Boilers")
	ids := []string{dojottest.CreateDevice(c, "boiler-1", tmpl), dojottest.CreateDevice(c, "boiler-2", tmpl)}
	flow := `[{"id":"t","type":"tab","label":"replayed"},
	 {"id":"h","type":"event template in","z":"t","template_id":"` + strconv.Itoa(tmpl) + `","event_publish":true,"wires":[["s","cs"]]},
	 {"id":"cs","type":"cumulative sum","z":"t","timePeriod":"60","targetAttribute":"payload.data.attrs.temperature","timestamp":"payload.metadata.timestamp","output":"total","wires":[]},
	 {"id":"s","type":"switch","z":"t","property":"payload.data.attrs.temperature","propertyType":"msg",
	  "rules":[{"t":"gt","v":"30","vt":"num"},{"t":"else"}],"checkall":"true","outputs":2,"wires":[["c","n"],["n"]]},
	 {"id":"c","type":"change","z":"t","rules":[{"t":"set","p":"saida.target_temperature","pt":"msg","to":"20","tot":"num"}],"wires":[["a"]]},
	 {"id":"a","type":"multi actuate","z":"t","device_source":"self","devices_source_configured":[""],"attrs":"saida","wires":[]},
	 {"id":"n","type":"notification","z":"t","msgType":"static","messageStatic":"boiler reading","source":"","wires":[]}]`
	var created struct{ Flow struct{ ID string } }
	dojottest.MustJSON(t, c.Must(200, "POST", "/flows/v1/flow", `{"name":"boilers","enabled":false,"flow":`+flow+`}`), &created)
	id := created.Flow.ID

	// Both devices' config topics listen from before the readings on.
	host, port, _ := net.SplitHostPort(in.MQTTAddr)
	var subs []*exec.Cmd
	var outs []*bytes.Buffer
	for _, dev := range ids {
		user := "admin:" + dev
		sub := exec.Command("mosquitto_sub", "-h", host, "-p", port, "-u", user, "-i", "e2e-sub-"+dev, "-q", "1", "-t", user+"/config", "-W", "8")
		var out bytes.Buffer
		sub.Stdout, sub.Stderr = &out, &out
		if err := sub.Start(); err != nil {
			t.Fatal(err)
		}
		subs, outs = append(subs, sub), append(outs, &out)
	}
	time.Sleep(500 * time.Millisecond)

	from := time.Now().Add(-time.Second)
	readings := []struct {
		dev  int
		temp int
	}{{0, 35}, {1, 25}, {0, 40}, {1, 31}}
	for _, r := range readings {
		user := "admin:" + ids[r.dev]
		if b, err := dojottest.MosquittoPub(in, user, user+"/attrs", fmt.Sprintf(`{"temperature":%d}`, r.temp), "-q", "1"); err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, b)
		}
	}
	dojottest.WaitHistory(t, c, ids[0], "temperature", 2)
	dojottest.WaitHistory(t, c, ids[1], "temperature", 2)

	type record struct {
		Kind, Node string
		Port       *int
		Msg        map[string]any
		Value      json.RawMessage
	}
	type answer struct {
		Flow      string
		Inputs    int
		Truncated bool
		Effects   map[string]int
		Nodes     map[string]struct{ In, Out, Errors int }
		Runs      []struct {
			Input struct {
				Stream, Event string
				DeviceID      string `json:"device_id"`
				Payload       struct {
					Data struct{ Attrs map[string]any }
				}
			}
			Records []record
		}
	}
	check := func(body []byte, flowID string) {
		t.Helper()
		var a answer
		dojottest.MustJSON(t, body, &a)
		if a.Flow != flowID || a.Inputs != 4 || len(a.Runs) != 4 || a.Truncated || a.Effects["actuation"] != 3 || a.Effects["notification"] != 4 {
			t.Fatalf("replay = %s", body)
		}
		for i, r := range readings {
			run := a.Runs[i]
			var kinds []string
			for _, rec := range run.Records {
				kinds = append(kinds, rec.Kind+"@"+rec.Node)
			}
			want := "emit@s emit@cs emit@c notification@n actuation@a" // breadth first: s and cs, c and n, then a
			if r.temp <= 30 {
				want = "emit@s emit@cs notification@n"
			}
			if got := strings.Join(kinds, " "); run.Input.DeviceID != ids[r.dev] || run.Input.Event != "publish" || run.Input.Stream != "data" ||
				fmt.Sprint(run.Input.Payload.Data.Attrs["temperature"]) != strconv.Itoa(r.temp) || run.Input.Payload.Data.Attrs["model"] != "m-1" || got != want {
				t.Errorf("run %d: %s on %+v; want %s on %s's %d", i, got, run.Input, want, ids[r.dev], r.temp)
			}
			for _, rec := range run.Records {
				var v struct {
					DeviceID string `json:"device_id"`
					Attrs    map[string]any
					Message  string
					Subject  string
				}
				if rec.Value != nil {
					dojottest.MustJSON(t, rec.Value, &v)
				}
				switch rec.Kind {
				case "emit":
					// The sandbox's context starts empty: the running
					// total of the replayed readings, and only theirs.
					if total := []int{35, 60, 100, 131}[i]; rec.Node == "cs" && fmt.Sprint(rec.Msg["total"]) != strconv.Itoa(total) {
						t.Errorf("run %d: cumulative sum %v; want %d", i, rec.Msg["total"], total)
					}
				case "actuation":
					if v.DeviceID != ids[r.dev] || fmt.Sprint(v.Attrs) != "map[target_temperature:20]" {
						t.Errorf("run %d: actuation %s", i, rec.Value)
					}
				case "notification":
					if v.Message != "boiler reading" || v.Subject != "user_notification" {
						t.Errorf("run %d: notification %s", i, rec.Value)
					}
				}
			}
		}
		if s := a.Nodes["s"]; s.In != 4 || s.Out != 4 || a.Nodes["a"].In != 3 || a.Nodes["n"].In != 4 {
			t.Errorf("nodes = %+v", a.Nodes)
		}
	}
	span := fmt.Sprintf(`{"from":%q}`, from.UTC().Format(time.RFC3339Nano))
	check(c.Must(200, "POST", "/flows/v1/flow/"+id+"/replay", span), id)
	check(c.Must(200, "POST", "/flows/v1/replay", `{"flow":`+flow+`,"from":`+strconv.FormatInt(from.UnixMilli(), 10)+`}`), "")

	// Nothing was done for real: no configuration reached the devices...
	for i, sub := range subs {
		_ = sub.Wait() // -W: exits with "Timed out" (27) when no message came, connected all along
		if got := strings.TrimSpace(outs[i].String()); got != "Timed out" || sub.ProcessState.ExitCode() != 27 {
			t.Errorf("device %s's config topic: %q, exit %d; want nothing, timed out", ids[i], got, sub.ProcessState.ExitCode())
		}
	}
	// ...no actuation is in EVENTS, no notification in NOTIFICATIONS...
	js := dojottest.JetStream(t, natsAddr)
	ctx := context.Background()
	for _, dev := range ids {
		st, err := js.Stream(ctx, "EVENTS")
		if err != nil {
			t.Fatal(err)
		}
		m, err := st.GetLastMsgForSubject(ctx, dojot.Subject("admin", dojot.KindDevice, dev))
		if err != nil {
			t.Fatal(err)
		}
		var ev dojot.Event
		dojottest.MustJSON(t, m.Data, &ev)
		if ev.Type != dojot.EventDeviceCreated {
			t.Errorf("device %s's last event is %s; want its creation", dev, ev.Type)
		}
	}
	if st, err := js.Stream(ctx, "NOTIFICATIONS"); err != nil || st.CachedInfo().State.Msgs != 0 {
		t.Errorf("NOTIFICATIONS: %v, %+v", err, st.CachedInfo().State)
	}
	// ...nor any context in the live key-value bucket.
	if st, err := js.Stream(ctx, "KV_FLOW_CONTEXT"); err != nil || st.CachedInfo().State.Msgs != 0 {
		t.Errorf("FLOW_CONTEXT: %v, %+v", err, st.CachedInfo().State)
	}
	// ...and the flow is still disabled, its engine counters untouched.
	var got struct{ Flow struct{ Enabled bool } }
	dojottest.MustJSON(t, c.Must(200, "GET", "/flows/v1/flow/"+id, nil), &got)
	var status struct{ Stats struct{ Runs int } }
	dojottest.MustJSON(t, c.Must(200, "GET", "/flows/v1/flow/"+id+"/status", nil), &status)
	if got.Flow.Enabled || status.Stats.Runs != 0 {
		t.Errorf("after replay: enabled %v, runs %d", got.Flow.Enabled, status.Stats.Runs)
	}
}
