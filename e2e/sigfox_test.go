package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestSigfoxAgent: a Sigfox backend's callback (curl, with the body dojot's
// agent reads) reaches the History API of the device whose static "device"
// is the Sigfox id; a wrong secret and an unknown id are refused.
func TestSigfoxAgent(t *testing.T) {
	dojottest.NeedCommand(t, "curl", "--version")
	in := start(t, "", "-sigfox-secret=s3cret")
	c := in.Login("admin", adminPassword)
	var tp struct{ Template dojottest.Template }
	mustJSON(t, c.Must(200, "POST", "/template", map[string]any{"label": "sigfox", "attrs": []map[string]any{
		{"label": "device", "type": "static", "value_type": "string", "static_value": "4D5E"},
		{"label": "data", "type": "dynamic", "value_type": "string"},
		{"label": "station_coordinates", "type": "dynamic", "value_type": "geo:point"},
	}}), &tp)
	id := dojottest.CreateDevice(c, "sfx", tp.Template.ID)
	curl := func(secret, body string) string {
		t.Helper()
		out, err := exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", in.URL+"/sigfox",
			"-H", "Content-Type: application/json", "-H", "Authorization: Bearer "+secret, "-d", body).Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		return string(out)
	}
	const body = `{"device":"4D5E","timestamp":1528226137,"data":"0a1b2c","station_lat":-22.8,"station_lng":-47.06}`
	if code := curl("s3cret", body); code != "200" {
		t.Fatalf("callback = %s", code)
	}
	docs := dojottest.WaitHistory(t, c, id, "station_coordinates", 1)
	if docs[0].Value != "-22.8,-47.06" || !strings.HasPrefix(docs[0].TS, "2018-06-05T19:15:37") {
		t.Errorf("history = %+v", docs)
	}
	if code := curl("wrong", body); code != "401" {
		t.Errorf("wrong secret = %s", code)
	}
	if code := curl("s3cret", `{"device":"0000"}`); code != "404" {
		t.Errorf("unknown id = %s", code)
	}
	_, raw := in.Client().Do("GET", "/healthz", nil)
	var h struct {
		Sigfox struct {
			Stored  uint64
			Refused map[string]uint64
		}
	}
	mustJSON(t, raw, &h)
	if h.Sigfox.Stored != 1 || h.Sigfox.Refused["auth"] != 1 || h.Sigfox.Refused["unknown_device"] != 1 {
		t.Errorf("healthz sigfox = %+v", h.Sigfox)
	}
}
