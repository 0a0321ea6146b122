package main

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/dojot-es/dojot"
	agentmqtt "github.com/dojot-es/dojot/agents/mqtt"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/pki"
)

// x509Config is the certificate authority's and the MQTT over TLS
// listener's part of Config.
type x509Config struct {
	CACert, CAKey   string
	CAKeyType       string
	CheckSubjectDN  bool
	CheckPublicKey  bool
	MQTTSAddr       string
	MQTTSSAN        string
	MQTTSCNIdentity bool
	MQTTSCert       string
	MQTTSKey        string
	TrustedCALimit  int
	AutoRegisterCAs bool
}

func (c *x509Config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.CACert, "ca-cert", "", "the platform CA's certificate (PEM), with -ca-key; empty: a CA generated on the first start and kept in the data dir (ca.crt, ca.key 0600). Instances sharing one NATS must be given the same CA")
	fs.StringVar(&c.CAKey, "ca-key", "", "the platform CA's private key (PEM: PKCS#8, PKCS#1 or SEC 1), with -ca-cert")
	fs.StringVar(&c.CAKeyType, "ca-key-type", "rsa-4096", "key of a generated CA: rsa-4096 (dojot's EJBCA root) or p-256 (smaller, faster to make and to sign with)")
	fs.BoolVar(&c.CheckSubjectDN, "x509-check-subjectdn", false, "dojot's certificate.check.subjectdn: a CSR's subject may hold only CN, the id of a device of the tenant, issued as CN=<tenant>:<id>")
	fs.BoolVar(&c.CheckPublicKey, "x509-check-publickey", true, "dojot's certificate.check.publickey: CSR keys must be RSA >= 2048 bits or EC on P-256, P-384 or P-521")
	fs.IntVar(&c.TrustedCALimit, "x509-trusted-ca-limit", 0, "trusted CAs a tenant may register (dojot's certificate.external.ca.limit; 0: no limit)")
	fs.BoolVar(&c.AutoRegisterCAs, "x509-external-ca-autoregistration", false, "dojot's certificate.external.ca.autoregistration: a certificate chain ending with a root CA the tenant does not trust yet registers that root first")
	fs.StringVar(&c.MQTTSAddr, "mqtts-addr", ":8883", "MQTT over mutual TLS listen address (devices with a certificate of the platform CA or of a trusted CA; port 0 picks a free one; empty: off)")
	fs.StringVar(&c.MQTTSSAN, "mqtts-san", "localhost,127.0.0.1,iotagent-mqtt", "names (DNS or IP, comma-separated) in the MQTT TLS server certificate the CA issues; devices connect by one of them")
	fs.StringVar(&c.MQTTSCert, "mqtts-cert", "", "the 8883 server certificate (PEM, chain), with -mqtts-key, instead of one the CA issues: e.g. dojot's iotagent-mqtt certificate, so that migrated devices, which trust dojot's CA, connect unchanged")
	fs.StringVar(&c.MQTTSKey, "mqtts-key", "", "the key of -mqtts-cert (PEM)")
	fs.BoolVar(&c.MQTTSCNIdentity, "mqtts-cn-identity", false, "legacy: a certificate of the platform CA with no record is accepted as the device its CN names (<tenant>:<deviceid>), unless revoked")
}

func (c *x509Config) validate() []error {
	var errs []error
	if (c.CACert == "") != (c.CAKey == "") {
		errs = append(errs, errors.New("-ca-cert and -ca-key are given together"))
	}
	if (c.MQTTSCert == "") != (c.MQTTSKey == "") {
		errs = append(errs, errors.New("-mqtts-cert and -mqtts-key are given together"))
	}
	if c.TrustedCALimit < 0 {
		errs = append(errs, fmt.Errorf("-x509-trusted-ca-limit %d: 0 (no limit) or more", c.TrustedCALimit))
	}
	if c.CAKeyType != "rsa-4096" && c.CAKeyType != "p-256" {
		errs = append(errs, fmt.Errorf("-ca-key-type %q: want rsa-4096 or p-256", c.CAKeyType))
	}
	return errs
}

