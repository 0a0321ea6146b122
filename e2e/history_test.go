package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

func TestHistory(t *testing.T) { dojottest.EachHistory(t, testHistory) }

// testHistory: readings sent with mosquitto_pub and an actuation are read
// back through every form of dojot's History API, and again after a
// restart (the memory history is rebuilt from DATA, the Mongo one resumes).
func testHistory(t *testing.T, flags []string) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "sh", "-c", "command -v mosquitto_pub")
	dir := t.TempDir()
	in := start(t, dir, append([]string{"-mqtt-insecure"}, flags...)...)
	c := in.Login("admin", adminPassword)
	var tmpl struct{ Template struct{ ID int } }
	mustJSON(t, c.Must(200, "POST", "/template", map[string]any{"label": "Thermo", "attrs": []map[string]any{
		{"label": "temperature", "type": "dynamic", "value_type": "float"},
		{"label": "hum", "type": "dynamic", "value_type": "integer"},
		{"label": "silent", "type": "dynamic", "value_type": "string"},
		{"label": "target", "type": "actuator", "value_type": "float"},
	}}), &tmpl)
	id := dojottest.CreateDevice(c, "thermo", tmpl.Template.ID)
	user := "admin:" + id

	base := time.Date(2018, 6, 5, 19, 15, 37, 452_000_000, time.UTC)
	for i := range 5 {
		ts := base.Add(time.Duration(i) * time.Minute).UnixMilli()
		payload := fmt.Sprintf(`{"temperature":%d.5,"hum":%d,"timestamp":%d}`, 20+i, 50+i, ts)
		if out, err := dojottest.MosquittoPub(in, user, user+"/attrs", payload, "-q", "1"); err != nil {
			t.Fatalf("mosquitto_pub: %v\n%s", err, out)
		}
	}
	// An RFC 3339 timestamp, on the legacy topic; then a refused reading.
	if out, err := dojottest.MosquittoPub(in, user, "/admin/"+id+"/attrs", `{"hum":99,"timestamp":"2018-06-05T20:00:00Z"}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	_, _ = dojottest.MosquittoPub(in, user, user+"/attrs", `not json`, "-q", "1", "-V", "mqttv5")
	c.Must(200, "PUT", "/device/"+id+"/actuate", map[string]any{"attrs": map[string]any{"target": 21.5}})

	dojottest.WaitHistory(t, c, id, "hum", 6)
	dojottest.WaitHistory(t, c, id, "target", 1)
	answers := checkHistory(t, in, c, id, base)

	in.Stop()
	in = start(t, dir, append([]string{"-mqtt-insecure"}, flags...)...)
	c = in.Login("admin", adminPassword)
	dojottest.WaitHistory(t, c, id, "hum", 6)
	dojottest.WaitHistory(t, c, id, "target", 1)
	for q, want := range answers {
		if _, got := c.Do("GET", q, nil); string(got) != want {
			t.Errorf("after a restart GET %s =\n%s\nwant\n%s", q, trunc(got), want)
		}
	}
}

// checkHistory asks every form of the History API and returns the JSON
// answers by path, to compare after a restart.
func checkHistory(t *testing.T, in *instance, c *client, id string, base time.Time) map[string]string {
	t.Helper()
	path := "/history/device/" + id + "/history"
	answers := map[string]string{}
	get := func(query string, v any) {
		t.Helper()
		b := c.Must(200, "GET", path+query, nil)
		answers[path+query] = string(b)
		mustJSON(t, b, v)
	}
	iso := func(i int) string {
		return base.Add(time.Duration(i) * time.Minute).Format("2006-01-02T15:04:05.000000Z")
	}

	// One attr: an array, newest first; lastN and hLimit limit it, firstN
	// takes the oldest.
	var docs []dojottest.HistoryDoc
	get("?attr=temperature&lastN=2", &docs)
	want := []dojottest.HistoryDoc{
		{Attr: "temperature", Value: 24.5, DeviceID: id, TS: iso(4), Metadata: map[string]any{}},
		{Attr: "temperature", Value: 23.5, DeviceID: id, TS: iso(3), Metadata: map[string]any{}},
	}
	if !jsonEqual(docs, want) {
		t.Errorf("lastN=2: %+v; want %+v", docs, want)
	}
	get("?attr=temperature&hLimit=1", &docs)
	if len(docs) != 1 || docs[0].TS != iso(4) {
		t.Errorf("hLimit=1: %+v", docs)
	}
	get("?attr=temperature&firstN=2", &docs)
	if len(docs) != 2 || docs[0].TS != iso(0) || docs[1].TS != iso(1) {
		t.Errorf("firstN=2: %+v", docs)
	}
	get("?attr=hum&lastN=1", &docs)
	if len(docs) != 1 || docs[0].TS != "2018-06-05T20:00:00Z" || docs[0].Value != 99.0 {
		t.Errorf("hum lastN=1 (RFC 3339 timestamp, no fraction): %+v", docs)
	}
	// dateFrom and dateTo are inclusive.
	get("?attr=temperature&dateFrom="+url.QueryEscape(iso(1))+"&dateTo="+url.QueryEscape(iso(3)), &docs)
	if len(docs) != 3 || docs[0].TS != iso(3) || docs[2].TS != iso(1) {
		t.Errorf("dateFrom..dateTo: %+v", docs)
	}
	// The actuation is history too, as dojot's persister stores configure.
	get("?attr=target", &docs)
	if len(docs) != 1 || docs[0].Value != 21.5 {
		t.Errorf("target: %+v", docs)
	}

	// Several attrs: an object keyed by attr, empty lists kept.
	var byAttr map[string][]dojottest.HistoryDoc
	get("?attr=temperature&attr=silent&lastN=1", &byAttr)
	if len(byAttr) != 2 || len(byAttr["temperature"]) != 1 || byAttr["silent"] == nil || len(byAttr["silent"]) != 0 {
		t.Errorf("two attrs: %+v", byAttr)
	}
	// No attr: every attr of the device, in the template's order.
	b := c.Must(200, "GET", path+"?lastN=1", nil)
	answers[path+"?lastN=1"] = string(b)
	var keys []string
	dec := json.NewDecoder(strings.NewReader(string(b)))
	_, _ = dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		_ = dec.Decode(&skip)
	}
	if strings.Join(keys, ",") != "temperature,hum,silent,target" {
		t.Errorf("no attr: keys %v; want the template's", keys)
	}

	// CSV, flattened.
	code, body, hdr := dojottest.Get(t, in, c, path+"?attr=temperature&lastN=2", "text/csv")
	wantCSV := `"attr","value","device_id","ts"` + "\n" +
		fmt.Sprintf(`"temperature",24.5,"%s","%s"`, id, iso(4)) + "\n" +
		fmt.Sprintf(`"temperature",23.5,"%s","%s"`, id, iso(3)) + "\n"
	if code != 200 || body != wantCSV || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") {
		t.Errorf("csv: %d %s\n%s\nwant\n%s", code, hdr.Get("Content-Type"), body, wantCSV)
	}

	// Errors, in Falcon's shape.
	for _, e := range []struct {
		path, accept string
		code         int
		body         string
	}{
		{"/history/device/nosuch/history", "", 404, `{"title":"Device not found","description":"No data for the given device could be found"}`},
		{path + "?attr=silent", "", 404, `{"title":"Attr not found","description":"No data for the given attribute could be found"}`},
		{path + "?attr=temperature&lastN=two", "", 400, `{"title":"Invalid parameter","description":"The \"lastN\" parameter is invalid. Must be integer."}`},
		{path + "?attr=temperature&firstN=1.5", "", 400, `{"title":"Invalid parameter","description":"The \"firstN\" parameter is invalid. Must be integer."}`},
		{path + "?attr=temperature", "application/xml", 406, `{"title":"Media type not acceptable","description":"Not Acceptable"}`},
	} {
		code, body, _ := dojottest.Get(t, in, c, e.path, e.accept)
		if code != e.code || strings.TrimSpace(body) != e.body {
			t.Errorf("GET %s (Accept %q) = %d %s; want %d %s", e.path, e.accept, code, body, e.code, e.body)
		}
	}
	if code, _ := in.Client().Do("GET", path, nil); code != 401 {
		t.Errorf("no token: %d; want 401", code)
	}
	// Another tenant does not see this history.
	c.Must(200, "POST", "/auth/user", map[string]any{"username": "hbob", "service": "tenanth",
		"email": "hbob@example.com", "name": "Bob", "profile": "admin"})
	bob := dojottest.LoginNewUser(t, in, c, "hbob")
	bob.Must(404, "GET", path+"?attr=temperature", nil)
	return answers
}
