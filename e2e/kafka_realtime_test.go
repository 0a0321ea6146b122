package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// seenRecord is one record kcatFollow read, with the time it did.
type seenRecord struct {
	at time.Time
	dojottest.KcatMessage
}

// kcatFollow runs kcat (librdkafka, as dojot's own consumers) on topic
// from the beginning until the test ends, and sends each record to the
// channel as soon as kcat prints it.
func kcatFollow(t *testing.T, broker, topic string) <-chan seenRecord {
	t.Helper()
	cmd := exec.Command("kcat", "-C", "-b", broker, "-t", topic, "-o", "beginning", "-J", "-u", "-q")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ch := make(chan seenRecord, 4096)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			r := seenRecord{at: time.Now()}
			if json.Unmarshal(sc.Bytes(), &r.KcatMessage) == nil {
				ch <- r
			}
		}
	}()
	return ch
}

// nextRecord waits up to 20 s for a record of ch that ok accepts,
// dropping the others.
func nextRecord(t *testing.T, ch <-chan seenRecord, what string, ok func(seenRecord) bool) seenRecord {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case r := <-ch:
			if ok(r) {
				return r
			}
		case <-timeout:
			t.Fatalf("kcat did not see %s in 20 s", what)
		}
	}
}

// mqttDevice connects a paho client (MQTT 3.1.1) as device id of admin.
func mqttDevice(t *testing.T, in *instance, id string) paho.Client {
	t.Helper()
	return mqttClient(t, in, "rt-"+id, id)
}

