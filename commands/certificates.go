package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/pki"
)

// CertState is what the certificate commands decide against; the memory
// view implements it.
type CertState interface {
	Certificate(fp string) (dojot.Certificate, bool)
	CertificateAggregate(fp string) (seq, version uint64)
	TrustedCAAggregate(tenant, fp string) (seq, version uint64)
	GetTrustedCA(ctx context.Context, tenant, fp string) (dojot.TrustedCA, bool, error)
	CertificatesOfCA(tenant, caFP string) int
	TrustedCACount(tenant string) int
	DeviceExists(tenant, id string) bool
	CAClaim() (dojot.CAClaimed, bool)
	Checkpoint(ctx context.Context) (uint64, error)
}

// Certificates handles x509-identity-mgmt's commands: issue and register
// certificates, change their owner, revoke them, and the trusted CAs.
// Crypto is pki's; this decides events.
type Certificates struct {
	opts Options
	st   CertState
	ca   *pki.CA

	// MaxTrustedCAs is how many trusted CAs a tenant may register (0: no
	// limit; dojot's certificate.external.ca.limit, -1 there). Set before
	// use.
	MaxTrustedCAs int
	// AutoRegisterRootCAs: a certificate chain whose root CA the tenant
	// does not trust yet registers that root first (allowAutoRegistration
	// false), as dojot's certificate.external.ca.autoregistration (default
	// false). Set before use.
	AutoRegisterRootCAs bool
}

// NewCertificates returns the handler; opts.Store and opts.Sync are
// required.
func NewCertificates(opts Options, st CertState, ca *pki.CA) *Certificates {
	opts.setDefaults()
	return &Certificates{opts: opts, st: st, ca: ca}
}

// ErrOtherCA: the log was started with another CA than this instance's.
var ErrOtherCA = errors.New("the event log was started with another CA")

// ClaimCA records this instance's CA certificate in the log if none is
// there yet, and fails with ErrOtherCA if another one is: every instance
// on one log must sign with one CA (-ca-cert/-ca-key).
func (c *Certificates) ClaimCA(ctx context.Context) error {
	for i := 0; ; i++ {
		if got, ok := c.st.CAClaim(); ok {
			if got.Fingerprint != c.ca.Fingerprint() {
				return fmt.Errorf("%w (fingerprint %s), this instance's is %s: give every instance on one NATS the same -ca-cert and -ca-key", ErrOtherCA, got.Fingerprint, c.ca.Fingerprint())
			}
			return nil
		}
		ev, err := dojot.NewEvent(dojot.EventCAClaimed, dojot.ManagementTenant, dojot.KindCA, dojot.CAAggregateID, c.opts.Now(),
			dojot.CAClaimed{Fingerprint: c.ca.Fingerprint(), PEM: c.ca.PEM()})
		if err != nil {
			return err
		}
		ev.Version = 1
		seq, err := c.opts.Store.Append(ctx, ev)
		if err == nil {
			return c.opts.Sync.WaitFor(ctx, seq)
		}
		if !errors.Is(err, dojot.ErrConflict) || i > 0 {
			return fmt.Errorf("claim the CA: %w", err)
		}
		// Another instance claimed it first: compare with its claim.
		if err := c.opts.Sync.Sync(ctx); err != nil {
			return fmt.Errorf("claim the CA: %w", err)
		}
	}
}

// x509NotFound is dojot's 404 for a record of the tenant.
func x509NotFound(key, fp, tenant string) error {
	k, _ := json.Marshal(key)
	v, _ := json.Marshal(fp)
	t, _ := json.Marshal(tenant)
	// {"<key>":"<fp>","tenant":"<t>"}, in dojot's key order.
	return dojot.Errorf(dojot.ErrNotFound, "No records found for the following parameters: {%s:%s,\"tenant\":%s}", k, v, t)
}

// checkOwner is dojot's belongsTo rule for this API: devices only, and the
// device must be the tenant's.
func (c *Certificates) checkOwner(tenant string, o dojot.CertOwner) error {
	if o.Application != "" {
		return dojot.Errorf(dojot.ErrForbidden, "Operations on certificates for applications are not authorized through this endpoint.")
	}
	if o.Device != "" && !c.st.DeviceExists(tenant, o.Device) {
		return dojot.Errorf(dojot.ErrInvalid, "Device identifier '%s' was not found for tenant '%s'.", o.Device, tenant)
	}
	return nil
}

func (c *Certificates) now() time.Time { return c.opts.Now().UTC().Truncate(time.Millisecond) }

