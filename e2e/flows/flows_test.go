// Package flows tests the flow engine through the whole dojot binary:
// flows created over HTTP, as in FLOWS.md, fed by devices over MQTT and
// read back from history, Kafka and the devices' config topics. It is a
// package apart from e2e so that each has its own share of go test's
// per-package timeout (see dojottest for the harness they share).
package flows

import (
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestFlowsAPI: dojot's flowbroker API through the binary: FLOWS.md 7.1's
// flow created, read, disabled by PUT, refused when invalid, kept across a
// SIGKILL (flows are events), removed; another tenant sees none of it.
func TestFlowsAPI(t *testing.T) { dojottest.EachView(t, testFlowsAPI) }

func testFlowsAPI(t *testing.T, flags []string) {
	in := dojottest.Start(t, "", flags...)
	c := in.Login("admin", dojottest.AdminPassword)
	const flow = `{"name":"actuate flow","flow":[
 {"id":"7320e2d3.7984bc","type":"tab","label":"Flow 1"},
 {"id":"a26f3b44.379118","type":"device template in","z":"7320e2d3.7984bc","name":"bus","device_template":{"id":"6"},"status":"false","device_template_id":"6","x":93.5,"y":226,"wires":[["e98654fe.c42fa8"]]},
 {"id":"e98654fe.c42fa8","type":"switch","z":"7320e2d3.7984bc","name":"passageiros >= 40","property":"payload.passageiros","propertyType":"msg",
  "rules":[{"t":"gte","v":"40","vt":"num"},{"t":"lt","v":"40","vt":"num"}],"checkall":"true","outputs":2,"x":305.5,"y":229,"wires":[["7fd783d8.7fa12c"],["f8be2e5c.7e6c7"]]},
 {"id":"7fd783d8.7fa12c","type":"change","z":"7320e2d3.7984bc","name":"LOTADO","rules":[{"t":"set","p":"saida.letreiro","pt":"msg","to":"LOTADO","tot":"str"}],"action":"","property":"","from":"","to":"","reg":false,"x":551.5,"y":142,"wires":[["af8485c5.8352d8"]]},
 {"id":"f8be2e5c.7e6c7","type":"change","z":"7320e2d3.7984bc","name":"JARDIM PAULISTA","rules":[{"t":"set","p":"saida.letreiro","pt":"msg","to":"JARDIM PAULISTA","tot":"str"}],"action":"","property":"","from":"","to":"","reg":false,"x":576,"y":313,"wires":[["af8485c5.8352d8"]]},
 {"id":"af8485c5.8352d8","type":"multi actuate","z":"7320e2d3.7984bc","name":"","device_source":"self","devices_source_configured":[""],"devices_source_dynamic":"","devices_source_dynamicFieldType":"msg","attrs":"saida","_devices_loaded":true,"x":816.5,"y":228,"wires":[]}]}`
	var created struct {
		Flow struct {
			ID      string
			Enabled bool
		}
	}
	dojottest.MustJSON(t, c.Must(200, "POST", "/flows/v1/flow", flow), &created)
	id := created.Flow.ID
	if id == "" || !created.Flow.Enabled {
		t.Fatalf("POST /flows/v1/flow = %+v", created)
	}
	body := string(c.Must(200, "GET", "/flows/v1/flow/"+id, nil))
	if !strings.Contains(body, `"id":"af8485c5.8352d8","type":"multi actuate"`) {
		t.Errorf("GET = %s", dojottest.Trunc([]byte(body)))
	}
	c.Must(200, "PUT", "/flows/v1/flow/"+id, `{"enabled":false}`)
	c.Must(400, "POST", "/flows/v1/flow", `{"name":"bad","flow":[{"id":"x"}]}`)
	// What the engine could not run is refused at once, the node named.
	for _, bad := range []string{
		`[{"id":"n1","type":"no such node","wires":[]}]`,
		`[{"id":"h","type":"event device in","device_id":"abc","event_publish":true,"wires":[["missing"]]}]`,
		`[{"id":"s","type":"switch","property":"payload","rules":[{"t":"regex","v":"(","vt":"str"}],"checkall":"true","outputs":1,"wires":[[]]}]`,
	} {
		code, body := c.Do("POST", "/flows/v1/flow", `{"name":"bad","flow":`+bad+`}`)
		if code != 400 || !strings.HasPrefix(string(body), `{"message":"Given flow is invalid","detail":"node `) {
			t.Errorf("POST %s = %d %s", bad, code, body)
		}
	}
	if body := string(c.Must(200, "GET", "/flows/nodes", nil)); !strings.Contains(body, `{"id":"dojot/switch","name":"switch","module":"dojot","version":"1.0.0","enabled":true,"local":true,"types":["switch"]}`) ||
		!strings.Contains(body, `"types":["multi actuate"]`) {
		t.Errorf("GET /flows/nodes = %s", dojottest.Trunc([]byte(body)))
	}
	if code, _ := c.Do("GET", "/flows/v1/flow", nil); code != 200 {
		t.Errorf("GET list = %d", code)
	}
	// Before the kill: a Mongo view's applier lease outlives a killed
	// holder by up to 10 s, during which writes wait.
	c.Must(200, "POST", "/auth/user", map[string]string{"username": "flowuser", "service": "other", "email": "f@example.com", "name": "F", "profile": "user"})
	dojottest.LoginNewUser(t, in, c, "flowuser")
	in.Kill()
	in.Restart()
	c = in.Login("admin", dojottest.AdminPassword)
	if body := string(c.Must(200, "GET", "/flows/v1/flow/"+id, nil)); !strings.Contains(body, `"name":"actuate flow","enabled":false`) {
		t.Errorf("after restart: %s", dojottest.Trunc([]byte(body)))
	}
	other := in.Login("flowuser", dojottest.NewPassword)
	if code, _ := other.Do("GET", "/flows/v1/flow/"+id, nil); code != 404 {
		t.Errorf("another tenant's GET = %d", code)
	}
	if body := string(other.Must(200, "GET", "/flows/v1/flow", nil)); body != `{"flows":[]}`+"\n" {
		t.Errorf("another tenant's list = %q", body)
	}
	// A write right after the restart may wait for a Mongo view's lease
	// (503, "the view is catching up": stored, not yet shown), retried as
	// a client would; after a 503, a 404 says the first try took.
	deadline := time.Now().Add(20 * time.Second)
	for retried := false; ; retried = true {
		code, body := c.Do("DELETE", "/flows/v1/flow/"+id, nil)
		if code == 200 || (code == 404 && retried) {
			break
		}
		if code != 503 || time.Now().After(deadline) {
			t.Fatalf("DELETE = %d %s", code, dojottest.Trunc(body))
		}
		time.Sleep(200 * time.Millisecond)
	}
	for code, _ := c.Do("GET", "/flows/v1/flow/"+id, nil); code != 404; code, _ = c.Do("GET", "/flows/v1/flow/"+id, nil) {
		if time.Now().After(deadline) {
			t.Fatalf("GET of the deleted flow = %d", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
	in.Client().Must(401, "GET", "/flows/v1/flow", nil)
}
