package mqtt

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/dojot-es/dojot"
)

// CertIdentifier says which device a client certificate is (pki.Identifier):
// the record of its fingerprint, read when the client connects, so a
// revocation since the handshake still refuses it.
type CertIdentifier interface {
	Lookup(leafDER []byte) (dojot.CertIdentity, error)
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
	return nil
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
	id, err = a.opts.CertIdentity.Lookup(st.PeerCertificates[0].Raw)
	return id, true, err
}
