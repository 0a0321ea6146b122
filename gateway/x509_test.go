package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/pki"
	"github.com/dojot-es/dojot/pki/pkitest"
	"github.com/dojot-es/dojot/projections/memory"
)

type x509Fixture struct {
	s                 *Server
	view              *memory.View
	ca                *pki.CA
	admin, acme       string // tokens: tenant admin, tenant acme (an admin profile)
	store             *commandstest.Store
	devices           *commands.Devices
	adminDev, acmeDev string
}

func newX509Fixture(t *testing.T) x509Fixture {
	t.Helper()
	v := memory.New()
	store := &commandstest.Store{View: v}
	opts := commands.Options{Store: store, Sync: commandstest.Syncer{}}
	a := commands.NewAuth(opts, v)
	a.BcryptCost = bcrypt.MinCost
	ctx := t.Context()
	if _, err := a.Bootstrap(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	d := commands.NewDevices(opts, v)
	ca := pkitest.CA(t, pki.Options{})
	s := New(Options{AuthCommands: a, AuthView: v.Reads(), DeviceCommands: d, DeviceView: v.Reads(), JWTSecret: testSecret,
		X509Commands: commands.NewCertificates(opts, v, ca), X509View: v, CA: ca})
	admin := login(t, s, "admin", "admin")
	expect(t, s, "POST", "/auth/user", admin, `{"username":"ace","service":"acme","email":"ace@acme.org","name":"Ace","profile":"admin"}`, 200, "")
	f := x509Fixture{s: s, view: v, ca: ca, admin: admin, acme: login(t, s, "ace", "temppwd"), store: store, devices: d}
	for tenant, id := range map[string]*string{"admin": &f.adminDev, "acme": &f.acmeDev} {
		refs, err := d.CreateDevices(ctx, tenant, []byte(`{"label":"pump","templates":[]}`), 1)
		if err != nil {
			t.Fatal(err)
		}
		*id = refs[0].ID
	}
	return f
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func errBodyOf(msg string) string { return js(map[string]string{"error": msg}) }

func TestX509Certificates(t *testing.T) {
	f := newX509Fixture(t)
	s := f.s
	_, csr := pkitest.CSRFor(t, "pump")

	// Issue, owned by a device.
	b := expect(t, s, "POST", "/x509/v1/certificates", f.admin, js(map[string]any{"csr": csr, "belongsTo": map[string]any{"device": f.adminDev}, "extra": 1}), 201, "")
	var issued struct {
		CertificateFingerprint string `json:"certificateFingerprint"`
		CertificatePem         string `json:"certificatePem"`
	}
	if err := json.Unmarshal([]byte(b), &issued); err != nil || !strings.HasPrefix(b, `{"certificateFingerprint":`) ||
		pki.Fingerprint(pkitest.DER(t, issued.CertificatePem)) != issued.CertificateFingerprint || strings.HasSuffix(issued.CertificatePem, "\n") {
		t.Fatalf("POST = %s", b)
	}
	fp := issued.CertificateFingerprint

	// Read it back, whole, by a lower-case fingerprint without colons, and with fields.
	b = expect(t, s, "GET", "/x509/v1/certificates/"+strings.ToLower(strings.ReplaceAll(fp, ":", "")), f.admin, "", 200, "")
	for _, want := range []string{`{"fingerprint":"` + fp + `","pem":"-----BEGIN CERTIFICATE-----\n`, `"subjectDN":"CN=pump,O=dojot IoT Platform","validity":{"notBefore":"`,
		`"belongsTo":{"device":"` + f.adminDev + `"},"tenant":"admin","issuedByDojotPki":true,"autoRegistered":false,"createdAt":"`} {
		if !strings.Contains(b, want) {
			t.Errorf("GET = %s\nwant it to contain %s", b, want)
		}
	}
	if strings.Contains(b, "serial") {
		t.Errorf("GET shows the serial: %s", b)
	}
	b = expect(t, s, "GET", "/x509/v1/certificates/"+fp+"?fields=belongsTo.device,fingerprint,validity.notAfter", f.admin, "", 200, "")
	var m map[string]any
	_ = json.Unmarshal([]byte(b), &m)
	if !strings.HasPrefix(b, `{"fingerprint":`) || len(m) != 3 || len(m["validity"].(map[string]any)) != 1 {
		t.Errorf("GET fields = %s", b)
	}
	expect(t, s, "GET", "/x509/v1/certificates/"+fp+"?fields=pem,nope", f.admin, "", 400, errBodyOf("The fields provided are not valid: [nope]"))
	notFound := errBodyOf(`No records found for the following parameters: {"fingerprint":"` + fp + `","tenant":"acme"}`)
	expect(t, s, "GET", "/x509/v1/certificates/"+fp, f.acme, "", 404, notFound)
	expect(t, s, "DELETE", "/x509/v1/certificates/"+fp, f.acme, "", 404, notFound)
	expect(t, s, "PATCH", "/x509/v1/certificates/"+fp, f.acme, `{"belongsTo":{"device":null}}`, 404, notFound)

	// A second, free certificate; lists and keyVal filters.
	_, csr2 := pkitest.CSRFor(t, "spare")
	expect(t, s, "POST", "/x509/v1/certificates", f.admin, js(map[string]any{"csr": csr2}), 201, "")
	list := func(q string) (total int, fps []string) {
		t.Helper()
		b := expect(t, s, "GET", "/x509/v1/certificates"+q, f.admin, "", 200, "")
		var out struct {
			Paging struct {
				TotalItems int `json:"totalItems"`
			} `json:"paging"`
			Certificates []struct{ Fingerprint string } `json:"certificates"`
		}
		if err := json.Unmarshal([]byte(b), &out); err != nil {
			t.Fatal(err)
		}
		for _, c := range out.Certificates {
			fps = append(fps, c.Fingerprint)
		}
		return out.Paging.TotalItems, fps
	}
	if n, fps := list(""); n != 2 || fps[0] != fp {
		t.Errorf("list: %d %v", n, fps)
	}
	if n, fps := list("?keyVal=belongsTo.device=" + f.adminDev); n != 1 || fps[0] != fp {
		t.Errorf("by device: %d %v", n, fps)
	}
	if n, fps := list("?keyVal=belongsTo.device=null"); n != 1 || fps[0] == fp {
		t.Errorf("free ones: %d %v", n, fps)
	}
	if n, _ := list("?fingerprint=" + fp + "&keyVal=nope=1"); n != 2 {
		t.Errorf("ignored filters filtered: %d", n)
	}
	b = expect(t, s, "GET", "/x509/v1/certificates?limit=1&page=2&fields=fingerprint", f.admin, "", 200, "")
	want := `{"paging":{"previous":{"number":1,"url":"/x509/v1/certificates?fields=fingerprint\u0026limit=1\u0026page=1"},"current":{"number":2,"url":"/x509/v1/certificates?fields=fingerprint\u0026limit=1\u0026page=2"},"next":null,"totalItems":2,"totalPages":2,"limitPerPage":1},"certificates":[{"fingerprint":`
	if !strings.HasPrefix(b, want) {
		t.Errorf("page 2 = %s\nwant %s", b, want)
	}
	if n, _ := func() (int, []string) {
		b := expect(t, s, "GET", "/x509/v1/certificates", f.acme, "", 200, "")
		return strings.Count(b, "fingerprint"), nil
	}(); n != 0 {
		t.Error("acme lists admin's certificates")
	}

	// Owner changes.
	expect(t, s, "PATCH", "/x509/v1/certificates/"+fp, f.admin, `{"belongsTo":{"device":"`+f.acmeDev+`"}}`, 400,
		errBodyOf("Device identifier '"+f.acmeDev+"' was not found for tenant 'admin'."))
	expect(t, s, "PATCH", "/x509/v1/certificates/"+fp, f.admin, `{"belongsTo":{"application":"v2k-bridge"}}`, 403,
		errBodyOf("Operations on certificates for applications are not authorized through this endpoint."))
	expect(t, s, "DELETE", "/x509/v1/certificates/"+fp+"/belongsto", f.admin, "", 204, "")
	if c, _ := f.view.Certificate(fp); !c.BelongsTo.IsZero() {
		t.Errorf("after DELETE belongsto: %+v", c.BelongsTo)
	}
	expect(t, s, "PATCH", "/x509/v1/certificates/"+fp, f.admin, `{"belongsTo":{"device":"`+f.adminDev+`"}}`, 204, "")
	if b := expect(t, s, "GET", "/x509/v1/certificates/"+fp+"?fields=belongsTo", f.admin, "", 200, ""); b != `{"belongsTo":{"device":"`+f.adminDev+`"}}` {
		t.Errorf("after PATCH: %s", b)
	}

	// Revoke: gone, and in the CRL at once.
	expect(t, s, "DELETE", "/x509/v1/certificates/"+fp, f.admin, "", 204, "")
	expect(t, s, "GET", "/x509/v1/certificates/"+fp, f.admin, "", 404, "")
	b = expect(t, s, "GET", "/x509/v1/ca/crl", f.admin, "", 200, "")
	var crl struct{ CRL string }
	_ = json.Unmarshal([]byte(b), &crl)
	if !strings.HasPrefix(crl.CRL, "-----BEGIN X509 CRL-----\n") {
		t.Fatalf("CRL body %s", b)
	}
	serial := pkitest.Cert(t, issued.CertificatePem).SerialNumber
	if rl := parseCRLPEM(t, crl.CRL); len(rl.RevokedCertificateEntries) != 1 || rl.RevokedCertificateEntries[0].SerialNumber.Cmp(serial) != 0 {
		t.Errorf("CRL entries %+v", rl.RevokedCertificateEntries)
	}

	b = expect(t, s, "GET", "/x509/v1/ca", f.acme, "", 200, "")
	if !strings.HasPrefix(b, `{"certificateFingerprint":"`+f.ca.Fingerprint()+`","caPem":"-----BEGIN CERTIFICATE-----\n`) {
		t.Errorf("GET /ca = %s", b)
	}
	expect(t, s, "GET", "/x509/v1/ca", "", "", 401, "")
}

func TestX509BadInput(t *testing.T) {
	f := newX509Fixture(t)
	s := f.s
	schemaFail := func(body string, keyword string) {
		t.Helper()
		b := expect(t, s, "POST", "/x509/v1/certificates", f.admin, body, 400, "")
		if !strings.HasPrefix(b, `{"detail":{"schemaErrors":[`) && !strings.HasPrefix(b, `{"detail":`) || !strings.Contains(b, `"error":"Input data schema validation failure."`) ||
			!strings.Contains(b, `"keyword":"`+keyword+`"`) || !strings.Contains(b, `register-or-generate-certificate.json`) {
			t.Errorf("POST %.60s = %s; want a schema failure on %s", body, b, keyword)
		}
	}
	key := pkitest.ECKey(t, elliptic256())
	_, csr := pkitest.CSRFor(t, "x")
	schemaFail(`[]`, "type")
	schemaFail(`not json`, "type")
	schemaFail(`{}`, "oneOf")
	schemaFail(js(map[string]any{"csr": csr, "certificateChain": "x"}), "oneOf")
	schemaFail(js(map[string]any{"csr": "garbage"}), "pattern")
	schemaFail(js(map[string]any{"csr": 1}), "type")
	schemaFail(js(map[string]any{"csr": csr, "belongsTo": map[string]any{"device": "a", "application": "b"}}), "oneOf")
	schemaFail(js(map[string]any{"csr": csr, "belongsTo": map[string]any{"device": "no/slash"}}), "pattern")
	schemaFail(js(map[string]any{"certificateChain": "x", "caFingerprint": "12"}), "pattern")
	// 70 KB: past the schema's maxLength (and the pattern's 64-char lines).
	long := "-----BEGIN CERTIFICATE REQUEST-----\n" + strings.Repeat(strings.Repeat("A", 64)+"\n", 1100) + "-----END CERTIFICATE REQUEST-----\n"
	schemaFail(js(map[string]any{"csr": long}), "maxLength")
	expect(t, s, "POST", "/x509/v1/certificates", f.admin, js(map[string]any{"csr": strings.Repeat("A", 200<<10)}), 413, errBodyOf("request entity too large"))

	bad := map[string]struct{ csr, msg string }{
		"rsa 1024": {pkitest.CSR(t, pkitest.RSAKey(t, 1024), csrTemplate("x")), "The RSA public key length less than 2048 bits is not supported."},
		"p224":     {pkitest.CSR(t, pkitest.ECKey(t, elliptic224()), csrTemplate("x")), "The elliptical curve used in the ECDSA public key algorithm is not supported. (Use the NIST-recommended curves: P-256, P-384 or P-521)"},
		"ed25519":  {pkitest.CSR(t, ed25519Key(t), csrTemplate("x")), "The public key algorithm must be RSA or ECDSA. The key algorithm with OID=1.3.101.112 is not supported"},
		"tampered": {tamperCSR(t, pkitest.CSR(t, key, csrTemplate("tamperme"))), "The CSR signature is not valid: the CSR was not signed with the private key of the public key it carries (proof of possession failed)."},
		"not asn1": {"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "Can not parse ASN1 data structure from binary data"},
	}
	for name, tt := range bad {
		t.Run(name, func(t *testing.T) {
			expect(t, s, "POST", "/x509/v1/certificates", f.admin, js(map[string]any{"csr": tt.csr}), 400, errBodyOf(tt.msg))
		})
	}
	expect(t, s, "POST", "/x509/v1/certificates", f.admin, js(map[string]any{"csr": csr, "belongsTo": map[string]any{"device": f.acmeDev}}), 400,
		errBodyOf("Device identifier '"+f.acmeDev+"' was not found for tenant 'admin'."))
	expect(t, s, "POST", "/x509/v1/certificates", f.admin, js(map[string]any{"csr": csr, "belongsTo": map[string]any{"application": "http-agent"}}), 403,
		errBodyOf("Operations on certificates for applications are not authorized through this endpoint."))
	if n := f.store.Count(dojot.EventCertificateIssued); n != 0 {
		t.Errorf("refused requests stored %d certificates", n)
	}
}

func TestX509TrustedCAs(t *testing.T) {
	f := newX509Fixture(t)
	s := f.s
	year := time.Now().AddDate(1, 0, 0)
	ext := pkitest.NewExtCA(t, "old dojot", year)
	leaf, _ := ext.Leaf(t, "admin:"+f.adminDev, year, false)
	extFP := pki.Fingerprint(ext.Cert.Raw)

	expect(t, s, "POST", "/x509/v1/certificates", f.admin, js(map[string]any{"certificateChain": leaf + ext.PEM}), 400,
		errBodyOf("The root CA certificate is not registered as a trusted certificate yet."))
	expect(t, s, "POST", "/x509/v1/trusted-cas", f.admin, js(map[string]any{"caPem": ext.PEM}), 201, js(map[string]string{"caFingerprint": extFP}))
	expect(t, s, "POST", "/x509/v1/trusted-cas", f.admin, js(map[string]any{"caPem": ext.PEM}), 409, errBodyOf("The certificate with fingerprint '"+extFP+"' already exists."))
	expect(t, s, "POST", "/x509/v1/trusted-cas", f.admin, js(map[string]any{"caPem": leaf}), 400,
		errBodyOf("The certificate is not a CA certificate. It does not contain the flag 'CA:TRUE' in the extension 'Basic Constraints'."))
	expect(t, s, "POST", "/x509/v1/trusted-cas", f.admin, js(map[string]any{}), 400, "")

	b := expect(t, s, "POST", "/x509/v1/certificates", f.admin, js(map[string]any{"certificateChain": leaf, "caFingerprint": strings.ToLower(extFP),
		"belongsTo": map[string]any{"device": f.adminDev}}), 201, "")
	leafFP := pki.Fingerprint(pkitest.DER(t, leaf))
	if b != js(map[string]string{"certificateFingerprint": leafFP}) {
		t.Errorf("register = %s", b)
	}
	b = expect(t, s, "GET", "/x509/v1/certificates/"+leafFP, f.admin, "", 200, "")
	if !strings.Contains(b, `"caFingerprint":"`+extFP+`"`) || !strings.Contains(b, `"issuedByDojotPki":false`) {
		t.Errorf("external record %s", b)
	}

	b = expect(t, s, "GET", "/x509/v1/trusted-cas?caFingerprint=^"+extFP[:5]+"&fields=caFingerprint,subjectDN", f.admin, "", 200, "")
	if !strings.HasSuffix(b, `"trusted-cas":[{"caFingerprint":"`+extFP+`","subjectDN":"CN=old dojot"}]}`) {
		t.Errorf("list = %s", b)
	}
	b = expect(t, s, "GET", "/x509/v1/trusted-cas?subjectDN=~nothing", f.admin, "", 200, "")
	if !strings.HasSuffix(b, `"trusted-cas":[]}`) {
		t.Errorf("filtered list = %s", b)
	}
	expect(t, s, "PATCH", "/x509/v1/trusted-cas/"+extFP, f.admin, `{"allowAutoRegistration":true}`, 204, "")
	expect(t, s, "PATCH", "/x509/v1/trusted-cas/"+extFP, f.admin, `{}`, 400, "")
	expect(t, s, "GET", "/x509/v1/trusted-cas/"+extFP+"?fields=allowAutoRegistration", f.admin, "", 200, `{"allowAutoRegistration":true}`)
	expect(t, s, "GET", "/x509/v1/trusted-cas/"+extFP, f.acme, "", 404,
		errBodyOf(`No records found for the following parameters: {"caFingerprint":"`+extFP+`","tenant":"acme"}`))
	expect(t, s, "DELETE", "/x509/v1/trusted-cas/"+extFP, f.admin, "", 400, "")
	expect(t, s, "DELETE", "/x509/v1/certificates/"+leafFP, f.admin, "", 204, "")
	expect(t, s, "DELETE", "/x509/v1/trusted-cas/"+extFP, f.admin, "", 204, "")
}