func (c *Certificates) actor(ctx context.Context) string {
	if id, ok := dojot.IdentityFrom(ctx); ok {
		return id.Username
	}
	return ""
}

// certEvent is an event of a certificate's aggregate. A fingerprint is one
// certificate platform-wide, so the expectation covers it in every
// tenant: evt.*.cert.<fingerprint hex>.
func (c *Certificates) certEvent(ctx context.Context, typ, tenant, fp string, data any) (dojot.Event, error) {
	id := pki.FingerprintID(fp)
	ev, err := dojot.NewEvent(typ, tenant, dojot.KindCertificate, id, c.now(), data)
	if err != nil {
		return ev, err
	}
	seq, ver := c.st.CertificateAggregate(fp)
	ev.Expect, ev.ExpectSubject, ev.Version, ev.Actor = seq, dojot.Subject("*", dojot.KindCertificate, id), ver+1, c.actor(ctx)
	return ev, nil
}

// appendDecided appends what decide returns, decided again after a
// conflict against fresh state.
func (c *Certificates) appendDecided(ctx context.Context, decide func() (dojot.Event, error)) error {
	return retry(ctx, &c.opts, func() (uint64, error) {
		before, err := c.st.Checkpoint(ctx)
		if err != nil {
			return 0, fmt.Errorf("view checkpoint: %w", err)
		}
		ev, err := decide()
		if err != nil || ev.Type == "" {
			return 0, err
		}
		if !fresh(before, ev) {
			return 0, errMovedDuringDecision
		}
		return c.opts.Store.Append(ctx, ev)
	})
}

func duplicate(fp string) error {
	return dojot.Errorf(dojot.ErrConflict, "The certificate with fingerprint '%s' already exists.", fp)
}

// Issue signs a CSR for tenant (POST /x509/v1/certificates {"csr"}) and
// stores the certificate with its owner.
func (c *Certificates) Issue(ctx context.Context, tenant, csrPEM string, owner dojot.CertOwner) (dojot.Certificate, error) {
	if err := c.checkOwner(tenant, owner); err != nil {
		return dojot.Certificate{}, err
	}
	csr, err := c.ca.ParseCSR(csrPEM)
	if err != nil {
		return dojot.Certificate{}, err
	}
	if cn := csr.CommonName(); c.ca.ChecksSubjectDN() && !c.st.DeviceExists(tenant, cn) {
		return dojot.Certificate{}, dojot.Errorf(dojot.ErrInvalid, "Device identifier '%s' was not found for tenant '%s'.", cn, tenant)
	}
	rec, err := c.ca.Issue(csr, tenant)
	if err != nil {
		return dojot.Certificate{}, err
	}
	return c.store(ctx, tenant, rec, owner)
}

// Register stores a certificate of an external CA (POST
// /x509/v1/certificates {"certificateChain"}) whose root is a trusted CA
// of the tenant and whose chain verifies up to it.
func (c *Certificates) Register(ctx context.Context, tenant, chainPEM, caFP string, owner dojot.CertOwner) (dojot.Certificate, error) {
	if err := c.checkOwner(tenant, owner); err != nil {
		return dojot.Certificate{}, err
	}
	chain, err := c.ca.ParseChain(chainPEM)
	if err != nil {
		return dojot.Certificate{}, err
	}
	if _, ok := c.st.Certificate(chain.Fingerprint()); ok {
		return dojot.Certificate{}, duplicate(chain.Fingerprint())
	}
	root, err := chain.RootFingerprint(caFP)
	if err != nil {
		return dojot.Certificate{}, err
	}
	ca, ok, err := c.st.GetTrustedCA(ctx, tenant, root)
	if err != nil {
		return dojot.Certificate{}, err
	}
	if !ok && c.AutoRegisterRootCAs && chain.RootPEM() != "" {
		if _, err := c.AddTrustedCA(ctx, tenant, chain.RootPEM(), false); err != nil && !errors.Is(err, dojot.ErrConflict) {
			return dojot.Certificate{}, err
		}
		if ca, ok, err = c.st.GetTrustedCA(ctx, tenant, root); err != nil {
			return dojot.Certificate{}, err
		}
	}
	if !ok {
		return dojot.Certificate{}, dojot.Errorf(dojot.ErrInvalid, "The root CA certificate is not registered as a trusted certificate yet.")
	}
	if err := c.ca.Verify(chain, ca.CAPEM); err != nil {
		return dojot.Certificate{}, err
	}
	return c.store(ctx, tenant, chain.Certificate(root), owner)
}

