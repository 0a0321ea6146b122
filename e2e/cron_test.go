package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestCron: a job created over HTTP with a 6-field every-second time
// actuates a device at each tick (mosquitto_sub sees the configuration on
// its config topic, kcat the configure on Kafka) until it is deleted; a
// flow's cron node creates a job that publishes a reading as the device
// every second, which the History API shows.
func TestCron(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	in, broker := dojottest.StartMQTTKafka(t)
	c := in.Login("admin", adminPassword)
	id := dojottest.CreateDevice(c, "heater", dojottest.CreateTemplate(c, "Heaters"))
	user := "admin:" + id

	// Two ticks reach the device.
	wait := dojottest.ConfigSub(t, in, id, 2)
	body := c.Must(201, "POST", "/cron/v1/jobs", `{"time":"*/1 * * * * *","name":"warm up","broker":{"subject":"dojot.device-manager.device",`+
		`"message":{"event":"configure","data":{"attrs":{"target_temperature":21},"id":"`+id+`"},"meta":{"service":"admin"}}}}`)
	var created struct{ Status, JobID string }
	mustJSON(t, body, &created)
	if created.Status != "success" || created.JobID == "" {
		t.Fatalf("POST /cron/v1/jobs = %s", body)
	}
	if got := strings.Fields(wait()); len(got) != 2 || got[0] != `{"target_temperature":21}` || got[1] != got[0] {
		t.Errorf("configurations = %q", got)
	}
	var configures int
	for _, m := range dojottest.KcatUntil(t, broker, "admin.dojot.device-manager.device", 3) {
		if strings.Contains(m.Payload, `"event":"configure"`) && strings.Contains(m.Payload, `"target_temperature":21`) {
			configures++
		}
	}
	if configures < 2 {
		t.Errorf("%d configure messages on Kafka, want 2 or more", configures)
	}
	var job struct {
		JobID string
		Spec  struct{ Time, Timezone, Name string }
	}
	mustJSON(t, c.Must(200, "GET", "/cron/v1/jobs/"+created.JobID, nil), &job)
	if job.JobID != created.JobID || job.Spec.Time != "*/1 * * * * *" || job.Spec.Timezone != "UTC" || job.Spec.Name != "warm up" {
		t.Errorf("GET job = %+v", job)
	}
	// Deleted, it fires no more.
	if code, body := c.Do("DELETE", "/cron/v1/jobs/"+created.JobID, nil); code != 204 || len(body) != 0 {
		t.Fatalf("DELETE = %d %s", code, body)
	}
	time.Sleep(1500 * time.Millisecond) // a tick under way when it was deleted
	host, port, _ := net.SplitHostPort(in.MQTTAddr)
	quiet, err := exec.Command("mosquitto_sub", "-h", host, "-p", port, "-u", user, "-i", "e2e-cron-quiet-"+id, "-q", "1",
		"-t", user+"/config", "-C", "1", "-W", "3").CombinedOutput()
	if strings.Contains(string(quiet), "target_temperature") {
		t.Errorf("a deleted job fired: %s (%v)", quiet, err)
	}
	if code, _ := c.Do("GET", "/cron/v1/jobs/"+created.JobID, nil); code != 404 {
		t.Errorf("GET deleted job = %d", code)
	}

	// A flow's cron node creates a job (its action a JSON string, as the
	// cron node takes it) when the device reports 50; the
	// job's readings (99) stop at the switch.
	action := fmt.Sprintf(`{\"subject\":\"device-data\",\"message\":{\"metadata\":{\"deviceid\":\"%s\"},\"attrs\":{\"temperature\":99}}}`, id)
	c.Must(200, "POST", "/flows/v1/flow", `{"name":"schedule","flow":[{"id":"t","type":"tab"},`+
		`{"id":"h","type":"event device in","z":"t","device_id":"`+id+`","event_publish":true,"wires":[["s"]]},`+
		`{"id":"s","type":"switch","z":"t","property":"payload.data.attrs.temperature","propertyType":"msg","rules":[{"t":"eq","v":"50","vt":"num"}],"checkall":"true","outputs":1,"wires":[["a"]]},`+
		`{"id":"a","type":"change","z":"t","rules":[{"t":"set","p":"job","pt":"msg","to":"`+action+`","tot":"str"}],"wires":[["c"]]},`+
		`{"id":"c","type":"cron","z":"t","operation":"CREATE","cronTimeExpression":"*/1 * * * * *","jobName":"from a flow","jobType":"EVENT REQUEST","jobAction":"job","outJobId":"jobId","wires":[]}]}`)
	if b, err := dojottest.MosquittoPub(in, user, user+"/attrs", `{"temperature":50}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, b)
	}
	docs := dojottest.WaitHistory(t, c, id, "temperature", 3)
	var nines int
	for _, d := range docs {
		if fmt.Sprint(d.Value) == "99" {
			nines++
		}
	}
	if nines < 2 {
		t.Errorf("history = %+v; want readings of 99 from the flow's job", docs)
	}
	var jobs []struct {
		JobID string
		Spec  struct {
			Name   string
			Broker struct{ Subject string }
		}
	}
	mustJSON(t, c.Must(200, "GET", "/cron/v1/jobs", nil), &jobs)
	if len(jobs) != 1 || jobs[0].Spec.Name != "from a flow" || jobs[0].Spec.Broker.Subject != "device-data" {
		t.Errorf("GET /cron/v1/jobs = %+v", jobs)
	}
	if code, _ := c.Do("DELETE", "/cron/v1/jobs", nil); code != 204 {
		t.Errorf("DELETE all = %d", code)
	}
}

// TestCronAPI: dojot's cron API over each view: a job created, listed,
// read, replaced and deleted, an invalid job's 400;
// the restarted binary serves the same jobs (they are events).
func TestCronAPI(t *testing.T) { dojottest.EachView(t, testCronAPI) }

func testCronAPI(t *testing.T, flags []string) {
	dir := t.TempDir()
	in := start(t, dir, append([]string{"-cron=false"}, flags...)...) // the API only: nothing fires
	c := in.Login("admin", adminPassword)
	job := `{"time":"0 */5 * * * *","timezone":"America/Sao_Paulo","name":"Keep alive","broker":{"subject":"dojot.device-manager.device",` +
		`"message":{"event":"configure","data":{"attrs":{"message":"keepalive"},"id":"e1b1a9"},"meta":{"service":"admin"}}}}`
	var created struct{ JobID string }
	mustJSON(t, c.Must(201, "POST", "/cron/v1/jobs", job), &created)
	c.Must(201, "PUT", "/cron/v1/jobs/nightly", `{"time":"0 0 * * *","broker":{"subject":"device-data","message":{"metadata":{"deviceid":"e1b1a9"},"attrs":{"t":1}}}}`)
	c.Must(200, "PUT", "/cron/v1/jobs/nightly", `{"time":"0 1 * * *","broker":{"subject":"device-data","message":{"metadata":{"deviceid":"e1b1a9"},"attrs":{"t":2}}}}`)
	want := `[{"jobId":"` + created.JobID + `","spec":{"time":"0 */5 * * * *","timezone":"America/Sao_Paulo","name":"Keep alive","broker":{"subject":"dojot.device-manager.device",` +
		`"message":{"event":"configure","data":{"attrs":{"message":"keepalive"},"id":"e1b1a9"},"meta":{"service":"admin"}}}}},` +
		`{"jobId":"nightly","spec":{"time":"0 1 * * *","timezone":"UTC","broker":{"subject":"device-data","message":{"metadata":{"deviceid":"e1b1a9"},"attrs":{"t":2}}}}}]`
	if got := strings.TrimSpace(string(c.Must(200, "GET", "/cron/v1/jobs", nil))); got != want {
		t.Errorf("GET /cron/v1/jobs = %s\nwant %s", got, want)
	}
	if code, body := c.Do("POST", "/cron/v1/jobs", `{"time":"* * *","broker":{"subject":"x","message":{}}}`); code != 400 ||
		!strings.Contains(string(body), `{"error":101,"message":"Invalid cron time."`) || !strings.Contains(string(body), `{"error":121,"message":"(broker action) Invalid subject."`) {
		t.Errorf("invalid job = %d %s", code, body)
	}
	c.Must(204, "DELETE", "/cron/v1/jobs/nightly", nil)
	c.Must(404, "GET", "/cron/v1/jobs/nightly", nil)
	in.Stop()

	in = start(t, dir, append([]string{"-cron=false"}, flags...)...)
	c = in.Login("admin", adminPassword)
	var jobs []struct{ JobID string }
	mustJSON(t, c.Must(200, "GET", "/cron/v1/jobs", nil), &jobs)
	if len(jobs) != 1 || jobs[0].JobID != created.JobID {
		t.Errorf("after a restart: %+v", jobs)
	}
	c.Must(204, "DELETE", "/cron/v1/jobs", nil)
	if got := strings.TrimSpace(string(c.Must(200, "GET", "/cron/v1/jobs", nil))); got != "[]" {
		t.Errorf("after DELETE all: %s", got)
	}
}

// cronStats reads an instance's scheduler counters from /healthz.
func cronStats(t *testing.T, c *client) (fired, elsewhere, failed uint64) {
	t.Helper()
	var h struct {
		Cron struct{ Fired, Elsewhere, Failed uint64 }
	}
	_, body := c.Do("GET", "/healthz", nil)
	mustJSON(t, body, &h)
	return h.Cron.Fired, h.Cron.Elsewhere, h.Cron.Failed
}

// TestCronTwoInstances: two binaries on one NATS both run the scheduler
// on an every-second job; each tick is fired by one of them: the ticks
// they fired add up to the actuations the history holds, and each saw
// ticks the other had claimed.
func TestCronTwoInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	first, second := sharedNATS(t, []string{"-jwt-secret=shared-e2e-secret"})
	a := start(t, "", first...)
	b := start(t, "", second...)
	ca, cb := a.Login("admin", adminPassword), b.Login("admin", adminPassword)
	id := dojottest.CreateDevice(ca, "heater", dojottest.CreateTemplate(ca, "Heaters"))
	var created struct{ JobID string }
	mustJSON(t, ca.Must(201, "POST", "/cron/v1/jobs", `{"time":"*/1 * * * * *","broker":{"subject":"dojot.device-manager.device",`+
		`"message":{"event":"configure","data":{"attrs":{"target_temperature":21},"id":"`+id+`"}}}}`), &created)
	time.Sleep(5 * time.Second)
	ca.Must(204, "DELETE", "/cron/v1/jobs/"+created.JobID, nil)
	time.Sleep(1500 * time.Millisecond) // the ticks under way end
	fa, ea, xa := cronStats(t, ca)
	fb, eb, xb := cronStats(t, cb)
	docs := dojottest.WaitHistory(t, ca, id, "target_temperature", int(fa+fb))
	t.Logf("instance A fired %d (%d claimed by B), B fired %d (%d claimed by A); %d actuations", fa, ea, fb, eb, len(docs))
	if fa+fb < 4 || ea+eb < 2 || xa+xb != 0 || len(docs) != int(fa+fb) {
		t.Errorf("fired %d+%d, elsewhere %d+%d, failed %d+%d; %d actuations in the history", fa, fb, ea, eb, xa, xb, len(docs))
	}
}

// TestCronBatchNode: a flow's cron-batch node creates several jobs at once
// (FLOWS.md 4.18), from the array a template node made.
func TestCronBatchNode(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "sh", "-c", "command -v mosquitto_pub")
	in := start(t, "", "-mqtt-insecure")
	c := in.Login("admin", adminPassword)
	id := dojottest.CreateDevice(c, "batcher", dojottest.CreateTemplate(c, "Batchers"))
	job := func(name string) string {
		return fmt.Sprintf(`{"time":"0 0 * * *","name":%q,"broker":{"subject":"device-data","message":{"metadata":{"deviceid":%q},"attrs":{"temperature":1}}}}`, name, id)
	}
	jobs := strings.ReplaceAll("["+job("batch one")+","+job("batch two")+"]", `"`, `\"`) // a JSON string in the flow
	c.Must(200, "POST", "/flows/v1/flow", `{"name":"batch","flow":[{"id":"t","type":"tab"},`+
		`{"id":"h","type":"event device in","z":"t","device_id":"`+id+`","event_publish":true,"wires":[["s"]]},`+
		`{"id":"s","type":"switch","z":"t","property":"payload.data.attrs.temperature","propertyType":"msg","rules":[{"t":"eq","v":"50","vt":"num"}],"checkall":"true","outputs":1,"wires":[["a"]]},`+
		`{"id":"a","type":"template","z":"t","field":"jobs","fieldType":"msg","syntax":"plain","template":"`+jobs+`","output":"json","wires":[["b"]]},`+
		`{"id":"b","type":"cron-batch","z":"t","operation":"CREATE","jobs":"jobs","outJobIds":"ids","timeout":5000,"wires":[]}]}`)
	user := "admin:" + id
	if b, err := dojottest.MosquittoPub(in, user, user+"/attrs", `{"temperature":50}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, b)
	}
	var listed []struct {
		JobID string
		Spec  struct{ Name string }
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		mustJSON(t, c.Must(200, "GET", "/cron/v1/jobs", nil), &listed)
		if len(listed) >= 2 || time.Now().After(deadline) {
			break
		}
	}
	names := map[string]bool{}
	for _, j := range listed {
		names[j.Spec.Name] = true
	}
	if len(listed) != 2 || !names["batch one"] || !names["batch two"] {
		t.Fatalf("GET /cron/v1/jobs = %+v; want the batch's two jobs", listed)
	}
}
