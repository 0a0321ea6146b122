package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/dojot-es/dojot/agents/lorawan/lorawantest"
	"github.com/dojot-es/dojot/e2e/dojottest"
)

// gwRoute is one line of `dojot routes`.
type gwRoute struct{ method, pattern string }

// gatewayRoutes is the route table of the binary under test, as its own
// start-up builds it with every route-adding feature on (`dojot routes`).
func gatewayRoutes(t *testing.T) []gwRoute {
	t.Helper()
	out, err := exec.Command(dojottest.Binary(t), "routes").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("dojot routes: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("dojot routes: %v", err)
	}
	var rs []gwRoute
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		method, pattern, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			t.Fatalf("dojot routes: line %q is not METHOD PATTERN", sc.Text())
		}
		rs = append(rs, gwRoute{method, pattern})
	}
	if len(rs) < 100 {
		t.Fatalf("dojot routes lists %d routes: %s", len(rs), out)
	}
	return rs
}

// classify finds a route's entry in isoRoutes.
func classify(r gwRoute) (string, isoRoute, bool) {
	for _, k := range []string{r.method + " " + r.pattern, "* " + r.pattern} {
		if spec, ok := isoRoutes[k]; ok {
			return k, spec, true
		}
	}
	return "", isoRoute{}, false
}

// patternRe matches the paths a chi pattern serves.
func patternRe(pattern string) *regexp.Regexp {
	q := regexp.QuoteMeta(pattern)
	q = regexp.MustCompile(`\\\{[^}]*\\\}`).ReplaceAllString(q, `[^/]+`)
	q = strings.ReplaceAll(q, `\*`, `.*`)
	return regexp.MustCompile("^" + q + "$")
}

// isoCase is one request of one attacker against one route.
type isoCase struct {
	route gwRoute
	spec  isoRoute
	req   isoReq
	auth  string // Authorization header
	who   string
}

func (c isoCase) String() string {
	return fmt.Sprintf("%s %s (%s, %s) as %s", c.route.method, c.req.path, c.route.pattern, c.spec.class, c.who)
}

// isoDo sends one request with the Authorization header auth.
func isoDo(c *client, method, path, body, auth string) (int, []byte, error) {
	cp := *c
	cp.Token, cp.Authorization = "", auth
	var v any
	if body != "" {
		v = body
	}
	return cp.Try(method, path, v)
}

