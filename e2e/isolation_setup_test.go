package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// isoTenant is one tenant of the isolation matrix with one resource of
// every kind, each named with its marker so that a response showing any of
// it to another tenant is seen.
type isoTenant struct {
	name   string
	marker string  // in every label, name and reading of the tenant
	admin  *client // a user of profile admin of the tenant
	user   *client // a user of profile user (group "user") of the tenant

	tmpl, tmpl2 int    // templates: tmpl2 is on no device
	dev         string // on tmpl, with basic credentials, a certificate, a PSK, history
	flow, cron  string
	certFP      string
	certPEM     string
	cert        tls.Certificate // dev's client certificate and key
	caFP        string          // a trusted CA
	caPEM       string
	basicUser   string // dev's basic credentials
	basicPass   string

	// Platform-wide auth resources (dojot's auth is not per tenant: only
	// the admin group manages them) made for this tenant's people.
	victim, group, perm string // ids
}

// newIsoTenant makes a tenant (its first user creates it) and its
// resources, as its own admin user would.
func newIsoTenant(t *testing.T, in *instance, admin *client, name string, fillers int) *isoTenant {
	t.Helper()
	tn := &isoTenant{name: name, marker: name + "secret"}
	for _, u := range []struct{ user, profile string }{{name + "_admin", "admin"}, {name + "_user", "user"}} {
		admin.Must(200, "POST", "/auth/user", map[string]any{"username": u.user, "service": name,
			"email": u.user + "@example.com", "name": u.user, "profile": u.profile})
	}
	tn.admin = dojottest.LoginNewUser(t, in, admin, name+"_admin")
	tn.user = dojottest.LoginNewUser(t, in, admin, name+"_user")
	c := tn.admin

	// Templates: fillers first, so that this tenant's template ids are
	// ids the other tenant does not have (ids count per tenant, as in
	// dojot's schema per tenant).
	for i := range fillers {
		isoTemplate(c, fmt.Sprintf("%s-filler%d", tn.marker, i))
	}
	tn.tmpl = isoTemplate(c, tn.marker+"-tmpl")
	var r struct{ Template dojottest.Template }
	mustJSON(t, c.Must(200, "POST", "/template", map[string]any{"label": tn.marker + "-tmpl2", "attrs": []map[string]any{
		{"label": "humidity", "type": "dynamic", "value_type": "float"}}}), &r)
	tn.tmpl2 = r.Template.ID
	tn.dev = dojottest.CreateDevice(c, tn.marker+"-dev", tn.tmpl)
	c.Must(200, "POST", "/device/gen_psk/"+tn.dev+"?key_length=16", nil)
	var cred struct {
		Credentials struct{ Username, Password string }
	}
	mustJSON(t, c.Must(200, "POST", "/basic-auth/v1/devices/"+tn.dev+"/basic-credentials", nil), &cred)
	tn.basicUser, tn.basicPass = cred.Credentials.Username, cred.Credentials.Password

	// A flow that notifies on the device's readings: the notifications
	// history gets one when the reading below arrives.
	var flow struct{ Flow struct{ ID string } }
	mustJSON(t, c.Must(200, "POST", "/flows/v1/flow", isoNotifyFlow(tn.marker+"-flow", tn.dev, tn.marker+" note")), &flow)
	tn.flow = flow.Flow.ID
	var job struct{ JobID string }
	mustJSON(t, c.Must(201, "POST", "/cron/v1/jobs", isoCronJob(tn.marker+"-cron", "0 0 1 1 *", name, tn.dev)), &job)
	tn.cron = job.JobID

	key, csr := isoCSR(t, "dev"+name)
	var issued issuedCert
	mustJSON(t, c.Must(201, "POST", "/x509/v1/certificates", map[string]any{"csr": csr, "belongsTo": map[string]any{"device": tn.dev}}), &issued)
	tn.certFP, tn.certPEM = issued.CertificateFingerprint, issued.CertificatePem
	cert, err := tls.X509KeyPair([]byte(issued.CertificatePem), key)
	if err != nil {
		t.Fatal(err)
	}
	tn.cert = cert
	tn.caPEM = isoCA(t, name+" ca")
	var ca struct{ CAFingerprint string }
	mustJSON(t, c.Must(201, "POST", "/x509/v1/trusted-cas", map[string]any{"caPem": tn.caPEM}), &ca)
	tn.caFP = ca.CAFingerprint

	// History: a reading through the HTTP agent, which also fires the flow.
	isoPost(t, in, tn.basicUser, tn.basicPass, "/http-agent/v1/incoming-messages",
		`{"data":{"temperature":21.5,"note":"`+tn.marker+` reading"}}`, 204)
	dojottest.WaitHistory(t, c, tn.dev, "note", 1)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, body := c.Do("GET", "/history/notifications/history", nil); strings.Contains(string(body), tn.marker+" note") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no notification in the history", name)
		}
	}

	// Auth: a user, a group and a permission of the tenant's people.
	victim := name + "_victim"
	admin.Must(200, "POST", "/auth/user", map[string]any{"username": victim, "service": name,
		"email": victim + "@example.com", "name": tn.marker, "profile": "user"})
	var u struct{ User struct{ ID string } }
	mustJSON(t, admin.Must(200, "GET", "/auth/user/"+victim, nil), &u)
	tn.victim = u.User.ID
	var id struct{ ID int64 }
	mustJSON(t, admin.Must(200, "POST", "/auth/pap/group", map[string]any{"name": name + "group", "description": tn.marker}), &id)
	tn.group = strconv.FormatInt(id.ID, 10)
	mustJSON(t, admin.Must(200, "POST", "/auth/pap/permission", map[string]any{"name": name + "_perm", "path": "/" + tn.marker + "/(.*)",
		"method": "GET", "permission": "permit"}), &id)
	tn.perm = strconv.FormatInt(id.ID, 10)
	return tn
}