func (c *Certificates) store(ctx context.Context, tenant string, rec dojot.Certificate, owner dojot.CertOwner) (dojot.Certificate, error) {
	now := c.now()
	rec.Tenant, rec.BelongsTo, rec.CreatedAt, rec.ModifiedAt = tenant, owner, now, now
	err := c.appendDecided(ctx, func() (dojot.Event, error) {
		if _, ok := c.st.Certificate(rec.Fingerprint); ok {
			return dojot.Event{}, duplicate(rec.Fingerprint)
		}
		return c.certEvent(ctx, dojot.EventCertificateIssued, tenant, rec.Fingerprint, dojot.CertificateIssued{Certificate: rec, RequestID: dojot.RequestID(ctx)})
	})
	return rec, err
}

// tenantCert is a tenant's live certificate, or dojot's 404.
func (c *Certificates) tenantCert(tenant, fp string) (dojot.Certificate, error) {
	rec, ok := c.st.Certificate(fp)
	if !ok || rec.Tenant != tenant {
		return dojot.Certificate{}, x509NotFound("fingerprint", fp, tenant)
	}
	return rec, nil
}

// SetOwner changes a certificate's owner (PATCH {"belongsTo"}; a zero
// owner is DELETE .../belongsto). No change appends nothing.
func (c *Certificates) SetOwner(ctx context.Context, tenant, fp string, owner dojot.CertOwner) error {
	if err := c.checkOwner(tenant, owner); err != nil {
		return err
	}
	return c.appendDecided(ctx, func() (dojot.Event, error) {
		rec, err := c.tenantCert(tenant, fp)
		if err != nil {
			return dojot.Event{}, err
		}
		if rec.BelongsTo == owner {
			return dojot.Event{}, nil // nothing to change
		}
		return c.certEvent(ctx, dojot.EventCertificateOwnerChanged, tenant, fp,
			dojot.CertificateOwnerChanged{Fingerprint: fp, BelongsTo: owner, Previous: rec.BelongsTo, RequestID: dojot.RequestID(ctx)})
	})
}

// Revoke removes a certificate (DELETE .../:fp); one of the platform CA
// enters the CRL at once.
func (c *Certificates) Revoke(ctx context.Context, tenant, fp string) error {
	return c.appendDecided(ctx, func() (dojot.Event, error) {
		rec, err := c.tenantCert(tenant, fp)
		if err != nil {
			return dojot.Event{}, err
		}
		return c.certEvent(ctx, dojot.EventCertificateRevoked, tenant, fp, dojot.CertificateRevoked{
			Fingerprint: fp, Serial: rec.Serial, IssuedByDojotPKI: rec.IssuedByDojotPKI, PEM: rec.PEM, Previous: rec.BelongsTo, RequestID: dojot.RequestID(ctx)})
	})
}

// trustedEvent is an event of a tenant's trusted CA.
func (c *Certificates) trustedEvent(ctx context.Context, typ, tenant, fp string, data any) (dojot.Event, error) {
	ev, err := dojot.NewEvent(typ, tenant, dojot.KindTrustedCA, pki.FingerprintID(fp), c.now(), data)
	if err != nil {
		return ev, err
	}
	seq, ver := c.st.TrustedCAAggregate(tenant, fp)
	ev.Expect, ev.Version, ev.Actor = seq, ver+1, c.actor(ctx)
	return ev, nil
}

// AddTrustedCA registers a tenant's external root CA (POST
// /x509/v1/trusted-cas) and returns its fingerprint.
func (c *Certificates) AddTrustedCA(ctx context.Context, tenant, caPEM string, allowAuto bool) (string, error) {
	ca, err := c.ca.ParseTrustedCA(caPEM)
	if err != nil {
		return "", err
	}
	now := c.now()
	ca.AllowAutoRegistration, ca.Tenant, ca.CreatedAt, ca.ModifiedAt = allowAuto, tenant, now, now
	err = c.appendDecided(ctx, func() (dojot.Event, error) {
		if _, ok, err := c.st.GetTrustedCA(ctx, tenant, ca.CAFingerprint); err != nil || ok {
			if err == nil {
				err = duplicate(ca.CAFingerprint)
			}
			return dojot.Event{}, err
		}
		if c.MaxTrustedCAs > 0 && c.st.TrustedCACount(tenant) >= c.MaxTrustedCAs {
			return dojot.Event{}, dojot.Errorf(dojot.ErrInvalid, "The number of registered CAs has been exceeded.")
		}
		return c.trustedEvent(ctx, dojot.EventTrustedCAAdded, tenant, ca.CAFingerprint, dojot.TrustedCAAdded{TrustedCA: ca, RequestID: dojot.RequestID(ctx)})
	})
	return ca.CAFingerprint, err
}

