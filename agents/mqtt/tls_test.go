package mqtt_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nuid"

	"github.com/dojot-es/dojot"
	agentmqtt "github.com/dojot-es/dojot/agents/mqtt"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/pki"
	"github.com/dojot-es/dojot/pki/pkitest"
)

// certs is a pki.Registry of certificate records by fingerprint.
type certs struct {
	mu sync.Mutex
	m  map[string]dojot.Certificate
}

func (c *certs) Certificate(fp string) (dojot.Certificate, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[fp]
	return r, ok
}
func (c *certs) CertificateRevoked(string) bool  { return false }
func (c *certs) TrustBundle() (uint64, []string) { return 0, nil }
func (c *certs) DeviceExists(t, id string) bool  { return known[t+"/"+id] }
func (c *certs) remove(fp string)                { c.mu.Lock(); delete(c.m, fp); c.mu.Unlock() }
func (c *certs) put(r dojot.Certificate)         { c.mu.Lock(); c.m[r.Fingerprint] = r; c.mu.Unlock() }

// tlsClient is a client certificate and key of the CA.
func tlsClient(t testing.TB, ca *pki.CA, reg *certs, tenant, device string) tls.Certificate {
	t.Helper()
	key, csrPEM := pkitest.CSRFor(t, "x")
	csr, err := ca.ParseCSR(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ca.Issue(csr, tenant)
	if err != nil {
		t.Fatal(err)
	}
	rec.Tenant, rec.BelongsTo = tenant, dojot.CertOwner{Device: device}
	reg.put(rec)
	return tls.Certificate{Certificate: [][]byte{pkitest.DER(t, rec.PEM)}, PrivateKey: key}
}

func connectTLS(t *testing.T, addr string, ca *pki.CA, cert tls.Certificate, username string) (paho.Client, error) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(ca.PEM()))
	o := paho.NewClientOptions().AddBroker("ssl://" + addr).SetClientID(nuid.Next()).SetUsername(username).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second).
		SetTLSConfig(&tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{cert}})
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		return nil, errTimeout
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "connect timed out" }

var errTimeout = timeoutErr{}

func TestMutualTLS(t *testing.T) {
	store := eventstoretest.Open(t)
	ca := pkitest.CA(t, pki.Options{})
	reg := &certs{m: map[string]dojot.Certificate{}}
	id := &pki.Identifier{CA: ca, Registry: reg}
	_, a := serve(t, agentmqtt.Options{Store: store, CertIdentity: id, RecheckEvery: 20 * time.Millisecond})
	cfg, err := id.ServerTLS([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ServeTLS(ln, cfg); err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()

	a1 := tlsClient(t, ca, reg, "admin", "a1")
	// The username is ignored: the certificate says admin:a1.
	c, err := connectTLS(t, addr, ca, a1, "admin:a2")
	if err != nil {
		t.Fatalf("connect with admin:a1's certificate: %v", err)
	}
	if !publish(c, "admin:a1/attrs", 1, `{"t":1}`) {
		t.Fatal("own attrs not acknowledged")
	}
	if got := readings(t, store); len(got) != 1 || got[0].Body.Metadata.DeviceID != "a1" {
		t.Fatalf("stored %+v", got)
	}
	if publish(c, "admin:a2/attrs", 1, `{"t":2}`) {
		t.Error("a1's certificate published as a2")
	}
	if len(readings(t, store)) != 1 {
		t.Error("a refused publish was stored")
	}

	// Revoked (its record gone), unlinked, of a missing device, or no
	// certificate at all: refused.
	revoked := tlsClient(t, ca, reg, "admin", "a1")
	reg.remove(pki.Fingerprint(revoked.Certificate[0]))
	if _, err := connectTLS(t, addr, ca, revoked, ""); err == nil {
		t.Error("a revoked certificate connected")
	}
	unlinked := tlsClient(t, ca, reg, "admin", "")
	if _, err := connectTLS(t, addr, ca, unlinked, ""); err == nil {
		t.Error("an unlinked certificate connected")
	}
	gone := tlsClient(t, ca, reg, "admin", "zz")
	if _, err := connectTLS(t, addr, ca, gone, ""); err == nil {
		t.Error("a certificate of a missing device connected")
	}
	if _, err := connectTLS(t, addr, ca, tls.Certificate{}, "admin:a1"); err == nil {
		t.Error("a client without a certificate connected")
	}
	if st := a.Status(); st.Refused["unknown_device"] != 1 {
		t.Errorf("refusals %+v", st.Refused)
	}
	// Everything came on the TLS listener: its share is the whole.
	if st := a.Status(); st.TLS == nil || st.TLS.Stored != 1 || st.Stored != 1 || !reflect.DeepEqual(st.TLS.Refused, st.Refused) {
		t.Errorf("Status() = %+v, TLS share %+v; want 1 stored and every refusal on TLS", st, st.TLS)
	}

	// A live session ends once its certificate is revoked or unlinked.
	for name, drop := range map[string]func(fp string){
		"revoked":  reg.remove,
		"unlinked": func(fp string) { r, _ := reg.Certificate(fp); r.BelongsTo = dojot.CertOwner{}; reg.put(r) },
	} {
		cert := tlsClient(t, ca, reg, "admin", "a2")
		lost := make(chan struct{})
		c, err := connectTLSLost(t, addr, ca, cert, func() { close(lost) })
		if err != nil {
			t.Fatalf("%s: connect: %v", name, err)
		}
		if !publish(c, "admin:a2/attrs", 1, `{"t":3}`) {
			t.Fatalf("%s: publish before", name)
		}
		drop(pki.Fingerprint(cert.Certificate[0]))
		select {
		case <-lost:
		case <-time.After(5 * time.Second):
			t.Errorf("%s: the session lives on", name)
		}
	}
}

// connectTLSLost connects as connectTLS does, calling lost when the
// connection is lost.
func connectTLSLost(t *testing.T, addr string, ca *pki.CA, cert tls.Certificate, lost func()) (paho.Client, error) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(ca.PEM()))
	o := paho.NewClientOptions().AddBroker("ssl://" + addr).SetClientID(nuid.Next()).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).
		SetTLSConfig(&tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{cert}}).
		SetConnectionLostHandler(func(paho.Client, error) { lost() })
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}
