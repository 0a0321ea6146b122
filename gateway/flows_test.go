package gateway

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/projections/memory"
)

// flowServer serves the flowbroker routes as tenant (the "tenant" header,
// default t1) over a real view and real commands.
func flowServer(t *testing.T) *httptest.Server { return flowServerWith(t, nil) }

// flowServerWith is flowServer with more options, set by with on the
// view's reads.
func flowServerWith(t *testing.T, with func(*Options, *memory.View)) *httptest.Server {
	t.Helper()
	view := memory.New()
	store := &commandstest.Store{View: view}
	cmds := commands.NewFlows(commands.Options{Store: store, Sync: commandstest.Syncer{}, Now: func() time.Time { return testNow },
		Rand: rand.NewChaCha8([32]byte{2})}, view, nil)
	s := &Server{opts: Options{FlowCommands: cmds, FlowView: view.Reads(), FlowNodes: []FlowNode{{ID: "dojot/switch", Name: "switch", Module: "dojot", Version: "1.0.0", Enabled: true, Local: true, Types: []string{"switch"}}}}}
	if with != nil {
		with(&s.opts, view)
	}
	return tenantServer(t, s.mountFlows)
}

// tenantServer serves the routes mount adds as the tenant of the request's
// "tenant" header (default t1), the identity the PEP would put there.
func tenantServer(t *testing.T, mount func(chi.Router)) *httptest.Server {
	t.Helper()
	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tenant := r.Header.Get("tenant")
			if tenant == "" {
				tenant = "t1"
			}
			next.ServeHTTP(w, r.WithContext(dojot.WithIdentity(r.Context(), dojot.Identity{Tenant: tenant, Username: "u"})))
		})
	})
	mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// The notification flow of FLOWS.md 7.2, trimmed.
const notificationFlow = `[{"id":"A72c07e54bcf58","type":"tab","label":"Fluxo 1"},
 {"id":"A3a45957906e36a","type":"event device in","z":"A72c07e54bcf58","name":"Termometro","event_configure":false,"event_publish":true,"device_id":"a1b2c3","x":112.5,"y":79,"wires":[["A81862d0e54a07"]]},
 {"id":"A81862d0e54a07","type":"switch","z":"A72c07e54bcf58","property":"payload.data.attrs.temperature","propertyType":"msg","rules":[{"t":"gt","v":"32","vt":"num"}],"checkall":"false","outputs":1,"wires":[[]]}]`

