package flows

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestFlowsRun: flows run on the streams. A reading published with
// mosquitto_pub fires two flows of its device: one actuates it (the
// configuration reaches mosquitto_sub on its config topic), the other
// publishes a reading as it, made of its static attr (merged into the
// input as dojot did), which the History API shows; that reading fires
// the flows again and stops at their switch.
func TestFlowsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "sh", "-c", "command -v mosquitto_sub && command -v mosquitto_pub")
	dojottest.NeedCommand(t, "kcat", "-V")
	natsAddr, broker := dojottest.FreeAddr(t), dojottest.FreeAddr(t)
	in := dojottest.Start(t, "", "-mqtt-insecure", "-nats-listen="+natsAddr, "-kafka-embedded-addr="+broker)
	c := in.Login("admin", dojottest.AdminPassword)
	id := dojottest.CreateDevice(c, "heater", dojottest.CreateTemplate(c, "Heaters"))
	head := `{"id":"h","type":"event device in","z":"t","device_id":"` + id + `","event_publish":true,"wires":[["s"]]},` +
		`{"id":"s","type":"switch","z":"t","property":"payload.data.attrs.temperature","propertyType":"msg","rules":[{"t":"gt","v":"30","vt":"num"}],"checkall":"true","outputs":1,"wires":[["c"]]},`
	c.Must(200, "POST", "/flows/v1/flow", `{"name":"cool down","flow":[{"id":"t","type":"tab"},`+head+
		`{"id":"c","type":"change","z":"t","rules":[{"t":"set","p":"saida.target_temperature","pt":"msg","to":"20","tot":"num"}],"wires":[["a"]]},`+
		`{"id":"a","type":"multi actuate","z":"t","device_source":"self","devices_source_configured":[""],"attrs":"saida","wires":[]}]}`)
	c.Must(200, "POST", "/flows/v1/flow", `{"name":"alarm","flow":[{"id":"t","type":"tab"},`+head+
		`{"id":"c","type":"change","z":"t","rules":[{"t":"set","p":"out.alarm","pt":"msg","to":"payload.data.attrs.model","tot":"msg"}],"wires":[["o"]]},`+
		`{"id":"o","type":"multi device out","z":"t","device_source":"self","devices_source_configured":[""],"attrs":"out","wires":[]}]}`)

	// FLOWS.md 7.2: a notification, its text made by a template node.
	c.Must(200, "POST", "/flows/v1/flow", `{"name":"notify","flow":[{"id":"t","type":"tab"},`+head+
		`{"id":"c","type":"template","z":"t","field":"notification","fieldType":"msg","syntax":"handlebars",`+
		`"template":"{\"metadata\":{\"priority\":\"low\"},\"message\":\"Temp {{payload.data.attrs.temperature}} too high\"}","output":"json","wires":[["n"]]},`+
		`{"id":"n","type":"notification","z":"t","source":"notification.metadata","sourceFieldType":"msg","messageDynamic":"notification.message","messageStatic":"","messageFieldType":"msg","msgType":"dynamic","wires":[]}]}`)
	user := "admin:" + id
	sub := dojottest.ConfigSub(t, in, id, 1)
	if b, err := dojottest.MosquittoPub(in, user, user+"/attrs", `{"temperature":35}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, b)
	}
	if got := strings.TrimSpace(sub()); got != `{"target_temperature":20}` {
		t.Errorf("configuration = %s", got)
	}
	// The notification is in the NOTIFICATIONS stream, dojot's message.
	js := dojottest.JetStream(t, natsAddr)
	var note map[string]any
	for deadline := time.Now().Add(20 * time.Second); ; {
		var m *jetstream.RawStreamMsg
		st, err := js.Stream(context.Background(), "NOTIFICATIONS")
		if err == nil {
			m, err = st.GetLastMsgForSubject(context.Background(), "notify.admin")
		}
		if err == nil {
			dojottest.MustJSON(t, m.Data, &note)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notification: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if note["message"] != "Temp 35 too high" || note["subject"] != "user_notification" ||
		fmt.Sprint(note["metaAttrsFilter"]) != "map[priority:low shouldPersist:true]" || note["msgID"] == "" {
		t.Errorf("notification = %v", note)
	}
	// and, through the Kafka bridge, on <tenant>.dojot.notifications.
	if msgs := dojottest.KcatUntil(t, broker, "admin.dojot.notifications", 1); len(msgs) != 1 || !strings.Contains(msgs[0].Payload, `"message":"Temp 35 too high"`) {
		t.Errorf("admin.dojot.notifications = %+v", msgs)
	}
	docs := dojottest.WaitHistory(t, c, id, "alarm", 1)
	if docs[0].Value != "m-1" {
		t.Errorf("alarm history = %+v", docs)
	}
	// The flows' reading fired them again and stopped at the switch:
	// one alarm, one actuation.
	time.Sleep(time.Second)
	if docs := dojottest.WaitHistory(t, c, id, "alarm", 1); len(docs) != 1 {
		t.Errorf("alarm history = %+v; want one", docs)
	}
	// A disabled flow does not run.
	var list struct{ Flows []struct{ ID, Name string } }
	dojottest.MustJSON(t, c.Must(200, "GET", "/flows/v1/flow", nil), &list)
	// The engine's counters of a flow that ran (ours: dojot had none).
	for _, f := range list.Flows {
		if f.Name != "cool down" {
			continue
		}
		var st struct {
			Stats struct {
				Runs  uint64
				Nodes map[string]struct{ In, Out, Errors uint64 }
			}
		}
		dojottest.MustJSON(t, c.Must(200, "GET", "/flows/v1/flow/"+f.ID+"/status", nil), &st)
		if st.Stats.Runs < 1 || st.Stats.Nodes["a"].In < 1 || st.Stats.Nodes["s"].Out < 1 || st.Stats.Nodes["a"].Errors != 0 {
			t.Errorf("status = %+v", st)
		}
	}
	for _, f := range list.Flows {
		if f.Name == "alarm" {
			c.Must(200, "PUT", "/flows/v1/flow/"+f.ID, `{"enabled":false}`)
		}
	}
	if b, err := dojottest.MosquittoPub(in, user, user+"/attrs", `{"temperature":36}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, b)
	}
	dojottest.WaitHistory(t, c, id, "temperature", 2)
	time.Sleep(time.Second)
	if docs := dojottest.WaitHistory(t, c, id, "alarm", 1); len(docs) != 1 {
		t.Errorf("a disabled flow ran: alarm history = %+v", docs)
	}
}
