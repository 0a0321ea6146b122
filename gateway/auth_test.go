package gateway

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// call makes a request to s and returns the status and the body.
func call(t *testing.T, s *Server, method, path, token, body string) (int, string) {
	t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	if token != "" {
		r.Header.Set("Authorization", token)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w.Code, strings.TrimSpace(w.Body.String())
}

// expect checks a call's status and, when want is not "", its exact body.
func expect(t *testing.T, s *Server, method, path, token, body string, code int, want string) string {
	t.Helper()
	got, b := call(t, s, method, path, token, body)
	if got != code || (want != "" && b != want) {
		t.Fatalf("%s %s = %d %s; want %d %s", method, path, got, b, code, want)
	}
	return b
}

func login(t *testing.T, s *Server, user, passwd string) string {
	t.Helper()
	b := expect(t, s, "POST", "/auth", "", `{"username":"`+user+`","passwd":"`+passwd+`"}`, 200, "")
	var out struct{ JWT string }
	if err := json.Unmarshal([]byte(b), &out); err != nil || out.JWT == "" {
		t.Fatalf("login body %s: %v", b, err)
	}
	return "Bearer " + out.JWT
}

func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(token, "Bearer "), ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestLogin(t *testing.T) {
	s, _, _ := authServer(t)
	c := claimsOf(t, login(t, s, "admin", "admin"))
	if c["service"] != "admin" || c["username"] != "admin" || c["profile"] != "admin" || c["userid"] != 1.0 ||
		!reflect.DeepEqual(c["groups"], []any{1.0}) || c["exp"].(float64)-c["iat"].(float64) != 420 ||
		!hex32.MatchString(c["jti"].(string)) || !hex32.MatchString(c["iss"].(string)) {
		t.Errorf("claims = %v", c)
	}
	tests := map[string]struct {
		body, ctype string
		code        int
		want        string
	}{
		"wrong password": {`{"username":"admin","passwd":"x"}`, "application/json", 403, `{"message":"AuthorizationError","status":403}`},
		"unknown user":   {`{"username":"zed","passwd":"x"}`, "application/json", 401, `{"message":"AuthenticationError","status":401}`},
		"not json":       {`{"username":"admin","passwd":"admin"}`, "text/plain", 400, `{"message":"invalid mimetype","status":400}`},
		"no username":    {`{"passwd":"admin"}`, "application/json", 400, `{"message":"missing username","status":400}`},
		"no password":    {`{"username":"admin"}`, "application/json; charset=utf-8", 400, `{"message":"missing password","status":400}`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/auth", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.ctype)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if got := strings.TrimSpace(w.Body.String()); w.Code != tt.code || got != tt.want {
				t.Errorf("POST /auth %s = %d %s; want %d %s", tt.body, w.Code, got, tt.code, tt.want)
			}
		})
	}
}

func TestPEP(t *testing.T) {
	s, _, now := authServer(t)
	admin := login(t, s, "admin", "admin")
	expect(t, s, "GET", "/auth/user", "", "", 401, `{"message":"No authorization token has been supplied","status":401}`)
	expect(t, s, "GET", "/auth/user", "Bearer nonsense", "", 401, `{"message":"Invalid authentication token given","status":401}`)
	expect(t, s, "GET", "/auth/user", admin, "", 200, "")
	expect(t, s, "GET", "/auth/user", strings.TrimPrefix(admin, "Bearer "), "", 200, "") // a bare token, as device-manager accepts
	expect(t, s, "GET", "/topic/device-data", admin, "", 200, `{"topic":"admin.device-data"}`)
	expect(t, s, "POST", "/auth/revoke", admin, "", 403, `{"message":"Forbidden"}`)

	*now = now.Add(421 * time.Second)
	expect(t, s, "GET", "/auth/user", admin, "", 401, `{"message":"Invalid authentication token given","status":401}`)
}

