package gateway

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// credentials asks for a device's credentials and checks the answer's
// shape: exactly dojot's keys, username <tenant>@<id>, a 15-character
// password, basicAuth its Basic header.
func credentials(t *testing.T, s *Server, token, tenant, id string) (user, pw string) {
	t.Helper()
	b := expect(t, s, "POST", "/basic-auth/v1/devices/"+id+"/basic-credentials", token, "", 200, "")
	var body struct {
		Credentials struct{ Username, Password string }
		BasicAuth   string
	}
	if err := json.Unmarshal([]byte(b), &body); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal([]byte(b), &keys)
	var creds map[string]any
	_ = json.Unmarshal(keys["credentials"], &creds)
	if len(keys) != 2 || keys["basicAuth"] == nil || len(creds) != 2 || !strings.HasPrefix(b, `{"credentials":{"username":`) {
		t.Errorf("body %s; want {credentials:{username,password},basicAuth}", b)
	}
	c := body.Credentials
	if c.Username != tenant+"@"+id || len(c.Password) != 15 {
		t.Errorf("credentials %+v; want username %s@%s and a 15-character password", c, tenant, id)
	}
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password)); body.BasicAuth != want {
		t.Errorf("basicAuth %q; want %q", body.BasicAuth, want)
	}
	return c.Username, c.Password
}

func TestBasicCredentials(t *testing.T) {
	pub, in := platform(t, nil)
	admin := login(t, pub, "admin", "admin")
	// An admin of tenant acme, and alice (acme, profile user).
	expect(t, pub, "POST", "/auth/user", admin, `{"username":"ace","service":"acme","email":"ace@acme.org","name":"Ace","profile":"admin"}`, 200, "")
	ace := login(t, pub, "ace", "temppwd")
	alice := login(t, pub, "alice", "temppwd")

	user, pw := credentials(t, pub, admin, "admin", "aa")
	auth := func(body string, code int, want string) {
		t.Helper()
		expect(t, in, "POST", "/basic-auth/v1/internal/authentication", "", body, code, want)
	}
	valid, invalid := `{"message":"The credential is valid."}`, `{"message":"The credential is invalid."}`
	cred := func(u, p string) string {
		b, _ := json.Marshal(map[string]string{"username": u, "password": p})
		return string(b)
	}
	auth(cred(user, pw), 200, valid)
	auth(cred(user, pw+"x"), 401, invalid)
	auth(cred("acme@aa", pw), 401, invalid) // another tenant's device of that id
	auth(cred("admin@bb", pw), 401, invalid)
	auth(cred("adminaa", pw), 401, invalid)
	auth(`{"username":1,"password":"x"}`, 401, invalid)
	auth(`not json`, 401, invalid)

	// A new call replaces the password.
	_, pw2 := credentials(t, pub, admin, "admin", "aa")
	auth(cred(user, pw), 401, invalid)
	auth(cred(user, pw2), 200, valid)

	// Tenant isolation: the tenant is the token's; another tenant's device
	// is dojot's 400, and its credentials are untouched.
	notValid := `{"error":"Device is not valid."}`
	expect(t, pub, "POST", "/basic-auth/v1/devices/bb/basic-credentials", admin, "", 400, notValid)
	expect(t, pub, "POST", "/basic-auth/v1/devices/aa/basic-credentials", ace, "", 400, notValid)
	expect(t, pub, "POST", "/basic-auth/v1/devices/nope/basic-credentials", admin, "", 400, notValid)
	auth(cred(user, pw2), 200, valid)
	bbUser, bbPw := credentials(t, pub, ace, "acme", "bb")
	auth(cred(bbUser, bbPw), 200, valid)

	// The PEP: no token 401, a user without a permission for the path 403.
	expect(t, pub, "POST", "/basic-auth/v1/devices/aa/basic-credentials", "", "", 401, "")
	expect(t, pub, "POST", "/basic-auth/v1/devices/bb/basic-credentials", alice, "", 403, "")
	// Each route on its own port.
	expect(t, pub, "POST", "/basic-auth/v1/internal/authentication", "", cred(user, pw2), 404, "")
	expect(t, in, "POST", "/basic-auth/v1/devices/aa/basic-credentials", serviceToken("admin"), "", 404, "")

	// Deleting the device drops its credentials.
	expect(t, pub, "DELETE", "/device/aa", admin, "", 200, "")
	auth(cred(user, pw2), 401, invalid)
}
