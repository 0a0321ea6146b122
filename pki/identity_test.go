package pki_test

import (
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/pki"
)

// registry is a map-backed pki.Registry; the memory view is the real one
// (its conformance is tested there).
type registry struct {
	mu      sync.Mutex
	certs   map[string]dojot.Certificate
	revoked map[string]bool
	bundle  []string
	version uint64
	devices map[string]bool
}

func newRegistry() *registry {
	return &registry{certs: map[string]dojot.Certificate{}, revoked: map[string]bool{}, devices: map[string]bool{}}
}

func (r *registry) Certificate(fp string) (dojot.Certificate, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.certs[fp]
	return c, ok
}
func (r *registry) CertificateRevoked(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.revoked[s]
}
func (r *registry) TrustBundle() (uint64, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.version, r.bundle
}
func (r *registry) DeviceExists(t, d string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.devices[t+":"+d]
}

func (r *registry) revoke(c dojot.Certificate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.certs, c.Fingerprint)
	if c.IssuedByDojotPKI {
		r.revoked[c.Serial] = true
	}
}

func der(tb testing.TB, p string) []byte {
	tb.Helper()
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		tb.Fatal("no PEM")
	}
	return b.Bytes
}

func TestIdentify(t *testing.T) {
	ca := newCA(t, pki.Options{})
	reg := newRegistry()
	id := &pki.Identifier{CA: ca, Registry: reg}

	linked := issue(t, ca, ecKey(t, elliptic.P256()), "anything")
	linked.Tenant, linked.BelongsTo = "admin", dojot.CertOwner{Device: "a1b2c3"}
	reg.certs[linked.Fingerprint] = linked
	unlinked := issue(t, ca, ecKey(t, elliptic.P256()), "x")
	unlinked.Tenant = "admin"
	reg.certs[unlinked.Fingerprint] = unlinked
	unknown := issue(t, ca, ecKey(t, elliptic.P256()), "admin:a1b2c3")
	year := time.Now().AddDate(1, 0, 0)
	ext := newExtCA(t, "old dojot CA", year)
	extLeaf := ext.leaf(t, "admin:d2", year, false)
	extRec := dojot.Certificate{Fingerprint: pki.Fingerprint(der(t, extLeaf)), Tenant: "admin", BelongsTo: dojot.CertOwner{Device: "d2"}}
	reg.certs[extRec.Fingerprint] = extRec
	stranger := newExtCA(t, "stranger", year)

	check := func(name string, chain [][]byte, want dojot.CertIdentity, wantErr error) {
		t.Helper()
		got, err := id.Verify(chain)
		if wantErr != nil {
			if !errors.Is(err, wantErr) || !errors.Is(err, dojot.ErrUnauthorized) {
				t.Errorf("%s: Verify = %v, %v; want %v", name, got, err, wantErr)
			}
			return
		}
		if err != nil || got != want {
			t.Errorf("%s: Verify = %+v, %v; want %+v", name, got, err, want)
		}
	}
	check("linked", [][]byte{der(t, linked.PEM)}, dojot.CertIdentity{Tenant: "admin", Device: "a1b2c3"}, nil)
	check("unlinked", [][]byte{der(t, unlinked.PEM)}, dojot.CertIdentity{}, pki.ErrUnlinked)
	check("unknown", [][]byte{der(t, unknown.PEM)}, dojot.CertIdentity{}, pki.ErrUnknown)
	check("none", nil, dojot.CertIdentity{}, pki.ErrUntrusted)
	check("external, CA not trusted yet", [][]byte{der(t, extLeaf)}, dojot.CertIdentity{}, pki.ErrUntrusted)
	reg.bundle, reg.version = []string{ext.PEM}, 1
	check("external, CA trusted", [][]byte{der(t, extLeaf)}, dojot.CertIdentity{Tenant: "admin", Device: "d2"}, nil)
	check("external, again (a verified chain remembered)", [][]byte{der(t, extLeaf)}, dojot.CertIdentity{Tenant: "admin", Device: "d2"}, nil)
	reg.bundle, reg.version = nil, 2
	check("external, CA removed", [][]byte{der(t, extLeaf)}, dojot.CertIdentity{}, pki.ErrUntrusted)
	reg.bundle, reg.version = []string{ext.PEM}, 3
	check("stranger", [][]byte{der(t, stranger.leaf(t, "admin:d2", year, false))}, dojot.CertIdentity{}, pki.ErrUntrusted)
	if got, err := id.Lookup(der(t, linked.PEM)); err != nil || got.Device != "a1b2c3" {
		t.Errorf("Lookup = %v, %v", got, err)
	}

	// Legacy CN: only for the platform CA's certificates, of existing devices.
	legacy := &pki.Identifier{CA: ca, Registry: reg, LegacyCN: true}
	if _, err := legacy.Verify([][]byte{der(t, unknown.PEM)}); !errors.Is(err, pki.ErrUnknown) {
		t.Errorf("legacy CN of a missing device: %v", err)
	}
	reg.devices["admin:a1b2c3"] = true
	if got, err := legacy.Verify([][]byte{der(t, unknown.PEM)}); err != nil || got != (dojot.CertIdentity{Tenant: "admin", Device: "a1b2c3"}) {
		t.Errorf("legacy CN = %v, %v", got, err)
	}
	reg.devices["admin:d2"] = true
	delete(reg.certs, extRec.Fingerprint)
	if _, err := legacy.Verify([][]byte{der(t, extLeaf)}); !errors.Is(err, pki.ErrUnknown) {
		t.Errorf("legacy CN of an external certificate: %v", err)
	}

	// Revoked: refused at once, in both modes.
	reg.revoke(linked)
	check("revoked", [][]byte{der(t, linked.PEM)}, dojot.CertIdentity{}, pki.ErrRevoked)
	reg.revoke(dojot.Certificate{Fingerprint: unknown.Fingerprint, Serial: unknown.Serial, IssuedByDojotPKI: true})
	if _, err := legacy.Verify([][]byte{der(t, unknown.PEM)}); !errors.Is(err, pki.ErrRevoked) {
		t.Errorf("legacy CN revoked: %v", err)
	}
}

