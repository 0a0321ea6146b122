package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dojot-es/dojot"
)

// x509-identity-mgmt's records: certificates by fingerprint (one
// certificate platform-wide), the serials the platform CA revoked (the
// CRL), trusted CAs by tenant and fingerprint. doc is the record's JSON as
// the memory view holds it; seq, the event that created it, orders lists.
// Lists are read per tenant and filtered in Go with
// dojot.RecordQuery.Matches, the memory view's filter.
const (
	collCertificates = "certificates"
	collRevoked      = "revoked_serials"
	collTrustedCAs   = "trusted_cas"
)

type certDoc struct {
	ID     string `bson:"_id"` // fingerprint
	Tenant string `bson:"tenant"`
	Device string `bson:"device,omitempty"`
	Seq    int64  `bson:"seq"`
	Doc    string `bson:"doc"`
}

type revokedDoc struct {
	ID  string    `bson:"_id"` // serial
	At  time.Time `bson:"at"`
	Seq int64     `bson:"seq"`
}

type trustedDoc struct {
	ID     string `bson:"_id"` // tenant " " fingerprint
	Tenant string `bson:"tenant"`
	Seq    int64  `bson:"seq"`
	Doc    string `bson:"doc"`
}

// certState is a certificate as the batch left it so far (nil: absent).
func (b *batch) cert(fp string) (*certDoc, error) {
	if b.certs == nil {
		b.certs = map[string]*certDoc{}
	}
	if d, ok := b.certs[fp]; ok {
		return d, nil
	}
	var d certDoc
	err := b.db.Collection(collCertificates).FindOne(b.ctx, byID(fp)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		b.certs[fp] = nil
		return nil, nil
	}
	if err != nil {
		return nil, errors.Join(errRead, wrap("find certificate", err))
	}
	b.certs[fp] = &d
	return &d, nil
}

func (b *batch) putCert(d *certDoc) {
	b.certs[d.ID] = d
	b.replace(collCertificates, d.ID, d)
}

// revokeCert removes a certificate; one of the platform CA enters the CRL.
func (b *batch) revokeCert(d *certDoc, ev dojot.Event) error {
	var c dojot.Certificate
	if err := json.Unmarshal([]byte(d.Doc), &c); err != nil {
		return err
	}
	b.certs[d.ID] = nil
	b.deleteOne(collCertificates, d.ID)
	if c.IssuedByDojotPKI {
		// Replaced, not inserted: a serial revoked before (a batch applied
		// again) keeps one entry; the memory view keeps the first time,
		// and so does this, since a serial is revoked once in a log.
		b.replace(collRevoked, c.Serial, revokedDoc{ID: c.Serial, At: ev.Time.UTC(), Seq: int64(ev.Seq)})
	}
	return nil
}