// TestIsolationMatrix: tenants A and B each hold one resource of every
// kind (templates, a device with basic credentials, a certificate and a
// PSK, a flow, a cron job, a trusted CA, history, a notification, and
// users, a group and a permission for their people). Generated from the
// binary's own route table, every route is attacked by A's tokens
// (profile admin and profile user) naming B's resources, and admin routes
// by A's user of group "user": each is refused or answers only A's own,
// nothing of B shows in any answer, and B's data is as it was; then B
// sends the same requests as a control that they were served and valid.
// Beyond HTTP: A's tickets on B's Kafka WS topics, A's device credentials
// (basic, and certificate on MQTT over TLS and the HTTP agent's TLS
// listener) on B's MQTT topics and as B's device, A's flows and cron jobs
// aimed at B's device or listening to it, A's device claiming the network
// server ids (LoRaWAN EUI, Sigfox id) of B's. It prints the number of
// cases checked (RELIABILITY.md).
func TestIsolationMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	routes := gatewayRoutes(t)
	served := map[string]bool{}
	for _, r := range routes {
		served[r.method+" "+r.pattern], served["* "+r.pattern] = true, true
		if _, _, ok := classify(r); !ok {
			t.Errorf("route %s %s is not classified: add it to isoRoutes in e2e/isolation_routes_test.go with its class "+
				"(%s, %s, %s, %s, %s or %s) and requests naming the victim tenant's resources", r.method, r.pattern,
				isoTenantID, isoCollection, isoAdmin, isoPublic, isoCaller, isoDevice)
		}
	}
	for k := range isoRoutes {
		if !served[k] {
			t.Errorf("isoRoutes has %q, which the gateway does not serve (dojot routes): remove it", k)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	tlsAddr := dojottest.FreeAddr(t)
	in := start(t, "", "-http-agent", "-http-agent-tls-addr="+tlsAddr, "-sigfox-secret=iso-sigfox",
		"-lorawan-chirpstack-secret=iso-chirpstack", "-lorawan-tts-secret=iso-tts", "-kafka-embedded-addr="+dojottest.FreeAddr(t))
	admin := in.Login("admin", adminPassword)
	a := newIsoTenant(t, in, admin, "isoa", 0)
	b := newIsoTenant(t, in, admin, "isob", 5) // template ids A does not have
	_, isoSpareCSR = isoCSR(t, "spare")
	isoSpareCA = isoCA(t, "spare ca")
	var cases atomic.Int64

	// --- beyond HTTP routes ---
	cases.Add(isoKafkaWS(t, in, a, b))
	devices := isoMQTT(t, in, admin, a, b, tlsAddr)
	if t.Failed() {
		t.FailNow()
	}

	// --- the route matrix ---
	var all []isoCase
	for _, r := range routes {
		if r.method == http.MethodConnect {
			continue // Go's client cannot send a path with CONNECT
		}
		_, spec, _ := classify(r)
		attackers := []struct {
			c   *client
			who string
		}{{a.admin, a.name + " admin"}, {a.user, a.name + " user"}}
		switch spec.class {
		case isoAdmin:
			attackers = attackers[1:]
		case isoPublic:
			attackers = attackers[:1]
		}
		re := patternRe(r.pattern)
		reqs := spec.reqs(b, a)
		if spec.class == isoCollection && r.method == http.MethodGet {
			// A collection read that names B as a filter still reads A's.
			sep := "?"
			if strings.Contains(reqs[0].path, "?") {
				sep = "&"
			}
			reqs = append(reqs, isoReq{reqs[0].path + sep + "tenant=" + b.name + "&service=" + b.name, ""})
		}
		for _, req := range reqs {
			if p, _, _ := strings.Cut(req.path, "?"); !re.MatchString(p) {
				t.Fatalf("isoRoutes: %s %s: path %s does not match the pattern", r.method, r.pattern, req.path)
			}
			for _, at := range attackers {
				all = append(all, isoCase{route: r, spec: spec, req: req, auth: "Bearer " + at.c.Token, who: at.who})
			}
		}
	}
	// What would show B's data: its marker (in every label, name and
	// reading), its secrets and ids, each unless the request itself holds
	// what it is made of (B's device id is left out: A's own flows, cron
	// jobs and imports name it).
	leaks := []struct {
		tok    string
		unless []string
	}{{b.marker, nil}, {b.basicPass, nil}, {b.flow, []string{b.flow}}, {b.cron, []string{b.cron}},
		{b.certFP, []string{b.certFP}}, {b.caFP, []string{b.caFP, isoPEMBody(b.caPEM)}}}
	before := isoSnapshot(t, admin, a, b)
	for phase := 0; phase <= 2; phase++ {
		if phase == 2 {
			// Before phase 2 wipes A's devices: A's devices' credentials,
			// flows and cron jobs aimed at B's device.
			devices.aim(t)
		}
		var batch []isoCase
		for _, c := range all {
			if c.spec.phase == phase {
				batch = append(batch, c)
			}
		}
		isoRun(t, in, batch, 8, func(c isoCase, code int, body []byte) error {
			cases.Add(1)
			if !isoWant(c.spec.want, code) {
				return fmt.Errorf("status %d, want %s: %s", code, c.spec.want, trunc(body))
			}
			for _, l := range leaks {
				if strings.Contains(string(body), l.tok) && !slices.ContainsFunc(l.unless, func(u string) bool {
					return strings.Contains(c.req.path+c.req.body, u)
				}) {
					return fmt.Errorf("answer shows %s's %q: %s", b.name, l.tok, trunc(body))
				}
			}
			if c.spec.check != nil && code/100 == 2 {
				return c.spec.check(a, body)
			}
			return nil
		})
	}
	cases.Add(devices.cases)
	after := isoSnapshot(t, admin, a, b)
	isoCompare(t, before, after)
	devices.finish(t)
	if t.Failed() {
		t.FailNow()
	}

	// --- the owner's controls: every route served, every request valid ---
	var controls []isoCase
	for _, r := range routes {
		_, spec, _ := classify(r)
		if spec.control == 0 || r.method == http.MethodConnect {
			continue
		}
		req := spec.reqs(b, a)[0]
		if spec.controlReq != nil {
			req = spec.controlReq(b)
		}
		c := isoCase{route: r, spec: spec, req: req, auth: "Bearer " + b.admin.Token, who: b.name + " admin"}
		if spec.class == isoAdmin {
			c.auth, c.who = "Bearer "+admin.Token, "admin"
		}
		controls = append(controls, c)
	}
	sort.SliceStable(controls, func(i, j int) bool { return isoControlRank(controls[i]) < isoControlRank(controls[j]) })
	isoRun(t, in, controls, 1, func(c isoCase, code int, body []byte) error {
		if code/100 != c.spec.control && !(c.spec.control == 5 && code == http.StatusNotImplemented) {
			return fmt.Errorf("owner's control: status %d, want %dxx: %s", code, c.spec.control, trunc(body))
		}
		return nil
	})
	n := cases.Load()
	t.Logf("tenant isolation: %d routes, %d cases checked, all refused; %d owner controls", len(routes), n, len(controls))
	fmt.Printf("tenant isolation: %d cases checked (%d routes of dojot routes; %d owner controls)\n", n, len(routes), len(controls))
}

// isoWant says whether status code is what want allows.
func isoWant(want string, code int) bool {
	switch want {
	case "4xx":
		return code/100 == 4
	case "403":
		return code == http.StatusForbidden
	default:
		return code < 500 || code == http.StatusNotImplemented
	}
}

// isoControlRank orders the owner's controls: reads and writes first,
// then deletions, the most specific (relations, links) before what they
// name, devices before their templates. PUT /device/:id, which sets the
// device's templates and attributes anew, comes after what uses them.
func isoControlRank(c isoCase) int {
	p := c.route.pattern
	if c.route.method != http.MethodDelete {
		if c.route.method == http.MethodPut && p == "/device/{id}" {
			return 105
		}
		return c.spec.phase * 10
	}
	switch {
	case strings.Contains(p, "{from}"), strings.HasSuffix(p, "/belongsto"), strings.Contains(p, "/template/{tid}"):
		return 100
	case p == "/template/{id}":
		return 130
	case strings.Contains(p, "{"):
		return 110
	case p == "/template":
		return 150
	default:
		return 140
	}
}

// isoRun sends the cases with workers clients at once and reports each
// case check fails.
func isoRun(t *testing.T, in *instance, cs []isoCase, workers int, check func(isoCase, int, []byte) error) {
	t.Helper()
	var mu sync.Mutex
	var failed []string
	next := make(chan isoCase)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := in.Client()
			for c := range next {
				code, body, err := isoDo(cl, c.route.method, c.req.path, c.req.body, c.auth)
				if err == nil {
					err = check(c, code, body)
				}
				if err != nil {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s: %v", c, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, c := range cs {
		next <- c
	}
	close(next)
	wg.Wait()
	sort.Strings(failed)
	for _, f := range failed {
		t.Error(f)
	}
}

// isoSnapshot is everything of B's an attack could change, and what A
// could have given itself, read by their owners.
func isoSnapshot(t *testing.T, admin *client, a, b *isoTenant) map[string]string {
	t.Helper()
	out := map[string]string{}
	get := func(c *client, path string) {
		code, body := c.Do("GET", path, nil)
		out[path] = fmt.Sprintf("%d %s", code, body)
	}
	for _, p := range []string{"/template?page_size=100", "/device?page_size=100", "/device/" + b.dev, "/internal/device/" + b.dev,
		"/flows/v1/flow", "/flows/v1/flow/" + b.flow, "/cron/v1/jobs", "/cron/v1/jobs/" + b.cron,
		"/x509/v1/certificates", "/x509/v1/certificates/" + b.certFP, "/x509/v1/trusted-cas",
		"/history/device/" + b.dev + "/history?lastN=100", "/history/notifications/history"} {
		get(b.admin, p)
	}
	for _, p := range []string{"/auth/user", "/auth/user/" + b.victim, "/auth/pap/group", "/auth/pap/permission",
		"/auth/pap/group/" + b.group + "/users", "/auth/pap/group/" + b.group + "/permissions",
		"/auth/pap/user/" + b.victim + "/allpermissions", "/auth/pap/user/" + b.victim + "/groups",
		"/auth/pap/user/" + a.name + "_user/allpermissions", "/auth/pap/user/" + a.name + "_user/groups",
		"/auth/pap/group/user/permissions"} {
		get(admin, p)
	}
	return out
}

func isoCompare(t *testing.T, before, after map[string]string) {
	t.Helper()
	for p, want := range before {
		if got := after[p]; got != want {
			t.Errorf("B's %s changed during the attacks:\nbefore %s\nafter  %s", p, trunc([]byte(want)), trunc([]byte(got)))
		}
	}
}

// isoPEMBody is a line of a PEM's base64, which a JSON string holding the
// PEM holds as is.
func isoPEMBody(p string) string {
	lines := strings.Split(p, "\n")
	if len(lines) < 3 {
		return p
	}
	return lines[1]
}

// isoTicket is a Kafka WS ticket of c's tenant.
func isoTicket(t *testing.T, c *client) string {
	t.Helper()
	var r struct{ Ticket string }
	mustJSON(t, c.Must(200, "GET", "/kafka-ws/v1/ticket", nil), &r)
	return r.Ticket
}

// isoKafkaWS: A's tickets on B's topics close 4403 (dojot's "Tenant can't
// access this topic"); B's own ticket opens B's topic.
func isoKafkaWS(t *testing.T, in *instance, a, b *isoTenant) int64 {
	t.Helper()
	ws := "ws" + strings.TrimPrefix(in.URL, "http") + "/kafka-ws/v1/topics/"
	open := func(c *client, topic string) (closeCode int, err error) {
		conn, resp, err := websocket.DefaultDialer.Dial(ws+topic+"?ticket="+isoTicket(t, c), nil)
		if err != nil {
			if resp != nil {
				return resp.StatusCode, nil
			}
			return 0, err
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _, err = conn.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, nil
		}
		return 0, nil // open: no frame, no close
	}
	topics := []string{b.name + ".device-data", b.name + ".dojot.notifications", b.name + ".dojot.device-manager.device",
		b.name + ".dojot.x509-identity-mgmt.certificates", b.name + ".dojot.tenancy", strings.ToUpper(b.name) + ".device-data",
		"dojot-management.dojot.tenancy"}
	var n int64
	for _, topic := range topics {
		n++
		code, err := open(a.admin, topic)
		if err != nil {
			t.Errorf("Kafka WS %s with %s's ticket: %v", topic, a.name, err)
		} else if code != 4403 {
			t.Errorf("Kafka WS %s with %s's ticket: close %d; want 4403", topic, a.name, code)
		}
	}
	if code, err := open(b.admin, b.name+".device-data"); err != nil || code != 0 {
		t.Errorf("Kafka WS control: %s's own topic with its ticket: close %d %v; want open", b.name, code, err)
	}
	return n
}

// mqttLogin is how a device connects: basic credentials on the MQTT
// listener, or a certificate on MQTT over TLS.
type mqttLogin struct {
	name       string
	broker     string
	tls        *tls.Config
	user, pass string
}

// mqttConn connects; lost is closed when the server ends the connection.
func mqttConn(l mqttLogin, clientID string) (paho.Client, <-chan struct{}, error) {
	lost := make(chan struct{})
	var once sync.Once
	o := paho.NewClientOptions().AddBroker(l.broker).SetClientID(clientID).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectRetry(false).SetWriteTimeout(5 * time.Second).
		SetConnectionLostHandler(func(paho.Client, error) { once.Do(func() { close(lost) }) })
	if l.tls != nil {
		o.SetTLSConfig(l.tls)
	} else {
		o.SetUsername(l.user).SetPassword(l.pass)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, nil, fmt.Errorf("connect %s: %v", l.name, tok.Error())
	}
	return c, lost, nil
}

// received is what an MQTT subscription got.
type received struct {
	mu   sync.Mutex
	msgs []string
}

func (r *received) handler(_ paho.Client, m paho.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m.Topic()+" "+string(m.Payload()))
	r.mu.Unlock()
}

// count is how many messages hold substr.
func (r *received) count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := 0
	for _, m := range r.msgs {
		if strings.Contains(m, substr) {
			k++
		}
	}
	return k
}

