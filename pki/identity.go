package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dojot-es/dojot"
)

// Registry is what the identity lookup reads: the certificates and trusted
// CAs as the view holds them (the memory view implements it). Its answers
// are current: a revocation applied to the view refuses the next
// handshake.
type Registry interface {
	// Certificate is the live record of a fingerprint (revoked ones are
	// gone).
	Certificate(fp string) (dojot.Certificate, bool)
	// CertificateRevoked reports whether the platform's CA revoked the
	// certificate with this serial (upper-case hex).
	CertificateRevoked(serial string) bool
	// TrustBundle is every trusted CA of every tenant, as dojot's CA
	// bundle, and a number that changes whenever the bundle does.
	TrustBundle() (version uint64, pems []string)
	// DeviceExists is for the legacy CN identity.
	DeviceExists(tenant, id string) bool
}

// Why a client certificate is refused (wrapped in dojot.ErrUnauthorized).
var (
	ErrUntrusted = errors.New("certificate not issued by the platform CA or a trusted CA")
	ErrUnknown   = errors.New("certificate not registered")
	ErrRevoked   = errors.New("certificate revoked")
	ErrUnlinked  = errors.New("certificate belongs to no device")
)

// Identifier answers "who is this client certificate?" against a
// registry. LegacyCN accepts, for a certificate of the platform's CA that
// has no record, the CN form "<tenant>:<deviceid>" of older dojot
// releases (when not revoked and the device exists).
type Identifier struct {
	CA       *CA
	Registry Registry
	LegacyCN bool

	mu      sync.Mutex
	version uint64
	pool    *x509.CertPool
	// verified remembers chains that verified, by the leaf's fingerprint,
	// for the trust bundle of version: a device reconnecting (a resumed
	// handshake above all) pays a map read instead of a signature check.
	// The record and the CRL are still read in every handshake.
	verified map[string]verifiedChain
}

// verifiedChain is a leaf whose chain verified: until notAfter, and ours
// when it ends at the platform CA.
type verifiedChain struct {
	notAfter time.Time
	ours     bool
}

// maxVerified bounds the verified chains remembered (~100 B each).
const maxVerified = 1 << 16

func refused(why error, detail string) error {
	return fmt.Errorf("%w%s: %w", why, detail, dojot.ErrUnauthorized)
}

// Verify checks a client's chain (leaf first, as TLS gives it) against the
// platform CA and the trusted CAs, then looks the leaf up. It is what the
// TLS handshake runs; errors wrap dojot.ErrUnauthorized and say why.
func (id *Identifier) Verify(rawCerts [][]byte) (dojot.CertIdentity, error) {
	if len(rawCerts) == 0 {
		return dojot.CertIdentity{}, refused(ErrUntrusted, ": no client certificate")
	}
	leaf, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return dojot.CertIdentity{}, refused(ErrUntrusted, ": "+err.Error())
	}
	roots, version := id.roots()
	fp := Fingerprint(leaf.Raw)
	now := id.CA.opts.Now()
	id.mu.Lock()
	v, ok := id.verified[fp]
	id.mu.Unlock()
	if ok && now.Before(v.notAfter) && !now.Before(leaf.NotBefore) {
		return id.lookup(leaf, v.ours)
	}
	inter := x509.NewCertPool()
	for _, raw := range rawCerts[1:] {
		if c, err := x509.ParseCertificate(raw); err == nil {
			inter.AddCert(c)
		}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return dojot.CertIdentity{}, refused(ErrUntrusted, ": "+err.Error())
	}
	ours := false
	notAfter := leaf.NotAfter
	for _, ch := range chains {
		if ch[len(ch)-1].Equal(id.CA.cert) {
			ours = true
		}
		for _, c := range ch {
			if c.NotAfter.Before(notAfter) {
				notAfter = c.NotAfter
			}
		}
	}
	id.mu.Lock()
	if id.version == version { // else the bundle changed meanwhile: not remembered
		if id.verified == nil || len(id.verified) >= maxVerified {
			id.verified = map[string]verifiedChain{}
		}
		id.verified[fp] = verifiedChain{notAfter: notAfter, ours: ours}
	}
	id.mu.Unlock()
	return id.lookup(leaf, ours)
}

// Lookup is the identity of a leaf whose chain the handshake verified
// already (the MQTT CONNECT that follows it): only the record is read
// again, so a revocation in between still refuses.
func (id *Identifier) Lookup(leafDER []byte) (dojot.CertIdentity, error) {
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return dojot.CertIdentity{}, refused(ErrUntrusted, ": "+err.Error())
	}
	return id.lookup(leaf, leaf.CheckSignatureFrom(id.CA.cert) == nil)
}

func (id *Identifier) lookup(leaf *x509.Certificate, ours bool) (dojot.CertIdentity, error) {
	fp := Fingerprint(leaf.Raw)
	serial := strings.ToUpper(leaf.SerialNumber.Text(16))
	if ours && id.Registry.CertificateRevoked(serial) {
		return dojot.CertIdentity{}, refused(ErrRevoked, " (fingerprint "+fp+")")
	}
	rec, ok := id.Registry.Certificate(fp)
	if !ok {
		if id.LegacyCN && ours {
			if t, d, ok := strings.Cut(leaf.Subject.CommonName, ":"); ok && id.Registry.DeviceExists(t, d) {
				return dojot.CertIdentity{Tenant: t, Device: d}, nil
			}
		}
		return dojot.CertIdentity{}, refused(ErrUnknown, " (fingerprint "+fp+")")
	}
	if rec.BelongsTo.Device == "" {
		return dojot.CertIdentity{}, refused(ErrUnlinked, " (fingerprint "+fp+")")
	}
	return dojot.CertIdentity{Tenant: rec.Tenant, Device: rec.BelongsTo.Device}, nil
}

// roots is the platform CA plus the trust bundle and its version, rebuilt
// when the bundle changes; the verified chains remembered go with the old
// bundle (a removed CA no longer lets its leaves in).
func (id *Identifier) roots() (*x509.CertPool, uint64) {
	v, pems := id.Registry.TrustBundle()
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.pool != nil && v == id.version {
		return id.pool, v
	}
	pool := x509.NewCertPool()
	pool.AddCert(id.CA.cert)
	for _, p := range pems {
		pool.AppendCertsFromPEM([]byte(p))
	}
	id.pool, id.version, id.verified = pool, v, nil
	return pool, v
}