// deviceDeleted revokes a deleted device's certificates, as the memory
// view does: those in the database and those this batch linked to it.
func (b *batch) deviceCertsDeleted(ev dojot.Event) error {
	cur, err := b.db.Collection(collCertificates).Find(b.ctx, bson.D{{Key: "tenant", Value: ev.Tenant}, {Key: "device", Value: ev.AggregateID}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return errors.Join(errRead, wrap("find device certificates", err))
	}
	var ids []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(b.ctx, &ids); err != nil {
		return errors.Join(errRead, wrap("find device certificates", err))
	}
	fps := map[string]bool{}
	for _, d := range ids {
		fps[d.ID] = true
	}
	for fp := range b.certs {
		fps[fp] = true
	}
	sorted := make([]string, 0, len(fps))
	for fp := range fps {
		sorted = append(sorted, fp)
	}
	slices.Sort(sorted)
	for _, fp := range sorted {
		d, err := b.cert(fp)
		if err != nil {
			return err
		}
		if d != nil && d.Tenant == ev.Tenant && d.Device == ev.AggregateID {
			if err := b.revokeCert(d, ev); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *batch) applyX509(ev dojot.Event) error {
	switch ev.Type {
	case dojot.EventCertificateIssued:
		var p dojot.CertificateIssued
		if err := ev.Decode(&p); err != nil {
			return err
		}
		if _, err := b.cert(p.Fingerprint); err != nil {
			return err
		}
		doc, err := json.Marshal(p.Certificate)
		if err != nil {
			return err
		}
		b.putCert(&certDoc{ID: p.Fingerprint, Tenant: p.Tenant, Device: p.BelongsTo.Device, Seq: int64(ev.Seq), Doc: string(doc)})
	case dojot.EventCertificateOwnerChanged:
		var p dojot.CertificateOwnerChanged
		if err := ev.Decode(&p); err != nil {
			return err
		}
		d, err := b.cert(p.Fingerprint)
		if err != nil || d == nil {
			return err
		}
		var c dojot.Certificate
		if err := json.Unmarshal([]byte(d.Doc), &c); err != nil {
			return err
		}
		c.BelongsTo, c.ModifiedAt = p.BelongsTo, ev.Time
		doc, err := json.Marshal(c)
		if err != nil {
			return err
		}
		nd := *d
		nd.Device, nd.Doc = p.BelongsTo.Device, string(doc)
		b.putCert(&nd)
	case dojot.EventCertificateRevoked:
		var p dojot.CertificateRevoked
		if err := ev.Decode(&p); err != nil {
			return err
		}
		d, err := b.cert(p.Fingerprint)
		if err != nil || d == nil {
			return err
		}
		return b.revokeCert(d, ev)
	case dojot.EventTrustedCAAdded:
		var p dojot.TrustedCAAdded
		if err := ev.Decode(&p); err != nil {
			return err
		}
		doc, err := json.Marshal(p.TrustedCA)
		if err != nil {
			return err
		}
		id := ev.Tenant + " " + p.CAFingerprint
		d := &trustedDoc{ID: id, Tenant: ev.Tenant, Seq: int64(ev.Seq), Doc: string(doc)}
		b.trustedCache()[id] = d
		b.replace(collTrustedCAs, id, d)
	case dojot.EventTrustedCAUpdated:
		var p dojot.TrustedCAUpdated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		id := ev.Tenant + " " + p.CAFingerprint
		d, err := b.trustedCA(id)
		if err != nil || d == nil {
			return err
		}
		var c dojot.TrustedCA
		if err := json.Unmarshal([]byte(d.Doc), &c); err != nil {
			return err
		}
		c.AllowAutoRegistration, c.ModifiedAt = p.AllowAutoRegistration, ev.Time
		doc, err := json.Marshal(c)
		if err != nil {
			return err
		}
		nd := *d
		nd.Doc = string(doc)
		b.trustedCache()[id] = &nd
		b.replace(collTrustedCAs, id, &nd)
	case dojot.EventTrustedCARemoved:
		var p dojot.TrustedCARemoved
		if err := ev.Decode(&p); err != nil {
			return err
		}
		id := ev.Tenant + " " + p.CAFingerprint
		b.trustedCache()[id] = nil
		b.deleteOne(collTrustedCAs, id)
	}
	return nil
}

func (b *batch) trustedCache() map[string]*trustedDoc {
	if b.trusted == nil {
		b.trusted = map[string]*trustedDoc{}
	}
	return b.trusted
}

func (b *batch) trustedCA(id string) (*trustedDoc, error) {
	m := b.trustedCache()
	if d, ok := m[id]; ok {
		return d, nil
	}
	var d trustedDoc
	err := b.db.Collection(collTrustedCAs).FindOne(b.ctx, byID(id)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		m[id] = nil
		return nil, nil
	}
	if err != nil {
		return nil, errors.Join(errRead, wrap("find trusted CA", err))
	}
	m[id] = &d
	return &d, nil
}

// record is a certificate or a trusted CA, as lists filter them.
type record interface {
	Field(name string) (string, bool)
}

// getDoc reads the record of the document id in coll; tenant, when not
// "", must be the document's.
func getDoc[T any](ctx context.Context, v *View, coll, id, tenant string) (T, bool, error) {
	var rec T
	db, err := v.reading(ctx)
	if err != nil {
		return rec, false, err
	}
	var d struct {
		Tenant string `bson:"tenant"`
		Doc    string `bson:"doc"`
	}
	err = db.Collection(coll).FindOne(ctx, byID(id)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) || err == nil && tenant != "" && d.Tenant != tenant {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, wrap("find "+coll, err)
	}
	return rec, true, json.Unmarshal([]byte(d.Doc), &rec)
}

// listDocs reads a tenant's documents of coll in creation order and
// returns q's page of those passing its filters, and how many do.
func listDocs[T record](ctx context.Context, v *View, coll, tenant string, q dojot.RecordQuery) ([]T, int, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return nil, 0, err
	}
	cur, err := db.Collection(coll).Find(ctx, bson.D{{Key: "tenant", Value: tenant}}, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
	if err != nil {
		return nil, 0, wrap("find "+coll, err)
	}
	defer cur.Close(ctx)
	var all []T
	for cur.Next(ctx) {
		var d struct {
			Doc string `bson:"doc"`
		}
		var rec T
		if err := cur.Decode(&d); err != nil {
			return nil, 0, wrap("read "+coll, err)
		}
		if err := json.Unmarshal([]byte(d.Doc), &rec); err != nil {
			return nil, 0, err
		}
		if q.Matches(rec.Field) {
			all = append(all, rec)
		}
	}
	if err := cur.Err(); err != nil {
		return nil, 0, wrap("read "+coll, err)
	}
	return dojot.PageOf(all, q), len(all), nil
}

// GetCertificate is a tenant's certificate by fingerprint.
func (v *View) GetCertificate(ctx context.Context, tenant, fp string) (dojot.Certificate, bool, error) {
	return getDoc[dojot.Certificate](ctx, v, collCertificates, fp, tenant)
}

// ListCertificates is a page of a tenant's certificates and how many pass
// the filters.
func (v *View) ListCertificates(ctx context.Context, tenant string, q dojot.RecordQuery) ([]dojot.Certificate, int, error) {
	return listDocs[dojot.Certificate](ctx, v, collCertificates, tenant, q)
}

// GetTrustedCA is a tenant's trusted CA by fingerprint.
func (v *View) GetTrustedCA(ctx context.Context, tenant, fp string) (dojot.TrustedCA, bool, error) {
	return getDoc[dojot.TrustedCA](ctx, v, collTrustedCAs, tenant+" "+fp, tenant)
}

// ListTrustedCAs is a page of a tenant's trusted CAs and how many pass the
// filters.
func (v *View) ListTrustedCAs(ctx context.Context, tenant string, q dojot.RecordQuery) ([]dojot.TrustedCA, int, error) {
	return listDocs[dojot.TrustedCA](ctx, v, collTrustedCAs, tenant, q)
}

// CRLEntries is every serial the platform CA revoked, in order, and the
// sequence of the last revocation (the CRL number).
func (v *View) CRLEntries(ctx context.Context) ([]dojot.RevokedSerial, uint64, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return nil, 0, err
	}
	cur, err := db.Collection(collRevoked).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, 0, wrap("find revoked serials", err)
	}
	var docs []revokedDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, 0, wrap("read revoked serials", err)
	}
	out := make([]dojot.RevokedSerial, 0, len(docs))
	var last uint64
	for _, d := range docs {
		out = append(out, dojot.RevokedSerial{Serial: d.ID, At: d.At.UTC()})
		last = max(last, uint64(d.Seq))
	}
	return out, last, nil
}
