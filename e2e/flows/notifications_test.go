package flows

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestFlowNotifications: a reading published with mosquitto_pub fires
// three flows: two notifications (one with shouldPersist false) and a
// publish-ftp. Both notifications reach a Python websocket client on
// Kafka WS's admin.dojot.notifications (filtered by subject, as the GUI
// filters); the notifications history (memory and Mongo) holds only the
// one to persist, found with dojot's subject and metaAttrsFilter filters;
// kcat reads the file message on admin.dojot.ftp.
func TestFlowNotifications(t *testing.T) { dojottest.EachHistory(t, testFlowNotifications) }

func testFlowNotifications(t *testing.T, flags []string) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "/usr/bin/python3", "-c", "import websocket")
	dojottest.NeedCommand(t, "sh", "-c", "command -v mosquitto_pub")
	dojottest.NeedCommand(t, "kcat", "-V")
	broker, dir := dojottest.FreeAddr(t), t.TempDir()
	flags = append([]string{"-mqtt-insecure", "-kafka-embedded-addr=" + broker}, flags...)
	in := dojottest.Start(t, dir, flags...)
	c := in.Login("admin", dojottest.AdminPassword)
	id := dojottest.CreateDevice(c, "thermo", dojottest.CreateTemplate(c, "Thermos"))
	head := `{"id":"h","type":"event device in","z":"t","device_id":"` + id + `","event_publish":true,"wires":[["s"]]},` +
		`{"id":"s","type":"switch","z":"t","property":"payload.data.attrs.temperature","propertyType":"msg","rules":[{"t":"gt","v":"32","vt":"num"}],"checkall":"true","outputs":1,"wires":[["c"]]},`
	notify := func(name, meta, text string) {
		c.Must(200, "POST", "/flows/v1/flow", `{"name":"`+name+`","flow":[{"id":"t","type":"tab"},`+head+
			`{"id":"c","type":"template","z":"t","field":"notification","fieldType":"msg","syntax":"handlebars",`+
			`"template":"{\"metadata\":`+strings.ReplaceAll(meta, `"`, `\"`)+`,\"message\":\"Temp {{payload.data.attrs.temperature}} `+text+`\"}","output":"json","wires":[["n"]]},`+
			`{"id":"n","type":"notification","z":"t","source":"notification.metadata","sourceFieldType":"msg","messageDynamic":"notification.message","messageStatic":"","messageFieldType":"msg","msgType":"dynamic","wires":[]}]}`)
	}
	notify("hot", `{"priority":"high","level":3}`, "too high")
	notify("quiet", `{"priority":"low","level":3,"shouldPersist":false}`, "noted")
	c.Must(200, "POST", "/flows/v1/flow", `{"name":"file","flow":[{"id":"t","type":"tab"},`+head+
		`{"id":"c","type":"change","z":"t","rules":[{"t":"set","p":"file.name","pt":"msg","to":"temperature.txt","tot":"str"},`+
		`{"t":"set","p":"file.content","pt":"msg","to":"payload.data.attrs.temperature","tot":"msg"}],"wires":[["p"]]},`+
		`{"id":"p","type":"publish-ftp","z":"t","encode":"utf8","filename":"file.name","filecontent":"file.content","wires":[]}]}`)

	// A Kafka WS client on the notifications, with the GUI's filter.
	line := dojottest.KafkaWSLines(t, in, c.Token, "admin.dojot.notifications", "&where=subject=in:^user_notification$;", 2)
	if l := line(); l != "open" {
		t.Fatalf("client: %q", l)
	}
	user := "admin:" + id
	if b, err := dojottest.MosquittoPub(in, user, user+"/attrs", `{"temperature":35}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, b)
	}
	var texts []string
	for range 2 {
		var n struct {
			MsgID           string
			Timestamp       int64
			Message         string
			MetaAttrsFilter map[string]any
			Subject         string
		}
		dojottest.MustJSON(t, []byte(line()), &n)
		if n.MsgID == "" || n.Timestamp == 0 || n.Subject != "user_notification" {
			t.Errorf("frame %+v", n)
		}
		texts = append(texts, n.Message)
	}
	slices.Sort(texts)
	if strings.Join(texts, "|") != "Temp 35 noted|Temp 35 too high" {
		t.Errorf("Kafka WS notifications %q", texts)
	}

	// History: both notifications applied (healthz), only one kept.
	waitNotificationsApplied(t, in, 2)
	get := func(query string) (int, string) {
		t.Helper()
		code, body, hdr := dojottest.Get(t, in, c, "/history/notifications/history?"+query, "")
		if ct := hdr.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
			t.Errorf("%s: Content-Type %q; want History's", query, ct)
		}
		return code, body
	}
	type entry struct {
		MsgID           string         `json:"msgID"`
		Message         string         `json:"message"`
		MetaAttrsFilter map[string]any `json:"metaAttrsFilter"`
		Subject         string         `json:"subject"`
		TS              string         `json:"ts"`
	}
	for _, q := range []string{"", `subject="user_notification"`, `subject="user_notification"&priority="high"`, "level=3",
		"dateFrom=" + url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)) + "&limit=5"} {
		code, body := get(q)
		var ans struct{ Notifications []entry }
		dojottest.MustJSON(t, []byte(body), &ans)
		if code != 200 || len(ans.Notifications) != 1 {
			t.Errorf("?%s: %d %s; want the one to persist", q, code, dojottest.Trunc([]byte(body)))
			continue
		}
		n := ans.Notifications[0]
		if n.Message != "Temp 35 too high" || n.Subject != "user_notification" || n.MsgID == "" ||
			!strings.HasSuffix(n.TS, "Z") || n.MetaAttrsFilter["priority"] != "high" || n.MetaAttrsFilter["shouldPersist"] != true {
			t.Errorf("?%s: %+v", q, n)
		}
		if !strings.HasPrefix(body, `{"notifications":[{"msgID":`) || !strings.Contains(body, `"subject":"user_notification","ts":"`) {
			t.Errorf("?%s: members out of dojot's order: %s", q, body)
		}
	}
	for q, want := range map[string]string{`priority="low"`: `{"notifications":[]}`, `subject=5`: `{"notifications":[]}`} {
		if code, body := get(q); code != 200 || strings.TrimSpace(body) != want {
			t.Errorf("?%s: %d %s; want 200 %s", q, code, body, want)
		}
	}
	if code, body := get("priority=high"); code != 400 || !strings.Contains(body, `"title":"Invalid parameter"`) {
		t.Errorf("an unquoted string: %d %s; want 400", code, body)
	}

	// A restart (the memory view rebuilt from the stream, the Mongo one
	// resuming from its checkpoint) stores nothing twice.
	_, before := get("")
	in.Stop()
	in = dojottest.Start(t, dir, flags...)
	c = in.Login("admin", dojottest.AdminPassword)
	waitNotificationsApplied(t, in, 2)
	if _, after := get(""); after != before {
		t.Errorf("after a restart:\n%s\nwant\n%s", after, before)
	}

	// publish-ftp's message, through the Kafka bridge: at least once (a
	// stop between Kafka's answer and JetStream's ack sends it again after
	// the restart), every copy with its one dojot-msg-id.
	msgs := dojottest.KcatUntil(t, broker, "admin.dojot.ftp", 1)
	for _, m := range msgs {
		if m.Header("dojot-msg-id") != msgs[0].Header("dojot-msg-id") || m.Payload != msgs[0].Payload {
			t.Fatalf("admin.dojot.ftp holds two files: %+v", msgs)
		}
	}
	if len(msgs) > 1 {
		t.Logf("admin.dojot.ftp: %d copies of the file (same id)", len(msgs))
	}
	var f struct {
		Metadata struct {
			MsgID, Service, ContentType string
			TS                          int64
		}
		Data struct {
			Filename, Encoding string
			Content            any
		}
	}
	dojottest.MustJSON(t, []byte(msgs[0].Payload), &f)
	if f.Metadata.MsgID == "" || f.Metadata.Service != "flowbroker" || f.Metadata.ContentType != "application/vnd.dojot.ftp+json" || f.Metadata.TS == 0 ||
		f.Data.Filename != "temperature.txt" || f.Data.Encoding != "utf8" || f.Data.Content != 35.0 || msgs[0].Header("dojot-msg-id") != f.Metadata.MsgID {
		t.Errorf("admin.dojot.ftp record %s headers %v", msgs[0].Payload, msgs[0].Headers)
	}
}

// waitNotificationsApplied waits until the history applied the
// NOTIFICATIONS stream up to seq (GET /healthz).
func waitNotificationsApplied(t *testing.T, in *dojottest.Instance, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := in.Client().Do("GET", "/healthz", nil)
		var h struct {
			History struct {
				NotificationsSeq uint64 `json:"notifications_seq"`
			}
		}
		_ = json.Unmarshal(body, &h)
		if h.History.NotificationsSeq >= seq {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz history = %s", dojottest.Trunc(body))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
