package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestKafkaLegacyConsumers: with the in-process Kafka, dojot's own
// consumers' clients read the device and tenancy topics as dojot wrote them:
// kcat (librdkafka) the device events in order, keyed by device, each with
// its event id; Debian's python3-kafka (kafka-python, the client of dojot's
// Python services) the tenancy message of a new tenant.
func TestKafkaLegacyConsumers(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "kcat", "-V")
	dojottest.NeedCommand(t, "/usr/bin/python3", "-c", "import kafka")
	broker := dojottest.FreeAddr(t)
	in := start(t, "", "-kafka-embedded-addr="+broker)
	c := in.Login("admin", adminPassword)
	tmpl := dojottest.CreateTemplate(c, "Bridge")
	id := dojottest.CreateDevice(c, "bridged", tmpl)
	c.Must(200, "PUT", "/device/"+id, map[string]any{"label": "bridged-2", "templates": []int{tmpl}})
	c.Must(200, "PUT", "/device/"+id+"/actuate", map[string]any{"attrs": map[string]any{"target_temperature": 23.5}})
	c.Must(200, "DELETE", "/device/"+id, nil)

	msgs := dojottest.KcatUntil(t, broker, "admin.dojot.device-manager.device", 4)
	var events []string
	for _, m := range msgs {
		var v struct {
			Event string          `json:"event"`
			Meta  map[string]any  `json:"meta"`
			Data  json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(m.Payload), &v); err != nil {
			t.Fatalf("payload %s: %v", m.Payload, err)
		}
		events = append(events, v.Event)
		if v.Meta["service"] != "admin" {
			t.Errorf("%s: meta %v; want service admin", v.Event, v.Meta)
		}
		if m.Key == nil || *m.Key != id {
			t.Errorf("%s: key %v; want the device id %s", v.Event, m.Key, id)
		}
		if m.Header("dojot-event-id") == "" {
			t.Errorf("%s: no dojot-event-id header: %v", v.Event, m.Headers)
		}
		switch v.Event {
		case "create", "update", "remove":
			var d struct{ ID, Label string }
			if err := json.Unmarshal(v.Data, &d); err != nil || d.ID != id {
				t.Errorf("%s: data %s; want the device %s as GET shows it", v.Event, v.Data, id)
			}
		case "configure":
			if _, ok := v.Meta["timestamp"].(float64); !ok {
				t.Errorf("configure: meta.timestamp %v; want epoch ms", v.Meta["timestamp"])
			}
			if want := fmt.Sprintf(`{"id":%q,"attrs":{"target_temperature":23.5}}`, id); string(v.Data) != want {
				t.Errorf("configure: data %s; want %s", v.Data, want)
			}
		}
	}
	if strings.Join(events, ",") != "create,update,configure,remove" {
		t.Errorf("device events %v; want create,update,configure,remove in order", events)
	}

	c.Must(200, "POST", "/auth/user", map[string]any{"username": "kafkaesque", "service": "prague",
		"email": "k@prague.cz", "name": "K", "profile": "user"})
	script := `
import json, sys
from kafka import KafkaConsumer
c = KafkaConsumer("dojot-management.dojot.tenancy", bootstrap_servers=sys.argv[1],
                  auto_offset_reset="earliest", consumer_timeout_ms=15000, api_version=(2, 0, 0))
for m in c:
    v = json.loads(m.value)
    print(json.dumps(v))
    if v.get("tenant") == "prague":
        sys.exit(0)
sys.exit(1)
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, broker).CombinedOutput()
	if err != nil {
		t.Fatalf("python3-kafka never read prague's CREATE: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `{"type": "CREATE", "tenant": "prague"}`) {
		t.Errorf("tenancy messages:\n%s\nwant {\"type\":\"CREATE\",\"tenant\":\"prague\"}", out)
	}
}
