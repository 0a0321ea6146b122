package pki_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/pki"
	"github.com/dojot-es/dojot/pki/pkitest"
)

func newCA(tb testing.TB, opts pki.Options) *pki.CA { tb.Helper(); return pkitest.CA(tb, opts) }

func csrPEM(tb testing.TB, key crypto.Signer, tpl *x509.CertificateRequest) string {
	tb.Helper()
	return pkitest.CSR(tb, key, tpl)
}

func ecKey(tb testing.TB, c elliptic.Curve) crypto.Signer { tb.Helper(); return pkitest.ECKey(tb, c) }
func rsaKey(tb testing.TB, bits int) crypto.Signer        { tb.Helper(); return pkitest.RSAKey(tb, bits) }
func parseCert(tb testing.TB, p string) *x509.Certificate { tb.Helper(); return pkitest.Cert(tb, p) }

func TestOpenCreatesAndKeeps(t *testing.T) {
	dir := t.TempDir()
	ca, created, err := pki.Open(pki.Options{Dir: dir, NewKey: pki.NewP256Key})
	if err != nil || !created {
		t.Fatalf("Open = %v, %v; want created", created, err)
	}
	st, err := os.Stat(filepath.Join(dir, "ca.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key mode %v, %v; want 0600", st.Mode(), err)
	}
	again, created, err := pki.Open(pki.Options{Dir: dir})
	if err != nil || created || again.Fingerprint() != ca.Fingerprint() {
		t.Fatalf("reopen = %v, %v, %v; want the same CA", again.Fingerprint(), created, err)
	}
	root := parseCert(t, ca.PEM())
	if !root.IsCA || !root.MaxPathLenZero || root.Subject.CommonName != "X509 Identity CA" ||
		root.NotAfter.Sub(root.NotBefore) < 29*365*24*time.Hour || pki.Fingerprint(root.Raw) != ca.Fingerprint() {
		t.Errorf("root %+v", root.Subject)
	}
	if !strings.Contains(ca.Subject(), "O=dojot IoT Platform") || !strings.Contains(ca.Subject(), "OU=Certificate Issuer") {
		t.Errorf("subject %s", ca.Subject())
	}
	// Given files: the same CA; a key of another certificate refused.
	if c, _, err := pki.Open(pki.Options{CertFile: filepath.Join(dir, "ca.crt"), KeyFile: filepath.Join(dir, "ca.key")}); err != nil || c.Fingerprint() != ca.Fingerprint() {
		t.Errorf("Open(files) = %v", err)
	}
	other := t.TempDir()
	newCA(t, pki.Options{Dir: other})
	if _, _, err := pki.Open(pki.Options{CertFile: filepath.Join(dir, "ca.crt"), KeyFile: filepath.Join(other, "ca.key")}); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatched key: %v", err)
	}
	// A key left without its certificate is never replaced silently.
	os.Remove(filepath.Join(dir, "ca.crt"))
	if _, _, err := pki.Open(pki.Options{Dir: dir}); err == nil {
		t.Error("Open with ca.key alone succeeded")
	}
}

func TestDefaultRootRSA4096(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: RSA-4096 key generation")
	}
	ca, _, err := pki.Open(pki.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	root := parseCert(t, ca.PEM())
	if k, ok := root.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 4096 || root.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Fatalf("root key %T %v", root.PublicKey, root.SignatureAlgorithm)
	}
	c := issue(t, ca, ecKey(t, elliptic.P256()), "a1b2c3")
	if parseCert(t, c.PEM).SignatureAlgorithm != x509.SHA256WithRSA {
		t.Error("leaf not sha256WithRSA")
	}
}

