package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/crypto/bcrypt"

	agenthttp "github.com/dojot-es/dojot/agents/http"
	agentlorawan "github.com/dojot-es/dojot/agents/lorawan"
	agentsigfox "github.com/dojot-es/dojot/agents/sigfox"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/console"
	"github.com/dojot-es/dojot/pki"
	"github.com/dojot-es/dojot/pki/pkitest"
	"github.com/dojot-es/dojot/projections/history"
	"github.com/dojot-es/dojot/projections/memory"
)

// everythingOn is the gateway with every feature on, as cmd/dojot wires it
// when every agent and service is configured: each Option set, and the
// device routes of every agent that has some, from the agents themselves.
func everythingOn(t *testing.T) (Options, *commandstest.Store) {
	t.Helper()
	v := memory.New()
	store := &commandstest.Store{View: v}
	opts := commands.Options{Store: store, Sync: commandstest.Syncer{}}
	ca := pkitest.CA(t, pki.Options{})
	certs := commands.NewCertificates(opts, v, ca)
	devices := commands.NewDevices(opts, v)
	routes := map[string]http.Handler{}
	ha, err := agenthttp.New(agenthttp.Options{Store: noAppend{}, Devices: v, Credentials: devices})
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(routes, ha.Routes())
	la, err := agentlorawan.New(agentlorawan.Options{Store: noAppend{}, Devices: v, ChirpStackSecret: "s", TTSSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(routes, la.Routes())
	sa, err := agentsigfox.New(agentsigfox.Options{Store: noAppend{}, Devices: v, Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(routes, sa.Routes())
	hist := history.NewMemory(nil) // nothing stored, so it never fetches
	auth := commands.NewAuth(opts, v)
	auth.BcryptCost = bcrypt.MinCost
	if _, err := auth.Bootstrap(t.Context(), "admin"); err != nil {
		t.Fatal(err)
	}
	return Options{
		DeviceCommands: devices, DeviceView: v.Reads(), Events: store, AuthCommands: auth, AuthView: v.Reads(),
		JWTSecret: testSecret, History: hist, Notifications: hist, Topics: &fakeTopics{}, KafkaWS: noKafkaWS{}, SocketIO: noSocketIO{},
		FlowCommands: commands.NewFlows(opts, v, nil), FlowView: v.Reads(), FlowNodes: []FlowNode{},
		FlowStats:    func(string) any { return nil },
		FlowReplay:   func(context.Context, FlowReplay) (any, error) { return nil, errors.New("off") },
		CronCommands: commands.NewCron(opts, v, nil), CronView: v.Reads(), DeviceRoutes: routes,
		X509Commands: certs, X509View: v, CA: ca, X509Internal: v, X509Services: certs,
		Console: consoleHandler(t),
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			fmt.Fprintln(w, "dojot_ready 1")
		}),
	}, store
}

func consoleHandler(t *testing.T) http.Handler {
	t.Helper()
	c, err := console.New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type noAppend struct{}

func (noAppend) AppendDataAsync(string, string, []byte) (func(<-chan time.Time) (uint64, error), error) {
	return nil, errors.New("no store here")
}

type noKafkaWS struct{}

func (noKafkaWS) Ticket(w http.ResponseWriter, r *http.Request) {}
func (noKafkaWS) Topic(w http.ResponseWriter, r *http.Request)  {}

type noSocketIO struct{}

func (noSocketIO) Token(w http.ResponseWriter, r *http.Request) {}
func (noSocketIO) Handler() http.Handler                        { return http.NotFoundHandler() }

// openAPIDoc is what the route check reads of a document.
type openAPIDoc struct {
	Paths map[string]map[string]json.RawMessage `json:"paths"`
}

var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// anyMethod reports whether chi lists pattern for every method: a route
// registered with Handle, which the document shows with x-any-method.
func anyMethod(routes []Route, pattern string) bool {
	for _, r := range routes {
		if r.Pattern == pattern && r.Method == "CONNECT" { // no route names CONNECT itself
			return true
		}
	}
	return false
}

var pathParamRe = regexp.MustCompile(`\{[^}/]+\}`)

// TestOpenAPIRoutes: every route of each router is in its listener's
// document, and every documented operation is routed. chi finds which
// route serves a documented path (its parameters filled in), so the
// wildcard routes (/http-agent/v1/*, /lorawan/tts/*) map to the paths
// documented under them; a route served for any method (Handle) must be
// documented with x-any-method and at least one operation.
func TestOpenAPIRoutes(t *testing.T) {
	opts, _ := everythingOn(t)
	for _, tc := range []struct {
		name string
		s    *Server
		doc  []byte
	}{
		{"public", New(opts), openAPIPublic},
		{"internal", NewInternal(opts), openAPIInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc openAPIDoc
			if err := json.Unmarshal(tc.doc, &doc); err != nil {
				t.Fatal(err)
			}
			routes := tc.s.Routes()
			covered := map[Route]bool{}
			for path, item := range doc.Paths {
				concrete := pathParamRe.ReplaceAllString(path, "x1")
				_, docAny := item["x-any-method"]
				ops := 0
				for _, m := range openAPIMethods {
					if _, ok := item[m]; !ok {
						continue
					}
					ops++
					method := strings.ToUpper(m)
					pattern := tc.s.router.Find(chi.NewRouteContext(), method, concrete)
					if pattern == "" {
						t.Errorf("documented %s %s is not routed", method, path)
						continue
					}
					if any := anyMethod(routes, pattern); any != docAny {
						t.Errorf("%s %s: served by %s for any method %v, documented with x-any-method %v", method, path, pattern, any, docAny)
					}
					covered[Route{method, pattern}] = true
					if pathParamRe.ReplaceAllString(pattern, "x1") != concrete && !strings.HasSuffix(pattern, "/*") {
						t.Errorf("documented %s %s is served by %s", method, path, pattern)
					}
				}
				if ops == 0 {
					t.Errorf("%s: no operation documented", path)
				}
			}
			checked := 0
			for _, r := range routes {
				if anyMethod(routes, r.Pattern) {
					if !slicesContain(routes, covered, r.Pattern) {
						t.Errorf("route %s (any method) is not documented", r.Pattern)
					}
					continue
				}
				checked++
				if !covered[r] {
					t.Errorf("route %s %s is not documented", r.Method, r.Pattern)
				}
			}
			if checked < 10 {
				t.Errorf("%d routes checked: the router is not the full one", checked)
			}
		})
	}
}

// slicesContain reports whether some method of pattern is covered.
func slicesContain(routes []Route, covered map[Route]bool, pattern string) bool {
	for _, r := range routes {
		if r.Pattern == pattern && covered[r] {
			return true
		}
	}
	return false
}

// TestOpenAPIServed: each listener serves its own document, no token.
func TestOpenAPIServed(t *testing.T) {
	opts, _ := everythingOn(t)
	for name, tc := range map[string]struct {
		s     *Server
		title string
	}{"public": {New(opts), "dojot-es REST API"}, "internal": {NewInternal(opts), "dojot-es internal API"}} {
		w := httptest.NewRecorder()
		tc.s.ServeHTTP(w, httptest.NewRequest("GET", "/openapi.json", nil))
		var doc struct {
			OpenAPI string
			Info    struct{ Title string }
		}
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != 200 ||
			!strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") || !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Info.Title != tc.title {
			t.Errorf("%s: GET /openapi.json = %d %s %.80s; want 200, an OpenAPI 3 document titled %q", name, w.Code, w.Header().Get("Content-Type"), w.Body, tc.title)
		}
	}
}

// TestOpenAPIValid checks both documents with kin-openapi, which lives in
// tools/openapi, a module of its own so that go.mod does not carry it.
func TestOpenAPIValid(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: builds tools/openapi")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no go command to build tools/openapi")
		}
		t.Skip("no go command to build tools/openapi")
	}
	docs := []string{"openapi.json", "openapi-internal.json"}
	for i, d := range docs {
		abs, err := filepath.Abs(d)
		if err != nil {
			t.Fatal(err)
		}
		docs[i] = abs
	}
	cmd := exec.CommandContext(t.Context(), goBin, append([]string{"run", "."}, docs...)...)
	cmd.Dir = filepath.Join("..", "tools", "openapi")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tools/openapi: %v\n%s", err, out)
	}
}

