package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// needTool skips (fails under CI) without a command-line client.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed", name)
		}
		t.Skipf("%s not installed", name)
	}
}

// opensslCSR makes a key and a CSR with the openssl command line, as a
// device's owner would, and returns the CSR's PEM and the key's file.
func opensslCSR(t *testing.T, dir, name, cn string, newkey ...string) (csr, keyFile string) {
	t.Helper()
	if len(newkey) == 0 {
		newkey = []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"}
	}
	keyFile, csrFile := filepath.Join(dir, name+".key"), filepath.Join(dir, name+".csr")
	args := append([]string{"req", "-new", "-nodes", "-keyout", keyFile, "-subj", "/CN=" + cn, "-out", csrFile}, newkey...)
	if b, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, b)
	}
	b, err := os.ReadFile(csrFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), keyFile
}

type issuedCert struct {
	CertificateFingerprint string `json:"certificateFingerprint"`
	CertificatePem         string `json:"certificatePem"`
}

func issueCert(c *client, csr, device string) issuedCert {
	c.TB().Helper()
	body := map[string]any{"csr": csr}
	if device != "" {
		body["belongsTo"] = map[string]any{"device": device}
	}
	var r issuedCert
	mustJSON(c.TB(), c.Must(201, "POST", "/x509/v1/certificates", body), &r)
	return r
}

