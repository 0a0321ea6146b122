package memory

import (
	"context"
	"slices"

	"github.com/dojot-es/dojot"
)

// certState is the certificate authority's part of the view
// (x509-identity-mgmt): live certificates by fingerprint (fingerprints are
// unique across tenants), the CRL's entries, trusted CAs per tenant, and
// the platform CA's claim. A device's deletion revokes its certificates
// here, as the log is applied, so every view and every instance agrees on
// it without another event.
type certState struct {
	certs    map[string]*certRec            // by fingerprint
	byTenant map[string]map[string]*certRec // the same, per tenant: what lists scan
	aggs     map[string]agg                 // by fingerprint, revoked ones included
	revoked  []dojot.RevokedSerial
	revSet   map[string]bool // serials in revoked
	revSeq   uint64          // sequence of the last revocation: the CRL number
	byDev    map[string][]string

	trusted   map[string]map[string]*trustedRec // tenant -> fingerprint
	trustAggs map[string]agg                    // tenant + " " + fingerprint
	bundleSeq uint64                            // sequence of the last trusted-CA add or remove
	bundle    []string                          // every tenant's trusted CAs, each once; a new slice on each change

	ca    dojot.CAClaimed
	caSeq uint64
	order uint64 // creation order of records: lists are in it

	// withDevice are the certificates the last device.deleted revoked
	// (its sequence: withDeviceSeq), for the Kafka bridge to render right
	// after applying it.
	withDevice    []dojot.CertificateRevoked
	withDeviceSeq uint64
}

type certRec struct {
	dojot.Certificate
	order uint64
}

type trustedRec struct {
	dojot.TrustedCA
	order uint64
}

func (c *certState) init() {
	c.certs = map[string]*certRec{}
	c.byTenant = map[string]map[string]*certRec{}
	c.aggs = map[string]agg{}
	c.revSet = map[string]bool{}
	c.byDev = map[string][]string{}
	c.trusted = map[string]map[string]*trustedRec{}
	c.trustAggs = map[string]agg{}
}

func devKey(tenant, id string) string { return tenant + " " + id }

func (c *certState) apply(ev dojot.Event) error {
	switch ev.Type {
	case dojot.EventCertificateIssued:
		var p dojot.CertificateIssued
		if err := ev.Decode(&p); err != nil {
			return err
		}
		c.order++
		r := &certRec{Certificate: p.Certificate, order: c.order}
		c.certs[p.Fingerprint] = r
		t := c.byTenant[r.Tenant]
		if t == nil {
			t = map[string]*certRec{}
			c.byTenant[r.Tenant] = t
		}
		t[p.Fingerprint] = r
		c.link(p.Tenant, p.BelongsTo.Device, p.Fingerprint)
		c.advance(p.Fingerprint, ev)
	case dojot.EventCertificateOwnerChanged:
		var p dojot.CertificateOwnerChanged
		if err := ev.Decode(&p); err != nil {
			return err
		}
		if r := c.certs[p.Fingerprint]; r != nil {
			c.unlink(r.Tenant, r.BelongsTo.Device, p.Fingerprint)
			r.BelongsTo, r.ModifiedAt = p.BelongsTo, ev.Time
			c.link(r.Tenant, p.BelongsTo.Device, p.Fingerprint)
		}
		c.advance(p.Fingerprint, ev)
	case dojot.EventCertificateRevoked:
		var p dojot.CertificateRevoked
		if err := ev.Decode(&p); err != nil {
			return err
		}
		c.revoke(p.Fingerprint, ev)
		c.advance(p.Fingerprint, ev)
	case dojot.EventTrustedCAAdded:
		var p dojot.TrustedCAAdded
		if err := ev.Decode(&p); err != nil {
			return err
		}
		m := c.trusted[ev.Tenant]
		if m == nil {
			m = map[string]*trustedRec{}
			c.trusted[ev.Tenant] = m
		}
		c.order++
		m[p.CAFingerprint] = &trustedRec{TrustedCA: p.TrustedCA, order: c.order}
		c.bundleChanged(ev.Seq)
		c.advanceTrusted(ev.Tenant, p.CAFingerprint, ev)
	case dojot.EventTrustedCAUpdated:
		var p dojot.TrustedCAUpdated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		if r := c.trusted[ev.Tenant][p.CAFingerprint]; r != nil {
			r.AllowAutoRegistration, r.ModifiedAt = p.AllowAutoRegistration, ev.Time
		}
		c.advanceTrusted(ev.Tenant, p.CAFingerprint, ev)
	case dojot.EventTrustedCARemoved:
		var p dojot.TrustedCARemoved
		if err := ev.Decode(&p); err != nil {
			return err
		}
		delete(c.trusted[ev.Tenant], p.CAFingerprint)
		c.bundleChanged(ev.Seq)
		c.advanceTrusted(ev.Tenant, p.CAFingerprint, ev)
	case dojot.EventCAClaimed:
		if err := ev.Decode(&c.ca); err != nil {
			return err
		}
		c.caSeq = ev.Seq
	}
	return nil
}

