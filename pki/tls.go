package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"sync"
	"time"
)

// serverValidity is how long the platform's own TLS certificates last;
// one is renewed once a third of that is left.
const serverValidity = 90 * 24 * time.Hour

// ServerCertificate issues a TLS server certificate for the platform's
// listeners (the MQTT agent's 8883): a fresh P-256 key, CN = the first
// name, SANs = names (DNS names or IP addresses).
func (ca *CA) ServerCertificate(names []string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), ca.opts.Rand)
	if err != nil {
		return nil, fmt.Errorf("server key: %w", err)
	}
	serial, err := randomSerial(ca.opts.Rand)
	if err != nil {
		return nil, err
	}
	now := ca.opts.Now().UTC().Truncate(time.Minute)
	tpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{Organization}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(serverValidity),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if len(names) > 0 {
		tpl.Subject.CommonName = names[0]
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tpl.IPAddresses = append(tpl.IPAddresses, ip)
		} else {
			tpl.DNSNames = append(tpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(ca.opts.Rand, tpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// ServerTLS is the mutual-TLS configuration of a device listener: TLS 1.2+,
// a server certificate from the CA for names (renewed before it expires),
// a client certificate required, verified against the CA and the trusted
// CAs and looked up in the registry during the handshake, so that an
// unknown, unlinked, revoked or expired certificate never completes it.
func (id *Identifier) ServerTLS(names []string) (*tls.Config, error) {
	var mu sync.Mutex
	cert, err := id.CA.ServerCertificate(names)
	if err != nil {
		return nil, err
	}
	get := func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		if left := cert.Leaf.NotAfter.Sub(id.CA.opts.Now()); left < serverValidity/3 {
			c, err := id.CA.ServerCertificate(names)
			if err != nil {
				return cert, nil // the old one still serves; retried on the next handshake
			}
			cert = c
		}
		return cert, nil
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: get,
		// Verified by VerifyConnection, which also runs on resumed
		// sessions, so a resumption cannot skip the revocation check.
		ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			raw := make([][]byte, len(cs.PeerCertificates))
			for i, c := range cs.PeerCertificates {
				raw[i] = c.Raw
			}
			_, err := id.Verify(raw)
			return err
		},
	}, nil
}