func isoTemplate(c *client, label string) int {
	c.TB().Helper()
	var r struct{ Template dojottest.Template }
	mustJSON(c.TB(), c.Must(200, "POST", "/template", isoTemplateBody(label)), &r)
	return r.Template.ID
}

func isoTemplateBody(label string) map[string]any {
	return map[string]any{"label": label, "attrs": []map[string]any{
		{"label": "temperature", "type": "dynamic", "value_type": "float"},
		{"label": "note", "type": "dynamic", "value_type": "string"},
		{"label": "target_temperature", "type": "actuator", "value_type": "float"},
		{"label": "model", "type": "static", "value_type": "string", "static_value": label},
		{"label": "k", "type": "static", "value_type": "psk"},
	}}
}

// isoNotifyFlow notifies text on every reading of device dev.
func isoNotifyFlow(name, dev, text string) string {
	return `{"name":"` + name + `","flow":[{"id":"t","type":"tab"},` +
		`{"id":"h","type":"event device in","z":"t","device_id":"` + dev + `","event_publish":true,"wires":[["c"]]},` +
		`{"id":"c","type":"template","z":"t","field":"notification","fieldType":"msg","syntax":"handlebars",` +
		`"template":"{\"metadata\":{\"priority\":\"low\"},\"message\":\"` + text + `\"}","output":"json","wires":[["n"]]},` +
		`{"id":"n","type":"notification","z":"t","source":"notification.metadata","sourceFieldType":"msg","messageDynamic":"notification.message",` +
		`"messageStatic":"","messageFieldType":"msg","msgType":"dynamic","wires":[]}]}`
}

// isoCronJob actuates device dev of tenant service on schedule spec.
func isoCronJob(name, spec, service, dev string) string {
	return `{"time":"` + spec + `","name":"` + name + `","broker":{"subject":"dojot.device-manager.device",` +
		`"message":{"event":"configure","data":{"attrs":{"target_temperature":7},"id":"` + dev + `"},"meta":{"service":"` + service + `"}}}}`
}

// isoCronData publishes a reading as device dev of tenant service on
// schedule spec.
func isoCronData(name, spec, service, dev, note string) string {
	return `{"time":"` + spec + `","name":"` + name + `","broker":{"subject":"device-data",` +
		`"message":{"metadata":{"deviceid":"` + dev + `","tenant":"` + service + `"},"attrs":{"note":"` + note + `"}}}}`
}

// isoCSR is a P-256 key (PEM) and a CSR for cn.
func isoCSR(t *testing.T, cn string) (keyPEM []byte, csrPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// isoCA is a self-signed CA certificate (PEM), as a tenant's own CA.
func isoCA(t *testing.T, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// isoPost sends body to the HTTP agent with basic credentials and fails
// the test unless the status is want.
func isoPost(t *testing.T, in *instance, user, pass, path, body string, want int) {
	t.Helper()
	if code, got := isoBasic(t, in, user, pass, path, body); code != want {
		t.Fatalf("POST %s as %s = %d %s; want %d", path, user, code, got, want)
	}
}

// isoBasic sends body to the HTTP agent with basic credentials.
func isoBasic(t *testing.T, in *instance, user, pass, path, body string) (int, string) {
	t.Helper()
	code, b, err := isoDo(in.Client(), "POST", path, body, "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	if err != nil {
		t.Fatal(err)
	}
	return code, string(b)
}
