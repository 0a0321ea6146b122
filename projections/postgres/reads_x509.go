package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dojot-es/dojot"
)

// Reads of x509-identity-mgmt's records. A tenant's records are read in
// creation order and filtered in Go with dojot.RecordQuery.Matches, the
// filter the memory view applies: tenants hold few certificates next to
// devices, and the filters' semantics stay in one place.

// GetCertificate is a tenant's certificate by fingerprint.
func (v *View) GetCertificate(ctx context.Context, tenant, fp string) (dojot.Certificate, bool, error) {
	var c dojot.Certificate
	found := false
	err := v.read(ctx, "certificate", func(s *schema) error {
		var doc []byte
		err := v.pool.QueryRow(ctx, s.q(`SELECT doc FROM {s}.certificates WHERE fingerprint = $1 AND tenant = $2`), fp, tenant).Scan(&doc)
		if err == pgx.ErrNoRows {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return json.Unmarshal(doc, &c)
	})
	return c, found, wrapErr("certificate", err)
}

// ListCertificates is a page of a tenant's certificates and how many pass
// the filters.
func (v *View) ListCertificates(ctx context.Context, tenant string, q dojot.RecordQuery) ([]dojot.Certificate, int, error) {
	var all []dojot.Certificate
	err := v.read(ctx, "certificates", func(s *schema) error {
		all = all[:0]
		rows, err := v.pool.Query(ctx, s.q(`SELECT doc FROM {s}.certificates WHERE tenant = $1 ORDER BY seq`), tenant)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var doc []byte
			var c dojot.Certificate
			if err := rows.Scan(&doc); err != nil {
				return err
			}
			if err := json.Unmarshal(doc, &c); err != nil {
				return err
			}
			if q.Matches(c.Field) {
				all = append(all, c)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, wrapErr("certificates", err)
	}
	return pageOf(all, q), len(all), nil
}

// GetTrustedCA is a tenant's trusted CA by fingerprint.
func (v *View) GetTrustedCA(ctx context.Context, tenant, fp string) (dojot.TrustedCA, bool, error) {
	var c dojot.TrustedCA
	found := false
	err := v.read(ctx, "trusted CA", func(s *schema) error {
		var doc []byte
		err := v.pool.QueryRow(ctx, s.q(`SELECT doc FROM {s}.trusted_cas WHERE tenant = $1 AND fingerprint = $2`), tenant, fp).Scan(&doc)
		if err == pgx.ErrNoRows {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return json.Unmarshal(doc, &c)
	})
	return c, found, wrapErr("trusted CA", err)
}

// ListTrustedCAs is a page of a tenant's trusted CAs and how many pass the
// filters.
func (v *View) ListTrustedCAs(ctx context.Context, tenant string, q dojot.RecordQuery) ([]dojot.TrustedCA, int, error) {
	var all []dojot.TrustedCA
	err := v.read(ctx, "trusted CAs", func(s *schema) error {
		all = all[:0]
		rows, err := v.pool.Query(ctx, s.q(`SELECT doc FROM {s}.trusted_cas WHERE tenant = $1 ORDER BY seq`), tenant)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var doc []byte
			var c dojot.TrustedCA
			if err := rows.Scan(&doc); err != nil {
				return err
			}
			if err := json.Unmarshal(doc, &c); err != nil {
				return err
			}
			if q.Matches(c.Field) {
				all = append(all, c)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, wrapErr("trusted CAs", err)
	}
	return pageOf(all, q), len(all), nil
}

// CRLEntries is every serial the platform CA revoked, in order, and the
// sequence of the last revocation (the CRL number).
func (v *View) CRLEntries(ctx context.Context) ([]dojot.RevokedSerial, uint64, error) {
	var out []dojot.RevokedSerial
	var last uint64
	err := v.read(ctx, "revoked serials", func(s *schema) error {
		out, last = nil, 0
		rows, err := v.pool.Query(ctx, s.q(`SELECT serial, at, seq FROM {s}.revoked_serials ORDER BY seq, serial`))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r dojot.RevokedSerial
			var at time.Time
			var seq int64
			if err := rows.Scan(&r.Serial, &at, &seq); err != nil {
				return err
			}
			r.At = at.UTC()
			out = append(out, r)
			last = uint64(seq)
		}
		return rows.Err()
	})
	return out, last, wrapErr("revoked serials", err)
}

func pageOf[T any](all []T, q dojot.RecordQuery) []T {
	from := (q.Page - 1) * q.Limit
	if q.Page < 1 || q.Limit < 1 || from >= len(all) {
		return nil
	}
	return all[from:min(len(all), from+q.Limit)]
}
