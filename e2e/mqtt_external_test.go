package e2e

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nuid"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// externalBroker is the MQTT broker of the external-broker tests:
// DOJOT_TEST_MQTT_URL or MQTT_URL, else this machine's Mosquitto. The test
// skips when it is unreachable, or fails under CI=true.
func externalBroker(t *testing.T) (rawURL, host, port string) {
	t.Helper()
	rawURL = os.Getenv("DOJOT_TEST_MQTT_URL")
	if rawURL == "" {
		rawURL = os.Getenv("MQTT_URL")
	}
	if rawURL == "" {
		rawURL = "tcp://127.0.0.1:1883"
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("DOJOT_TEST_MQTT_URL %q: %v", rawURL, err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no MQTT broker at %s (DOJOT_TEST_MQTT_URL): %v", rawURL, err)
		}
		t.Skipf("no MQTT broker at %s (set DOJOT_TEST_MQTT_URL): %v", rawURL, err)
	}
	_ = c.Close()
	host, port, _ = net.SplitHostPort(u.Host)
	return rawURL, host, port
}

// TestMQTTExternalBroker: with DOJOT_MQTT_BROKER_URL the binary embeds no
// broker and reads readings from Mosquitto, where mosquitto_pub publishes
// them (both topic forms, QoS 1): they reach DATA in dojot's shape, a
// refused one does not, /healthz counts them and shows the broker
// connected; PUT /device/:id/actuate reaches mosquitto_sub on both config
// topics through Mosquitto.
func TestMQTTExternalBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "sh", "-c", "command -v mosquitto_pub && command -v mosquitto_sub")
	brokerURL, host, port := externalBroker(t)
	group := "e2e" + strings.ToLower(nuid.Next())
	clientID := "dojot-" + group
	natsAddr := dojottest.FreeAddr(t)
	in := dojottest.StartEnv(t, []string{"DOJOT_MQTT_BROKER_URL=" + brokerURL}, "",
		"-mqtt-broker-group="+group, "-mqtt-broker-client-id="+clientID, "-nats-listen="+natsAddr)
	t.Cleanup(func() { // end the persistent session the binary left at the broker
		_ = exec.Command("mosquitto_sub", "-h", host, "-p", port, "-i", clientID, "-t", "x", "-E").Run()
	})
	if in.MQTTAddr != "" {
		t.Errorf("mqtt listening on %s with an external broker", in.MQTTAddr)
	}
	if !in.WaitLog("mqtt: broker up", 10*time.Second) || !in.WaitLog("mqtt: following actuations", 10*time.Second) {
		t.Fatal(`no "mqtt: broker up" and "mqtt: following actuations" in the log`)
	}
	c := in.Login("admin", adminPassword)
	id := dojottest.CreateDevice(c, "sensor", dojottest.CreateTemplate(c, "Sensors"))
	pub := func(topic, payload string) {
		t.Helper()
		out, err := exec.Command("mosquitto_pub", "-h", host, "-p", port, "-q", "1", "-t", topic, "-m", payload).CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_pub %s: %v\n%s", topic, err, out)
		}
	}
	good := []string{`{"temperature":23.5,"timestamp":1528226137452}`, `{"humidity":60,"timestamp":"2018-06-05T19:15:37.453Z"}`}
	pub("admin:"+id+"/attrs", good[0])
	pub("admin:"+id+"/attrs", "not json")
	pub("/admin/"+id+"/attrs", good[1])

	type health struct {
		MQTT struct {
			Stored  uint64            `json:"stored"`
			Refused map[string]uint64 `json:"refused"`
			Broker  struct {
				Connected bool   `json:"connected"`
				Group     string `json:"group"`
				ClientID  string `json:"client_id"`
			} `json:"broker"`
		} `json:"mqtt"`
	}
	var h health
	deadline := time.Now().Add(10 * time.Second)
	for {
		h = health{}
		mustJSON(t, c.Must(200, "GET", "/healthz", nil), &h)
		if h.MQTT.Stored >= 2 && h.MQTT.Refused["not_json"] >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h.MQTT.Stored != 2 || h.MQTT.Refused["not_json"] < 1 || !h.MQTT.Broker.Connected || h.MQTT.Broker.Group != group || h.MQTT.Broker.ClientID != clientID {
		t.Errorf("/healthz mqtt = %+v; want 2 stored, not_json refused, connected to the broker in group %s as %s", h.MQTT, group, clientID)
	}

	// DATA, read through the embedded NATS's port.
	js := dojottest.JetStream(t, natsAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "DATA")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for seq := uint64(1); ; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			break
		}
		// data.<partition>.<tenant>.<device>: the stream adds the partition
		if p := strings.Split(m.Subject, "."); len(p) != 4 || p[0] != "data" || p[2] != "admin" || p[3] != id {
			t.Errorf("reading on %s; want data.<partition>.admin.%s", m.Subject, id)
		}
		got = append(got, string(m.Data))
	}
	want := []string{
		`{"metadata":{"deviceid":"` + id + `","tenant":"admin","timestamp":1528226137452},"attrs":` + good[0] + `}`,
		`{"metadata":{"deviceid":"` + id + `","tenant":"admin","timestamp":1528226137453},"attrs":` + good[1] + `}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("DATA holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Actuation, through Mosquitto.
	sub := dojottest.MosquittoSub(t, "-h", host, "-p", port, "-i", "e2e-sub-"+id, "-q", "1",
		"-t", "admin:"+id+"/config", "-t", "/admin/"+id+"/config", "-C", "2", "-W", "20", "-v")
	c.Must(200, "PUT", "/device/"+id+"/actuate", map[string]any{"attrs": map[string]any{"target_temperature": 23.5}})
	lines := sub()
	slices.Sort(lines)
	wantLines := []string{"/admin/" + id + `/config {"target_temperature":23.5}`, "admin:" + id + `/config {"target_temperature":23.5}`}
	if !slices.Equal(lines, wantLines) {
		t.Errorf("mosquitto_sub got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}
	var a struct {
		MQTT struct {
			Actuated uint64 `json:"actuated"`
		} `json:"mqtt"`
	}
	// The agent counts an actuation once the broker acknowledged its last
	// publish, which may come after mosquitto_sub got both.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mustJSON(t, c.Must(200, "GET", "/healthz", nil), &a)
		if a.MQTT.Actuated == 1 || time.Now().After(deadline) {
			break
		}
	}
	if a.MQTT.Actuated != 1 {
		t.Errorf("/healthz mqtt.actuated = %d; want 1", a.MQTT.Actuated)
	}
}