func issue(tb testing.TB, ca *pki.CA, key crypto.Signer, cn string) dojot.Certificate {
	tb.Helper()
	csr, err := ca.ParseCSR(csrPEM(tb, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}))
	if err != nil {
		tb.Fatalf("ParseCSR: %v", err)
	}
	c, err := ca.Issue(csr, "admin")
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestIssueProfile(t *testing.T) {
	now := time.Date(2026, 12, 6, 18, 30, 42, 0, time.UTC)
	ca := newCA(t, pki.Options{Now: func() time.Time { return now }})
	key := ecKey(t, elliptic.P256())
	pemText := csrPEM(t, key, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "a1b2c3", Organization: []string{"ACME"}, OrganizationalUnit: []string{"lab"}},
		DNSNames: []string{"pump.example"},
	})
	csr, err := ca.ParseCSR(pemText)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ca.Issue(csr, "admin")
	if err != nil {
		t.Fatal(err)
	}
	c := parseCert(t, rec.PEM)
	if err := c.CheckSignatureFrom(parseCert(t, ca.PEM())); err != nil {
		t.Fatal(err)
	}
	checks := map[string]bool{
		"fingerprint":      rec.Fingerprint == pki.Fingerprint(c.Raw),
		"serial 20 octets": len(c.SerialNumber.Bytes()) == 20 && rec.Serial == strings.ToUpper(c.SerialNumber.Text(16)),
		"notBefore minute": c.NotBefore.Equal(now.Truncate(time.Minute)),
		"365 days":         c.NotAfter.Sub(c.NotBefore) == 365*24*time.Hour,
		"CA:FALSE":         c.BasicConstraintsValid && !c.IsCA,
		"key usage":        c.KeyUsage == x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment|x509.KeyUsageKeyEncipherment|x509.KeyUsageKeyAgreement,
		"ext key usage":    len(c.ExtKeyUsage) == 3 && c.ExtKeyUsage[0] == x509.ExtKeyUsageClientAuth,
		"O replaced":       len(c.Subject.Organization) == 1 && c.Subject.Organization[0] == "dojot IoT Platform",
		"CN kept":          c.Subject.CommonName == "a1b2c3",
		"OU kept":          len(c.Subject.OrganizationalUnit) == 1,
		"SAN copied":       len(c.DNSNames) == 1 && c.DNSNames[0] == "pump.example",
		"SKI/AKI":          len(c.SubjectKeyId) > 0 && len(c.AuthorityKeyId) > 0,
		"issued by us":     rec.IssuedByDojotPKI && rec.CAFingerprint == ca.Fingerprint(),
		"subjectDN":        rec.SubjectDN == c.Subject.String(),
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("%s: %+v", name, c)
		}
	}
	// The first RDN is O, then OU, then CN (X.500 order, as dojot's sample).
	var seq pkix.RDNSequence
	if _, err := asn1Unmarshal(c.RawSubject, &seq); err != nil || len(seq) != 3 || seq[0][0].Value != "dojot IoT Platform" || seq[2][0].Value != "a1b2c3" {
		t.Errorf("subject RDNs %v, %v", seq, err)
	}
}

