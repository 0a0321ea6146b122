package pki

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"math/big"
	"regexp"
	"strings"

	"github.com/dojot-es/dojot"
)

// dojot's messages for a refused CSR (x509-identity-mgmt pkiUtils.js and
// dnUtils.js), and ours for what dojot left to EJBCA.
const (
	msgNotASN1     = "Can not parse ASN1 data structure from binary data"
	msgNotPKCS10   = "The CSR is not a PKCS#10 certification request."
	msgRSATooShort = "The RSA public key length less than 2048 bits is not supported."
	msgBadCurve    = "The elliptical curve used in the ECDSA public key algorithm is not supported. (Use the NIST-recommended curves: P-256, P-384 or P-521)"
	msgBadKeyAlg   = "The public key algorithm must be RSA or ECDSA. The key algorithm with OID=%s is not supported"
	msgBadCSRSig   = "The CSR signature is not valid: the CSR was not signed with the private key of the public key it carries (proof of possession failed)."
	cnPattern      = "^[0-9A-Za-z ]{1,255}$"
)

var (
	oidRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidEC        = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidP256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384      = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521      = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
	oidUID       = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	oidSAN       = asn1.ObjectIdentifier{2, 5, 29, 17}
	cnRe         = regexp.MustCompile(cnPattern)
	shortAttrOID = map[string]string{
		"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST",
		"2.5.4.10": "O", "2.5.4.11": "OU", "0.9.2342.19200300.100.1.1": "UID",
		"0.9.2342.19200300.100.1.25": "DC",
	}
)

func invalid(format string, a ...any) error { return dojot.Errorf(dojot.ErrInvalid, format, a...) }

// CSR is a certification request that passed the checks: its key is of a
// kind the platform signs, its signature is the key holder's, and its
// subject obeys the CA's subject-DN mode.
type CSR struct {
	req  *x509.CertificateRequest
	rdns []pkix.AttributeTypeAndValue // the subject, first occurrence of each attribute, in order
}

// CommonName is the CSR's CN ("" when it has none).
func (c *CSR) CommonName() string {
	for _, a := range c.rdns {
		if a.Type.Equal(oidCN) {
			s, _ := a.Value.(string)
			return s
		}
	}
	return ""
}

var oidCN = asn1.ObjectIdentifier{2, 5, 4, 3}

// csrASN1 is PKCS#10's outer structure, read before crypto/x509 so that
// the key can be judged by its algorithm OID even where crypto/x509 cannot
// parse it (an unsupported curve, DSA).
type csrASN1 struct {
	Info struct {
		Raw     asn1.RawContent
		Version int
		Subject asn1.RawValue
		SPKI    spkiASN1
		Attrs   asn1.RawValue `asn1:"optional,tag:0"`
	}
	SigAlg pkix.AlgorithmIdentifier
	Sig    asn1.BitString
}

type spkiASN1 struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

func parseSPKI(der []byte) (spkiASN1, error) {
	var s spkiASN1
	rest, err := asn1.Unmarshal(der, &s)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%d trailing bytes", len(rest))
	}
	return s, err
}