// TestKafkaRealtime: on an idle server with the embedded Kafka, kcat sees
// a reading published over MQTT on admin.device-data, and the create of a
// device made over HTTP on the device topic, well within a second: the
// bridge writes what arrives at once instead of waiting for a batch to
// fill (it waited up to 1 s). Each is timed several times, after idle
// gaps of random length, from before the publish (or POST) to kcat
// printing the record; every one must take less than 500 ms.
func TestKafkaRealtime(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "kcat", "-V")
	broker := dojottest.FreeAddr(t)
	in := start(t, "", "-kafka-embedded-addr="+broker, "-mqtt-insecure")
	c := in.Login("admin", adminPassword)
	tmpl := dojottest.CreateTemplate(c, "Realtime")
	dev := dojottest.CreateDevice(c, "rt", tmpl)
	c.Must(200, "GET", "/topic/device-data", nil)
	devices := kcatFollow(t, broker, dojottest.DeviceTopic)
	data := kcatFollow(t, broker, "admin.device-data")
	nextRecord(t, devices, "the first device's create", func(r seenRecord) bool { return r.Key != nil && *r.Key == dev })
	cl := mqttDevice(t, in, dev)
	publish := func(n int) {
		t.Helper()
		if tok := cl.Publish("admin:"+dev+"/attrs", 1, false, fmt.Sprintf(`{"temperature":%d}`, n)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	reading := func(n int) func(seenRecord) bool {
		want := fmt.Sprintf(`"temperature":%d}`, n)
		return func(r seenRecord) bool {
			return len(r.Payload) > len(want) && r.Payload[len(r.Payload)-len(want)-1:len(r.Payload)-1] == want
		}
	}
	publish(0) // kcat is reading both topics once it saw these
	nextRecord(t, data, "the first reading", reading(0))

	const rounds, limit = 7, 500 * time.Millisecond
	var readingLat, deviceLat []time.Duration
	for i := 1; i <= rounds; i++ {
		time.Sleep(200*time.Millisecond + rand.N(500*time.Millisecond)) // idle
		sent := time.Now()
		publish(i)
		r := nextRecord(t, data, fmt.Sprintf("reading %d", i), reading(i))
		readingLat = append(readingLat, r.at.Sub(sent))

		time.Sleep(200*time.Millisecond + rand.N(500*time.Millisecond))
		sent = time.Now()
		id := dojottest.CreateDevice(c, "rt-"+strconv.Itoa(i), tmpl)
		r = nextRecord(t, devices, "the create of "+id, func(r seenRecord) bool { return r.Key != nil && *r.Key == id })
		deviceLat = append(deviceLat, r.at.Sub(sent))
	}
	t.Logf("MQTT publish -> kcat: %v", readingLat)
	t.Logf("POST /device -> kcat: %v", deviceLat)
	if slices.Max(readingLat) > limit || slices.Max(deviceLat) > limit {
		t.Errorf("idle server: a record took more than %s to reach kcat (readings %v, devices %v)", limit, readingLat, deviceLat)
	}
}

// TestKafkaBurstOrder: a burst of readings from many MQTT devices at once
// (QoS 1, 32 in flight each) and of device updates over HTTP from several
// clients reaches Kafka, read by kcat, with every acknowledged reading and
// update exactly once by its id (dojot-msg-id, dojot-event-id + part) and,
// per device, in the order it was acknowledged.
func TestKafkaBurstOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "kcat", "-V")
	broker := dojottest.FreeAddr(t)
	in := start(t, "", "-kafka-embedded-addr="+broker, "-mqtt-insecure")
	c := in.Login("admin", adminPassword)
	tmpl := dojottest.CreateTemplate(c, "Burst")
	const devices, readings, updates = 20, 250, 20
	body := c.Must(200, "POST", fmt.Sprintf("/device?count=%d", devices), map[string]any{"label": "b", "templates": []int{tmpl}})
	var created struct{ Devices []struct{ ID, Label string } }
	mustJSON(t, body, &created)
	var w written
	for _, d := range created.Devices {
		w.add(d.ID, d.Label)
	}

	var wg sync.WaitGroup
	for _, d := range created.Devices {
		cl := mqttDevice(t, in, d.ID)
		wg.Go(func() {
			window := make(chan paho.Token, 32)
			wait := func(tok paho.Token) {
				if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
					t.Errorf("device %s: reading not acknowledged: %v", d.ID, tok.Error())
				}
			}
			for n := range readings {
				if len(window) == cap(window) {
					wait(<-window)
				}
				window <- cl.Publish("admin:"+d.ID+"/attrs", 1, false, fmt.Sprintf(`{"temperature":%d}`, n))
			}
			for len(window) > 0 {
				wait(<-window)
			}
		})
	}
	for k := range 4 {
		wg.Go(func() {
			for u := range updates {
				for i := k; i < devices; i += 4 {
					id := created.Devices[i].ID
					label := fmt.Sprintf("%s-u%d", id, u)
					c.Must(200, "PUT", "/device/"+id, map[string]any{"label": label, "templates": []int{tmpl}})
					w.add(id, label)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	recs, dups := consumeAll(t, broker, &w)
	if dups > 0 {
		t.Errorf("device topic: %d duplicates without any crash", dups)
	}
	t.Logf("device topic: %d records for %d acknowledged writes", len(recs), w.n)

	msgs := dojottest.KcatUntil(t, broker, "admin.device-data", devices*readings)
	ids := map[string]bool{}
	next := map[string]int{}
	for _, m := range msgs {
		id := m.Header("dojot-msg-id")
		if id == "" || ids[id] {
			t.Fatalf("admin.device-data offset %d: dojot-msg-id %q missing or seen before", m.Offset, id)
		}
		ids[id] = true
		var r struct {
			Metadata struct{ DeviceID string }
			Attrs    struct{ Temperature int }
		}
		mustJSON(t, []byte(m.Payload), &r)
		if m.Key == nil || *m.Key != r.Metadata.DeviceID {
			t.Errorf("offset %d: key %v for device %s", m.Offset, m.Key, r.Metadata.DeviceID)
		}
		if want := next[r.Metadata.DeviceID]; r.Attrs.Temperature != want {
			t.Fatalf("device %s: reading %d at offset %d, want %d next (order per device)", r.Metadata.DeviceID, r.Attrs.Temperature, m.Offset, want)
		}
		next[r.Metadata.DeviceID]++
	}
	if len(msgs) != devices*readings {
		t.Errorf("admin.device-data holds %d readings, want the %d acknowledged, once each", len(msgs), devices*readings)
	}
}
