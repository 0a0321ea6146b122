package kafkamsg

import (
	"encoding/json"
	"fmt"

	"github.com/dojot-es/dojot"
)

// x509-identity-mgmt's messages (X509.md 7): ownership.create, .update and
// .delete on <tenant>.dojot.x509-identity-mgmt.certificates, keyed
// <tenant>:<owner id>, and trustedca.create and .delete on
// <tenant>.dojot.x509-identity-mgmt.trusted-cas, keyed
// <tenant>:<CA fingerprint>. A certificate without an owner has no
// message, as in dojot.

// X509 topic subjects.
const (
	CertificatesSubject = "dojot.x509-identity-mgmt.certificates"
	TrustedCAsSubject   = "dojot.x509-identity-mgmt.trusted-cas"
	x509ContentType     = "application/vnd.dojot.x509-identities+json"
)

// CertificatesTopic is a tenant's certificate ownership topic.
func CertificatesTopic(tenant string) string { return tenant + "." + CertificatesSubject }

// TrustedCAsTopic is a tenant's trusted-CA topic.
func TrustedCAsTopic(tenant string) string { return tenant + "." + TrustedCAsSubject }

// x509View is what the x509 messages read of the view after the event
// (projections/memory.View): a certificate's record, for the PEM an owner
// change repeats, and which certificates a device's deletion revoked.
type x509View interface {
	Certificate(fp string) (dojot.Certificate, bool)
	RevokedWithDevice(seq uint64) []dojot.CertificateRevoked
}

type x509Message struct {
	Metadata x509Meta `json:"metadata"`
	Data     x509Data `json:"data"`
}

type x509Meta struct {
	MsgID       string `json:"msgid"`
	Timestamp   int64  `json:"timestamp"`
	Service     string `json:"service"`
	Tenant      string `json:"tenant"`
	ContentType string `json:"contentType"`
}

type x509Data struct {
	EventType string `json:"eventType"`
	EventData any    `json:"eventData"`
}

type ownershipData struct {
	Fingerprint       string           `json:"fingerprint"`
	CertificatePem    string           `json:"certificatePem"`
	IssuedByDojotPki  bool             `json:"issuedByDojotPki"`
	AutoRegistered    bool             `json:"autoRegistered"`
	BelongsTo         *dojot.CertOwner `json:"belongsTo,omitempty"`
	PreviousBelongsTo *dojot.CertOwner `json:"previousBelongsTo,omitempty"`
}

type trustedCAData struct {
	CAFingerprint         string `json:"caFingerprint"`
	CAPem                 string `json:"caPem"`
	AllowAutoRegistration bool   `json:"allowAutoRegistration"`
}

func ownerID(o dojot.CertOwner) string {
	if o.Device != "" {
		return o.Device
	}
	return o.Application
}