// documentedAnswer finds the operation of doc that documents method and
// path (a literal path beats one with parameters; a path served for any
// method is documented by its operations) and reports whether it lists
// code among its answers.
func documentedAnswer(t *testing.T, doc openAPIDoc, method, path string, code int) (op string, answer json.RawMessage, ok bool) {
	t.Helper()
	best, bestParams := "", -1
	for p := range doc.Paths {
		re := regexp.MustCompile("^" + pathParamRe.ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`) + "$")
		// QuoteMeta escapes the braces: match the escaped form too.
		re = regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}/]+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`) + "$")
		if !re.MatchString(path) {
			continue
		}
		if n := strings.Count(p, "{"); best == "" || n < bestParams {
			best, bestParams = p, n
		}
	}
	if best == "" {
		return "", nil, false
	}
	item := doc.Paths[best]
	raw, found := item[strings.ToLower(method)]
	if !found {
		if _, anyM := item["x-any-method"]; !anyM {
			return best, nil, false
		}
		for _, m := range openAPIMethods {
			if r, ok := item[m]; ok {
				raw = r
				break
			}
		}
	}
	var o struct{ Responses map[string]json.RawMessage }
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	answer, ok = o.Responses[strconv.Itoa(code)]
	return method + " " + best, answer, ok
}

