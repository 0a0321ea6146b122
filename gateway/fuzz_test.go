package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/pki"
	"github.com/dojot-es/dojot/pki/pkitest"
	"github.com/dojot-es/dojot/projections/history"
	"github.com/dojot-es/dojot/projections/memory"
)

// The route fuzz targets drive the router in process, one fresh platform
// per input so that a failure replays from its input alone. Every answer
// must be below 500 (a refused body is the client's error, never ours) and
// a JSON answer must parse; each target adds the round trip its resource
// allows (what a GET shows, PUT back, reads the same).

// fuzzRouter serves mount's routes as tenant t1, the identity the PEP puts
// in the context.
func fuzzRouter(mount func(chi.Router)) http.Handler {
	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(dojot.WithIdentity(r.Context(), dojot.Identity{Tenant: "t1", Username: "u"})))
		})
	})
	mount(r)
	return r
}

// fuzzCall runs one request on h; query is taken as the raw query string
// whatever it holds, as net/http would pass it on.
func fuzzCall(t testing.TB, h http.Handler, method, path, query string, body []byte, hdr ...string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, "/", bytes.NewReader(body))
	req.URL.Path, req.URL.RawQuery = path, query
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code >= 500 {
		t.Fatalf("%s %s?%s %q = %d %s", method, path, query, body, w.Code, w.Body)
	}
	if mt, _, _ := mime.ParseMediaType(w.Header().Get("Content-Type")); mt == "application/json" && w.Code != http.StatusNoContent && !json.Valid(w.Body.Bytes()) {
		t.Fatalf("%s %s?%s %q = %d, not JSON: %q", method, path, query, body, w.Code, w.Body)
	}
	return w.Code, w.Body.Bytes()
}

// mustCall is fuzzCall expecting want.
func mustCall(t testing.TB, h http.Handler, want int, method, path string, body []byte, hdr ...string) []byte {
	t.Helper()
	code, b := fuzzCall(t, h, method, path, "", body, hdr...)
	if code != want {
		t.Fatalf("%s %s %s = %d %s; want %d", method, path, body, code, b, want)
	}
	return b
}

// withoutKeys is the JSON v with the given keys removed at every depth: the
// fields a write sets by itself (timestamps).
func withoutKeys(t *testing.T, b []byte, keys ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	var strip func(any)
	strip = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range keys {
				delete(x, k)
			}
			for _, e := range x {
				strip(e)
			}
		case []any:
			for _, e := range x {
				strip(e)
			}
		}
	}
	strip(v)
	return v
}

// roundTrip GETs path, PUTs the answer back, and checks that a second GET
// reads the same but for the keys a write sets.
func roundTrip(t *testing.T, h http.Handler, path string, keys ...string) {
	t.Helper()
	before := mustCall(t, h, 200, "GET", path, nil)
	mustCall(t, h, 200, "PUT", path, before)
	after := mustCall(t, h, 200, "GET", path, nil)
	if b, a := withoutKeys(t, before, keys...), withoutKeys(t, after, keys...); !jsonEqual(a, b) {
		t.Fatalf("PUT %s of its own GET changed it:\n%s\n%s", path, before, after)
	}
}