func TestSubjectDNMode(t *testing.T) {
	ca := newCA(t, pki.Options{CheckSubjectDN: true})
	key := ecKey(t, elliptic.P256())
	tests := map[string]struct {
		subject pkix.Name
		err     string
	}{
		"cn only":    {pkix.Name{CommonName: "a1b2c3"}, ""},
		"cn and o":   {pkix.Name{CommonName: "a1b2c3", Organization: []string{"x"}}, ""},
		"ou":         {pkix.Name{CommonName: "a1b2c3", OrganizationalUnit: []string{"x"}}, "Error checking SubjectDN allowed attributes in CSR. Allowed: [CN] Found: [OU,CN]"},
		"no cn":      {pkix.Name{Organization: []string{"x"}}, "Error checking SubjectDN mandatory attributes in CSR. Mandatory: [CN] Found: [O]"},
		"bad cn":     {pkix.Name{CommonName: "a1:b2"}, "Error checking SubjectDN 'CN' attribute in CSR. The value does not match the regular expression: /^[0-9A-Za-z ]{1,255}$/. Found: a1:b2"},
		"empty name": {pkix.Name{}, "Error checking SubjectDN mandatory attributes in CSR. Mandatory: [CN] Found: []"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			csr, err := ca.ParseCSR(csrPEM(t, key, &x509.CertificateRequest{Subject: tt.subject}))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || !errors.Is(err, dojot.ErrInvalid) {
					t.Fatalf("ParseCSR = %v; want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rec, err := ca.Issue(csr, "admin")
			if err != nil {
				t.Fatal(err)
			}
			if cn := parseCert(t, rec.PEM).Subject.CommonName; cn != "admin:a1b2c3" {
				t.Errorf("CN %q, want admin:a1b2c3", cn)
			}
		})
	}
}

// TestCSRKeysGo: dojot's key rules and our signature check, on CSRs made
// by crypto/x509.
func TestCSRKeysGo(t *testing.T) {
	ca := newCA(t, pki.Options{})
	rsa1024 := rsaKey(t, 1024)
	tests := map[string]struct {
		key crypto.Signer
		err string
	}{
		"rsa 2048": {rsaKey(t, 2048), ""},
		"p256":     {ecKey(t, elliptic.P256()), ""},
		"p384":     {ecKey(t, elliptic.P384()), ""},
		"p521":     {ecKey(t, elliptic.P521()), ""},
		"rsa 1024": {rsa1024, "The RSA public key length less than 2048 bits is not supported."},
		"p224":     {ecKey(t, elliptic.P224()), "The elliptical curve used in the ECDSA public key algorithm is not supported. (Use the NIST-recommended curves: P-256, P-384 or P-521)"},
		"ed25519":  {ed25519Key(t), "The public key algorithm must be RSA or ECDSA. The key algorithm with OID=1.3.101.112 is not supported"},
	}
	if !testing.Short() {
		tests["rsa 4096"] = struct {
			key crypto.Signer
			err string
		}{rsaKey(t, 4096), ""}
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p := csrPEM(t, tt.key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "d1"}})
			csr, err := ca.ParseCSR(p)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ca.Issue(csr, "admin"); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tt.err || !errors.Is(err, dojot.ErrInvalid) {
				t.Fatalf("ParseCSR = %v; want %q", err, tt.err)
			}
		})
	}
}

func ed25519Key(tb testing.TB) crypto.Signer {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// tamper flips one bit of the CSR's subject, keeping it well formed.
func tamper(tb testing.TB, p string) string {
	tb.Helper()
	b, _ := pem.Decode([]byte(p))
	der := append([]byte(nil), b.Bytes...)
	i := strings.Index(string(der), "tamperme")
	if i < 0 {
		tb.Fatal("marker not found")
	}
	der[i] ^= 0x01
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func TestCSRBadInput(t *testing.T) {
	ca := newCA(t, pki.Options{})
	key := ecKey(t, elliptic.P256())
	good := csrPEM(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "tamperme"}})
	cert := issue(t, ca, key, "x")
	certAsCSR := strings.ReplaceAll(cert.PEM, "CERTIFICATE", "CERTIFICATE REQUEST")
	tests := map[string]struct{ in, err string }{
		"tampered":        {tamper(t, good), "The CSR signature is not valid: the CSR was not signed with the private key of the public key it carries (proof of possession failed)."},
		"garbage":         {"hello", "Can not parse ASN1 data structure from binary data"},
		"bad base64":      {"-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n", "Can not parse ASN1 data structure from binary data"},
		"not asn1":        {"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "Can not parse ASN1 data structure from binary data"},
		"a certificate":   {certAsCSR, "The CSR is not a PKCS#10 certification request."},
		"empty":           {"", "Can not parse ASN1 data structure from binary data"},
		"crlf":            {strings.ReplaceAll(good, "\n", "\r\n"), ""},
		"cr":              {strings.ReplaceAll(good, "\n", "\r"), ""},
		"no final eol":    {strings.TrimRight(good, "\n"), ""},
		"trailing eols":   {good + "\n\n", ""},
		"wrong pem label": {strings.ReplaceAll(good, "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"), "Can not parse ASN1 data structure from binary data"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ca.ParseCSR(tt.in)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tt.err || !errors.Is(err, dojot.ErrInvalid) {
				t.Fatalf("ParseCSR = %v; want %q", err, tt.err)
			}
		})
	}
}