func (r *received) wait(t *testing.T, what, substr string, k int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); r.count(substr) < k; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d messages with %s", what, r.count(substr), k, substr)
		}
	}
}

// isoDevices is what A's devices try on B's device and what B's device
// sees meanwhile.
type isoDevices struct {
	in            *instance
	a, b          *isoTenant
	aTLS          *tls.Config
	stolen        received // what A's subscriptions to B's config topics got
	bGot, aGot    received // what B's and A's devices got on their own config topics
	cases         int64
	disconnectAll []func()
	tlsAgentAddr  string
}

// isoMQTT: A's device credentials on B's MQTT topics, with basic
// credentials and with a certificate over TLS: publishing on B's topics
// is refused, subscribing to B's config topics gets nothing of B's
// actuation (the control: B's device, subscribed as itself, gets it).
// The subscriptions stay open for the other cases (isoDevices.aim) and
// end with isoDevices.finish.
func isoMQTT(t *testing.T, in *instance, admin *client, a, b *isoTenant, tlsAgentAddr string) *isoDevices {
	t.Helper()
	d := &isoDevices{in: in, a: a, b: b, tlsAgentAddr: tlsAgentAddr}
	var ca struct {
		CaPem string `json:"caPem"`
	}
	mustJSON(t, admin.Must(200, "GET", "/x509/v1/ca", nil), &ca)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(ca.CaPem))
	d.aTLS = &tls.Config{Certificates: []tls.Certificate{a.cert}, RootCAs: roots, ServerName: "localhost"}
	logins := []mqttLogin{
		{name: a.name + " basic", broker: "tcp://" + in.MQTTAddr, user: a.basicUser, pass: a.basicPass},
		{name: a.name + " certificate", broker: "ssl://" + in.MQTTSAddr, tls: d.aTLS},
	}
	bConfig := []string{b.name + ":" + b.dev + "/config", "/" + b.name + "/" + b.dev + "/config"}
	bAttrs := []string{b.name + ":" + b.dev + "/attrs", "/" + b.name + "/" + b.dev + "/attrs"}
	for i, l := range logins {
		sub, _, err := mqttConn(l, fmt.Sprintf("iso-sub-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		d.disconnectAll = append(d.disconnectAll, func() { sub.Disconnect(0) })
		for _, topic := range bConfig {
			d.cases++
			tok := sub.Subscribe(topic, 1, d.stolen.handler)
			tok.WaitTimeout(5 * time.Second) // refused or granted: either way nothing may come
			if st, ok := tok.(*paho.SubscribeToken); ok {
				t.Logf("MQTT %s: subscribe %s: %v %v", l.name, topic, st.Result(), tok.Error())
			}
		}
		for j, topic := range bAttrs {
			d.cases++
			pub, lost, err := mqttConn(l, fmt.Sprintf("iso-pub-%d-%d", i, j))
			if err != nil {
				t.Fatal(err)
			}
			tok := pub.Publish(topic, 1, false, `{"note":"forged mqtt"}`)
			select {
			case <-tok.Done():
				t.Logf("MQTT %s: publish on %s: %v", l.name, topic, tok.Error())
				if tok.Error() == nil {
					select {
					case <-lost:
					case <-time.After(time.Second):
						t.Errorf("MQTT %s: publish on %s acknowledged", l.name, topic)
					}
				}
			case <-lost:
				t.Logf("MQTT %s: publish on %s: disconnected", l.name, topic)
			case <-time.After(10 * time.Second):
				t.Errorf("MQTT %s: publish on %s neither acknowledged nor refused", l.name, topic)
			}
			pub.Disconnect(0)
		}
	}
	// B's device, subscribed as itself, and A's to its own config.
	bSub, _, err := mqttConn(mqttLogin{name: b.name, broker: "tcp://" + in.MQTTAddr, user: b.basicUser, pass: b.basicPass}, "iso-b")
	if err != nil {
		t.Fatal(err)
	}
	d.disconnectAll = append(d.disconnectAll, func() { bSub.Disconnect(0) })
	aSub, _, err := mqttConn(logins[0], "iso-a")
	if err != nil {
		t.Fatal(err)
	}
	d.disconnectAll = append(d.disconnectAll, func() { aSub.Disconnect(0) })
	if tok := bSub.Subscribe(bConfig[0], 1, d.bGot.handler); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("B subscribes to its config: %v", tok.Error())
	}
	if tok := aSub.Subscribe(a.name+":"+a.dev+"/config", 1, d.aGot.handler); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("A subscribes to its config: %v", tok.Error())
	}
	// A's password under B's device's names: refused.
	for _, user := range []string{b.basicUser, b.name + ":" + b.dev} {
		d.cases += 2
		if c, _, err := mqttConn(mqttLogin{name: user, broker: "tcp://" + in.MQTTAddr, user: user, pass: a.basicPass}, "iso-mix"); err == nil {
			c.Disconnect(0)
			t.Errorf("MQTT: %s with %s's password connected", user, a.name)
		}
		if code, body := isoBasic(t, in, user, a.basicPass, "/http-agent/v1/incoming-messages", `{"data":{"note":"forged mix"}}`); code != 401 {
			t.Errorf("HTTP agent: %s with %s's password: %d %s; want 401", user, a.name, code, body)
		}
	}

	d.networkServerIDs(t)

	// A's flows listening to B's device and template by every head: B's
	// actuation and reading must not run them.
	heads := []string{
		`{"id":"h","type":"event device in","z":"t","device_id":"` + b.dev + `","event_publish":true,"event_configure":true,"event_update":true,"wires":[["c"]]}`,
		`{"id":"h","type":"event template in","z":"t","template_id":"` + fmt.Sprint(b.tmpl) + `","event_publish":true,"event_configure":true,"event_update":true,"wires":[["c"]]}`,
		`{"id":"h","type":"device in","z":"t","_device_id":"` + b.dev + `","wires":[["c"]]}`,
		`{"id":"h","type":"device template in","z":"t","device_template_id":"` + fmt.Sprint(b.tmpl) + `","wires":[["c"]]}`,
	}
	for i, h := range heads {
		d.cases++
		a.admin.Must(200, "POST", "/flows/v1/flow", `{"name":"listen `+fmt.Sprint(i)+`","flow":[{"id":"t","type":"tab"},`+h+`,`+
			`{"id":"c","type":"template","z":"t","field":"notification","fieldType":"msg","syntax":"handlebars",`+
			`"template":"{\"metadata\":{\"priority\":\"low\"},\"message\":\"stolen {{payload.data.attrs.note}}\"}","output":"json","wires":[["n"]]},`+
			`{"id":"n","type":"notification","z":"t","source":"notification.metadata","sourceFieldType":"msg","messageDynamic":"notification.message",`+
			`"messageStatic":"","messageFieldType":"msg","msgType":"dynamic","wires":[]}]}`)
	}

	// B actuates its device and sends a reading: B's subscriber gets the
	// actuation and B's flow notifies (the controls); A's subscriptions
	// to B's config topics and A's flows get nothing.
	b.admin.Must(200, "PUT", "/device/"+b.dev+"/actuate", `{"attrs":{"target_temperature":3}}`)
	d.bGot.wait(t, "B's own actuation", `"target_temperature":3`, 1)
	isoPost(t, in, b.basicUser, b.basicPass, "/http-agent/v1/incoming-messages", `{"data":{"note":"second"}}`, 204)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, body := b.admin.Do("GET", "/history/notifications/history", nil); strings.Count(string(body), b.marker+" note") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's flow did not notify its second reading", b.name)
		}
	}
	time.Sleep(500 * time.Millisecond) // A's flows, had they run, would have notified by now
	if _, body := a.admin.Do("GET", "/history/notifications/history", nil); strings.Contains(string(body), "stolen") {
		t.Errorf("A's flows ran on B's device: %s", body)
	}
	return d
}