// ParseCSR reads a CSR in PEM (CR, LF or CRLF line ends) and checks it as
// dojot does, plus the signature check dojot left to EJBCA: every refusal
// is a dojot.ErrInvalid with dojot's message.
func (ca *CA) ParseCSR(pemText string) (*CSR, error) {
	der, err := csrDER(pemText)
	if err != nil {
		return nil, err
	}
	var raw csrASN1
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil || len(rest) > 0 {
		var any asn1.RawValue
		if rest, err := asn1.Unmarshal(der, &any); err == nil && len(rest) == 0 {
			return nil, invalid(msgNotPKCS10) // dojot: 500 [X509.md 1.3 guess]
		}
		return nil, invalid(msgNotASN1)
	}
	if ca.opts.CheckPublicKey == nil || *ca.opts.CheckPublicKey {
		if err := checkPublicKey(raw.Info.SPKI); err != nil {
			return nil, err
		}
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, invalid(msgNotPKCS10)
	}
	if err := req.CheckSignature(); err != nil {
		return nil, invalid(msgBadCSRSig)
	}
	c := &CSR{req: req, rdns: firstOfEach(req.Subject.Names)}
	if ca.opts.CheckSubjectDN {
		if err := c.checkSubjectDN(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// csrDER decodes the PEM the way dojot's route does: line ends normalised,
// one CERTIFICATE REQUEST block of base64. The JSON schema's pattern
// already refused anything else with its own message; this is the
// library's own guard.
func csrDER(pemText string) ([]byte, error) {
	s := strings.ReplaceAll(strings.ReplaceAll(pemText, "\r\n", "\n"), "\r", "\n")
	s = strings.TrimRight(s, "\n")
	const begin, end = "-----BEGIN CERTIFICATE REQUEST-----\n", "\n-----END CERTIFICATE REQUEST-----"
	if !strings.HasPrefix(s, begin) || !strings.HasSuffix(s, end) || len(s) < len(begin)+len(end) {
		return nil, invalid(msgNotASN1)
	}
	body := strings.ReplaceAll(s[len(begin):len(s)-len(end)], "\n", "")
	der, err := base64.StdEncoding.DecodeString(body)
	if err != nil || len(der) == 0 {
		return nil, invalid(msgNotASN1)
	}
	return der, nil
}

func checkPublicKey(spki spkiASN1) error {
	alg := spki.Algorithm.Algorithm
	switch {
	case alg.Equal(oidRSA):
		var k struct {
			N *big.Int
			E int
		}
		if _, err := asn1.Unmarshal(spki.PublicKey.Bytes, &k); err != nil || k.N == nil {
			return invalid(msgNotPKCS10)
		}
		// dojot compares the modulus's byte length with 256.
		if len(k.N.Bytes()) < 256 {
			return invalid(msgRSATooShort)
		}
		return nil
	case alg.Equal(oidEC):
		var curve asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(spki.Algorithm.Parameters.FullBytes, &curve); err != nil {
			return invalid(msgBadCurve)
		}
		if curve.Equal(oidP256) || curve.Equal(oidP384) || curve.Equal(oidP521) {
			return nil
		}
		return invalid(msgBadCurve)
	}
	return invalid(msgBadKeyAlg, alg.String())
}

// firstOfEach keeps the first occurrence of each attribute type, in order
// (dnUtils.js).
func firstOfEach(names []pkix.AttributeTypeAndValue) []pkix.AttributeTypeAndValue {
	var out []pkix.AttributeTypeAndValue
	for _, n := range names {
		dup := false
		for _, o := range out {
			if o.Type.Equal(n.Type) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, n)
		}
	}
	return out
}

func attrName(t asn1.ObjectIdentifier) string {
	if s, ok := shortAttrOID[t.String()]; ok {
		return s
	}
	return t.String()
}

// checkSubjectDN is dojot's certificate.check.subjectdn mode: CN only (O
// is replaced anyway), mandatory, of letters, digits and spaces.
func (c *CSR) checkSubjectDN() error {
	var found []string
	extra := false
	for _, a := range c.rdns {
		n := attrName(a.Type)
		found = append(found, n)
		if n != "CN" && n != "O" {
			extra = true
		}
	}
	list := "[" + strings.Join(found, ",") + "]"
	if extra {
		return invalid("Error checking SubjectDN allowed attributes in CSR. Allowed: [CN] Found: %s", list)
	}
	cn := c.CommonName()
	if !contains(found, "CN") {
		return invalid("Error checking SubjectDN mandatory attributes in CSR. Mandatory: [CN] Found: %s", list)
	}
	if !cnRe.MatchString(cn) {
		return invalid("Error checking SubjectDN 'CN' attribute in CSR. The value does not match the regular expression: /%s/. Found: %s", cnPattern, cn)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// sanExtension is the CSR's subjectAltName request, copied to the
// certificate as EJBCA's profile allows [X509.md 2].
func (c *CSR) sanExtension() (pkix.Extension, bool) {
	for _, e := range c.req.Extensions {
		if e.Id.Equal(oidSAN) {
			return pkix.Extension{Id: oidSAN, Critical: e.Critical, Value: bytes.Clone(e.Value)}, true
		}
	}
	return pkix.Extension{}, false
}
