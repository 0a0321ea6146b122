package kafkamsg_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/pki"
	"github.com/dojot-es/dojot/pki/pkitest"
	"github.com/dojot-es/dojot/projections/kafkamsg"
	"github.com/dojot-es/dojot/projections/memory"
)

// TestRenderX509: dojot's x509-identity-mgmt messages for what the
// commands decide, rendered event by event as the Kafka bridge does.
func TestRenderX509(t *testing.T) {
	state := memory.New()
	store := &commandstest.Store{View: state}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	opts := commands.Options{Store: store, Sync: commandstest.Syncer{}, Now: func() time.Time { return now }}
	certs := commands.NewCertificates(opts, state, pkitest.CA(t, pki.Options{}))
	devices := commands.NewDevices(opts, state)
	ctx := dojot.WithRequestID(t.Context(), "req-1")
	var ids []string
	for range 2 {
		refs, err := devices.CreateDevices(ctx, "admin", []byte(`{"label":"d","templates":[]}`), 1)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, refs[0].ID)
	}
	d1, d2 := ids[0], ids[1]
	_, csr := pkitest.CSRFor(t, "x")
	rec, err := certs.Issue(ctx, "admin", csr, dojot.CertOwner{Device: d1})
	if err != nil {
		t.Fatal(err)
	}
	_, csr2 := pkitest.CSRFor(t, "y")
	if _, err := certs.Issue(ctx, "admin", csr2, dojot.CertOwner{}); err != nil { // no owner: no message
		t.Fatal(err)
	}
	fp := rec.Fingerprint
	steps := []func() error{
		func() error { return certs.SetOwner(ctx, "admin", fp, dojot.CertOwner{Device: d2}) },
		func() error { return certs.SetOwner(ctx, "admin", fp, dojot.CertOwner{}) },
		func() error { return certs.SetOwner(ctx, "admin", fp, dojot.CertOwner{Device: d1}) },
		func() error { return certs.Revoke(ctx, "admin", fp) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
	ext := pkitest.NewExtCA(t, "ext", now.AddDate(1, 0, 0))
	caFP, err := certs.AddTrustedCA(ctx, "admin", ext.PEM, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := certs.UpdateTrustedCA(ctx, "admin", caFP, true); err != nil { // no message
		t.Fatal(err)
	}
	if err := certs.RemoveTrustedCA(ctx, "admin", caFP); err != nil {
		t.Fatal(err)
	}
	_, csr3 := pkitest.CSRFor(t, "z")
	third, err := certs.Issue(context.Background(), "admin", csr3, dojot.CertOwner{Device: d2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := devices.DeleteDevice(ctx, "admin", d2); err != nil {
		t.Fatal(err)
	}
	_, csr4 := pkitest.CSRFor(t, "v2k-bridge")
	svc, err := certs.IssueService(ctx, csr4, dojot.CertOwner{Application: "v2k-bridge"})
	if err != nil {
		t.Fatal(err)
	}

	// Render the log event by event on a view of the bridge's own.
	view := memory.New()
	var got []kafkamsg.Message
	for _, ev := range store.Events() {
		if err := view.Apply(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
		msgs, err := kafkamsg.Render(view, ev)
		if err != nil {
			t.Fatalf("%s: %v", ev.Type, err)
		}
		for _, m := range msgs {
			if m.Topic != kafkamsg.DeviceTopic("admin") {
				got = append(got, m)
			}
		}
	}
	type want struct {
		topic, key, eventType string
		owner, prev           string
		fp                    string
	}
	certsTopic, casTopic := "admin.dojot.x509-identity-mgmt.certificates", "admin.dojot.x509-identity-mgmt.trusted-cas"
	wants := []want{
		{certsTopic, "admin:" + d1, "ownership.create", d1, "", fp},
		{certsTopic, "admin:" + d2, "ownership.update", d2, d1, fp},
		{certsTopic, "admin:" + d2, "ownership.delete", "", d2, fp},
		{certsTopic, "admin:" + d1, "ownership.create", d1, "", fp},
		{certsTopic, "admin:" + d1, "ownership.delete", "", d1, fp},
		{casTopic, "admin:" + caFP, "trustedca.create", "", "", ""},
		{casTopic, "admin:" + caFP, "trustedca.delete", "", "", ""},
		{certsTopic, "admin:" + d2, "ownership.create", d2, "", third.Fingerprint},
		{certsTopic, "admin:" + d2, "ownership.delete", "", d2, third.Fingerprint},
	}
	// The throw-away certificate: untenanted topic, key and metadata.
	if last := got[len(got)-1]; last.Topic != "dojot.x509-identity-mgmt.certificates" || last.Key != ":v2k-bridge" ||
		!strings.Contains(string(last.Value), `"tenant":""`) || !strings.Contains(string(last.Value), `"belongsTo":{"application":"v2k-bridge"}`) ||
		!strings.Contains(string(last.Value), svc.Fingerprint) {
		t.Errorf("throw-away message %s %s %s", last.Topic, last.Key, last.Value)
	} else {
		got = got[:len(got)-1]
	}
	if len(got) != len(wants) {
		for _, m := range got {
			t.Logf("%s %s %s", m.Topic, m.Key, m.Value)
		}
		t.Fatalf("%d messages; want %d", len(got), len(wants))
	}
	for i, w := range wants {
		m := got[i]
		var v struct {
			Metadata struct {
				MsgID, Service, Tenant, ContentType string
				Timestamp                           int64
			}
			Data struct {
				EventType string
				EventData struct {
					Fingerprint, CertificatePem, CAFingerprint, CAPem string
					IssuedByDojotPki                                  *bool
					BelongsTo, PreviousBelongsTo                      *struct{ Device string }
				}
			}
		}
		if err := json.Unmarshal(m.Value, &v); err != nil {
			t.Fatal(err)
		}
		d := v.Data.EventData
		ok := m.Topic == w.topic && m.Key == w.key && v.Data.EventType == w.eventType && v.Metadata.Service == "x509-identity-mgmt" &&
			v.Metadata.Tenant == "admin" && v.Metadata.ContentType == "application/vnd.dojot.x509-identities+json" && v.Metadata.Timestamp == now.UnixMilli()
		if w.fp != "" {
			ok = ok && d.Fingerprint == w.fp && d.CertificatePem != "" && d.IssuedByDojotPki != nil && *d.IssuedByDojotPki &&
				(w.owner == "") == (d.BelongsTo == nil) && (w.prev == "") == (d.PreviousBelongsTo == nil) &&
				(d.BelongsTo == nil || d.BelongsTo.Device == w.owner) && (d.PreviousBelongsTo == nil || d.PreviousBelongsTo.Device == w.prev)
		} else {
			ok = ok && d.CAFingerprint == caFP && d.CAPem != ""
		}
		// The call's request id, or the event's id where the call had none.
		if i < 7 && v.Metadata.MsgID != "req-1" || i >= 7 && (v.Metadata.MsgID == "" || v.Metadata.MsgID == "req-1") {
			ok = false
		}
		if !ok {
			t.Errorf("message %d = %s %s %s; want %+v", i, m.Topic, m.Key, m.Value, w)
		}
	}
}