// networkServerIDs: A's device claiming the network server ids of a
// device of B's (its LoRaWAN dev_eui, its Sigfox id), which are printed on
// the device and no secret, gets nothing of B's device's uplinks. A
// callback naming its tenant (?tenant=, as the operator sets up each
// tenant's integration) reaches B's device only; one that does not is
// refused while devices of several tenants claim the id, rather than
// handed to each of them.
func (d *isoDevices) networkServerIDs(t *testing.T) {
	t.Helper()
	in, a, b := d.in, d.a, d.b
	const eui, sigfoxID = "70B3D57ED0000B0B", "B0B0B0"
	device := func(c *client, label string) string {
		var tp struct{ Template dojottest.Template }
		mustJSON(t, c.Must(200, "POST", "/template", map[string]any{"label": label, "attrs": []map[string]any{
			{"label": "dev_eui", "type": "static", "value_type": "string", "static_value": eui},
			{"label": "device", "type": "static", "value_type": "string", "static_value": sigfoxID},
		}}), &tp)
		return dojottest.CreateDevice(c, label, tp.Template.ID)
	}
	bNode := device(b.admin, b.marker+"-node")
	squatter := device(a.admin, "squatter")
	post := func(path, secret, body string) int {
		t.Helper()
		code, resp, err := isoDo(in.Client(), "POST", path, body, "Bearer "+secret)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d %s", path, code, resp)
		return code
	}
	sigfox := `{"device":"` + sigfoxID + `","data":"b0b0"}`
	chirp := strings.ReplaceAll(lorawantest.ChirpStackUp, "0101010101010101", eui)
	for _, c := range []struct {
		path, secret, body string
		want               int
	}{
		{"/sigfox?tenant=" + b.name, "iso-sigfox", sigfox, 200},
		{"/lorawan/chirpstack?event=up&tenant=" + b.name, "iso-chirpstack", chirp, 200},
		{"/sigfox", "iso-sigfox", sigfox, 409},
		{"/lorawan/chirpstack?event=up", "iso-chirpstack", chirp, 409},
	} {
		d.cases++
		if code := post(c.path, c.secret, c.body); code != c.want {
			t.Errorf("POST %s with %s's device's ids claimed by %s's device too: %d; want %d", c.path, b.name, a.name, code, c.want)
		}
	}
	if !historyHas(b.admin, bNode, "data", `"b0b0"`) || !historyHas(b.admin, bNode, "payload", `"aa"`) {
		t.Errorf("%s's device did not get its uplinks", b.name)
	}
	if code, body := a.admin.Do("GET", "/history/device/"+squatter+"/history?lastN=10", nil); code/100 != 2 && code != 404 || strings.Contains(string(body), `"value"`) {
		t.Errorf("%s's device claiming %s's device's ids got: %d %s", a.name, b.name, code, body)
	}
}