func TestFlowsAPI(t *testing.T) {
	srv := flowServer(t)
	ms := `1516883442164` // testNow in epoch ms
	got := dmMust(t, srv, 200, "POST", "/flows/v1/flow", `{"name":"Notification flow","flow":`+notificationFlow+`}`)
	var created struct {
		Message string
		Flow    struct {
			Name    string
			Enabled bool
			ID      string
			Flow    []json.RawMessage
			Created int64
			Updated int64
		}
	}
	if err := json.Unmarshal([]byte(got), &created); err != nil {
		t.Fatal(err)
	}
	f := created.Flow
	if created.Message != "ok" || f.Name != "Notification flow" || !f.Enabled || len(f.Flow) != 3 || f.Created != 1516883442164 || f.Updated != f.Created ||
		!regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(f.ID) {
		t.Fatalf("POST = %s", got)
	}
	if !strings.HasPrefix(got, `{"message":"ok","flow":{"name":"Notification flow","enabled":true,"id":"`+f.ID+`","flow":[{"id":"A72c07e54bcf58","type":"tab","label":"Fluxo 1"},`) ||
		!strings.HasSuffix(got, `],"created":`+ms+`,"updated":`+ms+`}}`) {
		t.Errorf("POST = %s", got)
	}
	summary := got[len(`{"message":"ok","flow":`) : len(got)-1]
	if got := dmMust(t, srv, 200, "GET", "/flows/v1/flow/"+f.ID, ""); got != `{"message":"ok","flow":`+summary+`}` {
		t.Errorf("GET = %s", got)
	}
	if got := dmMust(t, srv, 200, "GET", "/flows/v1/flow/"+f.ID+"/status", ""); got != `{"flow":"`+f.ID+`","stats":null}` {
		t.Errorf("status without an engine = %s", got)
	}
	dmMust(t, srv, 404, "GET", "/flows/v1/flow/nope/status", "")
	if got := dmMust(t, srv, 200, "GET", "/flows/v1/flow", ""); got != `{"flows":[`+summary+`]}` {
		t.Errorf("GET list = %s", got)
	}
	// Another tenant sees nothing of it.
	if code, got := dmCall(t, srv, "GET", "/flows/v1/flow/"+f.ID, "", "tenant", "t2"); code != 404 || got != `{"message":"Unknown flow: `+f.ID+`","flow":"`+f.ID+`"}` {
		t.Errorf("other tenant GET = %d %s", code, got)
	}
	if got := dmMust(t, srv, 200, "GET", "/flows/v1/flow", ""); !strings.Contains(got, f.ID) {
		t.Errorf("list = %s", got)
	}

	// PUT: enabled false disables it (dojot's PUT could not), the name
	// changes, the rest stays.
	got = dmMust(t, srv, 200, "PUT", "/flows/v1/flow/"+f.ID, `{"enabled":false,"name":"renamed","isNew":false}`)
	if !strings.Contains(got, `"name":"renamed","enabled":false,"id":"`+f.ID+`"`) || !strings.Contains(got, `"event device in"`) {
		t.Errorf("PUT = %s", got)
	}
	got = dmMust(t, srv, 200, "PUT", "/flows/v1/flow/"+f.ID, `{"flow":[{"id":"x","type":"tab"}]}`)
	if !strings.Contains(got, `"name":"renamed","enabled":false,"id":"`+f.ID+`","flow":[{"id":"x","type":"tab"}]`) {
		t.Errorf("PUT flow = %s", got)
	}
	got = dmMust(t, srv, 200, "DELETE", "/flows/v1/flow/"+f.ID, "")
	if !strings.HasPrefix(got, `{"message":"flow removed","flow":{"name":"renamed"`) {
		t.Errorf("DELETE = %s", got)
	}
	dmMust(t, srv, 404, "GET", "/flows/v1/flow/"+f.ID, "")
	dmMust(t, srv, 200, "POST", "/flows/v1/flow", `{"name":"a","flow":[],"enabled":null}`)
	dmMust(t, srv, 200, "POST", "/flows/v1/flow", `{"name":"b","flow":[]}`)
	if got := dmMust(t, srv, 200, "DELETE", "/flows/v1/flow", ""); got != `{"message":"All flows removed"}` {
		t.Errorf("DELETE all = %s", got)
	}
	if got := dmMust(t, srv, 200, "GET", "/flows/v1/flow", ""); got != `{"flows":[]}` {
		t.Errorf("list after DELETE all = %s", got)
	}
	dmMust(t, srv, 200, "DELETE", "/flows/v1/flow", "") // none left: still 200
	if got := dmMust(t, srv, 200, "GET", "/flows/nodes", ""); got != `[{"id":"dojot/switch","name":"switch","module":"dojot","version":"1.0.0","enabled":true,"local":true,"types":["switch"]}]` {
		t.Errorf("GET /flows/nodes = %s", got)
	}
}

