package gateway

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/pki/pkitest"
)

func TestX509Internal(t *testing.T) {
	f := newX509Fixture(t)
	opts := commands.Options{Store: f.store, Sync: commandstest.Syncer{}}
	certs := commands.NewCertificates(opts, f.view, f.ca)
	in := NewInternal(Options{CA: f.ca, X509Internal: f.view, X509Services: certs})
	get := func(path, accept string) (int, string, string) {
		r := httptest.NewRequest("GET", path, nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		w := httptest.NewRecorder()
		in.ServeHTTP(w, r)
		return w.Code, w.Header().Get("Content-Type"), w.Body.String()
	}
	// The CA, as JSON and as a PEM file; 406 for anything else.
	if code, _, b := get("/internal/api/v1/throw-away/ca", ""); code != 200 || !strings.HasPrefix(b, `{"certificateFingerprint":"`+f.ca.Fingerprint()+`","caPem":"-----BEGIN`) {
		t.Errorf("ca = %d %s", code, b)
	}
	if code, ct, b := get("/internal/api/v1/throw-away/ca", "application/x-pem-file"); code != 200 || ct != "application/x-pem-file" || b != f.ca.PEM()+"\n" {
		t.Errorf("ca pem = %d %s %q", code, ct, b)
	}
	if code, _, b := get("/internal/api/v1/throw-away/ca", "text/html"); code != 406 || strings.TrimSpace(b) != `{"error":"Not Acceptable"}` {
		t.Errorf("ca html = %d %s", code, b)
	}
	// The bundle: the platform CA, then the trusted ones, each once.
	ext := pkitest.NewExtCA(t, "tenant CA", time.Now().AddDate(1, 0, 0))
	expect(t, f.s, "POST", "/x509/v1/trusted-cas", f.admin, js(map[string]any{"caPem": ext.PEM}), 201, "")
	expect(t, f.s, "POST", "/x509/v1/trusted-cas", f.acme, js(map[string]any{"caPem": ext.PEM}), 201, "")
	var bundle []string
	_, _, b := get("/internal/api/v1/throw-away/ca/bundle", "application/json")
	if err := json.Unmarshal([]byte(b), &bundle); err != nil || len(bundle) != 2 || bundle[0] != f.ca.PEM() || bundle[1]+"\n" != ext.PEM {
		t.Errorf("bundle = %s", b)
	}
	if code, _, b := get("/internal/api/v1/throw-away/ca/crl?update=true", ""); code != 200 || !strings.HasPrefix(b, `{"crl":"-----BEGIN X509 CRL-----`) {
		t.Errorf("crl = %d %s", code, b)
	}

	// A service's certificate: its CSR's subject, not stored.
	post := func(body string) (int, string) {
		r := httptest.NewRequest("POST", "/internal/api/v1/throw-away", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		in.ServeHTTP(w, r)
		return w.Code, strings.TrimSpace(w.Body.String())
	}
	_, csr := pkitest.CSRFor(t, "iotagent-mqtt")
	n := len(f.store.Events())
	code, b := post(js(map[string]any{"csr": csr, "belongsTo": map[string]any{"application": "iotagent-mqtt"}}))
	var issued struct{ CertificateFingerprint, CertificatePem string }
	_ = json.Unmarshal([]byte(b), &issued)
	evs := f.store.Events()[n:]
	if code != 201 || issued.CertificatePem == "" || pkitest.Cert(t, issued.CertificatePem).Subject.String() != "CN=iotagent-mqtt" ||
		len(evs) != 1 || evs[0].Type != dojot.EventCertificateForService {
		t.Errorf("throw-away = %d %s, %d events", code, b, len(evs))
	}
	if _, ok := f.view.Certificate(issued.CertificateFingerprint); ok {
		t.Error("a service's certificate became a record")
	}
	if code, b := post(js(map[string]any{"csr": csr, "belongsTo": map[string]any{"application": "nope"}})); code != 400 || b != `{"error":"Application name is not valid."}` {
		t.Errorf("unknown application = %d %s", code, b)
	}
	if code, b := post(js(map[string]any{"csr": csr, "belongsTo": map[string]any{"device": f.adminDev}})); code != 403 || b != `{"error":"Operations on certificates for devices are not authorized through this endpoint."}` {
		t.Errorf("device = %d %s", code, b)
	}

	// certificate-acl's read: any tenant's certificate.
	_, dcsr := pkitest.CSRFor(t, "x")
	var dev struct{ CertificateFingerprint string }
	_ = json.Unmarshal([]byte(expect(t, f.s, "POST", "/x509/v1/certificates", f.acme, js(map[string]any{"csr": dcsr, "belongsTo": map[string]any{"device": f.acmeDev}}), 201, "")), &dev)
	if code, _, b := get("/internal/api/v1/certificates/"+dev.CertificateFingerprint+"?fields=tenant,belongsTo", ""); code != 200 || strings.TrimSpace(b) != `{"belongsTo":{"device":"`+f.acmeDev+`"},"tenant":"acme"}` {
		t.Errorf("internal certificate = %d %s", code, b)
	}
	if code, _, _ := get("/internal/api/v1/certificates/AB", ""); code != 404 {
		t.Errorf("unknown = %d", code)
	}
	// The cross-tenant list, filtered by tenant or not.
	for q, want := range map[string]string{"": `"totalItems":1`, "?tenant=acme": `"totalItems":1`, "?tenant=admin": `"totalItems":0`,
		"?belongsTo.device=!": `"totalItems":0`} {
		if code, _, b := get("/internal/api/v1/certificates"+q, ""); code != 200 || !strings.Contains(b, want) {
			t.Errorf("list %s = %d %s; want %s", q, code, b, want)
		}
	}
}
