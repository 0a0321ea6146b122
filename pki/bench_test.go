package pki_test

import (
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/dojot-es/dojot/pki"
	"github.com/dojot-es/dojot/pki/pkitest"
)

// BenchmarkIssue: a CSR checked and signed (ParseCSR + Issue), against a
// bare x509.CreateCertificate of the same key by the same CA key in the
// same run (x-bare-sign: how many times slower the whole path is).
func BenchmarkIssue(b *testing.B) {
	cas := map[string]func(io.Reader) (crypto.Signer, error){
		"ca=p256": pki.NewP256Key,
		"ca=rsa4096": func(r io.Reader) (crypto.Signer, error) {
			return rsa.GenerateKey(r, 4096)
		},
	}
	keys := map[string]crypto.Signer{"device=p256": pkitest.ECKey(b, elliptic.P256()), "device=rsa2048": pkitest.RSAKey(b, 2048)}
	for caName, newKey := range cas {
		ca := pkitest.CA(b, pki.Options{NewKey: newKey})
		caCert := pkitest.Cert(b, ca.PEM())
		caKey := pki.KeyOf(ca)
		for keyName, key := range keys {
			b.Run(caName+"/"+keyName, func(b *testing.B) {
				csr := pkitest.CSR(b, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a1b2c3"}})
				bare := nsPerOp(50, func() {
					tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "a1b2c3"},
						NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
					if _, err := x509.CreateCertificate(rand.Reader, tpl, caCert, key.Public(), caKey); err != nil {
						b.Fatal(err)
					}
				})
				for b.Loop() {
					c, err := ca.ParseCSR(csr)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := ca.Issue(c, "admin"); err != nil {
						b.Fatal(err)
					}
				}
				per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				b.ReportMetric(1e9/per, "issues/s")
				b.ReportMetric(per/bare, "x-bare-sign")
			})
		}
	}
}

func nsPerOp(n int, f func()) float64 {
	start := time.Now()
	for range n {
		f()
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}
