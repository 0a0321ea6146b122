package postgres

import (
	"encoding/json"

	"github.com/dojot-es/dojot"
)

// revokeDeviceCerts are the WITH items of a device's delete that revoke
// its certificates (as the memory view does): $1 tenant, $2 device, $3 the
// event's seq, $4 its time.
const revokeDeviceCerts = `gone AS (DELETE FROM {s}.certificates WHERE tenant = $1 AND device = $2 RETURNING doc),
	crl AS (INSERT INTO {s}.revoked_serials (serial, at, seq)
		SELECT doc->>'serial', $4::timestamptz, $3::bigint FROM gone WHERE (doc->>'issuedByDojotPki')::boolean
		ON CONFLICT (serial) DO NOTHING)`

// x509 applies certificate and trusted-CA events.
func (a *applier) x509(ev dojot.Event) (refused, err error) {
	switch ev.Type {
	case dojot.EventCertificateIssued:
		var p dojot.CertificateIssued
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		doc, err := json.Marshal(p.Certificate)
		if err != nil {
			return err, nil
		}
		if hasNUL(string(doc)) {
			return errNUL, nil
		}
		return nil, a.stmt(a.s.q(`INSERT INTO {s}.certificates (fingerprint, tenant, device, seq, doc) VALUES ($1, $2, NULLIF($3, ''), $4, $5)
			ON CONFLICT (fingerprint) DO UPDATE SET tenant = excluded.tenant, device = excluded.device, seq = excluded.seq, doc = excluded.doc`),
			p.Fingerprint, p.Tenant, p.BelongsTo.Device, int64(ev.Seq), doc)
	case dojot.EventCertificateOwnerChanged:
		var p dojot.CertificateOwnerChanged
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		owner, _ := json.Marshal(p.BelongsTo)
		at, _ := json.Marshal(ev.Time)
		return nil, a.stmt(a.s.q(`UPDATE {s}.certificates SET device = NULLIF($2, ''),
			doc = jsonb_set(jsonb_set(doc, '{belongsTo}', $3::jsonb), '{modifiedAt}', $4::jsonb) WHERE fingerprint = $1`),
			p.Fingerprint, p.BelongsTo.Device, owner, at)
	case dojot.EventCertificateRevoked:
		var p dojot.CertificateRevoked
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		return nil, a.stmt(a.s.q(`WITH gone AS (DELETE FROM {s}.certificates WHERE fingerprint = $1 RETURNING doc)
			INSERT INTO {s}.revoked_serials (serial, at, seq)
			SELECT doc->>'serial', $2::timestamptz, $3::bigint FROM gone WHERE (doc->>'issuedByDojotPki')::boolean
			ON CONFLICT (serial) DO NOTHING`), p.Fingerprint, ev.Time, int64(ev.Seq))
	case dojot.EventTrustedCAAdded:
		var p dojot.TrustedCAAdded
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		doc, err := json.Marshal(p.TrustedCA)
		if err != nil {
			return err, nil
		}
		if hasNUL(string(doc)) {
			return errNUL, nil
		}
		return nil, a.stmt(a.s.q(`INSERT INTO {s}.trusted_cas (tenant, fingerprint, seq, doc) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant, fingerprint) DO UPDATE SET seq = excluded.seq, doc = excluded.doc`),
			ev.Tenant, p.CAFingerprint, int64(ev.Seq), doc)
	case dojot.EventTrustedCAUpdated:
		var p dojot.TrustedCAUpdated
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		at, _ := json.Marshal(ev.Time)
		return nil, a.stmt(a.s.q(`UPDATE {s}.trusted_cas SET doc = jsonb_set(jsonb_set(doc, '{allowAutoRegistration}', to_jsonb($3::boolean)), '{modifiedAt}', $4::jsonb)
			WHERE tenant = $1 AND fingerprint = $2`), ev.Tenant, p.CAFingerprint, p.AllowAutoRegistration, at)
	case dojot.EventTrustedCARemoved:
		var p dojot.TrustedCARemoved
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		return nil, a.stmt(a.s.q(`DELETE FROM {s}.trusted_cas WHERE tenant = $1 AND fingerprint = $2`), ev.Tenant, p.CAFingerprint)
	}
	return nil, nil
}
