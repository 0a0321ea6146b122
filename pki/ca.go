package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Organization is the O every certificate of the platform's CA carries, as
// dojot's EJBCA profile sets it.
const Organization = "dojot IoT Platform"

// Options say where the CA comes from. A zero field means the default.
type Options struct {
	// CertFile and KeyFile name a CA given by the operator (PEM; the key
	// PKCS#8, PKCS#1 or SEC 1). Both or neither: without them the CA is
	// Dir's, created on the first start.
	CertFile, KeyFile string
	// Dir keeps the generated CA: ca.crt and ca.key (mode 0600).
	Dir string
	// NewKey makes the key of a generated CA (default RSA-4096, the size
	// dojot's EJBCA root has).
	NewKey func(rand io.Reader) (crypto.Signer, error)
	// Validity is how long an issued device certificate lasts (default 365
	// days, dojot's certificate.validity).
	Validity time.Duration
	// CheckPublicKey applies dojot's key rules to CSRs (RSA >= 2048 bits,
	// EC on P-256/P-384/P-521); nil means true, dojot's default.
	CheckPublicKey *bool
	// CheckSubjectDN is dojot's certificate.check.subjectdn (default
	// false): the CSR subject may hold only CN, which must name a device
	// of the tenant and becomes "<tenant>:<CN>".
	CheckSubjectDN bool
	Now            func() time.Time
	Rand           io.Reader
}

func (o *Options) setDefaults() {
	if o.NewKey == nil {
		o.NewKey = func(r io.Reader) (crypto.Signer, error) { return rsa.GenerateKey(r, 4096) }
	}
	if o.Validity == 0 {
		o.Validity = 365 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
}

// CA is the platform's certificate authority. It is safe for concurrent
// use.
type CA struct {
	opts Options
	cert *x509.Certificate
	key  crypto.Signer
	pem  string
	fp   string

	crlMu sync.Mutex
	crl   crlCache
}

// Open loads the CA named by opts.CertFile/KeyFile, or the one kept in
// opts.Dir, creating it there when absent. created tells whether this call
// made a new one.
func Open(opts Options) (ca *CA, created bool, err error) {
	opts.setDefaults()
	switch {
	case opts.CertFile != "" || opts.KeyFile != "":
		if opts.CertFile == "" || opts.KeyFile == "" {
			return nil, false, errors.New("a CA certificate and its key are given together")
		}
		ca, err = load(opts, opts.CertFile, opts.KeyFile)
		return ca, false, err
	case opts.Dir == "":
		return nil, false, errors.New("no CA files and no directory to keep a generated CA in")
	}
	certFile, keyFile := filepath.Join(opts.Dir, "ca.crt"), filepath.Join(opts.Dir, "ca.key")
	ca, err = load(opts, certFile, keyFile)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return ca, false, err
	}
	if _, serr := os.Stat(keyFile); serr == nil {
		return nil, false, fmt.Errorf("%s exists without %s: restore the certificate or remove both", keyFile, certFile)
	}
	ca, err = create(opts)
	if err != nil {
		return nil, false, err
	}
	if err := ca.save(certFile, keyFile); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

// New builds a CA from a certificate and its key (tests, and callers that
// keep them elsewhere).
func New(opts Options, certPEM []byte, key crypto.Signer) (*CA, error) {
	opts.setDefaults()
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("CA certificate: no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, errors.New("CA certificate: not a CA (basicConstraints CA:TRUE missing)")
	}
	if !publicKeyEqual(cert.PublicKey, key.Public()) {
		return nil, errors.New("CA key does not match the CA certificate")
	}
	return &CA{opts: opts, cert: cert, key: key, pem: encodePEM("CERTIFICATE", cert.Raw), fp: Fingerprint(cert.Raw)}, nil
}

func load(opts Options, certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA key %s: %w", keyFile, err)
	}
	ca, err := New(opts, certPEM, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	return ca, nil
}

func parseKey(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, fmt.Errorf("key type %T cannot sign", k)
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("PEM %s is not a PKCS#8, PKCS#1 or SEC 1 private key", block.Type)
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// create makes a self-signed root as X509.md 12 describes: dojot's DN
// (with a fresh UID, as EJBCA's c-0<16 hex>), 30 years, pathlen 0.
func create(opts Options) (*CA, error) {
	key, err := opts.NewKey(opts.Rand)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := randomSerial(opts.Rand)
	if err != nil {
		return nil, err
	}
	uid := make([]byte, 8)
	if _, err := io.ReadFull(opts.Rand, uid); err != nil {
		return nil, fmt.Errorf("CA uid: %w", err)
	}
	ski, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	now := opts.Now().UTC().Truncate(time.Minute)
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization:       []string{Organization},
			OrganizationalUnit: []string{"Certificate Issuer"},
			CommonName:         "X509 Identity CA",
			ExtraNames:         []pkix.AttributeTypeAndValue{{Type: oidUID, Value: fmt.Sprintf("c-0%x", uid)}},
		},
		NotBefore:             now,
		NotAfter:              now.AddDate(30, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		SubjectKeyId:          ski,
	}
	der, err := x509.CreateCertificate(opts.Rand, tpl, tpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-sign CA: %w", err)
	}
	return New(opts, []byte(encodePEM("CERTIFICATE", der)), key)
}

func (ca *CA) save(certFile, keyFile string) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return fmt.Errorf("encode CA key: %w", err)
	}
	// The key first, each file written whole then renamed: a crash leaves
	// either no CA or a complete one (a key without its certificate is
	// reported by Open, never silently replaced).
	if err := writeFileAtomic(keyFile, []byte(encodePEM("PRIVATE KEY", keyDER)), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certFile, []byte(ca.pem+"\n"), 0o644)
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil { // a leftover tmp file keeps its own mode
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// PEM is the CA certificate (no trailing newline, as dojot's caPem).
func (ca *CA) PEM() string { return ca.pem }

// Fingerprint is the CA certificate's fingerprint.
func (ca *CA) Fingerprint() string { return ca.fp }

// Subject is the CA's DN as text.
func (ca *CA) Subject() string { return ca.cert.Subject.String() }

func encodePEM(typ string, der []byte) string {
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	return string(b[:len(b)-1])
}

// randomSerial is 20 random octets, as EJBCA's serials [X509.md 2], kept
// positive and of full length.
func randomSerial(r io.Reader) (*big.Int, error) {
	b := make([]byte, 20)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	b[0] = b[0]&0x7f | 0x40
	return new(big.Int).SetBytes(b), nil
}

// subjectKeyID is RFC 5280's method 1: SHA-1 of the subjectPublicKey bits.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("subject key id: %w", err)
	}
	spki, err := parseSPKI(der)
	if err != nil {
		return nil, fmt.Errorf("subject key id: %w", err)
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}

// NewP256Key makes an ECDSA P-256 key: a fast CA key for tests and for
// operators who prefer one (Options.NewKey).
func NewP256Key(r io.Reader) (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), r) }

// ChecksSubjectDN reports whether the CA runs dojot's subject-DN mode, in
// which the CSR's CN must name a device of the tenant.
func (ca *CA) ChecksSubjectDN() bool { return ca.opts.CheckSubjectDN }
