package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
	"time"

	"github.com/dojot-es/dojot"
)

// Issue signs c for tenant with the device-certificate profile of dojot's
// EJBCA (X509.md 2): 20-octet random serial, notBefore at the minute,
// Validity long, subject "O=dojot IoT Platform" plus the CSR's other
// attributes (CN rewritten to "<tenant>:<CN>" in subject-DN mode), critical
// basicConstraints CA:FALSE, critical keyUsage digitalSignature,
// nonRepudiation, keyEncipherment, keyAgreement, extKeyUsage clientAuth,
// emailProtection, serverAuth, SKI/AKI, and the CSR's SAN. The answer has
// every field of the record pki knows; owner, tenant and times are the
// caller's.
func (ca *CA) Issue(c *CSR, tenant string) (dojot.Certificate, error) {
	return ca.issue(c, ca.leafSubject(c, tenant))
}

func (ca *CA) issue(c *CSR, subject []pkix.AttributeTypeAndValue) (dojot.Certificate, error) {
	serial, err := randomSerial(ca.opts.Rand)
	if err != nil {
		return dojot.Certificate{}, err
	}
	ski, err := subjectKeyID(c.req.PublicKey)
	if err != nil {
		return dojot.Certificate{}, err
	}
	now := ca.opts.Now().UTC().Truncate(time.Minute)
	tpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{ExtraNames: subject},
		NotBefore:             now,
		NotAfter:              now.Add(ca.opts.Validity),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageServerAuth},
		SubjectKeyId:          ski,
	}
	if san, ok := c.sanExtension(); ok {
		tpl.ExtraExtensions = append(tpl.ExtraExtensions, san)
	}
	der, err := x509.CreateCertificate(ca.opts.Rand, tpl, ca.cert, c.req.PublicKey, ca.key)
	if err != nil {
		return dojot.Certificate{}, fmt.Errorf("sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return dojot.Certificate{}, fmt.Errorf("read back certificate: %w", err)
	}
	return record(cert, true, ca.fp), nil
}

// leafSubject is the issued subject as an RDN sequence in X.500 order
// (so O precedes CN, as in dojot's sample certificate).
func (ca *CA) leafSubject(c *CSR, tenant string) []pkix.AttributeTypeAndValue {
	order := []string{"DC", "C", "ST", "L", "O", "OU", "CN", "SN", "UID"}
	rank := func(t asn1.ObjectIdentifier) int {
		n := attrName(t)
		for i, o := range order {
			if o == n {
				return i
			}
		}
		return len(order)
	}
	var out []pkix.AttributeTypeAndValue
	for r := 0; r <= len(order); r++ {
		if r == 4 { // O
			out = append(out, pkix.AttributeTypeAndValue{Type: oidO, Value: Organization})
			continue
		}
		for _, a := range c.rdns {
			if rank(a.Type) != r {
				continue
			}
			if a.Type.Equal(oidCN) && ca.opts.CheckSubjectDN {
				a.Value = tenant + ":" + c.CommonName()
			}
			out = append(out, a)
		}
	}
	return out
}

var oidO = asn1.ObjectIdentifier{2, 5, 4, 10}

// record is the certificate as a dojot record's crypto fields.
func record(cert *x509.Certificate, ours bool, caFP string) dojot.Certificate {
	return dojot.Certificate{
		Fingerprint:      Fingerprint(cert.Raw),
		CAFingerprint:    caFP,
		PEM:              encodePEM("CERTIFICATE", cert.Raw),
		SubjectDN:        subjectDN(cert.Subject),
		Validity:         dojot.Validity{NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC()},
		Serial:           strings.ToUpper(cert.SerialNumber.Text(16)),
		IssuedByDojotPKI: ours,
	}
}

// subjectDN is the subject as RFC 4514 text (CN first).
func subjectDN(n pkix.Name) string { return n.String() }

// IssueService signs c for one of the platform's own services (dojot's
// throw-away route, X509.md 9): the device profile, but the CSR's subject
// as it is (no O added).
func (ca *CA) IssueService(c *CSR) (dojot.Certificate, error) {
	return ca.issue(c, c.rdns)
}