// bundleChanged makes the trust bundle again (a handshake reads it, and it
// changes rarely).
func (c *certState) bundleChanged(seq uint64) {
	seen := map[string]bool{}
	var pems []string
	for _, m := range c.trusted {
		for fp, r := range m {
			if !seen[fp] {
				seen[fp] = true
				pems = append(pems, r.CAPEM)
			}
		}
	}
	c.bundle, c.bundleSeq = pems, seq
}

// deviceDeleted revokes the certificates of a deleted device (the issue's
// rule; dojot only unlinked them, and then did not offer them as free,
// dojot/dojot#2600).
func (c *certState) deviceDeleted(ev dojot.Event) {
	c.withDevice, c.withDeviceSeq = nil, ev.Seq
	for _, fp := range slices.Clone(c.byDev[devKey(ev.Tenant, ev.AggregateID)]) {
		if r := c.certs[fp]; r != nil {
			c.withDevice = append(c.withDevice, dojot.CertificateRevoked{Fingerprint: fp, Serial: r.Serial,
				IssuedByDojotPKI: r.IssuedByDojotPKI, PEM: r.PEM, Previous: r.BelongsTo, Cause: dojot.CauseDeviceDeleted})
		}
		c.revoke(fp, ev)
	}
}

// RevokedWithDevice is what the device.deleted of sequence seq revoked,
// when it is the last device.deleted the view applied (nil otherwise).
func (v *View) RevokedWithDevice(seq uint64) []dojot.CertificateRevoked {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if seq == 0 || seq != v.certs.withDeviceSeq {
		return nil
	}
	return slices.Clone(v.certs.withDevice)
}

func (c *certState) revoke(fp string, ev dojot.Event) {
	r := c.certs[fp]
	if r == nil {
		return
	}
	c.unlink(r.Tenant, r.BelongsTo.Device, fp)
	delete(c.certs, fp)
	delete(c.byTenant[r.Tenant], fp)
	if r.IssuedByDojotPKI && !c.revSet[r.Serial] {
		c.revSet[r.Serial] = true
		c.revoked = append(c.revoked, dojot.RevokedSerial{Serial: r.Serial, At: ev.Time})
		c.revSeq = ev.Seq
	}
}

func (c *certState) link(tenant, device, fp string) {
	if device != "" {
		k := devKey(tenant, device)
		c.byDev[k] = append(c.byDev[k], fp)
	}
}

func (c *certState) unlink(tenant, device, fp string) {
	if device == "" {
		return
	}
	k := devKey(tenant, device)
	fps := slices.DeleteFunc(c.byDev[k], func(s string) bool { return s == fp })
	if len(fps) == 0 {
		delete(c.byDev, k)
	} else {
		c.byDev[k] = fps
	}
}

func (c *certState) advance(fp string, ev dojot.Event) {
	a := c.aggs[fp]
	a.advance(ev)
	c.aggs[fp] = a
}

func (c *certState) advanceTrusted(tenant, fp string, ev dojot.Event) {
	k := tenant + " " + fp
	a := c.trustAggs[k]
	a.advance(ev)
	c.trustAggs[k] = a
}

// Certificate is the live record of a fingerprint, in any tenant
// (pki.Registry).
func (v *View) Certificate(fp string) (dojot.Certificate, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if r := v.certs.certs[fp]; r != nil {
		return r.Certificate, true
	}
	return dojot.Certificate{}, false
}

// CertificateRevoked reports whether the platform CA revoked a serial
// (pki.Registry).
func (v *View) CertificateRevoked(serial string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.certs.revSet[serial]
}

// TrustBundle is every tenant's trusted CAs, each once (pki.Registry).
func (v *View) TrustBundle() (uint64, []string) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.certs.bundleSeq, v.certs.bundle
}

