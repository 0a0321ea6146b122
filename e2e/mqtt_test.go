package e2e

import (
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestMQTTInsecure: with -mqtt-insecure a device created over HTTP
// publishes with mosquitto_pub (MQTT 3.1.1 and 5, QoS 1, both topic forms);
// every reading reaches DATA in dojot's shape, which the Kafka bridge's
// admin.device-data shows to kcat; a refused publish (not JSON) is not
// there.
func TestMQTTInsecure(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	in, broker := dojottest.StartMQTTKafka(t)
	if in.MQTTAddr == "" {
		t.Fatal(`no "mqtt listening" addr in the log`)
	}
	if !in.Logged("mqtt: insecure mode: the username <tenant>:<deviceid> identifies a device with no password; for tests only (-mqtt-insecure)") {
		t.Error("insecure mode not logged")
	}
	c := in.Login("admin", adminPassword)
	id := dojottest.CreateDevice(c, "sensor", dojottest.CreateTemplate(c, "Sensors"))
	user := "admin:" + id

	good := []struct {
		topic, payload string
		args           []string
	}{
		{user + "/attrs", `{"temperature":23.5,"timestamp":1528226137452}`, []string{"-q", "1"}},
		{"/admin/" + id + "/attrs", `{"humidity":60,"timestamp":"2018-06-05T19:15:37.453Z"}`, []string{"-q", "1", "-V", "mqttv5"}},
	}
	if out, err := dojottest.MosquittoPub(in, user, good[0].topic, good[0].payload, good[0].args...); err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	// Refused: not JSON (MQTT 5: a PUBACK with 0x99), unknown device
	// (CONNACK refused). Neither reaches DATA.
	_, _ = dojottest.MosquittoPub(in, user, user+"/attrs", "not json", "-q", "1", "-V", "mqttv5")
	if out, err := dojottest.MosquittoPub(in, "admin:nosuchdevice", "admin:nosuchdevice/attrs", `{"t":1}`, "-q", "1"); err == nil {
		t.Errorf("mosquitto_pub as an unknown device succeeded: %s", out)
	}
	if out, err := dojottest.MosquittoPub(in, user, good[1].topic, good[1].payload, good[1].args...); err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}

	// kcat reads to the end of the topic: a stored refusal would be there,
	// before the last good reading (one device keeps its order).
	msgs := dojottest.KcatUntil(t, broker, "admin.device-data", len(good))
	if len(msgs) != len(good) {
		t.Fatalf("admin.device-data holds %d records; want %d: %+v", len(msgs), len(good), msgs)
	}
	for i, m := range msgs {
		var got struct {
			Metadata struct {
				DeviceID  string `json:"deviceid"`
				Tenant    string `json:"tenant"`
				Timestamp int64  `json:"timestamp"`
			} `json:"metadata"`
			Attrs map[string]any `json:"attrs"`
		}
		mustJSON(t, []byte(m.Payload), &got)
		var attrs map[string]any
		_ = json.Unmarshal([]byte(good[i].payload), &attrs)
		md := got.Metadata
		if m.Key == nil || *m.Key != id || md.DeviceID != id || md.Tenant != "admin" || md.Timestamp != 1528226137452+int64(i) || !jsonEqual(got.Attrs, attrs) {
			t.Errorf("record %d = key %v %s; want key %s, metadata {%s admin %d}, attrs %s", i, m.Key, m.Payload, id, id, 1528226137452+int64(i), good[i].payload)
		}
	}
	var h struct {
		MQTT struct {
			Stored  uint64            `json:"stored"`
			Refused map[string]uint64 `json:"refused"`
		} `json:"mqtt"`
	}
	mustJSON(t, in.Client().Must(200, "GET", "/healthz", nil), &h)
	if h.MQTT.Stored != 2 || h.MQTT.Refused["not_json"] != 1 || h.MQTT.Refused["unknown_device"] != 1 {
		t.Errorf("/healthz mqtt = %+v; want 2 stored, 1 not_json, 1 unknown_device refused", h.MQTT)
	}
}

// TestMQTTBasicCredentials: without -mqtt-insecure a device connects with
// the basic credentials POST /basic-auth/v1/devices/{id}/basic-credentials
// issued; a wrong password or none is refused and nothing is stored.
func TestMQTTBasicCredentials(t *testing.T) {
	dojottest.NeedCommand(t, "sh", "-c", "command -v mosquitto_pub")
	in := start(t, "")
	c := in.Login("admin", adminPassword)
	id := dojottest.CreateDevice(c, "sensor", dojottest.CreateTemplate(c, "Sensors"))
	var r struct {
		Credentials struct{ Username, Password string }
	}
	mustJSON(t, c.Must(200, "POST", "/basic-auth/v1/devices/"+id+"/basic-credentials", nil), &r)
	topic := "admin:" + id + "/attrs"
	if out, err := dojottest.MosquittoPub(in, r.Credentials.Username, topic, `{"t":1}`); err == nil {
		t.Errorf("mosquitto_pub with no password succeeded: %s", out)
	}
	if out, err := dojottest.MosquittoPub(in, r.Credentials.Username, topic, `{"t":1}`, "-P", "wrong-password"); err == nil {
		t.Errorf("mosquitto_pub with a wrong password succeeded: %s", out)
	}
	if out, err := dojottest.MosquittoPub(in, r.Credentials.Username, topic, `{"t":2}`, "-P", r.Credentials.Password, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub as %s with its password: %v\n%s", r.Credentials.Username, err, out)
	}
	var h struct {
		MQTT struct {
			Stored  uint64            `json:"stored"`
			Refused map[string]uint64 `json:"refused"`
		} `json:"mqtt"`
	}
	mustJSON(t, in.Client().Must(200, "GET", "/healthz", nil), &h)
	if h.MQTT.Stored != 1 || h.MQTT.Refused["auth"] != 2 {
		t.Errorf("/healthz mqtt = %+v; want 1 stored, 2 auth refusals", h.MQTT)
	}
}

// TestMQTTActuation: PUT /device/:id/actuate reaches the device on both
// config topics with dojot's payload (the configure event's data.attrs),
// as mosquitto_sub, subscribed as the device, sees it.
func TestMQTTActuation(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "sh", "-c", "command -v mosquitto_sub")
	in := start(t, "", "-mqtt-insecure")
	c := in.Login("admin", adminPassword)
	id := dojottest.CreateDevice(c, "heater", dojottest.CreateTemplate(c, "Heaters"))
	user := "admin:" + id
	host, port, _ := net.SplitHostPort(in.MQTTAddr)
	sub := dojottest.MosquittoSub(t, "-h", host, "-p", port, "-u", user, "-i", "e2e-sub-"+id, "-q", "1",
		"-t", user+"/config", "-t", "/admin/"+id+"/config", "-C", "2", "-W", "20", "-v")
	c.Must(200, "PUT", "/device/"+id+"/actuate", map[string]any{"attrs": map[string]any{"target_temperature": 23.5}})
	got := sub()
	slices.Sort(got)
	want := []string{
		"/admin/" + id + `/config {"target_temperature":23.5}`,
		user + `/config {"target_temperature":23.5}`,
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("mosquitto_sub got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