func TestFlowsBadInput(t *testing.T) {
	srv := flowServer(t)
	invalid := func(detail string) string { return `{"message":"Given flow is invalid","detail":"` + detail + `"}` }
	for _, tt := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"POST", "/flows/v1/flow", `{"flow":[]}`, 400, `{"message":"Missing mandatory field: name"}`},
		{"POST", "/flows/v1/flow", `{"name":"x"}`, 400, `{"message":"Missing mandatory field: flow"}`},
		{"POST", "/flows/v1/flow", `{"name":"","flow":[]}`, 400, invalid("name must not be empty")},
		{"POST", "/flows/v1/flow", `{"name":5,"flow":[]}`, 400, invalid("name must be a string")},
		{"POST", "/flows/v1/flow", `{"name":"x","flow":[],"enabled":"true"}`, 400, invalid("enabled must be a boolean")},
		{"POST", "/flows/v1/flow", `{"name":"x","flow":{}}`, 400, invalid("flow must be an array of nodes")},
		{"POST", "/flows/v1/flow", `{"name":"x","flow":null}`, 400, invalid("flow must be an array of nodes")},
		{"POST", "/flows/v1/flow", `{"name":"x","flow":[{"id":"a"}]}`, 400, invalid("node 0: not an object with a type")},
		{"POST", "/flows/v1/flow", `{"name":"x","flow":[{"type":"tab"},3]}`, 400, invalid("node 1: not an object with a type")},
		{"POST", "/flows/v1/flow", `[1]`, 400, `{"message":"Payload must be a JSON object"}`},
		{"PUT", "/flows/v1/flow/nope", `{"name":"x"}`, 404, `{"message":"Unknown flow: nope","flow":"nope"}`},
		{"DELETE", "/flows/v1/flow/nope", ``, 404, `{"message":"Unknown flow: nope","flow":"nope"}`},
		{"POST", "/flows/v1/node", `{"image":"x","id":"y"}`, 501, `{"message":"Remote nodes are not supported: flows use the built-in nodes of GET /flows/nodes"}`},
		{"GET", "/flows/v1/node", ``, 501, ``},
		{"DELETE", "/flows/v1/node/y", ``, 501, ``},
	} {
		code, got := dmCall(t, srv, tt.method, tt.path, tt.body)
		if code != tt.code || (tt.want != "" && got != tt.want) {
			t.Errorf("%s %s %s = %d %s; want %d %s", tt.method, tt.path, tt.body, code, got, tt.code, tt.want)
		}
	}
	// A body not declared as JSON is an empty object, as Express reads it.
	if code, got := dmCall(t, srv, "POST", "/flows/v1/flow", `{"name":"x","flow":[]}`, "Content-Type", "text/plain"); code != 400 || got != `{"message":"Missing mandatory field: name"}` {
		t.Errorf("text/plain body = %d %s", code, got)
	}
	// PUT keeps the flow when its update is refused.
	id := regexp.MustCompile(`"id":"([0-9a-f-]{36})"`).FindStringSubmatch(dmMust(t, srv, 200, "POST", "/flows/v1/flow", `{"name":"keep","flow":[]}`))[1]
	for _, body := range []string{`{"enabled":1}`, `{"name":""}`, `{"flow":[{"x":1}]}`} {
		dmMust(t, srv, 400, "PUT", "/flows/v1/flow/"+id, body)
	}
	if got := dmMust(t, srv, 200, "GET", "/flows/v1/flow/"+id, ""); !strings.Contains(got, `"name":"keep","enabled":true`) {
		t.Errorf("after refused PUTs = %s", got)
	}
}

// TestFlowTooLarge: a flow the event store cannot take (larger than its
// largest message) is dojot's body shape with a 413, not a bare 500.
func TestFlowTooLarge(t *testing.T) {
	srv := flowServerWith(t, func(o *Options, v *memory.View) {
		store := &commandstest.Store{View: v, AppendFn: func(ev dojot.Event) error {
			if len(ev.Data) > 1<<20 {
				return fmt.Errorf("append %s: %w", ev.Type, dojot.ErrTooLarge)
			}
			return nil
		}}
		o.FlowCommands = commands.NewFlows(commands.Options{Store: store, Sync: commandstest.Syncer{}}, v, nil)
	})
	node := `{"id":"c%d","type":"change","name":"` + strings.Repeat("x", 1500) + `","rules":[],"wires":[]}`
	var nodes []string
	for i := range 1000 {
		nodes = append(nodes, fmt.Sprintf(node, i))
	}
	body := `{"name":"huge","flow":[` + strings.Join(nodes, ",") + `]}`
	if code, got := dmCall(t, srv, "POST", "/flows/v1/flow", body); code != 413 || got != `{"message":"Given flow is too large to be stored"}` {
		t.Errorf("POST of a 1.5 MB flow = %d %s", code, got)
	}
	id := regexp.MustCompile(`"id":"([0-9a-f-]{36})"`).FindStringSubmatch(dmMust(t, srv, 200, "POST", "/flows/v1/flow", `{"name":"small","flow":[]}`))[1]
	if code, got := dmCall(t, srv, "PUT", "/flows/v1/flow/"+id, body); code != 413 || got != `{"message":"Given flow is too large to be stored"}` {
		t.Errorf("PUT of a 1.5 MB flow = %d %s", code, got)
	}
}