// deviceRoundTrip is roundTrip for a device, whose GET shows its attrs
// by template and whose PUT takes them as a list.
func deviceRoundTrip(t *testing.T, h http.Handler, path string) {
	t.Helper()
	before := mustCall(t, h, 200, "GET", path, nil)
	var dev map[string]any
	if err := json.Unmarshal(before, &dev); err != nil {
		t.Fatal(err)
	}
	// Every attr given is an override (as in DeviceManager): give back the
	// overridden ones only.
	attrs := []any{}
	if byTemplate, ok := dev["attrs"].(map[string]any); ok {
		for _, tid := range slices.Sorted(maps.Keys(byTemplate)) {
			list, _ := byTemplate[tid].([]any)
			for _, a := range list {
				a, _ := a.(map[string]any)
				ov := map[string]any{"id": a["id"], "label": a["label"], "template_id": a["template_id"]}
				if a["is_static_overridden"] == true {
					ov["static_value"] = a["static_value"]
				}
				var metas []any
				md, _ := a["metadata"].([]any)
				for _, m := range md {
					if m, _ := m.(map[string]any); m["is_static_overridden"] == true {
						metas = append(metas, map[string]any{"id": m["id"], "static_value": m["static_value"]})
					}
				}
				if len(metas) > 0 {
					ov["metadata"] = metas
				}
				if len(ov) > 3 {
					attrs = append(attrs, ov)
				}
			}
		}
	}
	dev["attrs"] = attrs
	put, _ := json.Marshal(dev)
	mustCall(t, h, 200, "PUT", path, put)
	after := mustCall(t, h, 200, "GET", path, nil)
	if b, a := withoutKeys(t, before, "updated"), withoutKeys(t, after, "updated"); !jsonEqual(a, b) {
		t.Fatalf("PUT %s %s changed it:\n%s\n%s", path, put, before, after)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// The DeviceManager routes that read a body or a query, by the fuzzer's op.
var dmFuzzRoutes = []struct{ method, path string }{
	{"POST", "/template"},
	{"PUT", "/template/1"},
	{"POST", "/device"},
	{"PUT", "/device/f00d01"},
	{"POST", "/import"},
	{"PUT", "/device/f00d01/actuate"},
	{"GET", "/device"},
	{"GET", "/template"},
	{"PUT", "/device/f00d01/attrs/psk/psk"},
	{"POST", "/device/gen_psk/f00d01"},
}

// FuzzDeviceManager: template, device, import and actuation bodies and the
// listing queries. A template or device accepted reads back, and PUT with
// what GET showed is accepted and changes nothing.
func FuzzDeviceManager(f *testing.F) {
	for i, rt := range dmFuzzRoutes {
		switch rt.path {
		case "/template", "/template/1":
			if rt.method != "GET" {
				f.Add(uint8(i), "", []byte(sensorTemplate))
				f.Add(uint8(i), "", []byte(`{"label":"B","attrs":[{"label":"x","type":"dynamic","value_type":"integer","metadata":[{"label":"u","type":"meta","value_type":"string","static_value":"C"}]}]}`))
			}
		case "/device", "/device/f00d01":
			f.Add(uint8(i), "verbose=true", []byte(`{"label":"pump","templates":[1],"id":"a1998e","attrs":[{"id":3,"label":"model-id","template_id":"1","static_value":"mine","metadata":[{"id":4,"static_value":"C"}]}]}`))
			f.Add(uint8(i), "count=3", []byte(`{"label":"pump","templates":[1]}`))
			f.Add(uint8(i), "attr=model-id=model-001&page_size=2&sortBy=label&label=pu", []byte(nil))
		case "/import":
			f.Add(uint8(i), "", []byte(`{"templates":[{"id":7,"label":"T","attrs":[{"id":9,"label":"t","type":"dynamic","value_type":"float","template_id":"7","created":"2018-01-25T12:30:42.164695+00:00"}]}],"devices":[{"id":"abc","label":"d","templates":[7],"attrs":[]}]}`))
		case "/device/f00d01/actuate":
			f.Add(uint8(i), "", []byte(`{"attrs":{"target":23.5}}`))
			f.Add(uint8(i), "", []byte(`{"attrs":{"zeta":1,"temperature":2,"target":3}}`))
		default:
			f.Add(uint8(i), "key_length=16", []byte(`{"from_dev_id":"f00d01"}`))
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, query string, body []byte) {
		rt := dmFuzzRoutes[int(op)%len(dmFuzzRoutes)]
		if q, _ := url.ParseQuery(query); q.Has("count") {
			if n, _ := strconv.Atoi(strings.TrimSpace(q.Get("count"))); n > 8 {
				return // up to maxCount devices: valid, only slow
			}
		}
		h := dmFuzzServer(t)
		code, b := fuzzCall(t, h, rt.method, rt.path, query, body)
		if code != 200 {
			return
		}
		switch rt.method + " " + rt.path {
		case "POST /template":
			var out struct {
				Template struct{ ID int } `json:"template"`
			}
			if err := json.Unmarshal(b, &out); err != nil || out.Template.ID == 0 {
				t.Fatalf("POST /template %s = %s", body, b)
			}
			roundTrip(t, h, "/template/"+strconv.Itoa(out.Template.ID), "updated")
		case "PUT /template/1":
			roundTrip(t, h, "/template/1", "updated")
		case "POST /device":
			var out struct {
				Devices []struct{ ID string } `json:"devices"`
			}
			if err := json.Unmarshal(b, &out); err != nil || len(out.Devices) == 0 {
				t.Fatalf("POST /device %s = %s", body, b)
			}
			for _, d := range out.Devices {
				deviceRoundTrip(t, h, "/device/"+url.PathEscape(d.ID))
			}
		case "PUT /device/f00d01":
			deviceRoundTrip(t, h, "/device/f00d01")
		}
	})
}

// dmFuzzServer is the DeviceManager with template 1 (sensorTemplate) and
// device f00d01 of it.
func dmFuzzServer(t *testing.T) http.Handler {
	t.Helper()
	view := memory.New()
	store := &commandstest.Store{View: view}
	cmds := commands.NewDevices(commands.Options{Store: store, Sync: commandstest.Syncer{}, Now: func() time.Time { return testNow }, Rand: rand.NewChaCha8([32]byte{1})}, view)
	if _, err := cmds.CreateTemplate(t.Context(), "t1", []byte(sensorTemplate)); err != nil {
		t.Fatal(err)
	}
	if _, err := cmds.CreateDevices(t.Context(), "t1", []byte(`{"label":"pump","templates":[1],"id":"f00d01"}`), 1); err != nil {
		t.Fatal(err)
	}
	s := &Server{opts: Options{DeviceCommands: cmds, DeviceView: view.Reads()}}
	return fuzzRouter(s.mountDeviceManager)
}

// The auth routes that read a body, by the fuzzer's op; alice, the group
// crew and the permission door exist on every platform.
var authFuzzRoutes = []struct{ method, path string }{
	{"POST", "/auth"},
	{"POST", "/auth/user"},
	{"PUT", "/auth/user/alice"},
	{"POST", "/auth/pap/permission"},
	{"PUT", "/auth/pap/permission/door"},
	{"POST", "/auth/pap/group"},
	{"PUT", "/auth/pap/group/crew"},
	{"POST", "/auth/password/update"},
	{"GET", "/auth/user"},
	{"GET", "/auth/pap/permission"},
}

// FuzzAuth: users, groups, permissions, login and password bodies. What
// is accepted reads back as given, PUT with what GET showed changes nothing,
// a login answers a token the PEP takes, a new password logs in.
func FuzzAuth(f *testing.F) {
	f.Add(uint8(0), "", []byte(`{"username":"admin","passwd":"admin"}`))
	f.Add(uint8(1), "", []byte(`{"username":"ace","service":"acme","email":"ace@acme.org","name":"Ace","profile":"admin"}`))
	f.Add(uint8(2), "", []byte(`{"username":"alice","service":"acme","email":"a2@acme.org","name":"Alice B"}`))
	f.Add(uint8(3), "", []byte(`{"name":"gate","path":"/device/(.*)","method":"(GET|PUT)","permission":"permit"}`))
	f.Add(uint8(4), "", []byte(`{"name":"door","path":"/template/(.*)","method":"DELETE","permission":"deny"}`))
	f.Add(uint8(5), "", []byte(`{"name":"team","description":"a team"}`))
	f.Add(uint8(6), "", []byte(`{"name":"crew","description":null}`))
	f.Add(uint8(7), "", []byte(`{"oldpasswd":"admin","newpasswd":"Vq7#mZr2!kWp"}`))
	f.Add(uint8(8), "username=al", []byte(nil))
	f.Add(uint8(9), "path=/device&method=GET&permission=permit&type=system", []byte(nil))
	base := authBase(f)
	f.Fuzz(func(t *testing.T, op uint8, query string, body []byte) {
		rt := authFuzzRoutes[int(op)%len(authFuzzRoutes)]
		s, admin := authFuzzServer(t, base), base.admin
		code, b := fuzzCall(t, s, rt.method, rt.path, query, body, "Authorization", admin)
		if code != 200 {
			return
		}
		var sent map[string]any
		_ = json.Unmarshal(body, &sent)
		switch rt.method + " " + rt.path {
		case "POST /auth":
			var out struct{ JWT string }
			if err := json.Unmarshal(b, &out); err != nil || out.JWT == "" {
				t.Fatalf("login %s = %s", body, b)
			}
			if code, _ := fuzzCall(t, s, "GET", "/auth/user/"+url.PathEscape(sent["username"].(string)), "", nil, "Authorization", "Bearer "+out.JWT); code == 401 {
				t.Fatalf("token of login %s refused", body)
			}
		case "POST /auth/user":
			got := mustCall(t, s, 200, "GET", "/auth/user/"+url.PathEscape(sent["username"].(string)), nil, "Authorization", admin)
			var u struct{ User map[string]any }
			_ = json.Unmarshal(got, &u)
			for _, k := range []string{"username", "service", "email", "name", "profile"} {
				if u.User[k] != sent[k] {
					t.Fatalf("POST /auth/user %s: GET %s", body, got)
				}
			}
			authRoundTrip(t, s, admin, "/auth/user/"+url.PathEscape(sent["username"].(string)), "user")
		case "PUT /auth/user/alice":
			authRoundTrip(t, s, admin, "/auth/user/"+url.PathEscape(sent["username"].(string)), "user")
		case "POST /auth/pap/permission", "POST /auth/pap/group":
			var out struct{ ID int64 }
			_ = json.Unmarshal(b, &out)
			authRoundTrip(t, s, admin, rt.path+"/"+strconv.FormatInt(out.ID, 10), "")
		case "PUT /auth/pap/permission/door", "PUT /auth/pap/group/crew":
			authRoundTrip(t, s, admin, rt.path[:strings.LastIndexByte(rt.path, '/')+1]+url.PathEscape(sent["name"].(string)), "")
		case "POST /auth/password/update":
			mustCall(t, s, 200, "POST", "/auth", []byte(js(map[string]any{"username": "admin", "passwd": sent["newpasswd"]})))
		}
	})
}

// bootstrapped is a platform's view, commands' options and auth, with
// admin/admin (bcrypt at its cheapest), or with the events of base when
// given: a platform made once and replayed for each input, since the
// fuzzer's instrumentation makes bcrypt and signatures very slow.
func bootstrapped(t testing.TB, base []dojot.Event) (*memory.View, commands.Options, *commands.Auth, *commandstest.Store) {
	t.Helper()
	v := memory.New()
	store := &commandstest.Store{View: v}
	opts := commands.Options{Store: store, Sync: commandstest.Syncer{}, Now: func() time.Time { return testNow }, Rand: rand.NewChaCha8([32]byte{4})}
	a := commands.NewAuth(opts, v)
	a.BcryptCost = bcrypt.MinCost
	for _, ev := range base {
		if _, err := store.Append(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if base == nil {
		if _, err := a.Bootstrap(t.Context(), "admin"); err != nil {
			t.Fatal(err)
		}
	}
	return v, opts, a, store
}

// fuzzBase is a fuzz target's starting platform: its events, and an admin
// token valid for a day.
type fuzzBase struct {
	events []dojot.Event
	admin  string
}

// login is an admin token of s.
func loginAdmin(t testing.TB, s *Server) string {
	t.Helper()
	var out struct{ JWT string }
	if err := json.Unmarshal(mustCall(t, s, 200, "POST", "/auth", []byte(`{"username":"admin","passwd":"admin"}`)), &out); err != nil {
		t.Fatal(err)
	}
	return "Bearer " + out.JWT
}

// authBase is a bootstrapped platform (admin/admin) with user alice,
// group crew and permission door.
func authBase(t testing.TB) fuzzBase {
	t.Helper()
	v, _, a, store := bootstrapped(t, nil)
	ctx := t.Context()
	if _, err := a.CreateUser(ctx, commands.CreateUser{Username: "alice", Service: "acme", Email: "a@acme.org", Name: "Alice", Profile: "user"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateGroup(ctx, commands.CreateGroup{Name: "crew", Description: "the crew"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreatePermission(ctx, commands.CreatePermission{Name: "door", Path: "/device", Method: "GET", Permission: "permit"}); err != nil {
		t.Fatal(err)
	}
	s := New(Options{AuthCommands: a, AuthView: v.Reads(), JWTSecret: testSecret, TokenTTL: 24 * time.Hour})
	return fuzzBase{store.Events(), loginAdmin(t, s)}
}

// authFuzzServer is a fresh platform of base.
func authFuzzServer(t testing.TB, base fuzzBase) *Server {
	t.Helper()
	v, _, a, _ := bootstrapped(t, base.events)
	return New(Options{AuthCommands: a, AuthView: v.Reads(), JWTSecret: testSecret})
}

// authRoundTrip GETs path (the object under key in the answer when key is
// not ""), PUTs it back, and checks a second GET reads the same.
func authRoundTrip(t *testing.T, s http.Handler, token, path, key string) {
	t.Helper()
	read := func() []byte {
		b := mustCall(t, s, 200, "GET", path, nil, "Authorization", token)
		if key == "" {
			return b
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m[key]
	}
	before := read()
	mustCall(t, s, 200, "PUT", path, before, "Authorization", token)
	if after := read(); !bytes.Equal(before, after) {
		t.Fatalf("PUT %s of its own GET changed it:\n%s\n%s", path, before, after)
	}
}

// FuzzFlows: flow bodies of POST and PUT /flows/v1/flow. An accepted flow
// reads back with the nodes it was given, and PUT of what GET showed
// changes nothing.
func FuzzFlows(f *testing.F) {
	f.Add(false, []byte(`{"name":"Notification flow","flow":`+notificationFlow+`}`))
	f.Add(true, []byte(`{"enabled":false,"name":"renamed","isNew":false}`))
	f.Add(true, []byte(`{"flow":[{"id":"x","type":"tab"}]}`))
	f.Add(false, []byte(`{"name":"a","flow":[],"enabled":null}`))
	f.Fuzz(func(t *testing.T, put bool, body []byte) {
		view := memory.New()
		store := &commandstest.Store{View: view}
		cmds := commands.NewFlows(commands.Options{Store: store, Sync: commandstest.Syncer{}, Now: func() time.Time { return testNow },
			Rand: rand.NewChaCha8([32]byte{2})}, view, nil)
		fl, err := cmds.Create(t.Context(), "t1", []byte(`{"name":"first","flow":[{"id":"x","type":"tab"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		s := &Server{opts: Options{FlowCommands: cmds, FlowView: view.Reads()}}
		h := fuzzRouter(s.mountFlows)
		method, path := "POST", "/flows/v1/flow"
		if put {
			method, path = "PUT", path+"/"+fl.ID
		}
		code, b := fuzzCall(t, h, method, path, "", body)
		if code != 200 {
			return
		}
		var out struct {
			Flow struct {
				ID   string
				Flow json.RawMessage
			}
		}
		if err := json.Unmarshal(b, &out); err != nil || out.Flow.ID == "" {
			t.Fatalf("%s %s = %s", method, body, b)
		}
		var sent struct{ Flow json.RawMessage }
		if json.Unmarshal(body, &sent) == nil && len(sent.Flow) > 0 && string(sent.Flow) != "null" &&
			!jsonEqual(withoutKeys(t, sent.Flow), withoutKeys(t, out.Flow.Flow)) {
			t.Fatalf("%s %s: flow %s stored as %s", method, body, sent.Flow, out.Flow.Flow)
		}
		p := "/flows/v1/flow/" + out.Flow.ID
		var got struct{ Flow json.RawMessage }
		_ = json.Unmarshal(mustCall(t, h, 200, "GET", p, nil), &got)
		mustCall(t, h, 200, "PUT", p, got.Flow)
		var again struct{ Flow json.RawMessage }
		_ = json.Unmarshal(mustCall(t, h, 200, "GET", p, nil), &again)
		if !jsonEqual(withoutKeys(t, got.Flow, "updated"), withoutKeys(t, again.Flow, "updated")) {
			t.Fatalf("PUT %s of its own GET changed it:\n%s\n%s", p, got.Flow, again.Flow)
		}
	})
}

// FuzzCron: job bodies of POST and PUT /cron/v1/jobs. An accepted job
// reads back, and PUT of the spec GET showed changes nothing.
func FuzzCron(f *testing.F) {
	f.Add(false, []byte(apibJob))
	f.Add(true, []byte(`{"time":"* * * * *","broker":{"subject":"device-data","message":{"metadata":{"deviceid":"e1b1a9"},"attrs":{"t":1}}}}`))
	f.Add(false, []byte(`{"time":"*/10 * * * * *","http":{"method":"PUT","headers":{"Content-Type":"application/json"},"url":"http://device-manager:5000/device/e1b1a9/actuate","body":{"attrs":{"x":1}},"criterion":2,"sregex":"2[0-9][0-9]"}}`))
	f.Fuzz(func(t *testing.T, put bool, body []byte) {
		view := memory.New()
		store := &commandstest.Store{View: view}
		cmds := commands.NewCron(commands.Options{Store: store, Sync: commandstest.Syncer{}, Now: func() time.Time { return testNow },
			Rand: rand.NewChaCha8([32]byte{3})}, view, []string{"http://device-manager:5000"})
		s := &Server{opts: Options{CronCommands: cmds, CronView: view.Reads()}}
		h := fuzzRouter(s.mountCron)
		method, path := "POST", "/cron/v1/jobs"
		if put {
			method, path = "PUT", path+"/mine"
		}
		code, b := fuzzCall(t, h, method, path, "", body)
		if code/100 != 2 {
			return
		}
		var out struct{ JobID string }
		if err := json.Unmarshal(b, &out); err != nil || out.JobID == "" {
			t.Fatalf("%s %s = %s", method, body, b)
		}
		p := "/cron/v1/jobs/" + url.PathEscape(out.JobID)
		var got struct{ Spec json.RawMessage }
		_ = json.Unmarshal(mustCall(t, h, 200, "GET", p, nil), &got)
		mustCall(t, h, 200, "PUT", p, got.Spec)
		var again struct{ Spec json.RawMessage }
		_ = json.Unmarshal(mustCall(t, h, 200, "GET", p, nil), &again)
		if !bytes.Equal(got.Spec, again.Spec) {
			t.Fatalf("PUT %s of its own GET changed it:\n%s\n%s", p, got.Spec, again.Spec)
		}
	})
}

// The x509 routes that read a body or a query, by the fuzzer's op; fp and
// ext stand for the certificate and the trusted CA every platform has.
var x509FuzzRoutes = []struct{ method, path string }{
	{"POST", "/x509/v1/certificates"},
	{"PATCH", "/x509/v1/certificates/fp"},
	{"POST", "/x509/v1/trusted-cas"},
	{"PATCH", "/x509/v1/trusted-cas/ext"},
	{"GET", "/x509/v1/certificates"},
	{"GET", "/x509/v1/trusted-cas"},
	{"GET", "/x509/v1/certificates/fp"},
	{"POST", "/internal/api/v1/throw-away"},
	{"GET", "/internal/api/v1/certificates"},
}

// FuzzX509: certificate and trusted-CA bodies (CSRs, chains, CA PEMs,
// owners) and the listing queries. A certificate issued or registered
// reads back with the owner given; a PATCH reads back as sent.
func FuzzX509(f *testing.F) {
	ca := pkitest.CA(f, pki.Options{})
	year := time.Now().AddDate(1, 0, 0)
	ext := pkitest.NewExtCA(f, "ext", year)
	leaf, _ := ext.Leaf(f, "admin:a0b1c2", year, false)
	_, csr := pkitest.CSRFor(f, "pump")
	base, fp, extFP := x509Base(f, ca, csr, ext.PEM)
	f.Add(uint8(0), "", []byte(js(map[string]any{"csr": csr, "belongsTo": map[string]any{"device": "a0b1c2"}})))
	f.Add(uint8(0), "", []byte(js(map[string]any{"certificateChain": leaf, "caFingerprint": pki.Fingerprint(ext.Cert.Raw), "belongsTo": map[string]any{"device": "a0b1c2"}})))
	f.Add(uint8(1), "", []byte(`{"belongsTo":{"device":"a0b1c2"}}`))
	f.Add(uint8(2), "", []byte(js(map[string]any{"caPem": pkitest.NewExtCA(f, "other", year).PEM, "allowAutoRegistration": true})))
	f.Add(uint8(3), "", []byte(`{"allowAutoRegistration":true}`))
	f.Add(uint8(4), "fields=fingerprint,belongsTo&limit=2&page=1&belongsTo.device=a0b1c2", []byte(nil))
	f.Add(uint8(5), "caFingerprint=^AB&fields=caFingerprint,subjectDN&subjectDN=~ext", []byte(nil))
	f.Add(uint8(6), "fields=pem,tenant", []byte(nil))
	f.Add(uint8(7), "", []byte(js(map[string]any{"csr": csr, "belongsTo": map[string]any{"application": "iotagent-mqtt"}})))
	f.Add(uint8(8), "page=2&limit=1&fields=fingerprint", []byte(nil))
	f.Fuzz(func(t *testing.T, op uint8, query string, body []byte) {
		rt := x509FuzzRoutes[int(op)%len(x509FuzzRoutes)]
		s, in := x509FuzzServer(t, ca, base)
		admin := base.admin
		path := strings.Replace(strings.Replace(rt.path, "/fp", "/"+fp, 1), "/ext", "/"+extFP, 1)
		if strings.HasPrefix(path, "/internal/") {
			if code, b := fuzzCall(t, in, rt.method, path, query, body); rt.method == "POST" && code == 201 {
				// A service's certificate is not stored: it is the answer.
				var out struct{ CertificateFingerprint, CertificatePem string }
				_ = json.Unmarshal(b, &out)
				if blk, _ := pem.Decode([]byte(out.CertificatePem)); blk == nil || pki.Fingerprint(blk.Bytes) != out.CertificateFingerprint {
					t.Fatalf("POST %s %s = %s", path, body, b)
				}
			}
			return
		}
		code, b := fuzzCall(t, s, rt.method, path, query, body, "Authorization", admin)
		if code/100 != 2 || rt.method == "GET" {
			return
		}
		var sent struct {
			BelongsTo             json.RawMessage
			AllowAutoRegistration *bool
		}
		_ = json.Unmarshal(body, &sent)
		switch rt.method + " " + rt.path {
		case "POST /x509/v1/certificates":
			var out struct{ CertificateFingerprint string }
			if err := json.Unmarshal(b, &out); err != nil || out.CertificateFingerprint == "" {
				t.Fatalf("POST %s = %s", body, b)
			}
			path = "/x509/v1/certificates/" + out.CertificateFingerprint
		case "POST /x509/v1/trusted-cas":
			var out struct{ CAFingerprint string }
			if err := json.Unmarshal(b, &out); err != nil || out.CAFingerprint == "" {
				t.Fatalf("POST %s = %s", body, b)
			}
			path = "/x509/v1/trusted-cas/" + out.CAFingerprint
		}
		got := mustCall(t, s, 200, "GET", path, nil, "Authorization", admin)
		var rec struct {
			BelongsTo             json.RawMessage
			AllowAutoRegistration *bool
		}
		_ = json.Unmarshal(got, &rec)
		if len(sent.BelongsTo) > 0 && !jsonEqual(withoutKeys(t, sent.BelongsTo), withoutKeys(t, rec.BelongsTo)) {
			t.Fatalf("%s %s %s: GET %s", rt.method, path, body, got)
		}
		if sent.AllowAutoRegistration != nil && (rec.AllowAutoRegistration == nil || *rec.AllowAutoRegistration != *sent.AllowAutoRegistration) {
			t.Fatalf("%s %s %s: GET %s", rt.method, path, body, got)
		}
	})
}

// x509Base is a bootstrapped platform on ca with device a0b1c2 in tenant
// admin, a certificate of csr (fp) and the trusted CA extPEM (extFP).
func x509Base(t testing.TB, ca *pki.CA, csr, extPEM string) (base fuzzBase, fp, extFP string) {
	t.Helper()
	v, opts, a, store := bootstrapped(t, nil)
	d := commands.NewDevices(opts, v)
	if _, err := d.CreateDevices(t.Context(), "admin", []byte(`{"label":"pump","templates":[],"id":"a0b1c2"}`), 1); err != nil {
		t.Fatal(err)
	}
	s := New(Options{AuthCommands: a, AuthView: v.Reads(), DeviceCommands: d, DeviceView: v.Reads(), JWTSecret: testSecret, TokenTTL: 24 * time.Hour,
		X509Commands: commands.NewCertificates(opts, v, ca), X509View: v, CA: ca})
	admin := loginAdmin(t, s)
	var issued struct{ CertificateFingerprint string }
	_ = json.Unmarshal(mustCall(t, s, 201, "POST", "/x509/v1/certificates", []byte(js(map[string]any{"csr": csr})), "Authorization", admin), &issued)
	var trusted struct{ CAFingerprint string }
	_ = json.Unmarshal(mustCall(t, s, 201, "POST", "/x509/v1/trusted-cas", []byte(js(map[string]any{"caPem": extPEM})), "Authorization", admin), &trusted)
	return fuzzBase{store.Events(), admin}, issued.CertificateFingerprint, trusted.CAFingerprint
}

// x509FuzzServer is a fresh platform of base on ca: its public and
// internal routes.
func x509FuzzServer(t *testing.T, ca *pki.CA, base fuzzBase) (s, internal *Server) {
	t.Helper()
	v, opts, a, _ := bootstrapped(t, base.events)
	d := commands.NewDevices(opts, v)
	certs := commands.NewCertificates(opts, v, ca)
	s = New(Options{AuthCommands: a, AuthView: v.Reads(), DeviceCommands: d, DeviceView: v.Reads(), JWTSecret: testSecret,
		X509Commands: certs, X509View: v, CA: ca})
	return s, NewInternal(Options{CA: ca, X509Internal: v, X509Services: certs})
}

// fuzzHistory is a device history of two attributes, a float and an
// object, whatever the query (the query's parsing and the rendering are
// what is fuzzed).
type fuzzHistory struct{}

func (fuzzHistory) Known(_ context.Context, _, id string) (bool, error) { return id == "a1b2c3", nil }
func (fuzzHistory) Attrs(context.Context, string, string) ([]string, error) {
	return []string{"temp", "pos"}, nil
}
func (fuzzHistory) Find(_ context.Context, _, id string, q history.Query) ([]history.Doc, error) {
	ts := testNow.Truncate(time.Millisecond)
	switch q.Attr {
	case "temp":
		return []history.Doc{{Attr: "temp", Value: json.RawMessage(`22.5`), DeviceID: id, TS: ts, Metadata: json.RawMessage(`{"protocol":"mqtt"}`)}}, nil
	case "pos":
		return []history.Doc{{Attr: "pos", Value: json.RawMessage(`{"lat":-22.8,"lng":-47.06,"s":"a,\"b\""}`), DeviceID: id, TS: ts, Metadata: json.RawMessage(`{}`)}}, nil
	}
	return nil, nil
}

// FuzzHistoryQuery: the History's query parameters and Accept header. A
// refused query is a 4xx; an accepted one has a non-negative limit and
// dates that read back the same once written as RFC 3339.
func FuzzHistoryQuery(f *testing.F) {
	f.Add("attr=temp&lastN=3&dateFrom=2018-01-25T12:00:00Z&dateTo=2018-01-26", "")
	f.Add("attr=temp,pos&firstN=-2", "text/csv")
	f.Add("hLimit=5&dateFrom=2018-01-25 12:30:42.164695+03:00", "application/json;q=0, text/csv")
	f.Add("lastN=x", "*/*")
	f.Fuzz(func(t *testing.T, query, accept string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.RawQuery = query
		if q, err := historyQuery(req); err != nil {
			if !errors.Is(err, dojot.ErrInvalid) {
				t.Fatalf("historyQuery(%q) = %v, not ErrInvalid", query, err)
			}
		} else {
			if q.Limit < 0 {
				t.Fatalf("historyQuery(%q).Limit = %d", query, q.Limit)
			}
			for _, d := range []time.Time{q.From, q.To} {
				if back, ok := history.ParseISO(d.Format(time.RFC3339Nano)); !d.IsZero() && (!ok || !back.Equal(d)) {
					t.Fatalf("historyQuery(%q): %v reads back as %v, %v", query, d, back, ok)
				}
			}
		}
		s := &Server{opts: Options{History: fuzzHistory{}, DeviceView: memory.New().Reads()}}
		h := fuzzRouter(s.mountHistory)
		for _, p := range []string{"/history/device/a1b2c3/history", "/history/STH/v1/contextEntities/type/device/id/a1b2c3/attributes/temp"} {
			fuzzCall(t, h, "GET", p, query, nil, "Accept", accept)
		}
	})
}

// fuzzNotifications answers its notifications to any query.
type fuzzNotifications []history.Notification

func (f fuzzNotifications) FindNotifications(context.Context, string, history.NotificationQuery) ([]history.Notification, error) {
	return f, nil
}

// FuzzNotificationQuery: the notifications route's filters. A refused
// query names its parameter in a 400; an accepted one has a positive limit
// or a date bound, and member names MongoDB takes as paths.
func FuzzNotificationQuery(f *testing.F) {
	f.Add(`subject="user_notification"&limit=3`, "")
	f.Add(`level=%202%20&loc.room="r1"&dateFrom=2026-04-01`, "text/csv")
	f.Add(`$where="x"&a..b=1`, "")
	f.Add("limit=1&limit=2", "")
	f.Fuzz(func(t *testing.T, query, accept string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.RawQuery = query
		q, err := notificationQuery(req)
		if err != nil {
			if !errors.Is(err, dojot.ErrInvalid) {
				t.Fatalf("notificationQuery(%q) = %v, not ErrInvalid", query, err)
			}
		} else {
			if q.Limit < 0 || q.Limit == 0 && q.From.IsZero() && q.To.IsZero() {
				t.Fatalf("notificationQuery(%q): limit %d without dates", query, q.Limit)
			}
			for _, m := range q.Match {
				// MongoDB reads a $ as an operator only at the start of a
				// path's part ("a.$b"); "a$b" is a plain member name.
				bad := !history.ValidField(m.Field) || strings.Contains(m.Field, "..")
				for p := range strings.SplitSeq(m.Field, ".") {
					bad = bad || strings.HasPrefix(p, "$")
				}
				if bad {
					t.Fatalf("notificationQuery(%q): field %q", query, m.Field)
				}
			}
		}
		msg := `{"msgID":"m1","timestamp":1600000000123,"message":"Temp 35 too high","metaAttrsFilter":{"priority":"low","shouldPersist":true,"x":2.0},"subject":"user_notification"}`
		n, _, err := history.NotificationDoc(dojot.Event{Type: dojot.EventNotification, Tenant: "t1", Data: []byte(msg), Seq: 7})
		if err != nil {
			t.Fatal(err)
		}
		s := &Server{opts: Options{Notifications: fuzzNotifications{n}}}
		fuzzCall(t, fuzzRouter(s.mountNotifications), "GET", "/history/notifications/history", query, nil, "Accept", accept)
	})
}

// FuzzReplay: the replay routes' bodies and queries (from, to, limit, a
// flow). The engine is not run: what the gateway read is checked, a range
// that reads back from the query or body, and a positive limit.
func FuzzReplay(f *testing.F) {
	f.Add("from=2026-04-01T00:00:00Z&to=1775000000000&limit=5", []byte(nil))
	f.Add("", []byte(`{"flow":[{"id":"x","type":"tab"}],"from":"1775000000000","to":"2026-04-02","limit":"3"}`))
	f.Add("limit=0", []byte(`{"flow":[],"from":null}`))
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		var got []FlowReplay
		s := &Server{opts: Options{FlowReplay: func(_ context.Context, r FlowReplay) (any, error) {
			got = append(got, r)
			return map[string]any{"outputs": []any{}}, nil
		}}}
		code, _ := fuzzCall(t, fuzzRouter(s.mountFlowReplay), "POST", "/flows/v1/replay", query, body)
		if code != 200 {
			if len(got) > 0 {
				t.Fatalf("replay %q %q = %d, yet ran %+v", query, body, code, got)
			}
			return
		}
		if len(got) != 1 || got[0].Limit < 0 || len(got[0].Nodes) == 0 || got[0].Tenant != "t1" {
			t.Fatalf("replay %q %q ran %+v", query, body, got)
		}
	})
}

// FuzzDeviceAuthentication: the internal device credentials check's body.
// Only the device's own password (and its tenant@id) is a 200.
func FuzzDeviceAuthentication(f *testing.F) {
	f.Add([]byte(`{"username":"t1@f00d01","password":"x"}`))
	f.Add([]byte(`{"username":"t1@f00d01@extra","password":null}`))
	f.Add([]byte(`{"username":["t1","f00d01"]}`))
	// The device and its password, made once (bcrypt) and replayed.
	base := &commandstest.Store{View: memory.New()}
	devices := commands.NewDevices(commands.Options{Store: base, Sync: commandstest.Syncer{}, Now: func() time.Time { return testNow }, Rand: rand.NewChaCha8([32]byte{5})}, base.View.(*memory.View))
	devices.BcryptCost = bcrypt.MinCost
	if _, err := devices.CreateDevices(f.Context(), "t1", []byte(`{"label":"pump","templates":[],"id":"f00d01"}`), 1); err != nil {
		f.Fatal(err)
	}
	if _, _, err := devices.SetBasicCredentials(f.Context(), "t1", "f00d01"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		view := memory.New()
		store := &commandstest.Store{View: view}
		for _, ev := range base.Events() {
			if _, err := store.Append(t.Context(), ev); err != nil {
				t.Fatal(err)
			}
		}
		cmds := commands.NewDevices(commands.Options{Store: store, Sync: commandstest.Syncer{}, Now: func() time.Time { return testNow }}, view)
		s := &Server{opts: Options{DeviceCommands: cmds}}
		code, b := fuzzCall(t, errorHandler(s.authenticateDevice), "POST", "/basic-auth/v1/internal/authentication", "", body)
		if code != 200 {
			return
		}
		var in struct{ Username, Password string }
		_ = json.Unmarshal(body, &in)
		if parts := strings.Split(in.Username, "@"); len(parts) < 2 || parts[0] != "t1" || parts[1] != "f00d01" ||
			!cmds.CheckDeviceCredentials("t1", "f00d01", in.Password) {
			t.Fatalf("credentials %q accepted: %s", body, b)
		}
	})
}

// FuzzToken: any Authorization header on a route behind the PEP, and any
// token on the internal routes (which read its claims unsigned, as dojot's
// DeviceManager). Only a token we signed passes the PEP; the internal
// claims decode to the service and username the segment holds.
func FuzzToken(f *testing.F) {
	base := authBase(f)
	s, admin := authFuzzServer(f, base), base.admin
	// signed checks a token as a JWT library does, on its own: HS256 with
	// our secret (the PEP's own check is what is fuzzed).
	signed := func(tok string) bool {
		_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return testSecret, nil }, jwt.WithValidMethods([]string{"HS256"}))
		return err == nil
	}
	f.Add(admin)
	f.Add(strings.ToLower(admin[:6]) + admin[6:])
	f.Add("Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzZXJ2aWNlIjoiYWRtaW4iLCJ1c2VybmFtZSI6ImFkbWluIiwidXNlcmlkIjoxfQ.")
	f.Add(internalToken(`{"service":"acme","username":"bob"}`))
	f.Fuzz(func(t *testing.T, header string) {
		code, b := fuzzCall(t, s, "GET", "/auth/user/admin", "", nil, "Authorization", header)
		if code == 200 && !signed(bearer(header)) {
			t.Fatalf("Authorization %q passed the PEP: %s", header, b)
		}
		if code != 200 && code != 401 && code != 403 {
			t.Fatalf("Authorization %q = %d %s", header, code, b)
		}
		parts := strings.Split(header, ".")
		if len(parts) < 2 {
			return
		}
		id, ok := unsignedClaims(parts[1])
		if !ok {
			return
		}
		seg := strings.NewReplacer("+", "-", "/", "_").Replace(strings.TrimRight(strings.TrimSpace(parts[1]), "="))
		raw, _ := base64.RawURLEncoding.DecodeString(seg)
		var c map[string]any
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("unsignedClaims(%q) = %+v from %q: %v", parts[1], id, raw, err)
		}
		if svc, _ := c["service"].(string); svc != id.Tenant {
			t.Fatalf("unsignedClaims(%q) = %+v; claims %v", parts[1], id, c)
		}
	})
}