// DeviceExists reports whether a tenant has the device (pki.Registry).
func (v *View) DeviceExists(tenant, id string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	t := v.dm.tenants[tenant]
	return t != nil && t.devices[id] != nil
}

// CertificateAggregate is where a fingerprint's certificate events stand,
// in every tenant: one fingerprint is one certificate platform-wide.
func (v *View) CertificateAggregate(fp string) (seq, version uint64) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	a := v.certs.aggs[fp]
	return a.seq, a.version
}

// TrustedCAAggregate is where a tenant's trusted CA's events stand.
func (v *View) TrustedCAAggregate(tenant, fp string) (seq, version uint64) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	a := v.certs.trustAggs[tenant+" "+fp]
	return a.seq, a.version
}

// CAClaim is the platform CA the log was started with (ok false: none
// yet).
func (v *View) CAClaim() (dojot.CAClaimed, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.certs.ca, v.certs.caSeq != 0
}

// TrustedCACount is how many trusted CAs a tenant has.
func (v *View) TrustedCACount(tenant string) int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.certs.trusted[tenant])
}

// CertificatesOfCA counts a tenant's certificates registered under an
// external CA.
func (v *View) CertificatesOfCA(tenant, caFP string) int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	n := 0
	for _, r := range v.certs.byTenant[tenant] {
		if !r.IssuedByDojotPKI && r.CAFingerprint == caFP {
			n++
		}
	}
	return n
}

// GetCertificate is a tenant's certificate by fingerprint.
func (v *View) GetCertificate(_ context.Context, tenant, fp string) (dojot.Certificate, bool, error) {
	c, ok := v.Certificate(fp)
	if !ok || c.Tenant != tenant {
		return dojot.Certificate{}, false, nil
	}
	return c, true, nil
}

// ListCertificates is a page of a tenant's certificates, in creation
// order, and how many pass the filters.
func (v *View) ListCertificates(_ context.Context, tenant string, q dojot.RecordQuery) ([]dojot.Certificate, int, error) {
	v.mu.RLock()
	out, n := listRecs(v.certs.byTenant[tenant], q, func(r *certRec) (dojot.Certificate, uint64) { return r.Certificate, r.order })
	v.mu.RUnlock()
	return out, n, nil
}

// ListAllCertificates is ListCertificates across tenants (the internal
// API's), in creation order.
func (v *View) ListAllCertificates(_ context.Context, q dojot.RecordQuery) ([]dojot.Certificate, int, error) {
	v.mu.RLock()
	out, n := listRecs(v.certs.certs, q, func(r *certRec) (dojot.Certificate, uint64) { return r.Certificate, r.order })
	v.mu.RUnlock()
	return out, n, nil
}

// listRecs is q's page of the records passing its filters, in creation
// order, and how many pass; rec gives a record and its order.
func listRecs[R any, T interface{ Field(string) (string, bool) }](recs map[string]R, q dojot.RecordQuery, rec func(R) (T, uint64)) ([]T, int) {
	type item struct {
		t     T
		order uint64
	}
	var all []item
	for _, r := range recs {
		if t, order := rec(r); q.Matches(t.Field) {
			all = append(all, item{t, order})
		}
	}
	slices.SortFunc(all, func(a, b item) int { return cmpU64(a.order, b.order) })
	var out []T
	for _, it := range dojot.PageOf(all, q) {
		out = append(out, it.t)
	}
	return out, len(all)
}

// GetTrustedCA is a tenant's trusted CA by fingerprint.
func (v *View) GetTrustedCA(_ context.Context, tenant, fp string) (dojot.TrustedCA, bool, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if r := v.certs.trusted[tenant][fp]; r != nil {
		return r.TrustedCA, true, nil
	}
	return dojot.TrustedCA{}, false, nil
}

// ListTrustedCAs is a page of a tenant's trusted CAs, in creation order,
// and how many pass the filters.
func (v *View) ListTrustedCAs(_ context.Context, tenant string, q dojot.RecordQuery) ([]dojot.TrustedCA, int, error) {
	v.mu.RLock()
	out, n := listRecs(v.certs.trusted[tenant], q, func(r *trustedRec) (dojot.TrustedCA, uint64) { return r.TrustedCA, r.order })
	v.mu.RUnlock()
	return out, n, nil
}

// CRLEntries is every serial the platform CA revoked, in order, and the
// CRL number (the sequence of the last revocation).
func (v *View) CRLEntries(context.Context) ([]dojot.RevokedSerial, uint64, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return slices.Clone(v.certs.revoked), v.certs.revSeq, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
