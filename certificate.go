package dojot

import (
	"slices"
	"strings"
	"time"
)

// Aggregate kinds of the certificate authority (x509-identity-mgmt). A
// certificate's aggregate id is its fingerprint's 64 hex digits (no
// colons); a trusted CA's is its fingerprint the same way. The CA itself
// is one aggregate of the management tenant, claimed by the first
// instance so that every instance on the log signs with the same CA.
const (
	KindCertificate = "cert"
	KindTrustedCA   = "trustedca"
	KindCA          = "ca"
)

// Certificate and trusted-CA event types.
const (
	// EventCertificateIssued: a certificate signed by the platform's CA
	// (POST /x509/v1/certificates {"csr"}) or an external one registered
	// ({"certificateChain"}), stored with its owner if it has one.
	EventCertificateIssued = "cert.issued"
	// EventCertificateOwnerChanged: PATCH .../:fp {"belongsTo"} or
	// DELETE .../:fp/belongsto.
	EventCertificateOwnerChanged = "cert.owner_changed"
	// EventCertificateRevoked: DELETE .../:fp. The record is gone (as in
	// dojot); a certificate of the platform's CA enters the CRL.
	EventCertificateRevoked = "cert.revoked"
	// EventTrustedCAAdded, EventTrustedCAUpdated, EventTrustedCARemoved:
	// /x509/v1/trusted-cas POST, PATCH and DELETE.
	EventTrustedCAAdded   = "trustedca.added"
	EventTrustedCAUpdated = "trustedca.updated"
	EventTrustedCARemoved = "trustedca.removed"
	// EventCertificateForService: a certificate issued to one of the
	// platform's services (the internal throw-away route). It is not a
	// record (views keep nothing of it); it is in the log for dojot's
	// untenanted ownership.create on Kafka. Tenant: the management tenant.
	EventCertificateForService = "cert.service_issued"
	// EventCAClaimed records the platform CA's certificate (never its
	// key) the first time an instance starts on the log.
	EventCAClaimed = "ca.claimed"
)

// CAAggregateID is the id of the one KindCA aggregate.
const CAAggregateID = "root"

// CertOwner is dojot's belongsTo: at most one of Device and Application
// is set; both empty means the certificate belongs to nothing.
type CertOwner struct {
	Device      string `json:"device,omitempty"`
	Application string `json:"application,omitempty"`
}

// IsZero reports whether the certificate belongs to nothing.
func (o CertOwner) IsZero() bool { return o.Device == "" && o.Application == "" }

// Validity is a certificate's notBefore and notAfter.
type Validity struct {
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
}

// Certificate is a certificate record as x509-identity-mgmt keeps it.
// Serial (upper-case hex) is ours: the CRL needs it.
type Certificate struct {
	Fingerprint      string    `json:"fingerprint"`
	CAFingerprint    string    `json:"caFingerprint,omitempty"`
	PEM              string    `json:"pem"`
	SubjectDN        string    `json:"subjectDN"`
	Validity         Validity  `json:"validity"`
	Serial           string    `json:"serial"`
	IssuedByDojotPKI bool      `json:"issuedByDojotPki"`
	AutoRegistered   bool      `json:"autoRegistered"`
	BelongsTo        CertOwner `json:"belongsTo"`
	Tenant           string    `json:"tenant"`
	CreatedAt        time.Time `json:"createdAt"`
	ModifiedAt       time.Time `json:"modifiedAt"`
}

// CertificateIssued is the payload of cert.issued: the whole record.
// RequestID (in every x509 payload) is the X-Request-Id of the call, which
// dojot's Kafka messages carry as metadata.msgid.
type CertificateIssued struct {
	Certificate
	RequestID string `json:"requestId,omitempty"`
}

// CertificateOwnerChanged is the payload of cert.owner_changed: the new
// owner (zero: none) and the one before, which dojot's ownership.update
// and ownership.delete messages carry.
type CertificateOwnerChanged struct {
	Fingerprint string    `json:"fingerprint"`
	BelongsTo   CertOwner `json:"belongsTo"`
	Previous    CertOwner `json:"previousBelongsTo"`
	RequestID   string    `json:"requestId,omitempty"`
}