// aim: the HTTP agent (basic credentials, certificate on its TLS
// listener) takes A's identity from the credentials whatever the body
// says; A's flows and cron jobs aimed at B's device do nothing to it.
func (d *isoDevices) aim(t *testing.T) {
	t.Helper()
	in, a, b := d.in, d.a, d.b

	// The HTTP agent: A's credentials, B's ids in the body or query.
	forged := []struct{ path, body string }{
		{"/http-agent/v1/incoming-messages", `{"tenant":"` + b.name + `","deviceId":"` + b.dev + `","data":{"note":"forged agent 1"}}`},
		{"/http-agent/v1/unsecure/incoming-messages?tenant=" + b.name + "&deviceId=" + b.dev, `{"data":{"note":"forged agent 2"}}`},
		{"/http-agent/v1/incoming-messages/create-many", `[{"tenant":"` + b.name + `","deviceId":"` + b.dev + `","ts":1528226138000,"data":{"note":"forged agent 3"}}]`},
		{"/iotagent/readings", `{"tenant":"` + b.name + `","deviceId":"` + b.dev + `","readings":[{"timestamp":"2026-01-01T00:00:00Z","note":"forged agent 4"}]}`},
	}
	for _, f := range forged {
		d.cases++
		code, body := isoBasic(t, in, a.basicUser, a.basicPass, f.path, f.body)
		if code >= 500 {
			t.Errorf("HTTP agent %s as %s: %d %s", f.path, a.name, code, body)
		}
		t.Logf("HTTP agent %s with %s's credentials, %s's ids: %d %s", f.path, a.name, b.name, code, body)
	}
	agentTLS := &http.Client{Transport: &http.Transport{TLSClientConfig: d.aTLS}, Timeout: 30 * time.Second}
	for _, f := range forged {
		d.cases++
		resp, err := agentTLS.Post("https://"+d.tlsAgentAddr+f.path, "application/json", strings.NewReader(strings.ReplaceAll(f.body, "forged agent", "forged tls agent")))
		if err != nil {
			t.Errorf("HTTP agent over TLS %s with %s's certificate: %v", f.path, a.name, err)
			continue
		}
		resp.Body.Close()
		t.Logf("HTTP agent over TLS %s with %s's certificate, %s's ids: %d", f.path, a.name, b.name, resp.StatusCode)
		if resp.StatusCode >= 500 {
			t.Errorf("HTTP agent over TLS %s with %s's certificate: %d", f.path, a.name, resp.StatusCode)
		}
	}

	// What the agent took was stored as A's device's, its credentials'.
	if !historyHas(a.admin, a.dev, "note", `"forged agent 1"`) || !historyHas(a.admin, a.dev, "note", `"forged tls agent 1"`) {
		t.Errorf("the HTTP agent's readings with %s's credentials are not %s's device's", a.name, a.name)
	}

	// A flow of A's, run by A's device, aimed at B's device by every
	// node that acts on a device; its last node actuates A's own device,
	// which tells the run is over.
	d.cases += 4
	a.admin.Must(200, "POST", "/flows/v1/flow", `{"name":"aim","flow":[{"id":"t","type":"tab"},`+
		`{"id":"h","type":"event device in","z":"t","device_id":"`+a.dev+`","event_publish":true,"wires":[["c"]]},`+
		`{"id":"c","type":"change","z":"t","rules":[{"t":"set","p":"out.note","pt":"msg","to":"forged flow","tot":"str"},`+
		`{"t":"set","p":"cfg.target_temperature","pt":"msg","to":"5","tot":"num"}],"wires":[["ma","mo","sa","so","self"]]},`+
		`{"id":"ma","type":"multi actuate","z":"t","device_source":"configured","devices_source_configured":["`+b.dev+`"],"attrs":"cfg","wires":[]},`+
		`{"id":"mo","type":"multi device out","z":"t","device_source":"configured","devices_source_configured":["`+b.dev+`"],"attrs":"out","wires":[]},`+
		`{"id":"sa","type":"actuate","z":"t","device_source":"configured","_device_id":"`+b.dev+`","attrs":"cfg","wires":[]},`+
		`{"id":"so","type":"device out","z":"t","device_source":"configured","_device_id":"`+b.dev+`","attrs":"out","wires":[]},`+
		`{"id":"self","type":"multi actuate","z":"t","device_source":"self","devices_source_configured":[""],"attrs":"cfg","wires":[]}]}`)
	isoPost(t, in, a.basicUser, a.basicPass, "/http-agent/v1/incoming-messages", `{"data":{"temperature":30}}`, 204)
	d.aGot.wait(t, "A's flow on its own device", `"target_temperature":5`, 1)

	// Cron jobs of A's aimed at B's device; A's own job tells two ticks
	// have passed.
	d.cases += 2
	var jobs []string
	for _, body := range []string{
		isoCronJob("aim configure", "*/1 * * * * *", b.name, b.dev),
		isoCronData("aim data", "*/1 * * * * *", b.name, b.dev, "forged cron"),
		isoCronJob("own", "*/1 * * * * *", a.name, a.dev),
	} {
		var job struct{ JobID string }
		mustJSON(t, a.admin.Must(201, "POST", "/cron/v1/jobs", body), &job)
		jobs = append(jobs, job.JobID)
	}
	d.aGot.wait(t, "A's cron job on its own device", `"target_temperature":7`, 2)
	for _, id := range jobs {
		a.admin.Must(204, "DELETE", "/cron/v1/jobs/"+id, nil)
	}

}

// finish: B's device saw its own actuation only, A's subscriptions to
// B's config topics nothing, and B's history holds nothing forged.
func (d *isoDevices) finish(t *testing.T) {
	t.Helper()
	defer func() {
		for _, f := range d.disconnectAll {
			f()
		}
	}()
	time.Sleep(500 * time.Millisecond) // anything still in flight to B would be here by now
	if n := d.stolen.count(""); n != 0 {
		t.Errorf("A's subscriptions to B's config topics got %d messages", n)
	}
	if n := d.bGot.count(""); n != 1 {
		t.Errorf("B's device got %d messages; want its own actuation only", n)
	}
	if _, body := d.b.admin.Do("GET", "/history/device/"+d.b.dev+"/history?lastN=100", nil); strings.Contains(string(body), "forged") ||
		!strings.Contains(string(body), d.b.marker) {
		t.Errorf("B's history: %s", body)
	}
}
