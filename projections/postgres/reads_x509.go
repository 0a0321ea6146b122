package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dojot-es/dojot"
)

// Reads of x509-identity-mgmt's records. A tenant's records are read in
// creation order and filtered in Go with dojot.RecordQuery.Matches, the
// filter the memory view applies: tenants hold few certificates next to
// devices, and the filters' semantics stay in one place.

// record is a certificate or a trusted CA, as lists filter them.
type record interface {
	Field(name string) (string, bool)
}

// getDoc reads the doc of the one row query selects.
func getDoc[T any](ctx context.Context, v *View, op, query string, args ...any) (T, bool, error) {
	var rec T
	found := false
	err := v.read(ctx, op, func(s *schema) error {
		var doc []byte
		err := v.pool.QueryRow(ctx, s.q(query), args...).Scan(&doc)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return json.Unmarshal(doc, &rec)
	})
	return rec, found, wrapErr(op, err)
}

// listDocs reads the docs of a tenant's rows of table in creation order and
// returns q's page of those passing its filters, and how many do.
func listDocs[T record](ctx context.Context, v *View, table, tenant string, q dojot.RecordQuery) ([]T, int, error) {
	var all []T
	err := v.read(ctx, table, func(s *schema) error {
		all = all[:0]
		rows, err := v.pool.Query(ctx, s.q(`SELECT doc FROM {s}.`+table+` WHERE tenant = $1 ORDER BY seq`), tenant)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var doc []byte
			var rec T
			if err := rows.Scan(&doc); err != nil {
				return err
			}
			if err := json.Unmarshal(doc, &rec); err != nil {
				return err
			}
			if q.Matches(rec.Field) {
				all = append(all, rec)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, wrapErr(table, err)
	}
	return dojot.PageOf(all, q), len(all), nil
}

// GetCertificate is a tenant's certificate by fingerprint.
func (v *View) GetCertificate(ctx context.Context, tenant, fp string) (dojot.Certificate, bool, error) {
	return getDoc[dojot.Certificate](ctx, v, "certificate", `SELECT doc FROM {s}.certificates WHERE fingerprint = $1 AND tenant = $2`, fp, tenant)
}

// ListCertificates is a page of a tenant's certificates and how many pass
// the filters.
func (v *View) ListCertificates(ctx context.Context, tenant string, q dojot.RecordQuery) ([]dojot.Certificate, int, error) {
	return listDocs[dojot.Certificate](ctx, v, "certificates", tenant, q)
}

// GetTrustedCA is a tenant's trusted CA by fingerprint.
func (v *View) GetTrustedCA(ctx context.Context, tenant, fp string) (dojot.TrustedCA, bool, error) {
	return getDoc[dojot.TrustedCA](ctx, v, "trusted CA", `SELECT doc FROM {s}.trusted_cas WHERE tenant = $1 AND fingerprint = $2`, tenant, fp)
}

// ListTrustedCAs is a page of a tenant's trusted CAs and how many pass the
// filters.
func (v *View) ListTrustedCAs(ctx context.Context, tenant string, q dojot.RecordQuery) ([]dojot.TrustedCA, int, error) {
	return listDocs[dojot.TrustedCA](ctx, v, "trusted_cas", tenant, q)
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
