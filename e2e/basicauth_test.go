package e2e

import (
	"encoding/base64"
	"testing"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestBasicCredentials: a device's basic credentials are issued over HTTP
// in dojot's shape, checked on the internal listener as dojot's HTTP agent
// checks them, survive a restart (they are events), and go with the device.
func TestBasicCredentials(t *testing.T) { dojottest.EachView(t, testBasicCredentials) }

func testBasicCredentials(t *testing.T, flags []string) {
	internalAddr := dojottest.FreeAddr(t)
	in := start(t, "", append(flags, "-internal-addr="+internalAddr)...)
	c := in.Login("admin", adminPassword)
	id := dojottest.CreateDevice(c, "meter", dojottest.CreateTemplate(c, "Meter"))

	var r struct {
		Credentials struct {
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"credentials"`
		BasicAuth string `json:"basicAuth"`
	}
	mustJSON(t, c.Must(200, "POST", "/basic-auth/v1/devices/"+id+"/basic-credentials", nil), &r)
	user, pw := r.Credentials.Username, r.Credentials.Password
	if user != "admin@"+id || len(pw) != 15 || r.BasicAuth != "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pw)) {
		t.Fatalf("credentials = %+v", r)
	}
	if code, body := c.Do("POST", "/basic-auth/v1/devices/nope/basic-credentials", nil); code != 400 || string(body) != `{"error":"Device is not valid."}`+"\n" {
		t.Errorf("unknown device = %d %s; want 400 Device is not valid.", code, body)
	}
	if code, _ := in.Client().Do("POST", "/basic-auth/v1/devices/"+id+"/basic-credentials", nil); code != 401 {
		t.Errorf("without a token = %d; want 401", code)
	}

	check := func(in *dojottest.Instance, password string, want int) {
		t.Helper()
		ic := in.Client()
		ic.Base = "http://" + internalAddr
		if code, body := ic.Do("POST", "/basic-auth/v1/internal/authentication", map[string]string{"username": user, "password": password}); code != want {
			t.Errorf("internal authentication with %q = %d %s; want %d", password, code, body, want)
		}
	}
	check(in, pw, 200)
	check(in, pw+"x", 401)

	in.Stop()
	in.Restart()
	check(in, pw, 200)
	check(in, "wrong", 401)

	c = in.Login("admin", adminPassword)
	c.Must(200, "DELETE", "/device/"+id, nil)
	check(in, pw, 401)
}