func TestIdentifyExpired(t *testing.T) {
	now := time.Now()
	clock := now
	ca := newCA(t, pki.Options{Now: func() time.Time { return clock }})
	reg := newRegistry()
	c := issue(t, ca, ecKey(t, elliptic.P256()), "x")
	c.Tenant, c.BelongsTo = "admin", dojot.CertOwner{Device: "d1"}
	reg.certs[c.Fingerprint] = c
	later := &pki.Identifier{CA: newCAClock(t, ca, now.AddDate(2, 0, 0)), Registry: reg}
	if _, err := later.Verify([][]byte{der(t, c.PEM)}); !errors.Is(err, pki.ErrUntrusted) {
		t.Errorf("expired: %v", err)
	}
	// A chain verified (and remembered) while valid is refused once expired.
	id := &pki.Identifier{CA: ca, Registry: reg}
	if _, err := id.Verify([][]byte{der(t, c.PEM)}); err != nil {
		t.Fatal(err)
	}
	clock = now.AddDate(2, 0, 0)
	if _, err := id.Verify([][]byte{der(t, c.PEM)}); !errors.Is(err, pki.ErrUntrusted) {
		t.Errorf("expired after it was remembered: %v", err)
	}
}

// newCAClock is ca seen at another time (same files).
func newCAClock(tb testing.TB, ca *pki.CA, at time.Time) *pki.CA {
	tb.Helper()
	c, err := pki.New(pki.Options{Now: func() time.Time { return at }}, []byte(ca.PEM()), pki.KeyOf(ca))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// TestServerTLS: the handshake itself refuses what Verify refuses, and a
// revocation refuses the next handshake, resumed or not.
func TestServerTLS(t *testing.T) {
	ca := newCA(t, pki.Options{})
	reg := newRegistry()
	id := &pki.Identifier{CA: ca, Registry: reg}
	cfg, err := id.ServerTLS([]string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if err := c.(*tls.Conn).Handshake(); err != nil {
					t.Logf("server handshake: %v", err)
				}
				buf := make([]byte, 2)
				if _, err := io.ReadFull(c, buf); err == nil {
					c.Write([]byte("ok"))
				}
				c.Close()
			}()
		}
	}()
	key := ecKey(t, elliptic.P256())
	rec := issue(t, ca, key, "x")
	rec.Tenant, rec.BelongsTo = "admin", dojot.CertOwner{Device: "d1"}
	reg.certs[rec.Fingerprint] = rec
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(ca.PEM()))
	sessions := tls.NewLRUClientSessionCache(4)
	dial := func(max uint16) (bool, error) {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: max,
			ClientSessionCache: sessions, Certificates: []tls.Certificate{{Certificate: [][]byte{der(t, rec.PEM)}, PrivateKey: key}}})
		if err != nil {
			return false, err
		}
		defer conn.Close()
		if _, err := conn.Write([]byte("hi")); err != nil {
			return false, err
		}
		buf := make([]byte, 2)
		_, err = io.ReadFull(conn, buf) // TLS 1.3: the client learns of a refusal here
		return conn.ConnectionState().DidResume, err
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		if _, err := dial(v); err != nil {
			t.Fatalf("TLS %x: linked certificate refused: %v", v, err)
		}
		if resumed, err := dial(v); err != nil || !resumed {
			t.Fatalf("resumption: %v, %v", resumed, err)
		}
	}
	reg.revoke(rec)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		if _, err := dial(v); err == nil {
			t.Fatalf("TLS %x: revoked certificate accepted", v)
		}
	}
	// TLS 1.1 is refused.
	if _, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	leaf, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || len(leaf.Leaf.DNSNames) != 1 || len(leaf.Leaf.IPAddresses) != 1 || leaf.Leaf.CheckSignatureFrom(parseCert(t, ca.PEM())) != nil {
		t.Errorf("server certificate %+v, %v", leaf.Leaf, err)
	}
}

// TestServerCertificateRenewed: the listener's certificate is issued for
// the names asked and renewed once a third of its life is left.
func TestServerCertificateRenewed(t *testing.T) {
	now := time.Now()
	clock := now
	ca := newCA(t, pki.Options{Now: func() time.Time { return clock }})
	cfg, err := (&pki.Identifier{CA: ca, Registry: newRegistry()}).ServerTLS([]string{"mqtt.example", "10.0.0.5"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := cfg.GetCertificate(nil)
	if err != nil || first.Leaf.Subject.CommonName != "mqtt.example" || first.Leaf.DNSNames[0] != "mqtt.example" || !first.Leaf.IPAddresses[0].Equal(net.ParseIP("10.0.0.5")) {
		t.Fatalf("certificate %+v, %v", first.Leaf, err)
	}
	clock = now.Add(30 * 24 * time.Hour)
	if again, _ := cfg.GetCertificate(nil); again != first {
		t.Error("renewed with two thirds of its life left")
	}
	clock = now.Add(70 * 24 * time.Hour)
	renewed, err := cfg.GetCertificate(nil)
	if err != nil || renewed == first || !renewed.Leaf.NotAfter.After(first.Leaf.NotAfter) {
		t.Errorf("not renewed near its end: %v", err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.ClientAuth != tls.RequireAnyClientCert || cfg.VerifyConnection == nil {
		t.Errorf("config %+v", cfg)
	}
}