func (c *Certificates) tenantCA(ctx context.Context, tenant, fp string) (dojot.TrustedCA, error) {
	ca, ok, err := c.st.GetTrustedCA(ctx, tenant, fp)
	if err != nil {
		return ca, err
	}
	if !ok {
		return ca, x509NotFound("caFingerprint", fp, tenant)
	}
	return ca, nil
}

// UpdateTrustedCA sets allowAutoRegistration (PATCH).
func (c *Certificates) UpdateTrustedCA(ctx context.Context, tenant, fp string, allowAuto bool) error {
	return c.appendDecided(ctx, func() (dojot.Event, error) {
		if _, err := c.tenantCA(ctx, tenant, fp); err != nil {
			return dojot.Event{}, err
		}
		return c.trustedEvent(ctx, dojot.EventTrustedCAUpdated, tenant, fp,
			dojot.TrustedCAUpdated{CAFingerprint: fp, AllowAutoRegistration: allowAuto})
	})
}

// RemoveTrustedCA removes a trusted CA (DELETE) unless certificates
// registered under it remain (none is ever auto-registered, so every one
// must be removed first, as dojot says).
func (c *Certificates) RemoveTrustedCA(ctx context.Context, tenant, fp string) error {
	return c.appendDecided(ctx, func() (dojot.Event, error) {
		ca, err := c.tenantCA(ctx, tenant, fp)
		if err != nil {
			return dojot.Event{}, err
		}
		if c.st.CertificatesOfCA(tenant, fp) > 0 {
			return dojot.Event{}, dojot.Errorf(dojot.ErrInvalid, "There are certificates dependent on the CA to be removed, however these certificates are not marked as 'autoRegistered'. Therefore, they must be removed manually before removing their CA certificate.")
		}
		return c.trustedEvent(ctx, dojot.EventTrustedCARemoved, tenant, fp,
			dojot.TrustedCARemoved{CAFingerprint: fp, CAPEM: ca.CAPEM, AllowAutoRegistration: ca.AllowAutoRegistration, RequestID: dojot.RequestID(ctx)})
	})
}

// ServiceApplications are the services that may get a certificate from
// the internal throw-away route (dojot's
// X509IDMGMT_CERTIFICATE_BELONGSTO_APPLICATION).
var ServiceApplications = []string{"iotagent-mqtt", "v2k-bridge", "k2v-bridge", "http-agent"}

// IssueService signs a CSR for one of the platform's services (dojot's
// internal POST /internal/api/v1/throw-away): the CSR's subject as it is,
// no record kept, as in dojot; a cert.service_issued event carries it to
// Kafka.
func (c *Certificates) IssueService(ctx context.Context, csrPEM string, owner dojot.CertOwner) (dojot.Certificate, error) {
	if owner.Device != "" {
		return dojot.Certificate{}, dojot.Errorf(dojot.ErrForbidden, "Operations on certificates for devices are not authorized through this endpoint.")
	}
	if !slices.Contains(ServiceApplications, owner.Application) {
		return dojot.Certificate{}, dojot.Errorf(dojot.ErrInvalid, "Application name is not valid.")
	}
	csr, err := c.ca.ParseCSR(csrPEM)
	if err != nil {
		return dojot.Certificate{}, err
	}
	rec, err := c.ca.IssueService(csr)
	if err != nil {
		return dojot.Certificate{}, err
	}
	rec.BelongsTo, rec.CreatedAt, rec.ModifiedAt = owner, c.now(), c.now()
	// Logged for dojot's Kafka message only: one aggregate per fingerprint,
	// which a random serial makes new.
	ev, err := dojot.NewEvent(dojot.EventCertificateForService, dojot.ManagementTenant, dojot.KindCertificate, pki.FingerprintID(rec.Fingerprint), c.now(),
		dojot.CertificateIssued{Certificate: rec, RequestID: dojot.RequestID(ctx)})
	if err != nil {
		return dojot.Certificate{}, err
	}
	ev.Version, ev.NoExpect, ev.Actor = 1, true, c.actor(ctx)
	if _, err := c.opts.Store.Append(ctx, ev); err != nil {
		return dojot.Certificate{}, fmt.Errorf("log the service certificate: %w", err)
	}
	return rec, nil
}
