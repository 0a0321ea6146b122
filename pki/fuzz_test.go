package pki_test

import (
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/pki"
)

// FuzzInput feeds the CSR, chain and trusted-CA parsers what a client may
// send: every input is either accepted (and then signs or verifies) or
// refused as dojot.ErrInvalid; nothing panics and nothing else escapes.
func FuzzInput(f *testing.F) {
	ca := newCA(f, pki.Options{})
	key := ecKey(f, elliptic.P256())
	good := csrPEM(f, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a1b2c3"}})
	ext := newExtCA(f, "ext", time.Now().AddDate(1, 0, 0))
	leaf := ext.leaf(f, "admin:d1", time.Now().AddDate(1, 0, 0), false)
	for _, s := range []string{good, good[:len(good)/2], leaf + ext.PEM, ext.PEM, "", "-----BEGIN CERTIFICATE REQUEST-----\nMA==\n-----END CERTIFICATE REQUEST-----\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if csr, err := ca.ParseCSR(in); err == nil {
			if _, err := ca.Issue(csr, "admin"); err != nil {
				t.Fatalf("accepted CSR not signed: %v", err)
			}
		} else if !errors.Is(err, dojot.ErrInvalid) {
			t.Fatalf("ParseCSR(%q) = %v, not ErrInvalid", in, err)
		}
		if c, err := ca.ParseChain(in); err == nil {
			_ = c.Certificate("")
			if fp, err := c.RootFingerprint(""); err == nil && c.RootPEM() == "" {
				t.Fatalf("root %s without its PEM", fp)
			}
			if err := ca.Verify(c, ext.PEM); err != nil && !errors.Is(err, dojot.ErrInvalid) {
				t.Fatal(err)
			}
		} else if !errors.Is(err, dojot.ErrInvalid) {
			t.Fatalf("ParseChain(%q) = %v, not ErrInvalid", in, err)
		}
		if _, err := ca.ParseTrustedCA(in); err != nil && !errors.Is(err, dojot.ErrInvalid) {
			t.Fatalf("ParseTrustedCA(%q) = %v, not ErrInvalid", in, err)
		}
	})
}
