package mqtt_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
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

// tlsBench is an agent serving plain MQTT and MQTT over mutual TLS, a bare
// crypto/tls listener with the same server certificate and client CA,
// and a client certificate of device admin:a1.
type tlsBench struct {
	plain, mqtts, bare string
	ca                 *pki.CA
	client             tls.Certificate
	roots              *x509.CertPool
}

func newTLSBench(b *testing.B) tlsBench {
	b.Helper()
	store := eventstoretest.Open(b)
	ca := pkitest.CA(b, pki.Options{})
	reg := &certs{m: map[string]dojot.Certificate{}}
	id := &pki.Identifier{CA: ca, Registry: reg}
	plain, a := serve(b, agentmqtt.Options{Store: store, CertIdentity: id, Insecure: true})
	cfg, err := id.ServerTLS([]string{"localhost"})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	if err := a.ServeTLS(ln, cfg); err != nil {
		b.Fatal(err)
	}
	serverCert, _ := cfg.GetCertificate(nil)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(ca.PEM()))
	bare, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*serverCert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bare.Close() })
	go func() {
		for {
			c, err := bare.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return tlsBench{plain: plain, mqtts: ln.Addr().String(), bare: bare.Addr().String(), ca: ca,
		client: tlsClient(b, ca, reg, "admin", "a1"), roots: pool}
}

func (tb tlsBench) clientConfig(cache tls.ClientSessionCache) *tls.Config {
	return &tls.Config{RootCAs: tb.roots, ServerName: "localhost", Certificates: []tls.Certificate{tb.client}, ClientSessionCache: cache}
}

// handshake dials addr and completes a TLS handshake; resumed says it
// must have resumed a session.
func handshake(b *testing.B, addr string, cfg *tls.Config, resumed bool) {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if resumed && !c.ConnectionState().DidResume {
		b.Fatal("the session was not resumed")
	}
	c.Close()
}

// interleave runs a and b n times each, in alternating rounds of chunk,
// and returns the time per run of each: both see the same machine.
func interleave(n, chunk int, a, b func()) (nsA, nsB float64) {
	var ta, tb time.Duration
	for done := 0; done < n; done += chunk {
		k := min(chunk, n-done)
		start := time.Now()
		for range k {
			a()
		}
		ta += time.Since(start)
		start = time.Now()
		for range k {
			b()
		}
		tb += time.Since(start)
	}
	return float64(ta.Nanoseconds()) / float64(n), float64(tb.Nanoseconds()) / float64(n)
}

// BenchmarkTLSHandshake: handshakes per second on the agent's MQTT over
// TLS listener (the client's certificate checked against the CA, the
// trusted CAs and its record in every handshake, resumed ones too),
// against a bare crypto/tls listener with the same certificates verifying
// only the chain, interleaved in the same run (x-bare: ours over bare).
// Full: TLS 1.3; resumed: TLS 1.2 session tickets (a TLS 1.3 ticket
// arrives after the handshake, which a client closing at once never
// reads).
func BenchmarkTLSHandshake(b *testing.B) {
	tb := newTLSBench(b)
	for _, resumed := range []bool{false, true} {
		name := "full-tls13"
		if resumed {
			name = "resumed-tls12"
		}
		b.Run(name, func(b *testing.B) {
			cfg := func() *tls.Config {
				c := tb.clientConfig(nil)
				if resumed {
					c.ClientSessionCache, c.MaxVersion = tls.NewLRUClientSessionCache(8), tls.VersionTLS12
				}
				return c
			}
			bareCfg, ourCfg := cfg(), cfg()
			handshake(b, tb.bare, bareCfg, false) // the sessions to resume
			handshake(b, tb.mqtts, ourCfg, false)
			b.ResetTimer()
			bare, ours := interleave(b.N, 50, func() { handshake(b, tb.bare, bareCfg, resumed) }, func() { handshake(b, tb.mqtts, ourCfg, resumed) })
			b.ReportMetric(1e9/ours, "handshakes/s")
			b.ReportMetric(1e9/bare, "bare-handshakes/s")
			b.ReportMetric(ours/bare, "x-bare")
		})
	}
}

// BenchmarkIngestTLS: QoS 1 readings of one device stored in JetStream,
// over MQTT over mutual TLS against plain MQTT in the same run (x-plain:
// plain's time per reading over TLS's; goal >= 0.7). paho keeps up to 64
// readings in flight.
func BenchmarkIngestTLS(b *testing.B) {
	tb := newTLSBench(b)
	dial := func(broker string, cfg *tls.Config) paho.Client {
		o := paho.NewClientOptions().AddBroker(broker).SetClientID(nuid.Next()).SetUsername("admin:a1").SetProtocolVersion(4).
			SetAutoReconnect(false).SetMaxResumePubInFlight(64)
		if cfg != nil {
			o.SetTLSConfig(cfg)
		}
		c := paho.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			b.Fatalf("connect %s: %v", broker, tok.Error())
		}
		b.Cleanup(func() { c.Disconnect(100) })
		return c
	}
	run := func(c paho.Client, n int) {
		toks := make([]paho.Token, 0, 64)
		for i := range n {
			toks = append(toks, c.Publish("admin:a1/attrs", 1, false, fmt.Sprintf(`{"temperature":23.5,"n":%d}`, i)))
			if len(toks) == cap(toks) || i == n-1 {
				for _, t := range toks {
					if !t.WaitTimeout(10*time.Second) || t.Error() != nil {
						b.Fatalf("publish: %v", t.Error())
					}
				}
				toks = toks[:0]
			}
		}
	}
	plain, secure := dial("tcp://"+tb.plain, nil), dial("ssl://"+tb.mqtts, tb.clientConfig(nil))
	run(plain, 1000) // warm both paths up
	run(secure, 1000)
	const chunk = 2000
	rounds := max(1, b.N/chunk)
	b.ResetTimer()
	plainNs, tlsNs := interleave(rounds, 1, func() { run(plain, chunk) }, func() { run(secure, chunk) })
	b.ReportMetric(chunk*1e9/tlsNs, "readings/s")
	b.ReportMetric(chunk*1e9/plainNs, "plain-readings/s")
	b.ReportMetric(plainNs/tlsNs, "x-plain")
}
