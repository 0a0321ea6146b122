package flows

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// flowsMD71 and flowsMD73 are FLOWS.md 7.1 and 7.3's bodies exactly as
// written there (template "6" in both).
const flowsMD71 = `{"name":"actuate flow","flow":[
 {"id":"7320e2d3.7984bc","type":"tab","label":"Flow 1"},
 {"id":"a26f3b44.379118","type":"device template in","z":"7320e2d3.7984bc","name":"bus",
  "device_template":{"id":"6"},"status":"false","device_template_id":"6","x":93.5,"y":226,"wires":[["e98654fe.c42fa8"]]},
 {"id":"e98654fe.c42fa8","type":"switch","z":"7320e2d3.7984bc","name":"passageiros >= 40",
  "property":"payload.passageiros","propertyType":"msg",
  "rules":[{"t":"gte","v":"40","vt":"num"},{"t":"lt","v":"40","vt":"num"}],
  "checkall":"true","outputs":2,"x":305.5,"y":229,"wires":[["7fd783d8.7fa12c"],["f8be2e5c.7e6c7"]]},
 {"id":"7fd783d8.7fa12c","type":"change","z":"7320e2d3.7984bc","name":"LOTADO",
  "rules":[{"t":"set","p":"saida.letreiro","pt":"msg","to":"LOTADO","tot":"str"}],
  "action":"","property":"","from":"","to":"","reg":false,"x":551.5,"y":142,"wires":[["af8485c5.8352d8"]]},
 {"id":"f8be2e5c.7e6c7","type":"change","z":"7320e2d3.7984bc","name":"JARDIM PAULISTA",
  "rules":[{"t":"set","p":"saida.letreiro","pt":"msg","to":"JARDIM PAULISTA","tot":"str"}],
  "action":"","property":"","from":"","to":"","reg":false,"x":576,"y":313,"wires":[["af8485c5.8352d8"]]},
 {"id":"af8485c5.8352d8","type":"multi actuate","z":"7320e2d3.7984bc","name":"","device_source":"self",
  "devices_source_configured":[""],"devices_source_dynamic":"","devices_source_dynamicFieldType":"msg",
  "attrs":"saida","_devices_loaded":true,"x":816.5,"y":228,"wires":[]}]}`

const flowsMD73 = `{"name":"geofence flow","flow":[
 {"id":"3433da79.e543a6","type":"tab","label":"Flow 1"},
 {"id":"5f77d972.391e98","type":"event template in","z":"3433da79.e543a6","name":"bus","event_create":false,
  "event_update":false,"event_remove":false,"event_configure":false,"event_publish":true,"template_id":"6",
  "x":154.5,"y":277,"wires":[["845deaaf.f8cb98"]]},
 {"id":"845deaaf.f8cb98","type":"geofence","z":"3433da79.e543a6","name":"","mode":"polyline","filter":"inside",
  "points":[{"latitude":"-22.8937","longitude":"-47.0607"},{"latitude":"-22.8869","longitude":"-47.0448"},
            {"latitude":"-22.9056","longitude":"-47.0464"},{"latitude":"-22.9061","longitude":"-47.0553"}],
  "geopoint":"payload.data.attrs.gps","x":403.5,"y":158,"wires":[["d905b5c9.4958e8"]]},
 {"id":"d905b5c9.4958e8","type":"change","z":"3433da79.e543a6","name":"",
  "rules":[{"t":"set","p":"saida.mensagem","pt":"msg","to":"Está no Cambuí","tot":"str"}],
  "x":736.5,"y":153,"wires":[["25c1c361.88827c"]]},
 {"id":"25c1c361.88827c","type":"multi device out","z":"3433da79.e543a6","name":"","device_source":"self",
  "devices_source_dynamic":"","devices_source_dynamicFieldType":"msg","devices_source_configured":[""],
  "attrs":"saida","x":1110.5,"y":225,"wires":[]}]}`