// renderX509 returns the x509 messages of ev.
func renderX509(view x509View, ev dojot.Event) ([]Message, error) {
	var out []Message
	tenant := ev.Tenant
	add := func(topic, key, msgid, eventType string, data any) error {
		if msgid == "" {
			msgid = ev.ID
		}
		val, err := json.Marshal(x509Message{
			Metadata: x509Meta{MsgID: msgid, Timestamp: ev.Time.UnixMilli(), Service: "x509-identity-mgmt", Tenant: tenant, ContentType: x509ContentType},
			Data:     x509Data{EventType: eventType, EventData: data},
		})
		if err != nil {
			return fmt.Errorf("encode %s: %w", ev.Type, err)
		}
		out = append(out, Message{Topic: topic, Key: key, Value: val})
		return nil
	}
	ownershipDelete := func(p dojot.CertificateRevoked, msgid string) error {
		if p.Previous.IsZero() {
			return nil
		}
		prev := p.Previous
		return add(CertificatesTopic(ev.Tenant), ev.Tenant+":"+ownerID(prev), msgid, "ownership.delete",
			ownershipData{Fingerprint: p.Fingerprint, CertificatePem: p.PEM, IssuedByDojotPki: p.IssuedByDojotPKI, PreviousBelongsTo: &prev})
	}
	var err error
	switch ev.Type {
	case dojot.EventCertificateIssued:
		var p dojot.CertificateIssued
		if err = ev.Decode(&p); err == nil && !p.BelongsTo.IsZero() {
			owner := p.BelongsTo
			err = add(CertificatesTopic(ev.Tenant), ev.Tenant+":"+ownerID(owner), p.RequestID, "ownership.create",
				ownershipData{Fingerprint: p.Fingerprint, CertificatePem: p.PEM, IssuedByDojotPki: p.IssuedByDojotPKI, AutoRegistered: p.AutoRegistered, BelongsTo: &owner})
		}
	case dojot.EventCertificateForService:
		// dojot's throw-away route: no tenant, so no topic prefix, an empty
		// metadata.tenant and the key ":<application>".
		var p dojot.CertificateIssued
		if err = ev.Decode(&p); err == nil && !p.BelongsTo.IsZero() {
			owner := p.BelongsTo
			tenant = ""
			err = add(CertificatesSubject, ":"+ownerID(owner), p.RequestID, "ownership.create",
				ownershipData{Fingerprint: p.Fingerprint, CertificatePem: p.PEM, IssuedByDojotPki: true, BelongsTo: &owner})
		}
	case dojot.EventCertificateOwnerChanged:
		var p dojot.CertificateOwnerChanged
		if err = ev.Decode(&p); err != nil {
			break
		}
		// The PEM and flags are not in the event (they never change);
		// dojot's message repeats them: the view has them.
		rec, _ := view.Certificate(p.Fingerprint)
		data := ownershipData{Fingerprint: p.Fingerprint, CertificatePem: rec.PEM, IssuedByDojotPki: rec.IssuedByDojotPKI, AutoRegistered: rec.AutoRegistered}
		owner, prev := p.BelongsTo, p.Previous
		switch {
		case prev.IsZero() && !owner.IsZero():
			data.BelongsTo = &owner
			err = add(CertificatesTopic(ev.Tenant), ev.Tenant+":"+ownerID(owner), p.RequestID, "ownership.create", data)
		case !prev.IsZero() && !owner.IsZero():
			data.BelongsTo, data.PreviousBelongsTo = &owner, &prev
			err = add(CertificatesTopic(ev.Tenant), ev.Tenant+":"+ownerID(owner), p.RequestID, "ownership.update", data)
		case !prev.IsZero():
			data.PreviousBelongsTo = &prev
			err = add(CertificatesTopic(ev.Tenant), ev.Tenant+":"+ownerID(prev), p.RequestID, "ownership.delete", data)
		}
	case dojot.EventCertificateRevoked:
		var p dojot.CertificateRevoked
		if err = ev.Decode(&p); err == nil {
			err = ownershipDelete(p, p.RequestID)
		}
	case dojot.EventDeviceDeleted:
		for _, p := range view.RevokedWithDevice(ev.Seq) {
			if err = ownershipDelete(p, ""); err != nil {
				break
			}
		}
	case dojot.EventTrustedCAAdded:
		var p dojot.TrustedCAAdded
		if err = ev.Decode(&p); err == nil {
			err = add(TrustedCAsTopic(ev.Tenant), ev.Tenant+":"+p.CAFingerprint, p.RequestID, "trustedca.create",
				trustedCAData{CAFingerprint: p.CAFingerprint, CAPem: p.CAPEM, AllowAutoRegistration: p.AllowAutoRegistration})
		}
	case dojot.EventTrustedCARemoved:
		var p dojot.TrustedCARemoved
		if err = ev.Decode(&p); err == nil {
			err = add(TrustedCAsTopic(ev.Tenant), ev.Tenant+":"+p.CAFingerprint, p.RequestID, "trustedca.delete",
				trustedCAData{CAFingerprint: p.CAFingerprint, CAPem: p.CAPEM, AllowAutoRegistration: p.AllowAutoRegistration})
		}
	}
	return out, err
}
