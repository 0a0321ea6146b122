package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	agenthttp "github.com/dojot-es/dojot/agents/http"
	agentlorawan "github.com/dojot-es/dojot/agents/lorawan"
	agentsigfox "github.com/dojot-es/dojot/agents/sigfox"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/pki"
	"github.com/dojot-es/dojot/pki/pkitest"
	"github.com/dojot-es/dojot/projections/history"
	"github.com/dojot-es/dojot/projections/memory"
)

// everythingOn is the gateway with every feature on, as cmd/dojot wires it
// when every agent and service is configured: each Option set, and the
// device routes of every agent that has some, from the agents themselves.
func everythingOn(t *testing.T) Options {
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
	hist := history.NewMemory(nil) // never asked: no request reads it here
	return Options{
		DeviceCommands: devices, DeviceView: v.Reads(), AuthCommands: commands.NewAuth(opts, v), AuthView: v.Reads(),
		JWTSecret: testSecret, History: hist, Notifications: hist, Topics: &fakeTopics{}, KafkaWS: noKafkaWS{},
		FlowCommands: commands.NewFlows(opts, v, nil), FlowView: v.Reads(), FlowNodes: []FlowNode{},
		FlowStats:    func(string) any { return nil },
		FlowReplay:   func(context.Context, FlowReplay) (any, error) { return nil, errors.New("off") },
		CronCommands: commands.NewCron(opts, v, nil), CronView: v.Reads(), DeviceRoutes: routes,
		X509Commands: certs, X509View: v, CA: ca, X509Internal: v, X509Services: certs,
	}
}

type noAppend struct{}

func (noAppend) AppendDataAsync(string, string, []byte) (func(<-chan time.Time) (uint64, error), error) {
	return nil, errors.New("no store here")
}

type noKafkaWS struct{}

func (noKafkaWS) Ticket(w http.ResponseWriter, r *http.Request) {}
func (noKafkaWS) Topic(w http.ResponseWriter, r *http.Request)  {}

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
	opts := everythingOn(t)
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
	opts := everythingOn(t)
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
