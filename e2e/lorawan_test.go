package e2e

import (
	"encoding/base64"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dojot-es/dojot/agents/lorawan/lorawantest"
	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestLoRaWANAgent: the uplinks of ChirpStack's and The Things Stack's
// documentation (lorawantest), posted with curl as the network servers'
// integrations would, and a DecentLab uplink from a fake Everynet
// websocket, reach the History API of the devices whose dev_eui they carry
// and Kafka's admin.device-data; an actuation reaches a fake ChirpStack
// REST API as a queue item; a wrong secret and an unknown EUI are refused
// and counted.
func TestLoRaWANAgent(t *testing.T) {
	dojottest.NeedCommand(t, "curl", "--version")
	dojottest.NeedCommand(t, "kcat", "-V")
	cs := lorawantest.NewDownlinkAPI(t, "cs-api-token")
	ev := lorawantest.NewEverynet(t, "ev-token")
	broker := dojottest.FreeAddr(t)
	in := start(t, "", "-lorawan-chirpstack-secret=cs-s3cret", "-lorawan-tts-secret=tts-s3cret",
		"-lorawan-chirpstack-url="+cs.URL, "-lorawan-chirpstack-token=cs-api-token",
		"-lorawan-everynet-url="+ev.WS(), "-lorawan-everynet-token=ev-token", "-kafka-embedded-addr="+broker)
	c := in.Login("admin", adminPassword)
	var tp struct{ Template dojottest.Template }
	mustJSON(t, c.Must(200, "POST", "/template", map[string]any{"label": "lora-cs", "attrs": []map[string]any{
		{"label": "dev_eui", "type": "static", "value_type": "string", "static_value": "0101010101010101"},
		{"label": "payload", "type": "dynamic", "value_type": "string"},
		{"label": "led", "type": "actuator", "value_type": "bool"},
	}}), &tp)
	csID := dojottest.CreateDevice(c, "cs-node", tp.Template.ID)
	mustJSON(t, c.Must(200, "POST", "/template", map[string]any{"label": "lora-tts", "attrs": []map[string]any{
		{"label": "dev_eui", "type": "static", "value_type": "string", "static_value": "00-04-a3-0b-00-1c-05-30"},
		{"label": "temperature", "type": "dynamic", "value_type": "float"},
		{"label": "luminosity", "type": "dynamic", "value_type": "float"},
	}}), &tp)
	ttsID := dojottest.CreateDevice(c, "tts-node", tp.Template.ID)
	mustJSON(t, c.Must(200, "POST", "/template", map[string]any{"label": "lora-everynet", "attrs": []map[string]any{
		{"label": "dev_eui", "type": "static", "value_type": "string", "static_value": "70B3D57BA0000001"},
		{"label": "distance", "type": "dynamic", "value_type": "integer"},
		{"label": "battery_voltage", "type": "dynamic", "value_type": "float"},
	}}), &tp)
	evID := dojottest.CreateDevice(c, "everynet-node", tp.Template.ID)

	curl := func(path, secret, body string) string {
		t.Helper()
		out, err := exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", in.URL+path,
			"-H", "Content-Type: application/json", "-H", "Authorization: Bearer "+secret, "--data-binary", body).Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		return string(out)
	}
	if code := curl("/lorawan/chirpstack?event=up", "cs-s3cret", lorawantest.ChirpStackUp); code != "200" {
		t.Fatalf("chirpstack uplink = %s", code)
	}
	if code := curl("/lorawan/tts/uplink", "tts-s3cret", lorawantest.TTSUplink); code != "200" {
		t.Fatalf("tts uplink = %s", code)
	}
	// ChirpStack's example carries 0xaa and no codec object: hex.
	docs := dojottest.WaitHistory(t, c, csID, "payload", 1)
	if docs[0].Value != "aa" || !strings.HasPrefix(docs[0].TS, "2022-07-18T09:34:15.775") {
		t.Errorf("chirpstack history = %+v", docs)
	}
	// TTS's example carries the payload formatter's decoded_payload.
	docs = dojottest.WaitHistory(t, c, ttsID, "luminosity", 1)
	if docs[0].Value != 0.64 || !strings.HasPrefix(docs[0].TS, "2020-02-12T15:15:45.789") {
		t.Errorf("tts history = %+v", docs)
	}

	// Everynet: DecentLab's example payload (02012f000304d200010bb1), decoded
	// by dojot's decoder, Everynet's default.
	conn, ok := ev.Accept(20 * time.Second)
	if !ok {
		t.Fatal("the agent did not connect to Everynet")
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"uplink","meta":{"device":"70b3d57ba0000001"},"params":{"payload":"AgEvAAME0gABC7E=","rx_time":1517415774.518877}}`)); err != nil {
		t.Fatal(err)
	}
	docs = dojottest.WaitHistory(t, c, evID, "distance", 1)
	if docs[0].Value != 1234.0 || !strings.HasPrefix(docs[0].TS, "2018-01-31T16:22:54.518") {
		t.Errorf("everynet history = %+v", docs)
	}
	if docs := dojottest.WaitHistory(t, c, evID, "battery_voltage", 1); docs[0].Value != 2.993 {
		t.Errorf("everynet battery = %+v", docs)
	}
	// Every reading in dojot's IoT-agent shape on Kafka.
	msgs := dojottest.KcatUntil(t, broker, "admin.device-data", 3)
	var seen []string
	for _, m := range msgs {
		seen = append(seen, m.Payload)
	}
	all := strings.Join(seen, "\n")
	for _, want := range []string{
		`{"metadata":{"deviceid":"` + csID + `","tenant":"admin","timestamp":1658136855775},"attrs":{"payload":"aa"}}`,
		`{"metadata":{"deviceid":"` + ttsID + `","tenant":"admin","timestamp":1581520545789},"attrs":{"temperature":1.0,"luminosity":0.64}}`,
		`{"metadata":{"deviceid":"` + evID + `","tenant":"admin","timestamp":1517415774518},"attrs":{"battery_voltage":2.993,"distance":1234}}`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("admin.device-data lacks %s; has:\n%s", want, all)
		}
	}

	if code := curl("/lorawan/chirpstack?event=up", "tts-s3cret", lorawantest.ChirpStackUp); code != "401" {
		t.Errorf("wrong secret = %s", code)
	}
	if code := curl("/lorawan/tts", "tts-s3cret", strings.Replace(lorawantest.TTSUplink, "0004A30B001C0530", "0004A30B001C0531", 1)); code != "404" {
		t.Errorf("unknown EUI = %s", code)
	}

	// A deleted device is refused at once.
	c.Must(200, "DELETE", "/device/"+ttsID, nil)
	if code := curl("/lorawan/tts", "tts-s3cret", lorawantest.TTSUplink); code != "404" {
		t.Errorf("uplink of a deleted device = %s", code)
	}

	// Actuation: a downlink queued through ChirpStack's REST API.
	if !in.WaitLog("lorawan: following actuations", 20*time.Second) {
		t.Fatal(`no "lorawan: following actuations" in the log`)
	}
	c.Must(200, "PUT", "/device/"+csID+"/actuate", map[string]any{"attrs": map[string]any{"led": true}})
	r, ok := cs.Next(20 * time.Second)
	if !ok {
		t.Fatal("no downlink reached ChirpStack")
	}
	item, _ := r.Body["queueItem"].(map[string]any)
	data, _ := item["data"].(string)
	raw, _ := base64.StdEncoding.DecodeString(data)
	if r.Path != "POST /api/devices/0101010101010101/queue" || r.Auth != "Bearer cs-api-token" || item["fPort"] != 1.0 || string(raw) != `{"led":true}` {
		t.Errorf("downlink = %+v (data %s)", r, raw)
	}

	// The fake server saw the request before the agent had its answer.
	var h struct {
		LoRaWAN struct {
			Accepted, Stored, Actuated uint64
			Refused                    map[string]uint64
		} `json:"lorawan"`
	}
	for deadline := time.Now().Add(10 * time.Second); h.LoRaWAN.Actuated == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, body := in.Client().Do("GET", "/healthz", nil)
		mustJSON(t, body, &h)
	}
	if l := h.LoRaWAN; l.Accepted != 3 || l.Stored != 3 || l.Actuated != 1 || l.Refused["auth"] != 1 || l.Refused["unknown_device"] != 2 {
		t.Errorf("healthz lorawan = %+v", l)
	}
}