// TestCSROpenSSL: CSRs made by the openssl command line, as devices make
// them.
func TestCSROpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl not installed")
		}
		t.Skip("openssl not installed")
	}
	ca := newCA(t, pki.Options{})
	dir := t.TempDir()
	tests := map[string]struct {
		newkey []string
		err    string
	}{
		"rsa 2048": {[]string{"-newkey", "rsa:2048"}, ""},
		"p256":     {[]string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"}, ""},
		"p384":     {[]string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"}, ""},
		"rsa 1024": {[]string{"-newkey", "rsa:1024"}, "The RSA public key length less than 2048 bits is not supported."},
		"p224":     {[]string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-224"}, "The elliptical curve used in the ECDSA public key algorithm is not supported. (Use the NIST-recommended curves: P-256, P-384 or P-521)"},
		"secp256k1": {[]string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1"},
			"The elliptical curve used in the ECDSA public key algorithm is not supported. (Use the NIST-recommended curves: P-256, P-384 or P-521)"},
		"ed25519": {[]string{"-newkey", "ed25519"}, "The public key algorithm must be RSA or ECDSA. The key algorithm with OID=1.3.101.112 is not supported"},
	}
	if !testing.Short() {
		tests["rsa 4096"] = struct {
			newkey []string
			err    string
		}{[]string{"-newkey", "rsa:4096"}, ""}
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".csr")
			args := append([]string{"req", "-new", "-nodes", "-keyout", out + ".key", "-subj", "/CN=a1b2c3/OU=lab", "-out", out}, tt.newkey...)
			if b, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %v: %v\n%s", args, err, b)
			}
			p, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			csr, err := ca.ParseCSR(string(p))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("ParseCSR = %v; want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rec, err := ca.Issue(csr, "admin")
			if err != nil {
				t.Fatal(err)
			}
			// openssl agrees on the fingerprint and verifies the certificate.
			certFile := out + ".crt"
			os.WriteFile(certFile, []byte(rec.PEM+"\n"), 0o600)
			os.WriteFile(filepath.Join(dir, "ca.crt"), []byte(ca.PEM()+"\n"), 0o600)
			b, err := exec.Command("openssl", "x509", "-in", certFile, "-noout", "-fingerprint", "-sha256").CombinedOutput()
			if err != nil || !strings.Contains(string(b), rec.Fingerprint) {
				t.Errorf("openssl fingerprint %s, want %s (%v)", b, rec.Fingerprint, err)
			}
			b, err = exec.Command("openssl", "verify", "-CAfile", filepath.Join(dir, "ca.crt"), "-purpose", "sslclient", certFile).CombinedOutput()
			if err != nil {
				t.Errorf("openssl verify: %v\n%s", err, b)
			}
		})
	}
	t.Run("tampered", func(t *testing.T) {
		out := filepath.Join(dir, "t.csr")
		if b, err := exec.Command("openssl", "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
			"-keyout", out+".key", "-subj", "/CN=tamperme", "-out", out).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, b)
		}
		p, _ := os.ReadFile(out)
		if _, err := ca.ParseCSR(tamper(t, string(p))); err == nil || !strings.Contains(err.Error(), "proof of possession") {
			t.Fatalf("tampered openssl CSR: %v", err)
		}
	})
}

