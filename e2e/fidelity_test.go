package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestDojotClientFidelity: what dojot's own test suites (dojot/tests'
// dojotTester, the services' apib specifications run by Dredd) send and
// expect, through the binary: device bodies with "attrs":{}, dojot's
// attribute ids, percent-encoded paths, Kong's /auth/admin/tenants and
// each service's Content-Type.
func TestDojotClientFidelity(t *testing.T) { dojottest.EachView(t, testDojotClientFidelity) }

func testDojotClientFidelity(t *testing.T, flags []string) {
	in := start(t, "", flags...)
	c := in.Login("admin", adminPassword)

	// dojotTester's template: ids as dojot numbers them, every attribute
	// before any metadata.
	body := string(c.Must(200, "POST", "/template", `{"label":"tracker","attrs":[
		{"label":"gps","type":"dynamic","value_type":"geo:point","metadata":[{"label":"descricao","type":"meta","value_type":"string","static_value":"d"}]},
		{"label":"speed","type":"dynamic","value_type":"float"},
		{"label":"serial","type":"static","value_type":"string","static_value":"s-1"}]}`))
	for _, want := range []string{`"id":1,"label":"gps"`, `"id":3,"label":"serial"`, `"id":4,"label":"descricao"`} {
		if !strings.Contains(body, want) {
			t.Errorf("POST /template: no %s in %s", want, trunc([]byte(body)))
		}
	}
	// dojotTester sends "attrs":{} with every device.
	c.Must(200, "POST", "/device", `{"templates":[1],"attrs":{},"label":"one","id":"b374a5"}`)
	c.Must(200, "POST", "/device?count=2", `{"templates":[1],"attrs":{},"label":"two"}`)
	c.Must(200, "PUT", "/device/b374a5", `{"templates":[1],"attrs":{},"label":"uno"}`)
	c.Must(400, "POST", "/device", `{"templates":[1],"attrs":{"x":1},"label":"bad"}`)
	body = string(c.Must(200, "PUT", "/device/b374a5", `{"templates":[1],"label":"uno","attrs":[
		{"id":3,"label":"serial","template_id":"1","static_value":"s-2"},
		{"id":1,"label":"gps","template_id":"1","metadata":[{"id":4,"static_value":"here"}]}]}`))
	if !strings.Contains(body, `"static_value":"s-2"`) || !strings.Contains(body, `"static_value":"here"`) {
		t.Errorf("overrides by dojot's ids = %s", trunc([]byte(body)))
	}

	// Percent-encoded path segments are decoded once, as Flask and Express do.
	if body := string(c.Must(200, "GET", "/device/b374%61%35", nil)); !strings.Contains(body, `"label":"uno"`) {
		t.Errorf("GET /device/b374%%61%%35 = %s", trunc([]byte(body)))
	}
	c.Must(200, "GET", "/template/%31", nil)
	if body := string(c.Must(200, "GET", "/topic/device%2Ddata", nil)); body != `{"topic":"admin.device-data"}`+"\n" {
		t.Errorf("GET /topic/device%%2Ddata = %q", body)
	}
	c.Must(400, "GET", "/topic/device%20data", nil)

	// Kong's path of auth's tenant list, behind the PEP.
	if body := string(c.Must(200, "GET", "/auth/admin/tenants", nil)); body != `{"tenants":["admin"]}`+"\n" {
		t.Errorf("GET /auth/admin/tenants = %q", body)
	}
	in.Client().Must(401, "GET", "/auth/admin/tenants", nil)

	// Each service's Content-Type: Flask, Express, Falcon.
	for _, tt := range []struct{ method, path, want string }{
		{"GET", "/device", "application/json"},
		{"GET", "/auth/user", "application/json"},
		{"GET", "/topic/device-data", "application/json; charset=utf-8"},
		{"POST", "/basic-auth/v1/devices/b374a5/basic-credentials", "application/json; charset=utf-8"},
		{"GET", "/history/device/b374a5/history?lastN=1&attr=speed", "application/json; charset=UTF-8"},
	} {
		req, err := http.NewRequest(tt.method, in.URL+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+c.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("Content-Type"); got != tt.want {
			t.Errorf("%s %s: %d %s, Content-Type %q; want %q", tt.method, tt.path, resp.StatusCode, trunc(b), got, tt.want)
		}
	}
}