// resolve follows a local $ref ("#/components/...") of doc.
func resolve(t *testing.T, doc []byte, raw json.RawMessage) json.RawMessage {
	t.Helper()
	var r struct {
		Ref string `json:"$ref"`
	}
	if json.Unmarshal(raw, &r) != nil || r.Ref == "" {
		return raw
	}
	var node any
	if err := json.Unmarshal(doc, &node); err != nil {
		t.Fatal(err)
	}
	for _, k := range strings.Split(strings.TrimPrefix(r.Ref, "#/"), "/") {
		m, _ := node.(map[string]any)
		node = m[k]
	}
	b, err := json.Marshal(node)
	if err != nil || node == nil {
		t.Fatalf("$ref %s: not in the document", r.Ref)
	}
	return resolve(t, doc, b)
}

// bodyFits reports why body does not fit the JSON schema at its top
// level ("" when it does): its JSON type, and for an object with listed
// properties, that its keys are among them (the bodies keep dojot's
// shapes, and a wrong shape shows in the keys: {"error"} for
// {"message"}).
func bodyFits(t *testing.T, doc []byte, schema json.RawMessage, body any) string {
	t.Helper()
	var sc struct {
		Type                 string
		Nullable             bool
		OneOf                []json.RawMessage
		Properties           map[string]json.RawMessage
		AdditionalProperties any
	}
	if err := json.Unmarshal(resolve(t, doc, schema), &sc); err != nil {
		t.Fatal(err)
	}
	if body == nil && sc.Nullable {
		return ""
	}
	if len(sc.OneOf) > 0 {
		var why []string
		for _, alt := range sc.OneOf {
			w := bodyFits(t, doc, alt, body)
			if w == "" {
				return ""
			}
			why = append(why, w)
		}
		return strings.Join(why, "; or ")
	}
	switch v := body.(type) {
	case map[string]any:
		if sc.Type != "" && sc.Type != "object" {
			return "an object, documented as " + sc.Type
		}
		if sc.Properties == nil || sc.AdditionalProperties == true {
			return ""
		}
		for k := range v {
			if _, ok := sc.Properties[k]; !ok {
				return "key " + strconv.Quote(k) + " not documented"
			}
		}
	case []any:
		if sc.Type != "" && sc.Type != "array" {
			return "an array, documented as " + sc.Type
		}
	}
	return ""
}