func TestUsersAndTenants(t *testing.T) {
	s, log, _ := authServer(t)
	admin := login(t, s, "admin", "admin")

	b := expect(t, s, "POST", "/auth/user", admin, `{"username":"bob","service":"acme","email":"bob@x.com","name":"Bob","profile":"user","passwd":"ignored"}`, 200, "")
	var created []json.RawMessage
	if err := json.Unmarshal([]byte(b), &created); err != nil || len(created) != 2 || string(created[1]) != "200" {
		t.Fatalf("POST /auth/user = %s, want a 2-item array ending in 200", b)
	}
	var res struct {
		User    map[string]string `json:"user"`
		Groups  []string          `json:"groups"`
		Failed  []string          `json:"could not add"`
		Message string            `json:"message"`
	}
	if err := json.Unmarshal(created[0], &res); err != nil || res.User["id"] != "2" || res.User["created_by"] != "1" ||
		res.User["service"] != "acme" || !slices.Equal(res.Groups, []string{"user"}) || len(res.Failed) != 0 || res.Message != "user created" {
		t.Fatalf("created user = %s (%v)", created[0], err)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$`).MatchString(res.User["created_date"]) {
		t.Errorf("created_date = %q, want Python's str(datetime)", res.User["created_date"])
	}
	expect(t, s, "POST", "/auth/user", admin, `{"username":"bob","service":"acme","email":"b2@x.com","name":"B","profile":"user"}`,
		400, `{"message":"Username bob is in use.","status":400}`)
	if types := eventTypes(log.Events()); !slices.Contains(types, "tenant.created acme") {
		t.Errorf("no tenant.created for acme in %v", types)
	}
	expect(t, s, "GET", "/admin/tenants", admin, "", 200, `{"tenants":["acme","admin"]}`)
	// Kong's path of the same route: with a token (dojot's needed none).
	expect(t, s, "GET", "/auth/admin/tenants", admin, "", 200, `{"tenants":["acme","admin"]}`)
	expect(t, s, "GET", "/auth/admin/tenants", "", "", 401, "")

	b = expect(t, s, "GET", "/auth/user?username=bo", admin, "", 200, "")
	var list struct{ Users []map[string]string }
	if err := json.Unmarshal([]byte(b), &list); err != nil || len(list.Users) != 1 || list.Users[0]["username"] != "bob" || list.Users[0]["id"] != "2" {
		t.Errorf("GET /auth/user?username=bo = %s", b)
	}
	expect(t, s, "GET", "/auth/user?username=zz", admin, "", 404, `{"message":"No results found with these filters","status":404}`)
	expect(t, s, "GET", "/auth/user/bob", admin, "", 200, "")
	expect(t, s, "GET", "/auth/user/2", admin, "", 200, "")
	expect(t, s, "GET", "/auth/user/zed", admin, "", 404, `{"message":"Unknown user id","status":404}`)

	// A member of group user may not manage users, until given ro_user.
	bob := login(t, s, "bob", "temppwd")
	expect(t, s, "GET", "/auth/user", bob, "", 403, `{"message":"Access denied","status":403}`)
	expect(t, s, "GET", "/auth/admin/tenants", bob, "", 403, `{"message":"Access denied","status":403}`)
	expect(t, s, "GET", "/auth/pap/group", bob, "", 403, "")
	expect(t, s, "POST", "/auth/pap/userpermissions/bob/ro_user", admin, "", 200, `{"message":"ok","status":200}`)
	expect(t, s, "GET", "/auth/user", bob, "", 200, "")
	expect(t, s, "DELETE", "/auth/user/admin", bob, "", 403, "") // ro_user is GET only
	expect(t, s, "POST", "/auth/password/update", bob, `{"oldpasswd":"temppwd","newpasswd":"Tr0ub4dor&3"}`, 200, `{"message":"ok","status":200}`)
	expect(t, s, "POST", "/auth/password/update", bob, `{"newpasswd":"Tr0ub4dor&3"}`, 400, `{"message":"Missing user's oldpasswd","status":400}`)
	expect(t, s, "POST", "/auth/password/update", "", `{"oldpasswd":"a","newpasswd":"b"}`, 401, "")
	login(t, s, "bob", "Tr0ub4dor&3")

	expect(t, s, "PUT", "/auth/user/bob", admin, `{"service":"acme","email":"bob@y.com","name":"Robert"}`, 200, `{"message":"ok","status":200}`)
	expect(t, s, "PUT", "/auth/user/admin", admin, `{"service":"acme","email":"admin@noemail.com","name":"A"}`,
		405, `{"message":"Can't edit service of admin","status":405}`)
	expect(t, s, "DELETE", "/auth/user/admin", admin, "", 400, `{"message":"a user can't remove himself","status":400}`)
	expect(t, s, "DELETE", "/auth/user/bob", admin, "", 200, `{"message":"User removed","status":200}`)
	if types := eventTypes(log.Events()); types[len(types)-1] != "tenant.deleted acme" {
		t.Errorf("last event %q, want tenant.deleted acme", types[len(types)-1])
	}
	expect(t, s, "GET", "/admin/tenants", admin, "", 200, `{"tenants":["admin"]}`)
	// bob's token is still signed and unexpired, but bob is gone: it is
	// refused as a bad token, behind the PEP and on the routes that only
	// authenticate.
	expect(t, s, "GET", "/auth/user", bob, "", 401, `{"message":"Invalid authentication token given","status":401}`)
	expect(t, s, "POST", "/auth/password/update", bob, `{"oldpasswd":"Tr0ub4dor&3","newpasswd":"x"}`, 401, `{"message":"Invalid authentication token given","status":401}`)
	expect(t, s, "GET", "/topic/device-data", bob, "", 401, `{"message":"Invalid authentication token given","status":401}`)
}

func TestPap(t *testing.T) {
	s, _, _ := authServer(t)
	admin := login(t, s, "admin", "admin")

	expect(t, s, "POST", "/auth/pap/group", admin, `{"name":"ops","description":"operators"}`, 200, `{"id":3,"status":200}`)
	expect(t, s, "POST", "/auth/pap/group", admin, `{"name":"ops"}`, 400, `{"message":"Group name ops is in use.","status":400}`)
	b := expect(t, s, "GET", "/auth/pap/group/ops", admin, "", 200, "")
	var g map[string]any
	if err := json.Unmarshal([]byte(b), &g); err != nil || g["id"] != 3.0 || g["description"] != "operators" || g["created_by"] != 1.0 ||
		!strings.Contains(g["created_date"].(string), "T") {
		t.Errorf("GET /auth/pap/group/ops = %s", b)
	}
	b = expect(t, s, "GET", "/auth/pap/group?name=o", admin, "", 200, "")
	if !strings.HasPrefix(b, `{"groups":[{"id":3,"name":"ops"`) {
		t.Errorf("GET /auth/pap/group?name=o = %s", b)
	}
	expect(t, s, "PUT", "/auth/pap/group/admin", admin, `{"name":"root"}`, 405, `{"message":"Can't edit admin group","status":405}`)

	expect(t, s, "POST", "/auth/pap/permission", admin, `{"name":"nodel","path":"/device/(.*)","method":"DELETE","permission":"deny"}`, 200, `{"id":23,"status":200}`)
	b = expect(t, s, "GET", "/auth/pap/permission?type=api", admin, "", 200, "")
	if !strings.HasPrefix(b, `{"permissions":[{"id":23,"path":"/device/(.*)","name":"nodel","method":"DELETE","permission":"deny","type":"api","created_date":"`) {
		t.Errorf("GET /auth/pap/permission?type=api = %s", b)
	}
	expect(t, s, "GET", "/auth/pap/permission?permission=maybe", admin, "", 400, `{"message":"Invalid filter. Permission can't be maybe","status":400}`)
	expect(t, s, "GET", "/auth/pap/permission/1", admin, "", 200, "")
	expect(t, s, "DELETE", "/auth/pap/permission/all_all", admin, "", 405, `{"message":"Can't delete a system permission","status":405}`)

	expect(t, s, "POST", "/auth/pap/grouppermissions/ops/nodel", admin, "", 200, `{"message":"ok","status":200}`)
	expect(t, s, "POST", "/auth/pap/grouppermissions/ops/all_device", admin, "", 200, "")
	expect(t, s, "POST", "/auth/pap/grouppermissions/ops/nodel", admin, "", 409, `{"message":"Group already have this permission","status":409}`)
	expect(t, s, "POST", "/auth/pap/usergroup/admin/ops", admin, "", 200, "")
	expect(t, s, "DELETE", "/auth/pap/usergroup/admin/nogroup", admin, "", 404, `{"message":"No group found with this ID or name","status":404}`)
	b = expect(t, s, "GET", "/auth/pap/group/ops/permissions", admin, "", 200, "")
	if !strings.Contains(b, `"name":"nodel"`) || !strings.Contains(b, `"name":"all_device"`) {
		t.Errorf("group permissions = %s", b)
	}
	b = expect(t, s, "GET", "/auth/pap/group/ops/users", admin, "", 200, "")
	if !strings.Contains(b, `"username":"admin"`) {
		t.Errorf("group users = %s", b)
	}
	b = expect(t, s, "GET", "/auth/pap/user/admin/groups", admin, "", 200, "")
	if !strings.HasPrefix(b, `{"groups":[{"id":1,"name":"admin","description":"Group with the highest access privilege"`) {
		t.Errorf("user groups = %s", b)
	}
	expect(t, s, "GET", "/auth/pap/user/admin/directpermissions", admin, "", 200, `{"permissions":[]}`)

	// admin is now in a group that denies DELETE on devices: a deny wins.
	permitted := func(method, path string) bool {
		t.Helper()
		ok, err := s.permitted(t.Context(), 1, method, path)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if permitted("DELETE", "/device/abc/") || !permitted("GET", "/device/abc/") {
		t.Error("admin in ops: want DELETE /device denied, GET permitted")
	}
	expect(t, s, "DELETE", "/auth/pap/group/ops", admin, "", 200, `{"message":"ok","status":200}`)
	if !permitted("DELETE", "/device/abc/") {
		t.Error("group ops deleted: DELETE /device still denied")
	}
}
