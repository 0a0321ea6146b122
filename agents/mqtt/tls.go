package mqtt

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/dojot-es/dojot"
)

// CertIdentifier says which device a client's certificate chain is
// (pki.Identifier.Verify): trusted, and the record of its fingerprint, read
// when the client connects and again every Options.RecheckEvery while it is
// connected, so a revocation, an unlink or the device's deletion ends a
// live session too.
type CertIdentifier interface {
	Verify(rawCerts [][]byte) (dojot.CertIdentity, error)
}

// tlsListener is the id of the mutual-TLS listener in mochi.
const tlsListener = "mqtts"

// ServeTLS serves MQTT over mutual TLS on ln, beside Serve's listener (call
// it after Serve): config must require and verify a client certificate in the handshake
// (pki.Identifier.ServerTLS), and Options.CertIdentity names the device.
// The client's username and password are ignored: the certificate is the
// identity, as VerneMQ's use_identity_as_username in dojot.
func (a *Agent) ServeTLS(ln net.Listener, config *tls.Config) error {
	if a.srv == nil {
		return errors.New("mqtt: TLS listener needs the embedded broker (not with an external broker)")
	}
	if a.opts.CertIdentity == nil || config == nil {
		return errors.New("mqtt: TLS listener needs Options.CertIdentity and a TLS config")
	}
	if err := a.srv.AddListener(listeners.NewNet(tlsListener, tls.NewListener(ln, config))); err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	a.srv.Listeners.Serve(tlsListener, a.srv.EstablishConnection)
	done := make(chan struct{})
	a.stopRecheck = sync.OnceFunc(func() { close(done) })
	go a.recheck(done)
	return nil
}

// recheck ends the session of every TLS client whose certificate no longer
// names the device it connected as (revoked, unlinked, moved to another
// device, the device deleted, its CA no longer trusted), every
// Options.RecheckEvery: a map read per client, the chain's verification
// being remembered (pki.Identifier).
func (a *Agent) recheck(done <-chan struct{}) {
	t := time.NewTicker(a.opts.RecheckEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		for _, cl := range a.srv.Clients.GetAll() {
			if cl.Net.Listener != tlsListener || cl.Closed() {
				continue
			}
			id, _, err := a.certIdentity(cl)
			if err == nil && string(cl.Properties.Username) == id.Tenant+":"+id.Device {
				if _, ok := a.opts.Devices.Device(id.Tenant, id.Device); ok {
					continue
				}
				err = errors.New("the device is gone")
			}
			a.refuse(refusedCertificate, cl, "mqtt: session ended: client certificate", "err", err)
			cl.Stop(packets.ErrNotAuthorized)
		}
	}
}

// certIdentity is the device of a client on the TLS listener, which the
// handshake already verified; ok false means not a TLS client.
func (a *Agent) certIdentity(cl *mochi.Client) (id dojot.CertIdentity, isTLS bool, err error) {
	if cl.Net.Listener != tlsListener {
		return id, false, nil
	}
	c, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return id, true, errors.New("not a TLS connection")
	}
	st := c.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return id, true, errors.New("no client certificate")
	}
	raw := make([][]byte, len(st.PeerCertificates))
	for i, c := range st.PeerCertificates {
		raw[i] = c.Raw
	}
	id, err = a.opts.CertIdentity.Verify(raw)
	return id, true, err
}
