package gateway

import (
	"crypto"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"
)

func elliptic256() elliptic.Curve { return elliptic.P256() }
func elliptic224() elliptic.Curve { return elliptic.P224() }

func csrTemplate(cn string) *x509.CertificateRequest {
	return &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}
}

func ed25519Key(t *testing.T) crypto.Signer {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tamperCSR flips a bit of the CSR's subject (the "tamperme" CN).
func tamperCSR(t *testing.T, p string) string {
	b, _ := pem.Decode([]byte(p))
	der := append([]byte(nil), b.Bytes...)
	i := strings.Index(string(der), "tamperme")
	der[i] ^= 1
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func parseCRLPEM(t *testing.T, p string) *x509.RevocationList {
	t.Helper()
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		t.Fatalf("CRL %q", p)
	}
	rl, err := x509.ParseRevocationList(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return rl
}