// CertificateRevoked is the payload of cert.revoked. The fields the CRL and
// dojot's ownership.delete need are kept, since the record is gone.
type CertificateRevoked struct {
	Fingerprint      string    `json:"fingerprint"`
	Serial           string    `json:"serial"`
	IssuedByDojotPKI bool      `json:"issuedByDojotPki"`
	PEM              string    `json:"pem"`
	Previous         CertOwner `json:"previousBelongsTo"`
	// Cause is "" for DELETE .../:fp, CauseDeviceDeleted when the view
	// revoked it because its device was deleted.
	Cause     string `json:"cause,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// CauseDeviceDeleted marks revocations that follow a device's deletion.
const CauseDeviceDeleted = "device_deleted"

// TrustedCA is an external CA registered by a tenant
// (/x509/v1/trusted-cas).
type TrustedCA struct {
	CAFingerprint         string    `json:"caFingerprint"`
	CAPEM                 string    `json:"caPem"`
	SubjectDN             string    `json:"subjectDN"`
	Validity              Validity  `json:"validity"`
	AllowAutoRegistration bool      `json:"allowAutoRegistration"`
	Tenant                string    `json:"tenant"`
	CreatedAt             time.Time `json:"createdAt"`
	ModifiedAt            time.Time `json:"modifiedAt"`
}

// TrustedCAAdded is the payload of trustedca.added.
type TrustedCAAdded struct {
	TrustedCA
	RequestID string `json:"requestId,omitempty"`
}

// TrustedCAUpdated is the payload of trustedca.updated.
type TrustedCAUpdated struct {
	CAFingerprint         string `json:"caFingerprint"`
	AllowAutoRegistration bool   `json:"allowAutoRegistration"`
}

// TrustedCARemoved is the payload of trustedca.removed; CAPEM is kept for
// dojot's trustedca.delete message.
type TrustedCARemoved struct {
	CAFingerprint         string `json:"caFingerprint"`
	CAPEM                 string `json:"caPem"`
	AllowAutoRegistration bool   `json:"allowAutoRegistration"`
	RequestID             string `json:"requestId,omitempty"`
}

// CAClaimed is the payload of ca.claimed.
type CAClaimed struct {
	Fingerprint string `json:"fingerprint"`
	PEM         string `json:"pem"`
}

// RevokedSerial is one entry of the CRL.
type RevokedSerial struct {
	Serial string    `json:"serial"`
	At     time.Time `json:"at"`
}

// CertIdentity is who a client certificate is: a device of a tenant.
type CertIdentity struct {
	Tenant string
	Device string
}

// FilterOp is how a list filter of /x509/v1 compares a field (the
// operators of mongo-querystring that dojot honours).
type FilterOp int

const (
	FilterEq       FilterOp = iota // k=v
	FilterNe                       // k=!v
	FilterExists                   // k= (empty)
	FilterAbsent                   // k=! (keyVal's null)
	FilterPrefix                   // k=^v, case-insensitive
	FilterSuffix                   // k=$v, case-insensitive
	FilterContains                 // k=~v, case-insensitive, literal (dojot: an unescaped regexp)
	FilterGT                       // k=>v
	FilterLT                       // k=<v
	FilterGTE                      // k=>=v
	FilterLTE                      // k=<=v
	FilterIn                       // k[]=a&k[]=b
)

// RecordFilter is one condition on a record's field (dotted names such as
// belongsTo.device). Values compare as text: a device id of digits only
// matches its record (dojot turned it into a number that matched nothing).
type RecordFilter struct {
	Field  string
	Op     FilterOp
	Value  string
	Values []string // FilterIn
}

// Match reports whether a field with value v (present false: the field is
// absent or null) passes the filter.
func (f RecordFilter) Match(v string, present bool) bool {
	switch f.Op {
	case FilterExists:
		return present
	case FilterAbsent:
		return !present
	case FilterNe:
		return !present || v != f.Value
	}
	if !present {
		return false
	}
	switch f.Op {
	case FilterEq:
		return v == f.Value
	case FilterPrefix:
		return len(v) >= len(f.Value) && strings.EqualFold(v[:len(f.Value)], f.Value)
	case FilterSuffix:
		return len(v) >= len(f.Value) && strings.EqualFold(v[len(v)-len(f.Value):], f.Value)
	case FilterContains:
		return strings.Contains(strings.ToLower(v), strings.ToLower(f.Value))
	case FilterGT:
		return v > f.Value
	case FilterLT:
		return v < f.Value
	case FilterGTE:
		return v >= f.Value
	case FilterLTE:
		return v <= f.Value
	case FilterIn:
		return slices.Contains(f.Values, v)
	}
	return false
}

// RecordQuery is a list of /x509/v1/certificates or /trusted-cas: the
// page (1-based) of Limit records, in the order they were created, of
// those passing every filter.
type RecordQuery struct {
	Page, Limit int
	Filters     []RecordFilter
}

// Matches reports whether a record passes every filter of q; field gives a
// field's text and presence.
func (q RecordQuery) Matches(field func(name string) (string, bool)) bool {
	for _, f := range q.Filters {
		if v, ok := field(f.Field); !f.Match(v, ok) {
			return false
		}
	}
	return true
}

// timeText is how a record's time compares and prints: dojot's (Mongo
// dates in JSON) ISO 8601 with milliseconds.
func timeText(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// Field is a certificate record's field as filters see it.
func (c Certificate) Field(name string) (string, bool) {
	switch name {
	case "fingerprint":
		return c.Fingerprint, true
	case "caFingerprint":
		return c.CAFingerprint, c.CAFingerprint != ""
	case "pem":
		return c.PEM, true
	case "subjectDN":
		return c.SubjectDN, true
	case "validity.notBefore":
		return timeText(c.Validity.NotBefore), true
	case "validity.notAfter":
		return timeText(c.Validity.NotAfter), true
	case "createdAt":
		return timeText(c.CreatedAt), true
	case "modifiedAt":
		return timeText(c.ModifiedAt), true
	case "issuedByDojotPki":
		return boolText(c.IssuedByDojotPKI), true
	case "autoRegistered":
		return boolText(c.AutoRegistered), true
	case "belongsTo.device":
		return c.BelongsTo.Device, c.BelongsTo.Device != ""
	case "belongsTo.application":
		return c.BelongsTo.Application, c.BelongsTo.Application != ""
	case "tenant":
		return c.Tenant, true
	}
	return "", false
}

// Field is a trusted CA's field as filters see it.
func (t TrustedCA) Field(name string) (string, bool) {
	switch name {
	case "caFingerprint":
		return t.CAFingerprint, true
	case "caPem":
		return t.CAPEM, true
	case "subjectDN":
		return t.SubjectDN, true
	case "validity.notBefore":
		return timeText(t.Validity.NotBefore), true
	case "validity.notAfter":
		return timeText(t.Validity.NotAfter), true
	case "createdAt":
		return timeText(t.CreatedAt), true
	case "modifiedAt":
		return timeText(t.ModifiedAt), true
	case "allowAutoRegistration":
		return boolText(t.AllowAutoRegistration), true
	case "tenant":
		return t.Tenant, true
	}
	return "", false
}

// PageOf is the page of q's records among all, the records that passed
// its filters in list order. A page beyond the last is empty, however far
// (its offset is not computed when it would overflow).
func PageOf[T any](all []T, q RecordQuery) []T {
	if q.Page < 1 || q.Limit < 1 || q.Page-1 >= len(all)/q.Limit+min(len(all)%q.Limit, 1) {
		return nil
	}
	from := (q.Page - 1) * q.Limit
	return all[from:min(len(all), from+q.Limit)]
}