func TestFingerprint(t *testing.T) {
	fp := pki.Fingerprint([]byte("x"))
	if len(fp) != 95 || strings.ToUpper(fp) != fp {
		t.Fatal(fp)
	}
	for _, in := range []string{fp, strings.ToLower(fp), strings.ReplaceAll(fp, ":", ""), strings.ToLower(strings.ReplaceAll(fp, ":", ""))} {
		if got, ok := pki.NormalizeFingerprint(in); !ok || got != fp {
			t.Errorf("NormalizeFingerprint(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "AB", fp + ":00", fp[:94] + "G", "A:B" + fp[3:]} {
		if got, ok := pki.NormalizeFingerprint(in); ok {
			t.Errorf("NormalizeFingerprint(%q) = %q, ok", in, got)
		}
	}
	if pki.FingerprintID(fp) != strings.ReplaceAll(fp, ":", "") {
		t.Error("FingerprintID")
	}
}

func TestCRL(t *testing.T) {
	ca := newCA(t, pki.Options{})
	root := parseCert(t, ca.PEM())
	empty, err := ca.CRL(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	crl := parseCRL(t, empty)
	if err := crl.CheckSignatureFrom(root); err != nil || len(crl.RevokedCertificateEntries) != 0 || crl.Number.Int64() != 1 {
		t.Fatalf("empty CRL: %v %+v", err, crl)
	}
	rec := issue(t, ca, ecKey(t, elliptic.P256()), "d1")
	at := time.Now().UTC().Truncate(time.Second)
	p, err := ca.CRL([]dojot.RevokedSerial{{Serial: rec.Serial, At: at}}, 7)
	if err != nil {
		t.Fatal(err)
	}
	crl = parseCRL(t, p)
	serial := parseCert(t, rec.PEM).SerialNumber
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(serial) != 0 ||
		crl.RevokedCertificateEntries[0].ReasonCode != 4 || crl.Number.Int64() != 7 || crl.NextUpdate.Sub(crl.ThisUpdate) != 24*time.Hour {
		t.Fatalf("CRL %+v", crl)
	}
	if again, _ := ca.CRL([]dojot.RevokedSerial{{Serial: rec.Serial, At: at}}, 7); again != p {
		t.Error("an unchanged CRL was made again")
	}
	if _, err := ca.CRL([]dojot.RevokedSerial{{Serial: "XYZ"}}, 8); err == nil {
		t.Error("bad serial accepted")
	}
}

func parseCRL(tb testing.TB, p string) *x509.RevocationList {
	tb.Helper()
	b, _ := pem.Decode([]byte(p))
	if b == nil || b.Type != "X509 CRL" {
		tb.Fatalf("CRL PEM %q", p)
	}
	crl, err := x509.ParseRevocationList(b.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return crl
}

type extCA struct{ pkitest.ExtCA }

func newExtCA(tb testing.TB, cn string, notAfter time.Time) extCA {
	tb.Helper()
	e := pkitest.NewExtCA(tb, cn, notAfter)
	return extCA{e}
}

func (e extCA) leaf(tb testing.TB, cn string, notAfter time.Time, isCA bool) string {
	tb.Helper()
	p, _ := e.Leaf(tb, cn, notAfter, isCA)
	return p
}

func TestChain(t *testing.T) {
	ca := newCA(t, pki.Options{})
	year := time.Now().AddDate(1, 0, 0)
	ext := newExtCA(t, "old dojot CA", year)
	other := newExtCA(t, "someone else", year)
	leaf := ext.leaf(t, "admin:a1b2c3", year, false)

	c, err := ca.ParseChain(leaf + ext.PEM)
	if err != nil {
		t.Fatal(err)
	}
	extFP := pki.Fingerprint(ext.Cert.Raw)
	if fp, err := c.RootFingerprint(""); err != nil || fp != extFP {
		t.Fatalf("RootFingerprint = %s, %v", fp, err)
	}
	if fp, err := c.RootFingerprint(strings.ToLower(strings.ReplaceAll(extFP, ":", ""))); err != nil || fp != extFP {
		t.Fatalf("RootFingerprint(given) = %s, %v", fp, err)
	}
	if _, err := c.RootFingerprint(pki.Fingerprint(other.Cert.Raw)); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatch: %v", err)
	}
	if c.RootPEM() == "" || ca.Verify(c, ext.PEM) != nil {
		t.Error("chain does not verify against its root")
	}
	if err := ca.Verify(c, other.PEM); err == nil || err.Error() != "The certificate chain of trust is not valid." {
		t.Errorf("Verify(other) = %v", err)
	}
	rec := c.Certificate(extFP)
	if rec.IssuedByDojotPKI || rec.Fingerprint != c.Fingerprint() || rec.CAFingerprint != extFP || rec.SubjectDN != "CN=admin:a1b2c3" {
		t.Errorf("record %+v", rec)
	}

	alone, err := ca.ParseChain(leaf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alone.RootFingerprint(""); err == nil || !strings.HasPrefix(err.Error(), "It was not possible to obtain the fingerprint of the root CA.") {
		t.Errorf("no root: %v", err)
	}
	for name, tt := range map[string]struct{ in, err string }{
		"expired":      {ext.leaf(t, "x", time.Now().Add(-49*time.Hour), false), "The certificate expired 2 days ago."},
		"too short":    {ext.leaf(t, "x", time.Now().Add(time.Hour), false), "The certificate must be valid for more than 1 days."},
		"leaf is a CA": {ext.leaf(t, "x", year, true), "The certificate is a CA certificate. It contains the flag 'CA:TRUE' in the extension 'Basic Constraints'."},
		"garbage":      {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "Can not parse ASN1 data structure from binary data"},
		"nothing":      {"hello", "The certificate chain is not a sequence of PEM certificates."},
		"a key":        {"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "The certificate chain is not a sequence of PEM certificates."},
	} {
		if _, err := ca.ParseChain(tt.in); err == nil || err.Error() != tt.err || !errors.Is(err, dojot.ErrInvalid) {
			t.Errorf("%s: ParseChain = %v; want %q", name, err, tt.err)
		}
	}
}

func TestTrustedCA(t *testing.T) {
	ca := newCA(t, pki.Options{})
	year := time.Now().AddDate(1, 0, 0)
	ext := newExtCA(t, "tenant CA", year)
	// An old dojot's CA has the platform's name: a migration registers it.
	if _, err := ca.ParseTrustedCA(newExtCA(t, "X509 Identity CA", year).PEM); err != nil {
		t.Errorf("an old dojot CA: %v", err)
	}
	got, err := ca.ParseTrustedCA(ext.PEM)
	if err != nil || got.CAFingerprint != pki.Fingerprint(ext.Cert.Raw) || got.SubjectDN != "CN=tenant CA" || got.CAPEM+"\n" != ext.PEM {
		t.Fatalf("ParseTrustedCA = %+v, %v", got, err)
	}
	for name, tt := range map[string]struct{ in, err string }{
		"two":            {ext.PEM + ext.PEM, "Only one CA certificate is expected per request."},
		"none":           {"x", "Only one CA certificate is expected per request."},
		"a leaf":         {ext.leaf(t, "x", year, false), "The certificate is not a CA certificate. It does not contain the flag 'CA:TRUE' in the extension 'Basic Constraints'."},
		"intermediate":   {ext.leaf(t, "x", year, true), "The certificate is not a Root CA certificate (not self signed)."},
		"the platform's": {ca.PEM(), "It is not allowed to register a CA certificate with the same 'CNAME' of the platform."},
		"expired":        {newExtCA(t, "x", time.Now().Add(-time.Minute)).PEM, "The certificate expired 0 days ago."},
	} {
		if _, err := ca.ParseTrustedCA(tt.in); err == nil || err.Error() != tt.err {
			t.Errorf("%s: ParseTrustedCA = %v; want %q", name, err, tt.err)
		}
	}
}