// answerFits reports why a JSON answer does not fit its documented
// answer ("" when it does).
func answerFits(t *testing.T, doc []byte, answer json.RawMessage, contentType, body string) string {
	t.Helper()
	var a struct {
		Content map[string]struct{ Schema json.RawMessage }
	}
	if err := json.Unmarshal(resolve(t, doc, answer), &a); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(contentType, "application/json") {
		return ""
	}
	var v any
	if json.Unmarshal([]byte(body), &v) != nil {
		return "" // not JSON (an empty answer)
	}
	c, ok := a.Content["application/json"]
	if !ok {
		return "a JSON body, none documented"
	}
	return bodyFits(t, doc, c.Schema, v)
}

// TestOpenAPIAnswers: the answers of a walk over the API, successes and
// refusals, each have their status documented for their operation. And
// every event the walk's writes stored has the caller as its actor,
// whichever command made it.
func TestOpenAPIAnswers(t *testing.T) {
	opts, store := everythingOn(t)
	public, internal := New(opts), NewInternal(opts)
	admin := login(t, public, "admin", "admin")
	before := len(store.Events())
	var pubDoc, inDoc openAPIDoc
	if err := json.Unmarshal(openAPIPublic, &pubDoc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(openAPIInternal, &inDoc); err != nil {
		t.Fatal(err)
	}
	// do is call with the answer's Content-Type.
	do := func(s *Server, method, path, token, body string) (int, string, string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			r.Header.Set("Authorization", token)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Code, w.Header().Get("Content-Type"), w.Body.String()
	}
	tpl := `{"label":"pump","attrs":[{"label":"t","type":"dynamic","value_type":"float"},{"label":"on","type":"actuator","value_type":"bool"}]}`
	unsigned := internalToken(`{"service":"admin","username":"dojot-management"}`)
	fp := strings.Repeat("AB:", 31) + "AB"
	calls := []struct {
		internal            bool
		method, path, token string
		body                string
	}{
		{false, "GET", "/healthz", "", ""},
		{false, "GET", "/readyz", "", ""},
		{false, "GET", "/metrics", "", ""},
		{false, "GET", "/openapi.json", "", ""},
		{false, "GET", "/", "", ""},
		{false, "GET", "/ui/app.css", "", ""},
		{false, "GET", "/ui/nothing.js", "", ""},
		{false, "POST", "/auth", "", `{"username":"admin","passwd":"nope"}`},
		{false, "POST", "/auth", "", `{"username":"nobody","passwd":"nope"}`},
		{false, "POST", "/auth/", "", `{"passwd":"nope"}`},
		{false, "DELETE", "/auth/revoke/x", "", ""},
		{false, "GET", "/device", "", ""},
		{false, "GET", "/device", "Bearer x.y.z", ""},
		{false, "POST", "/template", admin, tpl},
		{false, "POST", "/template", admin, `{"attrs":[]}`},
		{false, "GET", "/template?page_size=2", admin, ""},
		{false, "GET", "/template?page_size=x", admin, ""},
		{false, "GET", "/template/1", admin, ""},
		{false, "GET", "/template/99", admin, ""},
		{false, "PUT", "/template/1", admin, tpl},
		{false, "POST", "/device", admin, `{"label":"p","id":"abc1","templates":[1]}`},
		{false, "POST", "/device", admin, `{"label":"p","id":"abc1","templates":[1]}`},
		{false, "POST", "/device", admin, `{"label":`},
		{false, "GET", "/device?idsOnly=true", admin, ""},
		{false, "GET", "/device/abc1", admin, ""},
		{false, "GET", "/device/abc9", admin, ""},
		{false, "PUT", "/device/abc1", admin, `{"label":"q","templates":[1]}`},
		{false, "PUT", "/device/abc1/actuate", admin, `{"attrs":{"on":true}}`},
		{false, "PUT", "/device/abc1/actuate", admin, `{"attrs":{"t":1}}`},
		{false, "GET", "/device/template/1", admin, ""},
		{false, "POST", "/device/gen_psk/abc1?key_length=16", admin, ""},
		{false, "PUT", "/device/abc1/attrs/t/psk", admin, ""},
		{false, "GET", "/internal/device/abc1", admin, ""},
		{false, "POST", "/basic-auth/v1/devices/abc1/basic-credentials", admin, ""},
		{false, "POST", "/basic-auth/v1/devices/abc9/basic-credentials", admin, ""},
		{false, "DELETE", "/template/1", admin, ""},
		{false, "GET", "/topic/device-data", admin, ""},
		{false, "GET", "/auth/user", admin, ""},
		{false, "POST", "/auth/user", admin, `{"username":"ace","service":"acme","email":"a@acme.org","name":"Ace","profile":"user"}`},
		{false, "POST", "/auth/user", admin, `{"username":"ace","service":"acme","email":"a@acme.org","name":"Ace","profile":"user"}`},
		{false, "GET", "/auth/user/ace", admin, ""},
		{false, "GET", "/auth/user/nobody", admin, ""},
		{false, "PUT", "/auth/user/ace", admin, `{"name":"Ace B"}`},
		{false, "GET", "/auth/admin/tenants", admin, ""},
		{false, "GET", "/auth/pap/permission", admin, ""},
		{false, "POST", "/auth/pap/permission", admin, `{"name":"read_dev","path":"/device","method":"GET","permission":"permit"}`},
		{false, "GET", "/auth/pap/permission/read_dev", admin, ""},
		{false, "GET", "/auth/pap/group", admin, ""},
		{false, "POST", "/auth/pap/group", admin, `{"name":"ops","description":"ops"}`},
		{false, "GET", "/auth/pap/group/ops", admin, ""},
		{false, "GET", "/auth/pap/group/nope", admin, ""},
		{false, "POST", "/auth/pap/usergroup/ace/ops", admin, ""},
		{false, "POST", "/auth/pap/grouppermissions/ops/read_dev", admin, ""},
		{false, "GET", "/auth/pap/group/ops/permissions", admin, ""},
		{false, "GET", "/auth/pap/group/ops/users", admin, ""},
		{false, "GET", "/auth/pap/user/ace/allpermissions", admin, ""},
		{false, "GET", "/auth/pap/user/ace/groups", admin, ""},
		{false, "DELETE", "/auth/pap/usergroup/ace/ops", admin, ""},
		{false, "DELETE", "/auth/pap/group/ops", admin, ""},
		{false, "DELETE", "/auth/pap/permission/read_dev", admin, ""},
		{false, "DELETE", "/auth/user/ace", admin, ""},
		{false, "DELETE", "/auth/user/admin", admin, ""},
		{false, "POST", "/auth/password/update", admin, `{"oldpasswd":"wrong","newpasswd":"n3w-Passw0rd"}`},
		{false, "POST", "/auth/renew", admin, ""},
		{false, "POST", "/auth/renew", "Bearer x.y.z", ""},
		{false, "GET", "/flows/v1/flow", admin, ""},
		{false, "POST", "/flows/v1/flow", admin, `{"flow":[]}`},
		{false, "POST", "/flows/v1/flow", admin, `{"name":"f","flow":[]}`},
		{false, "GET", "/flows/v1/flow/2f9a7c42-1d0e-4f6e-9a55-0a4f3c7b9d11", admin, ""},
		{false, "GET", "/flows/nodes", admin, ""},
		{false, "PUT", "/flows/v1/node/x", admin, ""},
		{false, "DELETE", "/flows/v1/flow", admin, ""},
		{false, "GET", "/cron/v1/jobs", admin, ""},
		{false, "GET", "/cron/v1/jobs/nope", admin, ""},
		{false, "POST", "/cron/v1/jobs", admin, `{"name":"x"}`},
		{false, "PUT", "/cron/v1/jobs/j1", admin, `{"time":"*/5 * * * *","name":"tick","broker":{"subject":"dojot.device-manager.device","message":{"event":"configure","data":{"id":"abc1","attrs":{"on":true}},"meta":{"service":"admin"}}}}`},
		{false, "PUT", "/cron/v1/jobs/j1", admin, `{"time":"*/5 * * * *","name":"tick","broker":{"subject":"dojot.device-manager.device","message":{"event":"configure","data":{"id":"abc1","attrs":{"on":false}},"meta":{"service":"admin"}}}}`},
		{false, "GET", "/cron/v1/jobs/j1", admin, ""},
		{false, "DELETE", "/cron/v1/jobs/j1", admin, ""},
		{false, "DELETE", "/cron/v1/jobs", admin, ""},
		{false, "GET", "/history/device/abc1/history", admin, ""},
		{false, "GET", "/history/device/abc1/history?lastN=x", admin, ""},
		{false, "GET", "/history/notifications/history", admin, ""},
		{false, "GET", "/x509/v1/ca", admin, ""},
		{false, "GET", "/x509/v1/ca/crl", admin, ""},
		{false, "GET", "/x509/v1/certificates", admin, ""},
		{false, "GET", "/x509/v1/certificates/" + fp, admin, ""},
		{false, "POST", "/x509/v1/certificates", admin, `{"csr":"nope"}`},
		{false, "GET", "/x509/v1/trusted-cas", admin, ""},
		{false, "POST", "/x509/v1/trusted-cas", admin, `{"caPem":"nope"}`},
		{false, "DELETE", "/device/abc1", admin, ""},
		{false, "GET", "/device/abc1/events?limit=2", admin, ""}, // a deleted device's log
		{false, "GET", "/device/abc1/events?limit=x", admin, ""},
		{false, "GET", "/device/abc9/events", admin, ""},
		{false, "GET", "/template/1/events", admin, ""},
		{false, "GET", "/template/99/events", admin, ""},
		{false, "DELETE", "/device", admin, ""},
		{false, "DELETE", "/template", admin, ""},
		{false, "POST", "/sigfox", "", `{"device":"1A2B"}`},
		{false, "POST", "/http-agent/v1/incoming-messages", "", `{"data":{"t":1}}`},
		{false, "POST", "/lorawan/tts/up", "", `{}`},
		{false, "GET", "/iotagent/readings", "", ""},
		{true, "GET", "/openapi.json", "", ""},
		{true, "GET", "/admin/tenants", unsigned, ""},
		{true, "GET", "/admin/tenants", "", ""},
		{true, "GET", "/topic/device-data", unsigned, ""},
		{true, "GET", "/internal/device", unsigned, ""},
		{true, "GET", "/internal/device/abc9", unsigned, ""},
		{true, "POST", "/basic-auth/v1/internal/authentication", "", `{"username":"admin@abc1","password":"x"}`},
		{true, "GET", "/internal/api/v1/throw-away/ca", "", ""},
		{true, "GET", "/internal/api/v1/throw-away/ca/bundle", "", ""},
		{true, "GET", "/internal/api/v1/throw-away/ca/crl", "", ""},
		{true, "GET", "/internal/api/v1/certificates", "", ""},
		{true, "GET", "/internal/api/v1/certificates/" + fp, "", ""},
		{true, "POST", "/internal/api/v1/throw-away", "", `{"csr":"nope"}`},
	}
	seen := map[string]bool{}
	for _, c := range calls {
		s, doc, raw := public, pubDoc, openAPIPublic
		if c.internal {
			s, doc, raw = internal, inDoc, openAPIInternal
		}
		code, ctype, body := do(s, c.method, c.path, c.token, c.body)
		op, answer, ok := documentedAnswer(t, doc, c.method, strings.SplitN(c.path, "?", 2)[0], code)
		seen[op] = true
		if !ok {
			t.Errorf("%s %s = %d %.120s: not an answer documented for %q", c.method, c.path, code, body, op)
			continue
		}
		if why := answerFits(t, raw, answer, ctype, body); why != "" {
			t.Errorf("%s %s = %d %.200s: %s (%s)", c.method, c.path, code, body, why, op)
		}
	}
	t.Logf("%d calls over %d operations", len(calls), len(seen))
	types := map[string]bool{}
	for _, ev := range store.Events()[before:] {
		types[ev.Type] = true
		if ev.Actor != "admin" {
			t.Errorf("%s %s stored with actor %q, want admin (the caller)", ev.Type, ev.AggregateID, ev.Actor)
		}
	}
	if len(types) < 15 {
		t.Errorf("the walk stored events of %d types: %v", len(types), types)
	}
	t.Logf("events of %d types, each with its actor", len(types))
}
