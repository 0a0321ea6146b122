package gateway

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/projections/memory"
)

var testNow = time.Date(2018, 1, 25, 12, 30, 42, 164695000, time.UTC)

// dmServer serves the DeviceManager routes as tenant (from the "tenant"
// header, default t1) over a real view and real commands.
func dmServer(t *testing.T) (*httptest.Server, *memory.View) {
	t.Helper()
	view := memory.New()
	store := &commandstest.Store{View: view}
	rnd := rand.NewChaCha8([32]byte{1})
	cmds := commands.NewDevices(commands.Options{Store: store, Sync: commandstest.Syncer{}, Now: func() time.Time { return testNow }, Rand: rnd}, view)
	s := &Server{opts: Options{DeviceCommands: cmds, DeviceView: view.Reads(), Events: store}}
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
	s.mountDeviceManager(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, view
}

// call does one request; a string body is sent as JSON.
func dmCall(t *testing.T, srv *httptest.Server, method, path, body string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func dmMust(t *testing.T, srv *httptest.Server, want int, method, path, body string) string {
	t.Helper()
	code, got := dmCall(t, srv, method, path, body)
	if code != want {
		t.Fatalf("%s %s = %d %s; want %d", method, path, code, got, want)
	}
	return got
}

const sensorTemplate = `{"label":"SensorModel","attrs":[
	{"label":"temperature","type":"dynamic","value_type":"float"},
	{"label":"target","type":"actuator","value_type":"float"},
	{"label":"model-id","type":"static","value_type":"string","static_value":"model-001",
	 "metadata":[{"label":"unit","type":"meta","value_type":"string"}]}]}`

const ts = `"2018-01-25T12:30:42.164695+00:00"`

func TestTemplateCreateAndGet(t *testing.T) {
	srv, _ := dmServer(t)
	got := dmMust(t, srv, 200, "POST", "/template", sensorTemplate)
	attrs := `[{"created":` + ts + `,"id":1,"label":"temperature","template_id":"1","type":"dynamic","value_type":"float"},` +
		`{"created":` + ts + `,"id":2,"label":"target","template_id":"1","type":"actuator","value_type":"float"},` +
		`{"created":` + ts + `,"id":3,"label":"model-id","metadata":[{"created":` + ts + `,"id":4,"label":"unit","static_value":null,"type":"meta","updated":null,"value_type":"string"}],"static_value":"model-001","template_id":"1","type":"static","value_type":"string"}]`
	want := `{"attrs":` + attrs + `,"config_attrs":[],"created":` + ts + `,"data_attrs":` + attrs + `,"id":1,"label":"SensorModel"}`
	if got != `{"result":"ok","template":`+want+`}` {
		t.Errorf("POST /template =\n%s\nwant\n%s", got, `{"result":"ok","template":`+want+`}`)
	}
	if got := dmMust(t, srv, 200, "GET", "/template/1", ""); got != want {
		t.Errorf("GET /template/1 =\n%s\nwant\n%s", got, want)
	}
	// A second template continues both sequences.
	got = dmMust(t, srv, 200, "POST", "/template", `{"label":"B","attrs":[{"label":"x","type":"dynamic","value_type":"integer"}]}`)
	if !strings.Contains(got, `"id":5,"label":"x","template_id":"2"`) || !strings.Contains(got, `"id":2,"label":"B"`) {
		t.Errorf("second template = %s", got)
	}
}

func TestDeviceLifecycle(t *testing.T) {
	srv, _ := dmServer(t)
	dmMust(t, srv, 200, "POST", "/template", sensorTemplate)
	got := dmMust(t, srv, 200, "POST", "/device?verbose=true", `{"label":"pump","templates":[1],"id":"a1998e",
		"attrs":[{"id":3,"label":"model-id","template_id":"1","static_value":"mine","metadata":[{"id":4,"static_value":"C"}]}]}`)
	dev := `{"attrs":{"1":[{"created":` + ts + `,"id":1,"label":"temperature","template_id":"1","type":"dynamic","value_type":"float"},` +
		`{"created":` + ts + `,"id":2,"label":"target","template_id":"1","type":"actuator","value_type":"float"},` +
		`{"created":` + ts + `,"id":3,"is_static_overridden":true,"label":"model-id","metadata":[{"created":` + ts + `,"id":4,"is_static_overridden":true,"label":"unit","static_value":"C","type":"meta","updated":null,"value_type":"string"}],"static_value":"mine","template_id":"1","type":"static","value_type":"string"}]},` +
		`"created":` + ts + `,"id":"a1998e","label":"pump","templates":[1]}`
	if want := `{"devices":[` + dev + `],"message":"device created"}`; got != want {
		t.Errorf("POST /device?verbose=true =\n%s\nwant\n%s", got, want)
	}
	if got := dmMust(t, srv, 200, "GET", "/device/a1998e", ""); got != dev {
		t.Errorf("GET /device/a1998e =\n%s\nwant\n%s", got, dev)
	}
	dmMust(t, srv, 400, "POST", "/device", `{"label":"again","templates":[1],"id":"a1998e"}`)

	got = dmMust(t, srv, 200, "PUT", "/device/a1998e", `{"label":"pump2","templates":[1]}`)
	if !strings.Contains(got, `"label":"pump2"`) || !strings.Contains(got, `"updated":`+ts) || strings.Contains(got, `"mine"`) ||
		!strings.HasSuffix(got, `"message":"device updated"}`) {
		t.Errorf("PUT /device = %s", got)
	}

	if got := dmMust(t, srv, 200, "PUT", "/device/a1998e/actuate", `{"attrs":{"target":23.5}}`); got != `{" status":"configuration sent to device"}` {
		t.Errorf("actuate = %s", got)
	}
	if got := dmMust(t, srv, 403, "PUT", "/device/a1998e/actuate", `{"attrs":{"zeta":1,"temperature":2,"target":3}}`); got != `{"attrs":["zeta","temperature"],"status":"some of the attributes are not configurable"}` {
		t.Errorf("actuate of non-actuators = %s", got)
	}

	if got := dmMust(t, srv, 400, "DELETE", "/template/1", ""); got != `{"message":"Templates cannot be removed as they are being used by devices","status":400}` {
		t.Errorf("DELETE used template = %s", got)
	}
	dmMust(t, srv, 400, "DELETE", "/template", "")

	dmMust(t, srv, 200, "POST", "/template", `{"label":"Other","attrs":[{"label":"temperature","type":"dynamic","value_type":"int"}]}`)
	if got := dmMust(t, srv, 400, "POST", "/device/a1998e/template/2", ""); !strings.Contains(got, "Template (2) cannot be added to device (a1998e) as it has standing attribute conflicts") {
		t.Errorf("conflicting template = %s", got)
	}
	dmMust(t, srv, 200, "PUT", "/template/2", `{"label":"Other","attrs":[{"label":"humidity","type":"dynamic","value_type":"int"}]}`)
	got = dmMust(t, srv, 200, "POST", "/device/a1998e/template/2", "")
	if !strings.Contains(got, `"templates":[1,2]`) || !strings.Contains(got, `"2":[{`) {
		t.Errorf("add template = %s", got)
	}
	if got := dmMust(t, srv, 404, "DELETE", "/device/a1998e/template/9", ""); got != `{"message":"Device a1998e is not associated with template 9","status":404}` {
		t.Errorf("remove unknown relation = %s", got)
	}
	got = dmMust(t, srv, 200, "DELETE", "/device/a1998e/template/2", "")
	if !strings.Contains(got, `"templates":[1]`) {
		t.Errorf("remove template = %s", got)
	}

	got = dmMust(t, srv, 200, "DELETE", "/device/a1998e", "")
	if !strings.HasPrefix(got, `{"removed_device":{"attrs":{"1":`) || !strings.HasSuffix(got, `"result":"ok"}`) {
		t.Errorf("DELETE /device = %s", got)
	}
	if got := dmMust(t, srv, 404, "GET", "/device/a1998e", ""); got != `{"message":"No such device: a1998e","status":404}` {
		t.Errorf("GET deleted device = %s", got)
	}
	// The id is free again; its subject's history continues.
	dmMust(t, srv, 200, "POST", "/device", `{"label":"reborn","templates":[1],"id":"a1998e"}`)
	dmMust(t, srv, 200, "DELETE", "/device", "")
	got = dmMust(t, srv, 200, "DELETE", "/template", "")
	if !strings.HasPrefix(got, `{"removed":[{"attrs":`) {
		t.Errorf("DELETE /template = %s", got)
	}
	if got := dmMust(t, srv, 200, "GET", "/template", ""); got != `{"pagination":{"has_next":false,"next_page":null,"page":1,"total":0},"templates":[]}` {
		t.Errorf("GET /template after delete = %s", got)
	}
}

func TestDeviceListing(t *testing.T) {
	srv, _ := dmServer(t)
	dmMust(t, srv, 200, "POST", "/template", sensorTemplate)
	dmMust(t, srv, 200, "POST", "/template", `{"label":"Geo","attrs":[{"label":"pos","type":"dynamic","value_type":"geo:point"}]}`)
	var created struct {
		Devices []dojot.DeviceRef `json:"devices"`
	}
	if err := json.Unmarshal([]byte(dmMust(t, srv, 200, "POST", "/device?count=12", `{"label":"d","templates":[1]}`)), &created); err != nil {
		t.Fatal(err)
	}
	if len(created.Devices) != 12 || created.Devices[0].Label != "d_00" || created.Devices[11].Label != "d_11" {
		t.Fatalf("count=12 = %+v", created.Devices)
	}
	dmMust(t, srv, 200, "POST", "/device", `{"label":"geo","templates":[2],"id":"0000aa"}`)
	dmMust(t, srv, 200, "POST", "/device", `{"label":"own","templates":[1],"id":"0000ab","attrs":[{"id":3,"label":"model-id","template_id":"1","static_value":"x9"}]}`)

	type page struct {
		Pagination struct {
			HasNext  bool `json:"has_next"`
			NextPage *int `json:"next_page"`
			Page     int  `json:"page"`
			Total    int  `json:"total"`
		} `json:"pagination"`
		Devices []struct {
			ID    string `json:"id"`
			Label string `json:"label"`
		} `json:"devices"`
	}
	list := func(q string) page {
		t.Helper()
		var p page
		if err := json.Unmarshal([]byte(dmMust(t, srv, 200, "GET", "/device"+q, "")), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		query          string
		n, pages, next int // next 0: null
		first          string
	}{
		{"", 14, 1, 0, "0000aa"},
		{"?page_size=5", 5, 3, 2, "0000aa"},
		{"?page_size=5&page_num=3", 4, 3, 0, ""},
		{"?page_size=5&page_num=9", 0, 3, 0, ""},
		{"?sortBy=label", 14, 1, 0, "d_00"},
		{"?sortBy=label&page_size=2&page_num=7", 2, 7, 0, "geo"},
		{"?label=d_1", 2, 1, 0, ""},
		{"?label=o&sortBy=label", 2, 1, 0, "geo"},
		{"?template=2", 1, 1, 0, "0000aa"},
		{"?template=abc", 0, 0, 0, ""},
		{"?attr=model-id=model-001", 12, 1, 0, ""},
		{"?attr=model-id=x9", 1, 1, 0, "0000ab"},
		{"?attr_type=geo:point", 1, 1, 0, "0000aa"},
		{"?attr=model-id=model-001&attr_type=float", 0, 0, 0, ""}, // one attribute must match both
		{"?attr_type=float&template=1&sortBy=label&page_size=20", 13, 1, 0, "d_00"},
	}
	for _, tt := range tests {
		p := list(tt.query)
		next := 0
		if p.Pagination.NextPage != nil {
			next = *p.Pagination.NextPage
		}
		if len(p.Devices) != tt.n || p.Pagination.Total != tt.pages || next != tt.next || p.Pagination.HasNext != (tt.next != 0) {
			t.Errorf("GET /device%s = %d devices, %+v; want %d, total %d, next %d", tt.query, len(p.Devices), p.Pagination, tt.n, tt.pages, tt.next)
			continue
		}
		if tt.first != "" && p.Devices[0].ID != tt.first && p.Devices[0].Label != tt.first {
			t.Errorf("GET /device%s first = %+v; want %s", tt.query, p.Devices[0], tt.first)
		}
	}
	if got := dmMust(t, srv, 200, "GET", "/device?idsOnly=true&page_size=2", ""); got != `["0000aa","0000ab"]` {
		t.Errorf("idsOnly = %s", got)
	}
	got := dmMust(t, srv, 200, "GET", "/device/template/2", "")
	if !strings.Contains(got, `"id":"0000aa"`) || strings.Count(got, `"label":"geo"`) != 1 {
		t.Errorf("GET /device/template/2 = %s", got)
	}
	// Templates: filters order by id, sortBy only counts without them.
	if got := dmMust(t, srv, 200, "GET", "/template?sortBy=label&attr_format=single", ""); !strings.Contains(got, `"label":"Geo"}`) || strings.Index(got, `"Geo"`) > strings.Index(got, `"SensorModel"`) || strings.Contains(got, "data_attrs") {
		t.Errorf("templates sorted by label, single = %s", got)
	}
	if got := dmMust(t, srv, 200, "GET", "/template?attr=model-id=model-001&attr_format=split", ""); !strings.Contains(got, `"label":"SensorModel"`) || strings.Contains(got, `"Geo"`) || strings.Contains(got, `"attrs"`) {
		t.Errorf("templates by attr, split = %s", got)
	}
}

func TestDeviceManagerBadInput(t *testing.T) {
	srv, view := dmServer(t)
	dmMust(t, srv, 200, "POST", "/template", sensorTemplate)
	dmMust(t, srv, 200, "POST", "/device", `{"label":"x","templates":[1],"id":"abcd"}`)
	before, _ := view.Checkpoint(t.Context())
	tests := []struct {
		method, path, body string
		hdr                []string
		code               int
		want               string
	}{
		{"POST", "/template", `{not json`, nil, 400, `{"message":"Payload must be valid JSON, and Content-Type set accordingly","status":400}`},
		{"POST", "/template", `{"label":"x"}`, []string{"Content-Type", "text/plain"}, 400, `{"message":"Payload must be valid JSON, and Content-Type set accordingly","status":400}`},
		{"POST", "/template", `{"attrs":[]}`, nil, 400, `{"errors":{"label":["Missing data for required field."]},"message":"failed to parse input"}`},
		{"POST", "/template", `{"label":5,"attrs":[]}`, nil, 400, `{"errors":{"label":["Not a valid string."]},"message":"failed to parse input"}`},
		{"POST", "/template", `{"label":"t","attrs":[{"label":"a b","type":"dynamic"}]}`, nil, 400, `{"errors":{"label":["Labels must contain letters, numbers or dashes(-_)"],"value_type":["Missing data for required field."]},"message":"failed to parse attr"}`},
		{"POST", "/template", `{"label":"t","attrs":[{"label":"a","type":"dynamic","value_type":"x"},{"label":"a","type":"dynamic","value_type":"y"}]}`, nil, 400, `{"message":"Template attribute constraints are violated by the request","status":400}`},
		{"POST", "/template", `{"label":"` + strings.Repeat("x", 129) + `","attrs":[]}`, nil, 400, `{"message":"value too long for type character varying(128)","status":400}`},
		{"GET", "/template/abc", ``, nil, 404, `{"message":"No such template: abc","status":404}`},
		{"GET", "/template/42", ``, nil, 404, `{"message":"No such template: 42","status":404}`},
		{"PUT", "/template/42", `{not json`, nil, 404, `{"message":"No such template: 42","status":404}`},
		{"DELETE", "/template/42", ``, nil, 404, `{"message":"No such template: 42","status":404}`},
		{"GET", "/template?page_size=x", ``, nil, 400, `{"message":"page_size and page_num must be integers","status":400}`},
		{"GET", "/device?page_num=0", ``, nil, 400, `{"message":"Page numbers must be greater than 1","status":400}`},
		{"GET", "/device?page_size=0", ``, nil, 400, `{"message":"At least one entry per page is mandatory","status":400}`},
		{"GET", "/device?attr=novalue", ``, nil, 400, ``},
		{"POST", "/device", `{"templates":[1]}`, nil, 400, `{"errors":{"label":["Missing data for required field."]},"message":"failed to parse input"}`},
		{"POST", "/device", `{"label":"x","templates":"1"}`, nil, 400, `{"errors":{"templates":["Invalid type."]},"message":"failed to parse input"}`},
		{"POST", "/device", `{"label":"x","templates":[99]}`, nil, 404, `{"message":"No such template: 99","status":404}`},
		{"POST", "/device", `{"label":"x","templates":[1],"id":"xyz!"}`, nil, 400, `{"message":["Device ID must be 2-6 characters and must be hexadecimal (0-9,a-f,A-F)."],"status":400}`},
		{"POST", "/device", `{"label":"x","templates":[1],"id":"abcd"}`, nil, 400, `{"message":"duplicate key value violates unique constraint \"devices_pkey\"","status":400}`},
		{"POST", "/device", `{"label":"x","templates":[1],"attrs":[{"id":3}]}`, nil, 400, `{"message":["missing label attribute"],"status":400}`},
		{"POST", "/device", `{"label":"x","templates":[1],"attrs":[{"label":"a","id":3},{"label":"a","id":3}]}`, nil, 400, `{"message":["a device can not have repeated attributes"],"status":400}`},
		{"POST", "/device", `{"label":"x","templates":[1],"attrs":[{"label":"a","id":3,"template_id":"7"}]}`, nil, 400, `{"message":"Unknown template None in attr list","status":400}`},
		{"POST", "/device", `{"label":"x","templates":[1],"attrs":[{"label":"a","id":77,"template_id":"1"}]}`, nil, 400, `{"message":"Unknown attribute 77 in override list","status":400}`},
		{"POST", "/device", `{"label":"x","templates":[1],"attrs":[{"label":"a","id":3,"template_id":"1","metadata":[{"id":"q"}]}]}`, nil, 400, `{"message":"Unknown metadata attribute q in override list","status":400}`},
		{"POST", "/device", `{"label":"x","templates":[1,1]}`, nil, 400, `{"message":"Template (1) cannot be added to device (` /* id varies */},
		{"POST", "/device?count=abc", `{"label":"x","templates":[1]}`, nil, 400, `{"message":"If provided, count must be integer","status":400}`},
		{"POST", "/device?count=2&verbose=true", `{"label":"x","templates":[1]}`, nil, 400, `{"message":"Verbose can only be used for single device creation","status":400}`},
		{"POST", "/device", `[1]`, nil, 400, `{"errors":{"_schema":["Invalid input type."]},"message":"failed to parse input"}`},
		{"GET", "/device/ffffff", ``, nil, 404, `{"message":"No such device: ffffff","status":404}`},
		{"PUT", "/device/ffffff", `{"label":"x","templates":[1]}`, nil, 404, `{"message":"No such device: ffffff","status":404}`},
		{"PUT", "/device/abcd", `{"templates":[1]}`, nil, 400, `{"errors":{"label":["Missing data for required field."]},"message":"failed to parse input"}`},
		{"DELETE", "/device/ffffff", ``, nil, 404, `{"message":"No such device: ffffff","status":404}`},
		{"PUT", "/device/ffffff/actuate", `{"attrs":{"target":1}}`, nil, 404, `{"message":"No such device: ffffff","status":404}`},
		{"PUT", "/device/abcd/actuate", `{"attrs":`, nil, 400, `{"message":"Payload must be valid JSON, and Content-Type set accordingly","status":400}`},
		{"POST", "/device/abcd/template/99", ``, nil, 404, `{"message":"No such template: 99","status":404}`},
		{"POST", "/device/abcd/template/1", ``, nil, 400, `{"message":"Template (1) cannot be added to device (abcd) as it has standing attribute conflicts","status":400}`},
		{"POST", "/import", `{"templates":[{"label":"x"}],"devices":[]}`, nil, 400, `{"message":"Failed to import data","status":400}`},
		{"POST", "/import", `{}`, []string{"Content-Type", "text/plain"}, 400, `{"message":"Failed to import data","status":400}`},
		// Another tenant sees none of t1's data.
		{"GET", "/device/abcd", ``, []string{"tenant", "t2"}, 404, `{"message":"No such device: abcd","status":404}`},
		{"GET", "/template/1", ``, []string{"tenant", "t2"}, 404, `{"message":"No such template: 1","status":404}`},
		{"DELETE", "/device/abcd", ``, []string{"tenant", "t2"}, 404, ``},
		{"PUT", "/device/abcd/actuate", `{"attrs":{"target":1}}`, []string{"tenant", "t2"}, 404, ``},
		{"POST", "/device", `{"label":"x","templates":[1]}`, []string{"tenant", "t2"}, 404, `{"message":"No such template: 1","status":404}`},
	}
	for _, tt := range tests {
		code, got := dmCall(t, srv, tt.method, tt.path, tt.body, tt.hdr...)
		if code != tt.code || (tt.want != "" && !strings.HasPrefix(got, tt.want)) || !json.Valid([]byte(got)) {
			t.Errorf("%s %s %s = %d %s; want %d %s", tt.method, tt.path, tt.body, code, got, tt.code, tt.want)
		}
	}
	if after, _ := view.Checkpoint(t.Context()); after != before {
		t.Errorf("bad requests stored events: checkpoint %d -> %d", before, after)
	}
	if got := dmMust(t, srv, 200, "GET", "/device?idsOnly=true", ""); got != `["abcd"]` {
		t.Errorf("devices after bad requests = %s", got)
	}
	if code, got := dmCall(t, srv, "GET", "/device?idsOnly=1", "", "tenant", "t2"); code != 200 || got != `[]` {
		t.Errorf("t2 devices = %d %s", code, got)
	}
}

func TestImport(t *testing.T) {
	srv, _ := dmServer(t)
	dmMust(t, srv, 200, "POST", "/template", sensorTemplate)
	dmMust(t, srv, 200, "POST", "/device", `{"label":"old","templates":[1],"id":"0123"}`)
	body := `{"templates":[{"id":7,"label":"Imported","attrs":[{"id":20,"label":"temp","type":"dynamic","value_type":"float"},
		{"id":21,"label":"serial","type":"static","value_type":"string","static_value":"s0"}]}],
		"devices":[{"id":"beef","label":"cow","templates":[7,99],"attrs":[{"id":21,"label":"serial","template_id":"7","static_value":"s1"}]}]}`
	if got := dmMust(t, srv, 201, "POST", "/import", body); got != `{"message":"data imported!"}` {
		t.Errorf("POST /import = %s", got)
	}
	dmMust(t, srv, 404, "GET", "/device/0123", "")
	dmMust(t, srv, 404, "GET", "/template/1", "")
	got := dmMust(t, srv, 200, "GET", "/device/beef", "")
	if !strings.Contains(got, `"templates":[7]`) || !strings.Contains(got, `"static_value":"s1"`) {
		t.Errorf("imported device = %s", got)
	}
	// Sequences restart after the highest imported ids.
	got = dmMust(t, srv, 200, "POST", "/template", `{"label":"next","attrs":[{"label":"a","type":"dynamic","value_type":"float"}]}`)
	if !strings.Contains(got, `"id":22,"label":"a","template_id":"8"`) {
		t.Errorf("template after import = %s", got)
	}
}

func TestParseAttrFilter(t *testing.T) {
	tests := []struct {
		in         string
		label, val string
		ok         bool
	}{
		{"model=m-1", "model", "m-1", true},
		{"a=b=c", "a=b", "c", true}, // greedy, as dojot's regex
		{"a==", "a", "=", true},
		{"=x", "", "", false},
		{"x=", "", "", false},
		{"novalue", "", "", false},
		{"a=b\nc", "", "", false},
	}
	for _, tt := range tests {
		f, ok := parseAttrFilter(tt.in)
		if ok != tt.ok || f.Label != tt.label || f.Value != tt.val {
			t.Errorf("parseAttrFilter(%q) = %+v, %v; want %q=%q, %v", tt.in, f, ok, tt.label, tt.val, tt.ok)
		}
	}
}

func FuzzParseAttrFilter(f *testing.F) {
	f.Add("model=m-1")
	f.Add("a=b=c")
	f.Fuzz(func(t *testing.T, s string) {
		if a, ok := parseAttrFilter(s); ok && (a.Label+"="+a.Value != s || a.Label == "" || a.Value == "") {
			t.Errorf("parseAttrFilter(%q) = %+v, which does not give the input back", s, a)
		}
	})
}

// TestAttrIDOrder: attribute ids are dojot's, so a client that hard-codes
// them in a device's overrides keeps working. dojot's ORM inserts every new
// attribute of a flush before any new metadata (its test's template gps
// [descricao], ..., serial, ... gets gps=4, serial=7, descricao=9).
func TestAttrIDOrder(t *testing.T) {
	srv, _ := dmServer(t)
	dmMust(t, srv, 200, "POST", "/template", `{"label":"first","attrs":[
		{"label":"a","type":"dynamic","value_type":"float"},{"label":"b","type":"dynamic","value_type":"float"},
		{"label":"c","type":"dynamic","value_type":"float"}]}`)
	got := dmMust(t, srv, 200, "POST", "/template", `{"label":"gps","attrs":[
		{"label":"gps","type":"dynamic","value_type":"geo:point","metadata":[{"label":"descricao","type":"meta","value_type":"string","static_value":"d"}]},
		{"label":"lat","type":"dynamic","value_type":"float"},{"label":"lng","type":"dynamic","value_type":"float"},
		{"label":"serial","type":"static","value_type":"string","static_value":"s-1"},
		{"label":"model","type":"static","value_type":"string","static_value":"m"}]}`)
	for _, want := range []string{`"id":4,"label":"gps"`, `"id":9,"label":"descricao"`, `"id":7,"label":"serial"`, `"id":8,"label":"model"`} {
		if !strings.Contains(got, want) {
			t.Errorf("POST /template: no %s in %s", want, got)
		}
	}
	// The ids dojot's tester sends in its overrides.
	got = dmMust(t, srv, 200, "POST", "/device?verbose=true", `{"label":"d","templates":[2],"attrs":[
		{"id":7,"label":"serial","template_id":"2","static_value":"s-2"},
		{"id":4,"label":"gps","template_id":"2","metadata":[{"id":9,"static_value":"here"}]}]}`)
	if !strings.Contains(got, `"static_value":"s-2"`) || !strings.Contains(got, `"static_value":"here"`) {
		t.Errorf("overrides by dojot's ids = %s", got)
	}

	// An update: a load in the middle (here, the delete of lat, whose
	// cascade reads its children) flushes the metadata added before it;
	// the rest is numbered at the end, new attributes first.
	got = dmMust(t, srv, 200, "PUT", "/template/2", `{"label":"gps","attrs":[
		{"label":"gps","type":"dynamic","value_type":"geo:point","metadata":[
			{"label":"descricao","type":"meta","value_type":"string","static_value":"d"},{"label":"m1","type":"meta","value_type":"string"}]},
		{"label":"lng","type":"dynamic","value_type":"float"},
		{"label":"serial","type":"static","value_type":"string","static_value":"s-1","metadata":[{"label":"m2","type":"meta","value_type":"string"}]},
		{"label":"model","type":"static","value_type":"string","static_value":"m"},
		{"label":"alt","type":"dynamic","value_type":"float","metadata":[{"label":"m3","type":"meta","value_type":"string"}]}]}`)
	got = dmMust(t, srv, 200, "GET", "/template/2", "")
	for _, want := range []string{`"id":10,"label":"m1"`, `"id":11,"label":"alt"`, `"id":12,"label":"m2"`, `"id":13,"label":"m3"`} {
		if !strings.Contains(got, want) {
			t.Errorf("PUT /template/2: no %s in %s", want, got)
		}
	}
}

// TestDojotTesterBodies: the device bodies of dojot's own tester
// ("attrs":{} on every create and update) and the percent-encoded paths
// Flask decodes.
func TestDojotTesterBodies(t *testing.T) {
	srv, _ := dmServer(t)
	dmMust(t, srv, 200, "POST", "/template", sensorTemplate)
	got := dmMust(t, srv, 200, "POST", "/device", `{"templates":[1],"attrs":{},"label":"tester","id":"b374a5"}`)
	if got != `{"devices":[{"id":"b374a5","label":"tester"}],"message":"devices created"}` {
		t.Errorf("POST /device with attrs {} = %s", got)
	}
	got = dmMust(t, srv, 200, "POST", "/device?count=2", `{"templates":[1],"attrs":{},"label":"many"}`)
	if !strings.Contains(got, `"label":"many_0"`) || !strings.Contains(got, `"label":"many_1"`) {
		t.Errorf("POST /device?count=2 with attrs {} = %s", got)
	}
	got = dmMust(t, srv, 200, "PUT", "/device/b374a5", `{"templates":[1],"attrs":{},"label":"renamed"}`)
	if !strings.Contains(got, `"label":"renamed"`) {
		t.Errorf("PUT /device with attrs {} = %s", got)
	}
	// dojot crashes (500) on any other object: a 400 naming the field.
	for _, body := range []string{`{"templates":[1],"attrs":{"x":1},"label":"l"}`, `{"templates":[1],"attrs":"x","label":"l"}`} {
		if code, got := dmCall(t, srv, "POST", "/device", body); code != 400 || got != `{"errors":{"attrs":["Not a valid list."]},"message":"failed to parse input"}` {
			t.Errorf("POST /device %s = %d %s", body, code, got)
		}
	}

	// Path parameters are decoded once.
	if got := dmMust(t, srv, 200, "GET", "/device/b374%61%35", ""); !strings.Contains(got, `"id":"b374a5"`) {
		t.Errorf("GET /device/b374%%61%%35 = %s", got)
	}
	if got := dmMust(t, srv, 200, "GET", "/template/%31", ""); !strings.Contains(got, `"label":"SensorModel"`) {
		t.Errorf("GET /template/%%31 = %s", got)
	}
	dmMust(t, srv, 200, "PUT", "/device/b374%61%35/actuate", `{"attrs":{"target":1}}`)
	dmMust(t, srv, 404, "GET", "/device/b374%2561%2535", "") // b374%61%35 is no device id
}