func (c *x509Config) sans() []string {
	var out []string
	for _, s := range strings.Split(c.MQTTSSAN, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// x509Reads is what the x509 API reads of the view -view names (the
// memory view's otherwise).
type x509Reads interface {
	GetCertificate(ctx context.Context, tenant, fp string) (dojot.Certificate, bool, error)
	ListCertificates(ctx context.Context, tenant string, q dojot.RecordQuery) ([]dojot.Certificate, int, error)
	GetTrustedCA(ctx context.Context, tenant, fp string) (dojot.TrustedCA, bool, error)
	ListTrustedCAs(ctx context.Context, tenant string, q dojot.RecordQuery) ([]dojot.TrustedCA, int, error)
	CRLEntries(ctx context.Context) ([]dojot.RevokedSerial, uint64, error)
}

// openCA opens the CA as cfg says and claims it in the log: a second
// instance with another CA on the same NATS stops here with one line.
func openCA(ctx context.Context, cfg *Config, certs func(*pki.CA) *commands.Certificates, log *slog.Logger) (*pki.CA, *commands.Certificates, error) {
	x := cfg.X509
	pub := x.CheckPublicKey
	opts := pki.Options{CertFile: x.CACert, KeyFile: x.CAKey, Dir: cfg.DataDir, CheckSubjectDN: x.CheckSubjectDN, CheckPublicKey: &pub}
	if x.CAKeyType == "p-256" {
		opts.NewKey = func(r io.Reader) (crypto.Signer, error) { return pki.NewP256Key(r) }
	}
	if x.CACert == "" && cfg.NATSURL != "" {
		log.Warn("no -ca-cert with an external NATS: other instances must be given this instance's CA (ca.crt, ca.key in the data dir)")
	}
	ca, created, err := pki.Open(opts)
	if err != nil {
		if x.CACert != "" {
			return nil, nil, fmt.Errorf("-ca-cert: %w", err)
		}
		return nil, nil, fmt.Errorf("CA in %s: %w", cfg.DataDir, err)
	}
	if created {
		log.Info("created the platform CA", "fingerprint", ca.Fingerprint(), "dir", cfg.DataDir, "key", x.CAKeyType)
	}
	c := certs(ca)
	c.MaxTrustedCAs, c.AutoRegisterRootCAs = x.TrustedCALimit, x.AutoRegisterCAs
	if err := c.ClaimCA(ctx); err != nil {
		if errors.Is(err, commands.ErrOtherCA) {
			return nil, nil, fmt.Errorf("-ca-cert: %w", err)
		}
		return nil, nil, err
	}
	return ca, c, nil
}

// serveMQTTS serves MQTT over mutual TLS on ln: the server certificate
// from the CA for -mqtts-san, client certificates checked against the CA,
// the trusted CAs and the view in every handshake.
func serveMQTTS(agent *agentmqtt.Agent, ln net.Listener, id *pki.Identifier, cfg *Config, log *slog.Logger) error {
	if ln == nil {
		return nil
	}
	tlsCfg, err := id.ServerTLS(cfg.X509.sans())
	if err != nil {
		return fmt.Errorf("-mqtts-san: %w", err)
	}
	if cfg.X509.MQTTSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.X509.MQTTSCert, cfg.X509.MQTTSKey)
		if err != nil {
			return fmt.Errorf("-mqtts-cert: %w", err)
		}
		tlsCfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	if err := agent.ServeTLS(ln, tlsCfg); err != nil {
		return err
	}
	log.Info("mqtts listening", "addr", ln.Addr().String(), "san", cfg.X509.sans(), "cn_identity", cfg.X509.MQTTSCNIdentity)
	return nil
}
