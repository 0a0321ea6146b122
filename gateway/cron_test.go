package gateway

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/projections/memory"
)

// cronServer serves the cron routes as tenant (the "tenant" header,
// default t1) over a real view and real commands.
func cronServer(t *testing.T) *httptest.Server {
	t.Helper()
	view := memory.New()
	store := &commandstest.Store{View: view}
	cmds := commands.NewCron(commands.Options{Store: store, Sync: commandstest.Syncer{}, Now: func() time.Time { return testNow },
		Rand: rand.NewChaCha8([32]byte{3})}, view, []string{"http://device-manager:5000"})
	s := &Server{opts: Options{CronCommands: cmds, CronView: view.Reads()}}
	return tenantServer(t, s.mountCron)
}

// cronCall makes a request and returns its status, Content-Type and body.
func cronCall(t *testing.T, srv *httptest.Server, method, path, contentType, body string, hdr ...string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

const apibJob = `{"time":"0 */5 * * * *","timezone":"America/Sao_Paulo","name":"Keep alive",
 "description":"This job sends a keep alive notification to a device every 5 minutes",
 "broker":{"subject":"dojot.device-manager.device","message":{"event":"configure","data":{"attrs":{"message":"keepalive"},"id":"e1b1a9"},"meta":{"service":"admin"}}}}`

func TestCronAPI(t *testing.T) {
	srv := cronServer(t)
	const js = "application/json"
	code, ct, got := cronCall(t, srv, "POST", "/cron/v1/jobs", js, apibJob)
	m := regexp.MustCompile(`^\{"status":"success","jobId":"([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})"\}\n$`).FindStringSubmatch(got)
	if code != 201 || ct != "application/json; charset=utf-8" || m == nil {
		t.Fatalf("POST = %d %s %s", code, ct, got)
	}
	id := m[1]
	spec := `{"time":"0 */5 * * * *","timezone":"America/Sao_Paulo","name":"Keep alive","description":"This job sends a keep alive notification to a device every 5 minutes",` +
		`"broker":{"subject":"dojot.device-manager.device","message":{"event":"configure","data":{"attrs":{"message":"keepalive"},"id":"e1b1a9"},"meta":{"service":"admin"}}}}`
	if code, _, got := cronCall(t, srv, "GET", "/cron/v1/jobs/"+id, "", ""); code != 200 || got != `{"jobId":"`+id+`","spec":`+spec+"}\n" {
		t.Errorf("GET one = %d %s", code, got)
	}
	// PUT creates a job with the client's id (201), then replaces it (200).
	put := `{"time":"* * * * *","broker":{"subject":"device-data","message":{"metadata":{"deviceid":"e1b1a9"},"attrs":{"t":1}}}}`
	if code, _, got := cronCall(t, srv, "PUT", "/cron/v1/jobs/mine", js, put); code != 201 || got != `{"status":"success","jobId":"mine"}`+"\n" {
		t.Errorf("PUT new = %d %s", code, got)
	}
	if code, _, got := cronCall(t, srv, "PUT", "/cron/v1/jobs/mine", js, put); code != 200 || got != `{"status":"success","jobId":"mine"}`+"\n" {
		t.Errorf("PUT again = %d %s", code, got)
	}
	list := `[{"jobId":"` + id + `","spec":` + spec + `},{"jobId":"mine","spec":{"time":"* * * * *","timezone":"UTC",` +
		`"broker":{"subject":"device-data","message":{"metadata":{"deviceid":"e1b1a9"},"attrs":{"t":1}}}}}]` + "\n"
	if code, _, got := cronCall(t, srv, "GET", "/cron/v1/jobs", "", ""); code != 200 || got != list {
		t.Errorf("GET all = %d %s\nwant %s", code, got, list)
	}
	// Another tenant sees none of them, and cannot delete them.
	if code, _, got := cronCall(t, srv, "GET", "/cron/v1/jobs", "", "", "tenant", "t2"); code != 200 || got != "[]\n" {
		t.Errorf("GET all of t2 = %d %s", code, got)
	}
	notFound := `{"status":"error","errors":[{"error":2,"message":"Resource not found."}]}` + "\n"
	for _, c := range []struct{ method, path, tenant string }{
		{"GET", "/cron/v1/jobs/" + id, "t2"}, {"DELETE", "/cron/v1/jobs/" + id, "t2"}, {"GET", "/cron/v1/jobs/nope", "t1"}, {"DELETE", "/cron/v1/jobs/nope", "t1"},
	} {
		if code, ct, got := cronCall(t, srv, c.method, c.path, "", "", "tenant", c.tenant); code != 404 || got != notFound || ct != "application/json; charset=utf-8" {
			t.Errorf("%s %s as %s = %d %s %s", c.method, c.path, c.tenant, code, ct, got)
		}
	}
	if code, ct, got := cronCall(t, srv, "DELETE", "/cron/v1/jobs/"+id, "", ""); code != 204 || got != "" || ct != "" {
		t.Errorf("DELETE one = %d %q %q", code, ct, got)
	}
	if code, _, _ := cronCall(t, srv, "GET", "/cron/v1/jobs/"+id, "", ""); code != 404 {
		t.Errorf("GET deleted = %d", code)
	}
	if code, _, got := cronCall(t, srv, "DELETE", "/cron/v1/jobs", "", ""); code != 204 || got != "" {
		t.Errorf("DELETE all = %d %q", code, got)
	}
	if code, _, got := cronCall(t, srv, "GET", "/cron/v1/jobs", "", ""); code != 200 || got != "[]\n" {
		t.Errorf("GET all after DELETE all = %d %s", code, got)
	}
}

func TestCronAPIErrors(t *testing.T) {
	srv := cronServer(t)
	for _, c := range []struct{ contentType, body, want string }{
		{"application/json", `{"time":"61 * * * *","broker":{"subject":"device-data","message":{"metadata":{"deviceid":"d"},"attrs":{}}}}`,
			`{"status":"error","errors":[{"error":101,"message":"Invalid cron time.","detail":"cron time: minute field \"61\": 61 is out of 0-59"}]}`},
		{"application/json", `{"time":"* * * * *","name":"x","http":{"method":"GET","url":"http://elsewhere/x"}}`,
			`{"status":"error","errors":[{"error":103,"message":"Invalide name.","detail":"a string of 2 to 128 characters"},` +
				`{"error":113,"message":"(http action) Invalid http url.","detail":"\"http://elsewhere/x\" is not under an allowed base URL (http://device-manager:5000)"}]}`},
		{"application/json", `{"time":"* * * * *","broker":{"subject":"dojot.notifications","message":{"a":1}}}`,
			`{"status":"error","errors":[{"error":121,"message":"(broker action) Invalid subject.","detail":"\"dojot.device-manager.device\" or \"device-data\": a configure message to a device, or a reading as a device"}]}`},
		{"application/json", `{"time":`, `{"status":"error","errors":[{"error":100,"message":"Invalid JSON body.","detail":"the body must be a JSON object"}]}`},
		// Express's parser reads a body not declared as JSON as {}.
		{"text/plain", apibJob, `{"status":"error","errors":[{"error":101,"message":"Invalid cron time.","detail":"time is required: a string of 5 fields, or 6 with seconds first"},` +
			`{"error":105,"message":"Invalid job action.","detail":"a job needs an http or a broker action"}]}`},
	} {
		code, ct, got := cronCall(t, srv, "POST", "/cron/v1/jobs", c.contentType, c.body)
		if code != 400 || got != c.want+"\n" || ct != "application/json; charset=utf-8" {
			t.Errorf("POST %s = %d %s %s\nwant %s", c.body, code, ct, got, c.want)
		}
	}
	if code, _, got := cronCall(t, srv, "PUT", "/cron/v1/jobs/a.b", "application/json", apibJob); code != 400 || !strings.Contains(got, `"error":106`) {
		t.Errorf("PUT a.b = %d %s", code, got)
	}
	if code, _, got := cronCall(t, srv, "GET", "/cron/v1/jobs", "", ""); code != 200 || got != "[]\n" {
		t.Errorf("GET after refusals = %d %s", code, got)
	}
}
