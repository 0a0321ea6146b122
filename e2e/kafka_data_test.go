package e2e

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// dataHealth is the device-data part of /healthz's kafka_bridge.
type dataHealth struct {
	Bridge *struct {
		Data *struct {
			Acked uint64 `json:"acked_seq"`
		} `json:"data"`
		In *struct {
			Topics      []string `json:"topics"`
			Appended    uint64   `json:"appended"`
			Skipped     uint64   `json:"skipped"`
			CrossTenant uint64   `json:"cross_tenant"`
		} `json:"in"`
	} `json:"kafka_bridge"`
}

// waitDataHealth polls /healthz until ok holds, or fails after 20 s.
func waitDataHealth(t *testing.T, in *instance, what string, ok func(dataHealth) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		body := in.Client().Must(200, "GET", "/healthz", nil)
		var h dataHealth
		mustJSON(t, body, &h)
		if h.Bridge != nil && h.Bridge.Data != nil && h.Bridge.In != nil && ok(h) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz = %s; want %s", body, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKafkaLegacyAgent: a legacy IoT agent's client (Debian's
// python3-kafka) produces a reading to admin.device-data, on the topic
// DataBroker's GET /topic created; the bridge stores it in DATA and does
// not echo it: kcat (librdkafka) reads it back exactly once.
func TestKafkaLegacyAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "kcat", "-V")
	dojottest.NeedCommand(t, "/usr/bin/python3", "-c", "import kafka")
	broker := dojottest.FreeAddr(t)
	in := start(t, "", "-kafka-embedded-addr="+broker)
	c := in.Login("admin", adminPassword)
	var topic struct{ Topic string }
	mustJSON(t, c.Must(200, "GET", "/topic/device-data", nil), &topic)
	if topic.Topic != "admin.device-data" {
		t.Fatalf("GET /topic/device-data = %+v, want admin.device-data", topic)
	}
	waitDataHealth(t, in, "the bridge reading admin.device-data", func(h dataHealth) bool {
		return slices.Contains(h.Bridge.In.Topics, "admin.device-data")
	})

	const reading = `{"metadata":{"deviceid":"c6ea4b","tenant":"admin","timestamp":1528226137452},"attrs":{"humidity":60,"temperature":23}}`
	script := `
import sys
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers=sys.argv[1], api_version=(2, 0, 0), acks="all")
p.send("admin.device-data", key=b"c6ea4b", value=sys.argv[2].encode()).get(timeout=15)
p.flush()
`
	if out, err := exec.Command("/usr/bin/python3", "-c", script, broker, reading).CombinedOutput(); err != nil {
		t.Fatalf("python3-kafka could not produce: %v\n%s", err, out)
	}
	// Stored in DATA (the first reading there: sequence 1), and the DATA
	// direction went past it.
	waitDataHealth(t, in, "in.appended 1 and data.acked_seq 1", func(h dataHealth) bool {
		return h.Bridge.In.Appended == 1 && h.Bridge.Data.Acked >= 1
	})
	msgs := dojottest.KcatUntil(t, broker, "admin.device-data", 1)
	if len(msgs) != 1 {
		t.Fatalf("admin.device-data holds %d records, want the one produced (no echo): %+v", len(msgs), msgs)
	}
	var got, want any
	_ = json.Unmarshal([]byte(msgs[0].Payload), &got)
	_ = json.Unmarshal([]byte(reading), &want)
	if m := msgs[0]; m.Key == nil || *m.Key != "c6ea4b" || !jsonEqual(got, want) {
		t.Errorf("record = key %v %s; want key c6ea4b %s", m.Key, m.Payload, reading)
	}
}

// TestKafkaDataTenantFromTopic: a legacy agent's reading without
// metadata.tenant (dojot/history's own fixture), produced with kcat to
// admin.device-data, reaches the History API under admin, the tenant of
// its topic, with its other metadata; one whose metadata.tenant names
// another tenant is refused and counted as cross-tenant.
func TestKafkaDataTenantFromTopic(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "kcat", "-V")
	broker := dojottest.FreeAddr(t)
	in := start(t, "", "-kafka-embedded-addr="+broker)
	c := in.Login("admin", adminPassword)
	c.Must(200, "GET", "/topic/device-data", nil)
	waitDataHealth(t, in, "the bridge reading admin.device-data", func(h dataHealth) bool {
		return slices.Contains(h.Bridge.In.Topics, "admin.device-data")
	})
	kcatProduce := func(key, value string) {
		t.Helper()
		cmd := exec.Command("kcat", "-P", "-b", broker, "-t", "admin.device-data", "-k", key)
		cmd.Stdin = strings.NewReader(value + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P: %v\n%s", err, out)
		}
	}
	kcatProduce("b374a5", `{"metadata":{"deviceid":"b374a5","tenant":"other","timestamp":1528226137000},"attrs":{"temperature":99}}`)
	kcatProduce("b374a5", `{"metadata":{"deviceid":"b374a5","protocol":"mqtt","payload":"json","timestamp":1528226137452},"attrs":{"temperature":23}}`)

	docs := dojottest.WaitHistory(t, c, "b374a5", "temperature", 1)
	want := dojottest.HistoryDoc{Attr: "temperature", Value: 23.0, DeviceID: "b374a5", TS: "2018-06-05T19:15:37.452000Z",
		Metadata: map[string]any{"protocol": "mqtt", "payload": "json"}}
	if len(docs) != 1 || !jsonEqual(docs[0], want) {
		t.Errorf("history = %+v; want only %+v (the cross-tenant record refused)", docs, want)
	}
	waitDataHealth(t, in, "in.appended 1, in.cross_tenant 1", func(h dataHealth) bool {
		return h.Bridge.In.Appended == 1 && h.Bridge.In.CrossTenant == 1
	})
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
