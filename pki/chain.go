package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"time"

	"github.com/dojot-es/dojot"
)

// dojot's messages for external certificates and trusted CAs
// (CertificateService.registerCertificate, TrustedCAService).
const (
	msgNotPEM        = "The certificate chain is not a sequence of PEM certificates."
	msgLeafIsCA      = "The certificate is a CA certificate. It contains the flag 'CA:TRUE' in the extension 'Basic Constraints'."
	msgCAMismatch    = "The fingerprint of the CA defined in the payload of the request does not match the fingerprint of the certificate of the root CA that was also informed in the certificate chain."
	msgNoRoot        = "It was not possible to obtain the fingerprint of the root CA. Make sure to inform it in the request payload or inform the root CA certificate as the last one in the chain of certificates."
	msgChainInvalid  = "The certificate chain of trust is not valid."
	msgOneCA         = "Only one CA certificate is expected per request."
	msgNoBasicConstr = "The certificate is not a CA certificate. It does not contain the extension 'Basic Constraints' (OID: 2.5.29.19)."
	msgNotCA         = "The certificate is not a CA certificate. It does not contain the flag 'CA:TRUE' in the extension 'Basic Constraints'."
	msgNotSelfSigned = "The certificate is not a Root CA certificate (not self signed)."
	msgPlatformCN    = "It is not allowed to register a CA certificate with the same 'CNAME' of the platform."
	minimumValidity  = 24 * time.Hour
)

// Chain is an external device certificate with the chain it came with,
// leaf first (POST /x509/v1/certificates {"certificateChain"}).
type Chain struct {
	leaf          *x509.Certificate
	intermediates []*x509.Certificate
	root          *x509.Certificate // the last one, when it is a self-signed CA
}

// ParseChain reads concatenated PEM certificates, leaf first, and checks
// the leaf as dojot does: not expired, valid for more than a day, not a
// CA. A self-signed CA at the end is taken as the root.
func (ca *CA) ParseChain(pemText string) (*Chain, error) {
	certs, err := parseCerts(pemText)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, invalid(msgNotPEM)
	}
	leaf := certs[0]
	if err := ca.checkValidity(leaf); err != nil {
		return nil, err
	}
	if leaf.BasicConstraintsValid && leaf.IsCA {
		return nil, invalid(msgLeafIsCA)
	}
	c := &Chain{leaf: leaf, intermediates: certs[1:]}
	if n := len(certs); n > 1 && isSelfSignedCA(certs[n-1]) {
		c.root, c.intermediates = certs[n-1], certs[1:n-1]
	}
	return c, nil
}

// parseCerts reads every PEM block; anything but CERTIFICATE blocks of
// valid DER (text between blocks aside) is refused.
func parseCerts(pemText string) ([]*x509.Certificate, error) {
	rest := []byte(strings.ReplaceAll(pemText, "\r\n", "\n"))
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, invalid(msgNotPEM)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, invalid(msgNotASN1)
		}
		certs = append(certs, cert)
	}
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, invalid(msgNotPEM)
	}
	return certs, nil
}

func isSelfSignedCA(c *x509.Certificate) bool {
	return c.BasicConstraintsValid && c.IsCA && bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

func (ca *CA) checkValidity(c *x509.Certificate) error {
	now := ca.opts.Now()
	if now.After(c.NotAfter) {
		return invalid("The certificate expired %d days ago.", int(now.Sub(c.NotAfter)/(24*time.Hour)))
	}
	if c.NotAfter.Sub(now) < minimumValidity {
		return invalid("The certificate must be valid for more than 1 days.")
	}
	return nil
}

// Fingerprint is the leaf's fingerprint.
func (c *Chain) Fingerprint() string { return Fingerprint(c.leaf.Raw) }

// RootFingerprint is the root CA's fingerprint: the one in the chain, or
// given (any case, with or without colons); both must agree, and one of
// them is required.
func (c *Chain) RootFingerprint(given string) (string, error) {
	if given != "" {
		fp, ok := NormalizeFingerprint(given)
		if !ok {
			return "", invalid(msgNoRoot)
		}
		if c.root != nil && Fingerprint(c.root.Raw) != fp {
			return "", invalid(msgCAMismatch)
		}
		return fp, nil
	}
	if c.root == nil {
		return "", invalid(msgNoRoot)
	}
	return Fingerprint(c.root.Raw), nil
}

// RootPEM is the root CA the chain carried ("" if none).
func (c *Chain) RootPEM() string {
	if c.root == nil {
		return ""
	}
	return encodePEM("CERTIFICATE", c.root.Raw)
}

// Verify checks the chain up to rootPEM, a trusted CA of the tenant.
func (ca *CA) Verify(c *Chain, rootPEM string) error {
	roots, err := parseCerts(rootPEM)
	if err != nil || len(roots) != 1 {
		return invalid(msgChainInvalid)
	}
	opts := x509.VerifyOptions{Roots: x509.NewCertPool(), Intermediates: x509.NewCertPool(),
		CurrentTime: ca.opts.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	opts.Roots.AddCert(roots[0])
	for _, i := range c.intermediates {
		opts.Intermediates.AddCert(i)
	}
	if _, err := c.leaf.Verify(opts); err != nil {
		return invalid(msgChainInvalid)
	}
	return nil
}

// Certificate is the leaf's record fields (issued by an external CA).
func (c *Chain) Certificate(caFP string) dojot.Certificate { return record(c.leaf, false, caFP) }

// ParseTrustedCA checks a CA certificate a tenant registers as dojot does
// (one PEM, valid for more than a day, a self-signed CA, not named as the
// platform's CA) and answers its record fields.
func (ca *CA) ParseTrustedCA(pemText string) (dojot.TrustedCA, error) {
	certs, err := parseCerts(pemText)
	if err != nil {
		return dojot.TrustedCA{}, err
	}
	if len(certs) != 1 {
		return dojot.TrustedCA{}, invalid(msgOneCA)
	}
	c := certs[0]
	if err := ca.checkValidity(c); err != nil {
		return dojot.TrustedCA{}, err
	}
	switch {
	case !c.BasicConstraintsValid:
		return dojot.TrustedCA{}, invalid(msgNoBasicConstr)
	case !c.IsCA:
		return dojot.TrustedCA{}, invalid(msgNotCA)
	case !isSelfSignedCA(c):
		return dojot.TrustedCA{}, invalid(msgNotSelfSigned)
	case bytes.Equal(c.Raw, ca.cert.Raw):
		// dojot refused any CA named like its own (CN "X509 Identity
		// CA"), which is every old dojot's CA: a migration registers
		// exactly that. Only the platform's own CA is refused here.
		return dojot.TrustedCA{}, invalid(msgPlatformCN)
	}
	return dojot.TrustedCA{
		CAFingerprint: Fingerprint(c.Raw),
		CAPEM:         encodePEM("CERTIFICATE", c.Raw),
		SubjectDN:     subjectDN(c.Subject),
		Validity:      dojot.Validity{NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC()},
	}, nil
}
