// Package pkitest makes what tests of the certificate authority need: a
// fast CA, CSRs and keys, external CAs and their leaves, and files for
// command-line clients (openssl, mosquitto_pub).
package pkitest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dojot-es/dojot/pki"
)

// CA opens a CA with a P-256 key (fast to make) in a fresh directory,
// with opts' other settings.
func CA(tb testing.TB, opts pki.Options) *pki.CA {
	tb.Helper()
	if opts.Dir == "" && opts.CertFile == "" {
		opts.Dir = tb.TempDir()
	}
	if opts.NewKey == nil {
		opts.NewKey = pki.NewP256Key
	}
	ca, _, err := pki.Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return ca
}

// ECKey is a fresh ECDSA key on c.
func ECKey(tb testing.TB, c elliptic.Curve) crypto.Signer {
	tb.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// RSAKey is a fresh RSA key of bits.
func RSAKey(tb testing.TB, bits int) crypto.Signer {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// CSR is a PEM CSR signed by key.
func CSR(tb testing.TB, key crypto.Signer, tpl *x509.CertificateRequest) string {
	tb.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tpl, key)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// CSRFor is a P-256 key and a CSR with subject CN=cn.
func CSRFor(tb testing.TB, cn string) (crypto.Signer, string) {
	tb.Helper()
	k := ECKey(tb, elliptic.P256())
	return k, CSR(tb, k, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}})
}

// DER is the first PEM block's bytes.
func DER(tb testing.TB, p string) []byte {
	tb.Helper()
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		tb.Fatalf("no PEM block in %q", p)
	}
	return b.Bytes
}

// Cert parses the first PEM certificate of p.
func Cert(tb testing.TB, p string) *x509.Certificate {
	tb.Helper()
	c, err := x509.ParseCertificate(DER(tb, p))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// ExtCA is a CA outside the platform: a tenant's own, or an old dojot's
// in a migration.
type ExtCA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	PEM  string
}

// NewExtCA makes a self-signed P-256 root named cn, valid until notAfter.
func NewExtCA(tb testing.TB, cn string, notAfter time.Time) ExtCA {
	tb.Helper()
	key := ECKey(tb, elliptic.P256())
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return ExtCA{c, key, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// Leaf issues a client certificate named cn (a CA one when isCA) and
// returns its PEM and key.
func (e ExtCA) Leaf(tb testing.TB, cn string, notAfter time.Time, isCA bool) (string, crypto.Signer) {
	tb.Helper()
	key := ECKey(tb, elliptic.P256())
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: notAfter, BasicConstraintsValid: true, IsCA: isCA, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, e.Cert, key.Public(), e.Key)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), key
}

// KeyPEM is key in PKCS#8 PEM.
func KeyPEM(tb testing.TB, key crypto.Signer) string {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// WriteFile writes text to a fresh file in dir (mode 0600) and returns
// its path.
func WriteFile(tb testing.TB, dir, name, text string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}
