package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
	"github.com/dojot-es/dojot/kafkaws/tickets/ticketstest"
)

// needSocketIOClient finds Node and socket.io-client 2.4.0 (the client
// dojot's GUI v1 bundles), installed from e2e/socketio's lock file by
// .ci/run, or here with npm ci when it is not: under CI=true their absence
// fails the test, elsewhere it skips it.
func needSocketIOClient(t *testing.T) string {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	node, err := exec.LookPath("node")
	if err != nil {
		fail("node not found (apt-get install nodejs npm): %v", err)
	}
	if _, err := os.Stat(filepath.Join("socketio", "node_modules", "socket.io-client", "package.json")); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = "socketio"
		if out, err := cmd.CombinedOutput(); err != nil {
			fail("npm ci in e2e/socketio: %v\n%s", err, out)
		}
	}
	return node
}

// sioLine is one line of e2e/socketio/client.js.
type sioLine struct {
	Kind      string            `json:"kind"`
	Name      string            `json:"name"`
	Transport string            `json:"transport"`
	Status    int               `json:"status"`
	Body      map[string]string `json:"body"`
	Data      json.RawMessage   `json:"data"`
}

// sioClient is one socket.io-client 2.4.0 in Node.
type sioClient struct {
	t      *testing.T
	name   string
	lines  chan sioLine
	stdin  io.WriteCloser
	stderr *strings.Builder
}

// startSIO runs client.js against in with opts (see its comment).
func startSIO(t *testing.T, node string, in *instance, name string, opts map[string]any) *sioClient {
	t.Helper()
	cmd := exec.Command(node, "client.js", in.URL, jsonOf(opts))
	cmd.Dir = "socketio"
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &sioClient{t: t, name: name, lines: make(chan sioLine, 64), stderr: &strings.Builder{}}
	cmd.Stderr = c.stderr
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l sioLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l = sioLine{Kind: "garbled", Data: json.RawMessage(fmt.Sprintf("%q", sc.Text()))}
			}
			c.lines <- l
		}
		close(c.lines)
	}()
	return c
}

// next is the client's next line other than its token's.
func (c *sioClient) next() sioLine {
	c.t.Helper()
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("%s: client ended: %s", c.name, c.stderr.String())
			}
			if l.Kind == "token" {
				if l.Status != 200 {
					c.t.Fatalf("%s: GET /stream/socketio: %d %v", c.name, l.Status, l.Body)
				}
				continue
			}
			return l
		case <-time.After(30 * time.Second):
			c.t.Fatalf("%s: nothing for 30 s: %s", c.name, c.stderr.String())
		}
	}
}

// expect is the next line, which must be of kind.
func (c *sioClient) expect(kind string) sioLine {
	c.t.Helper()
	l := c.next()
	if l.Kind != kind {
		c.t.Fatalf("%s: %s %s %s; want %s", c.name, l.Kind, l.Name, l.Data, kind)
	}
	return l
}

// events reads n events.
func (c *sioClient) events(n int) []sioLine {
	c.t.Helper()
	var out []sioLine
	for len(out) < n {
		out = append(out, c.expect("event"))
	}
	return out
}

// quiet reports what the client said in d (nothing expected).
func (c *sioClient) quiet(d time.Duration) []sioLine {
	var out []sioLine
	deadline := time.After(d)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return out
			}
			out = append(out, l)
		case <-deadline:
			return out
		}
	}
}

func (c *sioClient) send(cmd string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		c.t.Fatal(err)
	}
}

type sioReading struct {
	Metadata struct {
		DeviceID  string `json:"deviceid"`
		Tenant    string `json:"tenant"`
		Timestamp any    `json:"timestamp"`
	} `json:"metadata"`
	Attrs map[string]any `json:"attrs"`
}

// checkDeviceEvents: the two events of one message, <deviceid> then all,
// with the same payload of device id and tenant, returned.
func checkDeviceEvents(t *testing.T, who string, evs []sioLine, id, tenant string) sioReading {
	t.Helper()
	var r [2]sioReading
	for i, ev := range evs {
		if want := []string{id, "all"}[i]; ev.Name != want {
			t.Errorf("%s: event %d is %q; want %q", who, i, ev.Name, want)
		}
		mustJSON(t, ev.Data, &r[i])
		if r[i].Metadata.DeviceID != id || r[i].Metadata.Tenant != tenant || r[i].Metadata.Timestamp == nil {
			t.Errorf("%s: %s %s", who, ev.Name, ev.Data)
		}
	}
	if string(evs[0].Data) != string(evs[1].Data) {
		t.Errorf("%s: <deviceid> %s and all %s differ", who, evs[0].Data, evs[1].Data)
	}
	return r[0]
}

