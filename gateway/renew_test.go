package gateway

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// renew calls POST /auth/renew with token and answers the new token
// ("Bearer ..."), failing unless the answer is 200 {"jwt"}.
func renew(t *testing.T, s *Server, token string) string {
	t.Helper()
	b := expect(t, s, "POST", "/auth/renew", token, "", 200, "")
	var out map[string]string
	if err := json.Unmarshal([]byte(b), &out); err != nil || len(out) != 1 || out["jwt"] == "" {
		t.Fatalf("POST /auth/renew = %s, want {\"jwt\"}", b)
	}
	return "Bearer " + out["jwt"]
}

// TestRenew: a valid token of an existing user is exchanged for a new one
// that lives TokenTTL from now and is issued from the user's record as it
// is now (groups, tenant changed since the login show in it); an expired,
// forged or absent token, or one of a deleted user, gets 401 and no token.
func TestRenew(t *testing.T) {
	s, _, now := authServer(t)
	admin := login(t, s, "admin", "admin")
	expect(t, s, "POST", "/auth/user", admin, `{"username":"rita","service":"acme","email":"rita@x.com","name":"Rita","profile":"user"}`, 200, "")
	rita := login(t, s, "rita", "temppwd")
	before := claimsOf(t, rita)

	*now = now.Add(300 * time.Second)
	renewed := renew(t, s, rita)
	if renewed == rita {
		t.Fatal("the renewed token is the old one")
	}
	c := claimsOf(t, renewed)
	if c["exp"] != float64(now.Truncate(time.Second).Unix()+420) || c["iat"] != float64(now.Truncate(time.Second).Unix()) {
		t.Errorf("renewed iat %v exp %v; want now %d + 420", c["iat"], c["exp"], now.Unix())
	}
	if c["jti"] == before["jti"] {
		t.Errorf("renewed jti %v = the old one", c["jti"])
	}
	for _, k := range []string{"userid", "username", "service", "profile", "groups", "iss"} {
		if !reflect.DeepEqual(c[k], before[k]) {
			t.Errorf("renewed %s = %v; was %v", k, c[k], before[k])
		}
	}
	expect(t, s, "GET", "/topic/device-data", renewed, "", 200, `{"topic":"acme.device-data"}`)

	// The old token is past its 420 s; the renewed one still works.
	*now = now.Add(200 * time.Second)
	expect(t, s, "POST", "/auth/renew", rita, "", 401, `{"message":"Invalid authentication token given","status":401}`)
	renewed = renew(t, s, renewed)

	// Rights changed since: the renewal reads them from the user, not the
	// token. Rita joins group admin (id 1) and moves to tenant umbrella.
	admin = login(t, s, "admin", "admin")
	expect(t, s, "POST", "/auth/pap/usergroup/rita/admin", admin, "", 200, "")
	expect(t, s, "PUT", "/auth/user/rita", admin, `{"service":"umbrella","email":"rita@x.com","name":"Rita"}`, 200, "")
	if c := claimsOf(t, renewed); c["service"] != "acme" || !reflect.DeepEqual(c["groups"], before["groups"]) {
		t.Fatalf("the token before the change has %v %v", c["service"], c["groups"])
	}
	changed := claimsOf(t, renew(t, s, renewed))
	if changed["service"] != "umbrella" || !reflect.DeepEqual(changed["groups"], []any{1.0, before["groups"].([]any)[0]}) {
		t.Errorf("after the change: service %v groups %v; want umbrella [1 %v]", changed["service"], changed["groups"], before["groups"])
	}
	// ... and the other way: a group taken away is not kept by renewing.
	expect(t, s, "DELETE", "/auth/pap/usergroup/rita/admin", admin, "", 200, "")
	if g := claimsOf(t, renew(t, s, renewed))["groups"]; !reflect.DeepEqual(g, before["groups"]) {
		t.Errorf("after leaving admin: groups %v; want %v", g, before["groups"])
	}

	// Forged: signed with another key, or no signature at all.
	forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iat": now.Unix(), "exp": now.Unix() + 420, "userid": 1, "service": "admin", "username": "admin", "profile": "admin", "groups": []int{1},
	}).SignedString([]byte("not the gateway's secret, 32 b!!"))
	if err != nil {
		t.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"iat": now.Unix(), "exp": now.Unix() + 420, "userid": 1, "service": "admin", "username": "admin",
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"Bearer " + forged, "Bearer " + none, "Bearer x.y.z"} {
		expect(t, s, "POST", "/auth/renew", tok, "", 401, `{"message":"Invalid authentication token given","status":401}`)
	}
	expect(t, s, "POST", "/auth/renew", "", "", 401, `{"message":"No authorization token has been supplied","status":401}`)
	expect(t, s, "GET", "/auth/renew", renewed, "", 405, "")

	// A deleted user's token, still signed and unexpired, is not renewed.
	expect(t, s, "DELETE", "/auth/user/rita", admin, "", 200, "")
	expect(t, s, "POST", "/auth/renew", renewed, "", 401, `{"message":"Invalid authentication token given","status":401}`)
	// Neither is it once a user of the same name exists again: the token's
	// user id is gone for good.
	expect(t, s, "POST", "/auth/user", admin, `{"username":"rita","service":"acme","email":"rita@x.com","name":"Rita","profile":"user"}`, 200, "")
	expect(t, s, "POST", "/auth/renew", renewed, "", 401, `{"message":"Invalid authentication token given","status":401}`)
}

