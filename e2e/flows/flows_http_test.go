package flows

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestFlowsHTTPNode: a flow's http node (FLOWS.md 4.6) calls a server of
// the test process: the method, the URL made from its template, the
// headers and the body a template node built all arrive as written; the
// response, written into msg, names the device a multi device out then
// publishes as, which the History API shows. A server that answers one
// device slowly does not hold another device's flow: that one's output is
// in history while the slow call is still pending.
func TestFlowsHTTPNode(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const slowFor = 6 * time.Second
	type call struct {
		method, path, query, reading, auth, ctype string
		body                                      map[string]any
	}
	calls := make(chan call, 16)
	slowStarted := make(chan struct{}, 1)
	var slowPending atomic.Bool
	var target atomic.Value // the device the server's answers name
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c := call{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, reading: r.Header.Get("X-Reading"),
			auth: r.Header.Get("Authorization"), ctype: r.Header.Get("Content-Type")}
		_ = json.Unmarshal(b, &c.body)
		calls <- c
		from := strings.TrimPrefix(r.URL.Path, "/readings/")
		if c.body["slow"] == true {
			slowPending.Store(true)
			slowStarted <- struct{}{}
			time.Sleep(slowFor)
			slowPending.Store(false)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"target":%q,"attrs":{"from":%q,"doubled":%v}}`, target.Load(), from, 2*c.body["temperature"].(float64))
	}))
	defer srv.Close()

	in := dojottest.Start(t, "", "-mqtt-insecure")
	c := in.Login("admin", dojottest.AdminPassword)
	sensors := dojottest.CreateTemplate(c, "Sensors")
	a, slow := dojottest.CreateDevice(c, "a", sensors), dojottest.CreateDevice(c, "slow", sensors)
	// The target has a template of its own: its readings fire no flow.
	b := dojottest.CreateDevice(c, "b", dojottest.CreateTemplate(c, "Targets"))
	target.Store(b)
	tmpl := `{\"headers\":{\"X-Reading\":\"{{payload.data.attrs.temperature}}\",\"authorization\":\"user:pw\",\"Content-Type\":\"application/json\"},` +
		`\"payload\":{\"device\":\"{{payload.data.id}}\",\"temperature\":{{payload.data.attrs.temperature}},\"slow\":{{payload.data.attrs.slow}}}}`
	c.Must(200, "POST", "/flows/v1/flow", `{"name":"http","flow":[{"id":"t","type":"tab"},`+
		`{"id":"h","type":"event template in","z":"t","template_id":"`+fmt.Sprint(sensors)+`","event_publish":true,"wires":[["b"]]},`+
		`{"id":"b","type":"template","z":"t","field":"req","fieldType":"msg","syntax":"handlebars","output":"str","template":"`+tmpl+`","wires":[["x"]]},`+
		`{"id":"x","type":"http","z":"t","method":"POST","url":"`+srv.URL+`/readings/{{{payload.data.id}}}?t={{payload.data.attrs.temperature}}","body":"req","response":"resp","ret":"obj","wires":[["o"]]},`+
		`{"id":"o","type":"multi device out","z":"t","device_source":"dynamic","devices_source_dynamic":"resp.payload.target","devices_source_dynamicFieldType":"msg","devices_source_configured":[""],"attrs":"resp.payload.attrs","wires":[]}]}`)

	if out, err := dojottest.MosquittoPub(in, "admin:"+a, "admin:"+a+"/attrs", `{"temperature":21.5,"slow":false}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	select {
	case got := <-calls:
		want := call{method: "POST", path: "/readings/" + a, query: "t=21.5", reading: "21.5", auth: "Basic dXNlcjpwdw==", ctype: "application/json",
			body: map[string]any{"device": a, "temperature": 21.5, "slow": false}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("request = %+v\nwant      %+v", got, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the http node never called")
	}
	docs := dojottest.WaitHistory(t, c, b, "from", 1)
	if docs[0].Value != a {
		t.Errorf("b's history of from = %+v; want %s", docs, a)
	}
	if docs := dojottest.WaitHistory(t, c, b, "doubled", 1); docs[0].Value != 43.0 {
		t.Errorf("b's history of doubled = %+v; want 43", docs)
	}

	// The slow device's call holds its own device only.
	if out, err := dojottest.MosquittoPub(in, "admin:"+slow, "admin:"+slow+"/attrs", `{"temperature":1,"slow":true}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	select {
	case <-slowStarted:
	case <-time.After(20 * time.Second):
		t.Fatal("the slow call never came")
	}
	began := time.Now()
	if out, err := dojottest.MosquittoPub(in, "admin:"+a, "admin:"+a+"/attrs", `{"temperature":30,"slow":false}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	dojottest.WaitHistory(t, c, b, "from", 2)
	took := time.Since(began)
	if !slowPending.Load() {
		t.Errorf("a's second output came after the slow call ended (%s): the slow call held it", took)
	}
	t.Logf("a's output in history %s after its reading, while the slow call (%s) was pending", took.Round(time.Millisecond), slowFor)
	// The slow call's output, once it answered (stamped with the time its
	// run began, so not the latest).
	var froms []string
	for _, d := range dojottest.WaitHistory(t, c, b, "from", 3) {
		froms = append(froms, fmt.Sprint(d.Value))
	}
	if !slices.Contains(froms, slow) {
		t.Errorf("b's history of from = %v; want one from the slow device %s", froms, slow)
	}
}