// TestSocketIO: socket.io-client 2.4.0 (npm, in Node), as dojot's GUI v1
// and users' scripts use it, over long-polling only (GUI v1), websocket
// only, and polling upgraded to websocket: a token from the login JWT
// (GET /stream/socketio), then <deviceid> and all for a reading published
// with mosquitto_pub (non-ASCII text in it) and for an actuation;
// notifications of a flow on two notification sockets, one filtered by
// the GUI's filter plus a metaAttrsFilter field; a socket of tenant B
// never gets A's events; a missing, reused, expired, unknown or foreign
// token (a Kafka WS ticket) gets dojot's error packet and no connect.
func TestSocketIO(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	node := needSocketIOClient(t)
	dojottest.NeedCommand(t, "sh", "-c", "command -v mosquitto_pub")
	in := start(t, "", "-mqtt-insecure", "-socketio-token-ttl=5s")
	a := in.Login("admin", adminPassword)
	a.Must(200, "POST", "/auth/user", map[string]any{"username": "siob", "service": "siotenant",
		"email": "siob@example.com", "name": "B", "profile": "admin"})
	b := dojottest.LoginNewUser(t, in, a, "siob")
	devA := dojottest.CreateDevice(a, "thermo", dojottest.CreateTemplate(a, "Thermos"))
	devB := dojottest.CreateDevice(b, "thermo-b", dojottest.CreateTemplate(b, "Thermos"))

	// Two notification flows on A's device: priority high and low.
	head := `{"id":"h","type":"event device in","z":"t","device_id":"` + devA + `","event_publish":true,"wires":[["s"]]},` +
		`{"id":"s","type":"switch","z":"t","property":"payload.data.attrs.temperature","propertyType":"msg","rules":[{"t":"gt","v":"32","vt":"num"}],"checkall":"true","outputs":1,"wires":[["c"]]},`
	for _, f := range []struct{ name, meta, text string }{{"hot", `{"priority":"high"}`, "too high"}, {"quiet", `{"priority":"low"}`, "noted"}} {
		a.Must(200, "POST", "/flows/v1/flow", `{"name":"`+f.name+`","flow":[{"id":"t","type":"tab"},`+head+
			`{"id":"c","type":"template","z":"t","field":"notification","fieldType":"msg","syntax":"handlebars",`+
			`"template":"{\"metadata\":`+strings.ReplaceAll(f.meta, `"`, `\"`)+`,\"message\":\"Temp {{payload.data.attrs.temperature}} `+f.text+`\"}","output":"json","wires":[["n"]]},`+
			`{"id":"n","type":"notification","z":"t","source":"notification.metadata","sourceFieldType":"msg","messageDynamic":"notification.message","messageStatic":"","messageFieldType":"msg","msgType":"dynamic","wires":[]}]}`)
	}

	events := []string{"all", devA, devB}
	polling := startSIO(t, node, in, "polling", map[string]any{"jwt": a.Token, "transports": []string{"polling"}, "events": events})
	ws := startSIO(t, node, in, "websocket", map[string]any{"jwt": a.Token, "transports": []string{"websocket"}, "events": events})
	upgrade := startSIO(t, node, in, "upgrade", map[string]any{"jwt": a.Token, "events": events})
	gui := `{"fields":{"subject":{"operation":"=","value":"user_notification"},"priority":{"operation":"!=","value":"low"}}}`
	notes1 := startSIO(t, node, in, "notifications (filtered)", map[string]any{"jwt": a.Token, "transports": []string{"polling"},
		"subject": "dojot.notifications", "filter": gui, "events": []string{"notification", "all", devA}})
	notes2 := startSIO(t, node, in, "notifications", map[string]any{"jwt": a.Token, "transports": []string{"websocket"},
		"subject": "dojot.notifications", "events": []string{"notification", "all", devA}})
	other := startSIO(t, node, in, "tenant B", map[string]any{"jwt": b.Token, "transports": []string{"polling"}, "events": events})

	for _, c := range []*sioClient{polling, ws, upgrade, notes1, notes2, other} {
		l := c.expect("connect")
		want := map[*sioClient]string{ws: "websocket", notes2: "websocket"}[c]
		if want == "" {
			want = "polling"
		}
		if l.Transport != want {
			t.Errorf("%s: connected over %s; want %s", c.name, l.Transport, want)
		}
	}
	if l := upgrade.expect("upgrade"); l.Transport != "websocket" {
		t.Errorf("upgrade: to %s", l.Transport)
	}
	// The filter is emitted on connect: let it arrive before the
	// notifications do.
	time.Sleep(300 * time.Millisecond)

	text := "ç😀 naïve ☃"
	userA, userB := "admin:"+devA, "siotenant:"+devB
	if out, err := dojottest.MosquittoPub(in, userA, userA+"/attrs", jsonOf(map[string]any{"temperature": 35, "note": text}), "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	if out, err := dojottest.MosquittoPub(in, userB, userB+"/attrs", `{"temperature":1}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	for _, c := range []*sioClient{polling, ws, upgrade} {
		r := checkDeviceEvents(t, c.name, c.events(2), devA, "admin")
		if r.Attrs["temperature"] != 35.0 || r.Attrs["note"] != text {
			t.Errorf("%s: attrs %v; want temperature 35 and note %q", c.name, r.Attrs, text)
		}
	}
	// B's socket gets B's reading, and nothing of A's first.
	r := checkDeviceEvents(t, other.name, other.events(2), devB, "siotenant")
	if r.Attrs["temperature"] != 1.0 {
		t.Errorf("tenant B: attrs %v", r.Attrs)
	}

	// Notifications: both sockets get the high one, the unfiltered one
	// the low one too; neither gets device events.
	type note struct {
		MsgID, Message, Subject string
		Timestamp               int64
		MetaAttrsFilter         map[string]any
	}
	messages := func(c *sioClient, n int) []string {
		var got []string
		for _, ev := range c.events(n) {
			var s string
			if ev.Name != "notification" || json.Unmarshal(ev.Data, &s) != nil {
				t.Fatalf("%s: event %s %s; want notification, a JSON string", c.name, ev.Name, ev.Data)
			}
			var m note
			mustJSON(t, []byte(s), &m)
			if m.MsgID == "" || m.Timestamp == 0 || m.Subject != "user_notification" || m.MetaAttrsFilter["priority"] == nil {
				t.Errorf("%s: notification %s", c.name, s)
			}
			got = append(got, m.Message)
		}
		slices.Sort(got)
		return got
	}
	if got := messages(notes2, 2); strings.Join(got, "|") != "Temp 35 noted|Temp 35 too high" {
		t.Errorf("notifications: %q", got)
	}
	if got := messages(notes1, 1); got[0] != "Temp 35 too high" {
		t.Errorf("filtered notifications: %q", got)
	}

	// An actuation, as dojot normalises it.
	a.Must(200, "PUT", "/device/"+devA+"/actuate", map[string]any{"attrs": map[string]any{"target_temperature": 21.5}})
	for _, c := range []*sioClient{polling, ws, upgrade} {
		r := checkDeviceEvents(t, c.name, c.events(2), devA, "admin")
		if len(r.Attrs) != 1 || r.Attrs["target_temperature"] != 21.5 {
			t.Errorf("%s: actuation attrs %v", c.name, r.Attrs)
		}
	}
	// A marker reading on B: the only thing B's socket got since.
	if out, err := dojottest.MosquittoPub(in, userB, userB+"/attrs", `{"temperature":2}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	if r := checkDeviceEvents(t, other.name, other.events(2), devB, "siotenant"); r.Attrs["temperature"] != 2.0 {
		t.Errorf("tenant B: %v; want its marker reading (nothing of A's before it)", r.Attrs)
	}
	for _, c := range []*sioClient{notes1, notes2} {
		if ls := c.quiet(500 * time.Millisecond); len(ls) > 0 {
			t.Errorf("%s: %v; want nothing more (no device events)", c.name, ls)
		}
	}

	// Refused tokens: dojot's error packet, fired as 'error', no connect.
	var ticket struct{ Ticket string }
	mustJSON(t, b.Must(200, "GET", "/kafka-ws/v1/ticket", nil), &ticket)
	var fresh struct{ Token string }
	mustJSON(t, a.Must(200, "GET", "/stream/socketio", nil), &fresh)
	var used struct{ Token string }
	mustJSON(t, a.Must(200, "GET", "/stream/socketio", nil), &used)
	first := startSIO(t, node, in, "first use", map[string]any{"token": used.Token, "transports": []string{"polling"}})
	first.expect("connect")
	time.Sleep(6 * time.Second) // -socketio-token-ttl=5s: fresh expires
	for _, tc := range []struct {
		name, token, want string
		transports        []string
	}{
		{"missing", "", "Authentication error: missing token", []string{"polling"}},
		{"missing ws", "", "Authentication error: missing token", []string{"websocket"}},
		{"reused", used.Token, "Authentication error: unknown token", []string{"polling"}},
		{"reused ws", used.Token, "Authentication error: unknown token", []string{"websocket"}},
		{"expired", fresh.Token, "Authentication error: unknown token", nil},
		{"unknown", "3b241101-e2bb-4255-8caf-4136c566a962", "Authentication error: unknown token", []string{"polling"}},
		{"Kafka WS ticket of B", ticket.Ticket, "Authentication error: unknown token", []string{"websocket"}},
	} {
		opts := map[string]any{"token": tc.token, "transports": tc.transports, "events": events}
		if tc.token == "" {
			opts["token"] = nil
		}
		c := startSIO(t, node, in, tc.name, opts)
		l := c.next()
		var got string
		if l.Kind != "error" || json.Unmarshal(l.Data, &got) != nil || got != tc.want {
			t.Errorf("%s: %s %s; want error %q", tc.name, l.Kind, l.Data, tc.want)
		}
		// The engine connection stays open (as dojot's), so the default
		// transports still upgrade it; no socket connects.
		for _, l := range c.quiet(300 * time.Millisecond) {
			if l.Kind != "upgrade" {
				t.Errorf("%s: then %s %s; want no connect", tc.name, l.Kind, l.Data)
			}
		}
	}
	if code, body := in.Client().Do("GET", "/stream/socketio", nil); code != 401 {
		t.Errorf("GET /stream/socketio without a token: %d %s", code, body)
	}

	// /healthz counts them.
	var h struct {
		SocketIO struct {
			Tokens string
			Stats  struct {
				Open    int
				Opened  uint64
				Events  uint64
				Refused map[string]uint64
			}
		}
	}
	mustJSON(t, in.Client().Must(200, "GET", "/healthz", nil), &h)
	st := h.SocketIO.Stats
	// Events: 3 sockets x 2 readings x 2 events, B's 2 x 2, 3 notifications.
	if h.SocketIO.Tokens != "memory" || st.Open != 7 || st.Opened != 7 || st.Events != 19 ||
		st.Refused["missing_token"] != 2 || st.Refused["unknown_token"] != 5 {
		t.Errorf("/healthz socketio %+v", h.SocketIO)
	}
}

// TestSocketIOTwoInstances: two instances on one NATS and one Redis
// (-redis-url): a token issued by one opens a socket on the other, which
// gets the readings published on the first's MQTT; the token is then used
// up for both.
func TestSocketIOTwoInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	node := needSocketIOClient(t)
	dojottest.NeedCommand(t, "sh", "-c", "command -v mosquitto_pub")
	first, second := sharedNATS(t, []string{"-jwt-secret=shared-e2e-secret", "-mqtt-insecure", "-redis-url=" + ticketstest.RedisURL(t)})
	a := start(t, "", first...)
	b := start(t, "", second...)
	ca := a.Login("admin", adminPassword)
	id := dojottest.CreateDevice(ca, "thermo", dojottest.CreateTemplate(ca, "Thermos"))

	var tok struct{ Token string }
	mustJSON(t, ca.Must(200, "GET", "/stream/socketio", nil), &tok)
	c := startSIO(t, node, b, "on B", map[string]any{"token": tok.Token, "transports": []string{"polling"}, "events": []string{"all"}})
	c.expect("connect")
	user := "admin:" + id
	if out, err := dojottest.MosquittoPub(a, user, user+"/attrs", `{"temperature":30}`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	if ev := c.expect("event"); !strings.Contains(string(ev.Data), `"temperature":30`) || ev.Name != "all" {
		t.Errorf("on B: %s %s", ev.Name, ev.Data)
	}
	for _, in := range []*instance{a, b} {
		again := startSIO(t, node, in, "reused", map[string]any{"token": tok.Token, "transports": []string{"websocket"}})
		var got string
		if l := again.next(); l.Kind != "error" || json.Unmarshal(l.Data, &got) != nil || got != "Authentication error: unknown token" {
			t.Errorf("token reused on %s: %s %s", in.URL, l.Kind, l.Data)
		}
	}
}