// TestRenewNotALogin: renewals are not login attempts, so a console renewing
// its token does not spend the user's or the address's login allowance, and
// a client over the login limit still renews the token it has.
func TestRenewNotALogin(t *testing.T) {
	s, _, now := authServer(t)
	*now = time.Date(2026, 1, 1, 10, 0, 10, 0, time.UTC)
	s.opts.LoginLimitUser = []RateLimit{{Max: 2, Per: time.Minute}}
	s.opts.LoginLimitAddr = []RateLimit{{Max: 2, Per: time.Minute}}
	const addr = "192.0.2.1:1234" // httptest's, so renew's calls come from it too
	code, body, _ := attempt(s, addr, "admin", "admin")
	if code != 200 {
		t.Fatalf("1st login = %d %s", code, body)
	}
	var out struct{ JWT string }
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	tok := "Bearer " + out.JWT
	for range 5 {
		tok = renew(t, s, tok)
	}
	if code, body, _ := attempt(s, addr, "admin", "admin"); code != 200 {
		t.Fatalf("2nd login after 5 renewals = %d %s; renewals counted as logins", code, body)
	}
	if code, _, _ := attempt(s, addr, "admin", "admin"); code != 429 {
		t.Fatalf("3rd login = %d, want 429", code)
	}
	renew(t, s, tok)
}

// TestRenewSessionMax: renewals keep the login's time (auth_time), and a
// session older than SessionMax is refused, however recently renewed; a
// token from before auth_time counts from its issue.
func TestRenewSessionMax(t *testing.T) {
	s, _, now := authServer(t)
	s.opts.SessionMax = time.Hour
	tok := login(t, s, "admin", "admin")
	loggedIn := float64(now.Truncate(time.Second).Unix())
	if c := claimsOf(t, tok); c["auth_time"] != loggedIn {
		t.Fatalf("login auth_time %v; want %v", c["auth_time"], loggedIn)
	}
	// Renewed every 5 minutes: each token is fresh, the session is not.
	for range 11 {
		*now = now.Add(5 * time.Minute)
		tok = renew(t, s, tok)
		if c := claimsOf(t, tok); c["auth_time"] != loggedIn {
			t.Fatalf("renewed auth_time %v; want the login's %v", c["auth_time"], loggedIn)
		}
	}
	*now = now.Add(5 * time.Minute) // the login was an hour ago
	expect(t, s, "POST", "/auth/renew", tok, "", 401, `{"message":"Session too old to renew: log in again","status":401}`)
	// The token itself still works until its exp; a new login starts over.
	expect(t, s, "GET", "/topic/device-data", tok, "", 200, "")
	renew(t, s, login(t, s, "admin", "admin"))

	// A token issued before auth_time existed: its iat is its login.
	old, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Unix() + 60, "userid": 1, "service": "admin", "username": "admin", "profile": "admin", "groups": []int{1},
	}).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, s, "POST", "/auth/renew", "Bearer "+old, "", 401, `{"message":"Session too old to renew: log in again","status":401}`)
}