// busTemplate makes the tenant's template 6, the one FLOWS.md 7.1 and 7.3
// name, with the bus's attrs (templates before it are fillers): a fresh
// tenant numbers its templates from 1.
func busTemplate(t *testing.T, c *dojottest.Client) int {
	t.Helper()
	for i := 1; ; i++ {
		attrs := []map[string]any{{"label": "filler", "type": "dynamic", "value_type": "string"}}
		if i == 6 {
			attrs = []map[string]any{
				{"label": "passageiros", "type": "dynamic", "value_type": "integer"},
				{"label": "gps", "type": "dynamic", "value_type": "geo:point"},
				{"label": "mensagem", "type": "dynamic", "value_type": "string"},
				{"label": "letreiro", "type": "actuator", "value_type": "string"},
			}
		}
		var r struct{ Template dojottest.Template }
		dojottest.MustJSON(t, c.Must(200, "POST", "/template", map[string]any{"label": "bus-" + string(rune('0'+i)), "attrs": attrs}), &r)
		if r.Template.ID == 6 {
			return 6
		}
		if r.Template.ID > 6 || i > 6 {
			t.Fatalf("template ids do not count from 1: got %d", r.Template.ID)
		}
	}
}

// TestFlowsExamples: FLOWS.md 7.1 (a bus's passenger count picks the sign
// text, sent to the bus itself: both switch ports) and 7.3 (a geofence
// alert written to a virtual attribute of the bus), created over HTTP
// exactly as written there. Readings go in with mosquitto_pub; the
// actuations reach mosquitto_sub on the bus's config topic and kcat as
// "configure" events on admin.dojot.device-manager.device; the geofence
// flow's reading is read back from the History API.
func TestFlowsExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	in, broker := dojottest.StartMQTTKafka(t)
	c := in.Login("admin", dojottest.AdminPassword)
	tmpl := busTemplate(t, c)
	c.Must(200, "POST", "/flows/v1/flow", flowsMD71)
	c.Must(200, "POST", "/flows/v1/flow", flowsMD73)
	body := c.Must(200, "POST", "/device", map[string]any{"label": "bus", "templates": []int{tmpl}})
	var r struct{ Devices []dojottest.Device }
	dojottest.MustJSON(t, body, &r)
	id := r.Devices[0].ID
	user := "admin:" + id

	sub := dojottest.ConfigSub(t, in, id, 2)
	pub := func(payload string) {
		t.Helper()
		if b, err := dojottest.MosquittoPub(in, user, user+"/attrs", payload, "-q", "1"); err != nil {
			t.Fatalf("mosquitto_pub %s: %v %s", payload, err, b)
		}
	}
	pub(`{"passageiros":42}`) // port 1: LOTADO
	pub(`{"passageiros":12}`) // port 2: JARDIM PAULISTA
	if got := sub(); strings.Join(strings.Fields(got), " ") != `{"letreiro":"LOTADO"} {"letreiro":"JARDIM PAULISTA"}` {
		t.Errorf("configurations on %s/config = %q; want LOTADO then JARDIM PAULISTA", user, got)
	}
	var configures []string
	for _, m := range dojottest.KcatUntil(t, broker, "admin.dojot.device-manager.device", 3) {
		var v struct {
			Event string
			Data  json.RawMessage
		}
		dojottest.MustJSON(t, []byte(m.Payload), &v)
		if v.Event == "configure" {
			configures = append(configures, string(v.Data))
		}
	}
	want := []string{`{"id":"` + id + `","attrs":{"letreiro":"LOTADO"}}`, `{"id":"` + id + `","attrs":{"letreiro":"JARDIM PAULISTA"}}`}
	if strings.Join(configures, "\n") != strings.Join(want, "\n") {
		t.Errorf("configure events on Kafka:\n%s\nwant\n%s", strings.Join(configures, "\n"), strings.Join(want, "\n"))
	}

	// 7.3: inside the polygon the flow writes mensagem as the bus; the
	// reading it made fires both flows again and stops (no gps for the
	// geofence, no passageiros for the switch). Outside, nothing.
	pub(`{"gps":"-22.8950, -47.0500"}`)
	docs := dojottest.WaitHistory(t, c, id, "mensagem", 1)
	if docs[0].Value != "Está no Cambuí" {
		t.Errorf("mensagem history = %+v", docs)
	}
	pub(`{"gps":"-22.8000, -47.0500"}`)
	dojottest.WaitHistory(t, c, id, "gps", 2)
	time.Sleep(time.Second)
	if docs := dojottest.WaitHistory(t, c, id, "mensagem", 1); len(docs) != 1 {
		t.Errorf("mensagem history = %+v; want one (the point outside the polygon wrote none)", docs)
	}
	if msgs := dojottest.KcatUntil(t, broker, "admin.dojot.device-manager.device", 3); len(msgs) != 3 {
		t.Errorf("%d records on the device topic; want create and two configures", len(msgs))
	}
}