func crlSerials(t *testing.T, c *client) map[string]bool {
	t.Helper()
	var r struct{ CRL string }
	mustJSON(t, c.Must(200, "GET", "/x509/v1/ca/crl", nil), &r)
	b, _ := pem.Decode([]byte(r.CRL))
	if b == nil {
		t.Fatalf("CRL %q", r.CRL)
	}
	rl, err := x509.ParseRevocationList(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range rl.RevokedCertificateEntries {
		out[strings.ToUpper(e.SerialNumber.Text(16))] = true
	}
	return out
}

func serialOf(t *testing.T, p string) string {
	t.Helper()
	b, _ := pem.Decode([]byte(p))
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(c.SerialNumber.Text(16))
}

// TestX509 walks the CA's API through the binary: a CA made at the first
// start (key 0600 in the data dir), a CSR from openssl signed for a
// device, read back, revoked into the CRL at once; SIGKILL and restart
// keep the CA, the certificates and the revocations.
func TestX509(t *testing.T) { dojottest.EachView(t, testX509) }

func testX509(t *testing.T, flags []string) {
	needTool(t, "openssl")
	dir := t.TempDir()
	in := start(t, "", append(flags, "-ca-cert=", "-ca-key=")...)
	st, err := os.Stat(filepath.Join(in.DataDir, "ca.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key: %v %v", st, err)
	}
	c := in.Login("admin", adminPassword)
	var ca struct {
		CertificateFingerprint string `json:"certificateFingerprint"`
		CaPem                  string `json:"caPem"`
	}
	mustJSON(t, c.Must(200, "GET", "/x509/v1/ca", nil), &ca)
	caFile := filepath.Join(in.DataDir, "ca.crt")
	if out, err := exec.Command("openssl", "x509", "-in", caFile, "-noout", "-fingerprint", "-sha256").CombinedOutput(); err != nil ||
		!strings.Contains(string(out), ca.CertificateFingerprint) {
		t.Fatalf("GET /x509/v1/ca fingerprint %s; openssl on ca.crt says %s (%v)", ca.CertificateFingerprint, out, err)
	}

	dev := dojottest.CreateDevice(c, "meter", dojottest.CreateTemplate(c, "Meter"))
	csr, _ := opensslCSR(t, dir, "dev", dev)
	kept := issueCert(c, csr, dev)
	certFile := dojottestWrite(t, dir, "dev.crt", kept.CertificatePem+"\n")
	if out, err := exec.Command("openssl", "verify", "-CAfile", caFile, certFile).CombinedOutput(); err != nil {
		t.Fatalf("openssl verify: %v %s", err, out)
	}
	csr2, _ := opensslCSR(t, dir, "dev2", dev)
	revoked := issueCert(c, csr2, dev)
	c.Must(204, "DELETE", "/x509/v1/certificates/"+revoked.CertificateFingerprint, nil)
	if !crlSerials(t, c)[serialOf(t, revoked.CertificatePem)] {
		t.Fatal("the revoked certificate is not in the CRL at once")
	}
	body := c.Must(200, "GET", "/x509/v1/certificates?keyVal=belongsTo.device="+dev, nil)
	if !strings.Contains(string(body), kept.CertificateFingerprint) || strings.Contains(string(body), revoked.CertificateFingerprint) || !strings.Contains(string(body), `"totalItems":1`) {
		t.Fatalf("list = %s", trunc(body))
	}

	// A tampered CSR is a 400 naming the rule (dojot answered 500).
	bad := []byte(csr)
	i := strings.Index(csr, "\n") + 40
	if bad[i] == 'A' {
		bad[i] = 'B'
	} else {
		bad[i] = 'A'
	}
	if code, b := c.Do("POST", "/x509/v1/certificates", map[string]any{"csr": string(bad)}); code != 400 || !strings.Contains(string(b), `"error":`) {
		t.Errorf("tampered CSR = %d %s; want 400", code, b)
	}

	in.Kill()
	in.Restart()
	c = in.Login("admin", adminPassword)
	var again struct {
		CertificateFingerprint string `json:"certificateFingerprint"`
	}
	mustJSON(t, c.Must(200, "GET", "/x509/v1/ca", nil), &again)
	if again.CertificateFingerprint != ca.CertificateFingerprint {
		t.Fatalf("CA after restart %s; want %s", again.CertificateFingerprint, ca.CertificateFingerprint)
	}
	c.Must(200, "GET", "/x509/v1/certificates/"+kept.CertificateFingerprint, nil)
	c.Must(404, "GET", "/x509/v1/certificates/"+revoked.CertificateFingerprint, nil)
	if !crlSerials(t, c)[serialOf(t, revoked.CertificatePem)] {
		t.Fatal("the revocation did not survive the restart")
	}

	// The device's delete revokes its certificate. (After a SIGKILL a
	// shared view's applier lease is free only once it expires: a write
	// meanwhile is stored but answered 503; retried, it is a 404.)
	for deadline, retried := time.Now().Add(30*time.Second), false; ; retried = true {
		code, body := c.Do("DELETE", "/device/"+dev, nil)
		if code == 200 || code == 404 && retried {
			break
		}
		if code != 503 || time.Now().After(deadline) {
			t.Fatalf("DELETE /device/%s = %d %s", dev, code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		code, _ := c.Do("GET", "/x509/v1/certificates/"+kept.CertificateFingerprint, nil)
		if code == 404 && crlSerials(t, c)[serialOf(t, kept.CertificatePem)] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a deleted device's certificate: GET %d, or not in the CRL", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func dojottestWrite(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestX509OtherCARefused: a second instance on the same NATS with another
// CA does not start, and says why in one line.
func TestX509OtherCARefused(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	first, second := sharedNATS(t, []string{"-jwt-secret=shared-e2e-secret"})
	a := start(t, "", append(first, "-ca-cert=", "-ca-key=")...)
	_ = a
	b := dojottest.Launch(t, "", second...) // the test process's CA, not a's
	stderr, ok := b.Exited(60 * time.Second)
	if !ok {
		t.Fatal("the second instance started with another CA")
	}
	if strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "-ca-cert: the event log was started with another CA") {
		t.Errorf("stderr = %q; want one line naming -ca-cert", stderr)
	}
	// Given a's CA, it starts.
	start(t, "", append(second, "-ca-cert="+filepath.Join(a.DataDir, "ca.crt"), "-ca-key="+filepath.Join(a.DataDir, "ca.key"))...)
}

// TestX509Internal: the internal listener serves x509-identity-mgmt's
// internal API as dojot's cert-sidecar and certificate-acl call it: the CA
// bundle as a PEM file, a service's certificate (openssl CSR), any
// tenant's certificate owner.
func TestX509Internal(t *testing.T) {
	needTool(t, "openssl")
	internal := dojottest.FreeAddr(t)
	in := start(t, "", "-internal-addr="+internal)
	ic := in.Client()
	ic.Base = "http://" + internal
	code, body := ic.Do("GET", "/internal/api/v1/throw-away/ca/bundle", nil)
	var bundle []string
	mustJSON(t, body, &bundle)
	if code != 200 || len(bundle) != 1 || !strings.HasPrefix(bundle[0], "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("bundle = %d %s", code, body)
	}
	csr, _ := opensslCSR(t, t.TempDir(), "svc", "iotagent-mqtt")
	var svc issuedCert
	mustJSON(t, ic.Must(201, "POST", "/internal/api/v1/throw-away", map[string]any{"csr": csr, "belongsTo": map[string]any{"application": "iotagent-mqtt"}}), &svc)
	c := in.Login("admin", adminPassword)
	c.Must(404, "GET", "/x509/v1/certificates/"+svc.CertificateFingerprint, nil) // not stored
	dev := dojottest.CreateDevice(c, "d", dojottest.CreateTemplate(c, "T"))
	dcsr, _ := opensslCSR(t, t.TempDir(), "dev", dev)
	r := issueCert(c, dcsr, dev)
	if got := string(ic.Must(200, "GET", "/internal/api/v1/certificates/"+r.CertificateFingerprint+"?fields=tenant,belongsTo", nil)); strings.TrimSpace(got) != `{"belongsTo":{"device":"`+dev+`"},"tenant":"admin"}` {
		t.Errorf("certificate-acl's read = %s", got)
	}
}
