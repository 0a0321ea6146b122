package commands_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/pki"
	"github.com/dojot-es/dojot/pki/pkitest"
	"github.com/dojot-es/dojot/projections/memory"
)

type certFixture struct {
	store   *commandstest.Store
	view    *memory.View
	ca      *pki.CA
	certs   *commands.Certificates
	devices *commands.Devices
}

func newCertFixture(t *testing.T) certFixture {
	t.Helper()
	view := memory.New()
	store := &commandstest.Store{View: view}
	opts := commands.Options{Store: store, Sync: commandstest.Syncer{}}
	ca := pkitest.CA(t, pki.Options{})
	return certFixture{store, view, ca, commands.NewCertificates(opts, view, ca), commands.NewDevices(opts, view)}
}

func (f certFixture) device(t *testing.T, tenant string) string {
	t.Helper()
	refs, err := f.devices.CreateDevices(t.Context(), tenant, []byte(`{"label":"pump","templates":[]}`), 1)
	if err != nil {
		t.Fatal(err)
	}
	return refs[0].ID
}

func wantErr(t *testing.T, err error, kind error, msg string) {
	t.Helper()
	if !errors.Is(err, kind) || err.Error() != msg {
		t.Errorf("err = %v; want %v %q", err, kind, msg)
	}
}

func TestClaimCA(t *testing.T) {
	f := newCertFixture(t)
	if err := f.certs.ClaimCA(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := f.certs.ClaimCA(t.Context()); err != nil {
		t.Fatalf("same CA again: %v", err)
	}
	other := commands.NewCertificates(commands.Options{Store: f.store, Sync: commandstest.Syncer{}}, f.view, pkitest.CA(t, pki.Options{}))
	if err := other.ClaimCA(t.Context()); !errors.Is(err, commands.ErrOtherCA) || !strings.Contains(err.Error(), f.ca.Fingerprint()) {
		t.Fatalf("other CA: %v", err)
	}
	if n := f.store.Count(dojot.EventCAClaimed); n != 1 {
		t.Errorf("%d claims stored", n)
	}
	for _, ev := range f.store.Events() {
		if strings.Contains(string(ev.Data), "PRIVATE") {
			t.Fatalf("a key in the log: %s", ev.Data)
		}
	}
}

func TestIssueOwnRevoke(t *testing.T) {
	f := newCertFixture(t)
	ctx := t.Context()
	dev := f.device(t, "admin")
	_, csr := pkitest.CSRFor(t, "pump")

	_, err := f.certs.Issue(ctx, "admin", csr, dojot.CertOwner{Device: "nope"})
	wantErr(t, err, dojot.ErrInvalid, "Device identifier 'nope' was not found for tenant 'admin'.")
	_, err = f.certs.Issue(ctx, "admin", csr, dojot.CertOwner{Application: "v2k-bridge"})
	wantErr(t, err, dojot.ErrForbidden, "Operations on certificates for applications are not authorized through this endpoint.")
	_, err = f.certs.Issue(ctx, "other", csr, dojot.CertOwner{Device: dev})
	wantErr(t, err, dojot.ErrInvalid, "Device identifier '"+dev+"' was not found for tenant 'other'.")
	if n := f.store.Count(dojot.EventCertificateIssued); n != 0 {
		t.Fatalf("refusals stored %d certificates", n)
	}

	rec, err := f.certs.Issue(ctx, "admin", csr, dojot.CertOwner{Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := f.view.Certificate(rec.Fingerprint)
	if !ok || got.Tenant != "admin" || got.BelongsTo.Device != dev || !got.IssuedByDojotPKI || got.PEM != rec.PEM || got.CreatedAt.IsZero() {
		t.Fatalf("view has %+v, %v", got, ok)
	}
	list, total, _ := f.view.ListCertificates(ctx, "admin", dojot.RecordQuery{Page: 1, Limit: 25,
		Filters: []dojot.RecordFilter{{Field: "belongsTo.device", Op: dojot.FilterEq, Value: dev}}})
	if total != 1 || len(list) != 1 {
		t.Errorf("list by device: %d", total)
	}
	if _, total, _ := f.view.ListCertificates(ctx, "other", dojot.RecordQuery{Page: 1, Limit: 25}); total != 0 {
		t.Error("another tenant lists it")
	}

	// Owner: unlink, relink, foreign tenant.
	if err := f.certs.SetOwner(ctx, "admin", rec.Fingerprint, dojot.CertOwner{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.view.Certificate(rec.Fingerprint); !got.BelongsTo.IsZero() {
		t.Errorf("after unlink: %+v", got.BelongsTo)
	}
	n := len(f.store.Events())
	if err := f.certs.SetOwner(ctx, "admin", rec.Fingerprint, dojot.CertOwner{}); err != nil || len(f.store.Events()) != n {
		t.Errorf("unlinking twice: %v, %d events", err, len(f.store.Events())-n)
	}
	if err := f.certs.SetOwner(ctx, "admin", rec.Fingerprint, dojot.CertOwner{Device: dev}); err != nil {
		t.Fatal(err)
	}
	err = f.certs.SetOwner(ctx, "other", rec.Fingerprint, dojot.CertOwner{})
	wantErr(t, err, dojot.ErrNotFound, `No records found for the following parameters: {"fingerprint":"`+rec.Fingerprint+`","tenant":"other"}`)
	err = f.certs.Revoke(ctx, "other", rec.Fingerprint)
	wantErr(t, err, dojot.ErrNotFound, `No records found for the following parameters: {"fingerprint":"`+rec.Fingerprint+`","tenant":"other"}`)

	// Revoke: gone, in the CRL, a second revoke is 404.
	if err := f.certs.Revoke(ctx, "admin", rec.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.view.Certificate(rec.Fingerprint); ok {
		t.Error("revoked certificate still listed")
	}
	entries, number, _ := f.view.CRLEntries(ctx)
	if len(entries) != 1 || entries[0].Serial != rec.Serial || number == 0 || !f.view.CertificateRevoked(rec.Serial) {
		t.Errorf("CRL entries %+v, %d", entries, number)
	}
	if err := f.certs.Revoke(ctx, "admin", rec.Fingerprint); !errors.Is(err, dojot.ErrNotFound) {
		t.Errorf("second revoke: %v", err)
	}
}

func TestSubjectDNModeNeedsDevice(t *testing.T) {
	f := newCertFixture(t)
	ca := pkitest.CA(t, pki.Options{CheckSubjectDN: true})
	certs := commands.NewCertificates(commands.Options{Store: f.store, Sync: commandstest.Syncer{}}, f.view, ca)
	_, csr := pkitest.CSRFor(t, "abc123")
	_, err := certs.Issue(t.Context(), "admin", csr, dojot.CertOwner{})
	wantErr(t, err, dojot.ErrInvalid, "Device identifier 'abc123' was not found for tenant 'admin'.")
	dev := f.device(t, "admin")
	_, csr = pkitest.CSRFor(t, dev)
	rec, err := certs.Issue(t.Context(), "admin", csr, dojot.CertOwner{})
	if err != nil || pkitest.Cert(t, rec.PEM).Subject.CommonName != "admin:"+dev {
		t.Fatalf("Issue = %+v, %v", rec.SubjectDN, err)
	}
}

func TestDeviceDeleteRevokes(t *testing.T) {
	f := newCertFixture(t)
	ctx := t.Context()
	dev, keep := f.device(t, "admin"), f.device(t, "admin")
	var recs []dojot.Certificate
	for _, d := range []string{dev, dev, keep} {
		_, csr := pkitest.CSRFor(t, "x")
		rec, err := f.certs.Issue(ctx, "admin", csr, dojot.CertOwner{Device: d})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	if _, err := f.devices.DeleteDevice(ctx, "admin", dev); err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		_, live := f.view.Certificate(rec.Fingerprint)
		if live != (i == 2) || f.view.CertificateRevoked(rec.Serial) == live {
			t.Errorf("certificate %d of %s: live %v", i, rec.BelongsTo.Device, live)
		}
	}
}

func TestExternalAndTrustedCAs(t *testing.T) {
	f := newCertFixture(t)
	ctx := t.Context()
	dev := f.device(t, "admin")
	year := time.Now().AddDate(1, 0, 0)
	ext := pkitest.NewExtCA(t, "old dojot", year)
	leaf, _ := ext.Leaf(t, "admin:"+dev, year, false)
	extFP := pki.Fingerprint(ext.Cert.Raw)

	_, err := f.certs.Register(ctx, "admin", leaf+ext.PEM, "", dojot.CertOwner{Device: dev})
	wantErr(t, err, dojot.ErrInvalid, "The root CA certificate is not registered as a trusted certificate yet.")

	fp, err := f.certs.AddTrustedCA(ctx, "admin", ext.PEM, false)
	if err != nil || fp != extFP {
		t.Fatalf("AddTrustedCA = %s, %v", fp, err)
	}
	_, err = f.certs.AddTrustedCA(ctx, "admin", ext.PEM, true)
	wantErr(t, err, dojot.ErrConflict, "The certificate with fingerprint '"+extFP+"' already exists.")
	if _, err := f.certs.AddTrustedCA(ctx, "acme", ext.PEM, false); err != nil {
		t.Fatalf("another tenant registers the same CA: %v", err)
	}
	if v, bundle := f.view.TrustBundle(); v == 0 || len(bundle) != 1 {
		t.Errorf("bundle %d, %d CAs; want one, deduplicated", v, len(bundle))
	}

	rec, err := f.certs.Register(ctx, "admin", leaf, extFP, dojot.CertOwner{Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	if rec.IssuedByDojotPKI || rec.CAFingerprint != extFP {
		t.Errorf("record %+v", rec)
	}
	_, err = f.certs.Register(ctx, "acme", leaf+ext.PEM, "", dojot.CertOwner{})
	wantErr(t, err, dojot.ErrConflict, "The certificate with fingerprint '"+rec.Fingerprint+"' already exists.")
	other := pkitest.NewExtCA(t, "other", year)
	if _, err := f.certs.AddTrustedCA(ctx, "admin", other.PEM, false); err != nil {
		t.Fatal(err)
	}
	strange, _ := other.Leaf(t, "x", year, false)
	_, err = f.certs.Register(ctx, "admin", strange, extFP, dojot.CertOwner{})
	wantErr(t, err, dojot.ErrInvalid, "The certificate chain of trust is not valid.")

	err = f.certs.RemoveTrustedCA(ctx, "admin", extFP)
	wantErr(t, err, dojot.ErrInvalid, "There are certificates dependent on the CA to be removed, however these certificates are not marked as 'autoRegistered'. Therefore, they must be removed manually before removing their CA certificate.")
	if err := f.certs.UpdateTrustedCA(ctx, "admin", extFP, true); err != nil {
		t.Fatal(err)
	}
	if ca, _, _ := f.view.GetTrustedCA(ctx, "admin", extFP); !ca.AllowAutoRegistration {
		t.Error("PATCH not applied")
	}
	if err := f.certs.Revoke(ctx, "admin", rec.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if entries, _, _ := f.view.CRLEntries(ctx); len(entries) != 0 {
		t.Errorf("an external certificate entered the CRL: %+v", entries)
	}
	if err := f.certs.RemoveTrustedCA(ctx, "admin", extFP); err != nil {
		t.Fatal(err)
	}
	err = f.certs.RemoveTrustedCA(ctx, "admin", extFP)
	wantErr(t, err, dojot.ErrNotFound, `No records found for the following parameters: {"caFingerprint":"`+extFP+`","tenant":"admin"}`)
	// Registered again after its removal: the aggregate continues.
	if _, err := f.certs.AddTrustedCA(ctx, "admin", ext.PEM, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.certs.Register(ctx, "admin", leaf, extFP, dojot.CertOwner{}); err != nil {
		t.Fatalf("re-register after revoke: %v", err)
	}
}

func TestTrustedCALimitAndAutoRegistration(t *testing.T) {
	f := newCertFixture(t)
	ctx := t.Context()
	year := time.Now().AddDate(1, 0, 0)
	f.certs.MaxTrustedCAs = 1
	if _, err := f.certs.AddTrustedCA(ctx, "admin", pkitest.NewExtCA(t, "one", year).PEM, false); err != nil {
		t.Fatal(err)
	}
	_, err := f.certs.AddTrustedCA(ctx, "admin", pkitest.NewExtCA(t, "two", year).PEM, false)
	wantErr(t, err, dojot.ErrInvalid, "The number of registered CAs has been exceeded.")
	if _, err := f.certs.AddTrustedCA(ctx, "acme", pkitest.NewExtCA(t, "acme's", year).PEM, false); err != nil {
		t.Fatalf("the limit is per tenant: %v", err)
	}

	f.certs.MaxTrustedCAs = 0
	ext := pkitest.NewExtCA(t, "auto", year)
	leaf, _ := ext.Leaf(t, "x", year, false)
	_, err = f.certs.Register(ctx, "admin", leaf+ext.PEM, "", dojot.CertOwner{})
	wantErr(t, err, dojot.ErrInvalid, "The root CA certificate is not registered as a trusted certificate yet.")
	f.certs.AutoRegisterRootCAs = true
	if _, err := f.certs.Register(ctx, "admin", leaf, pki.Fingerprint(ext.Cert.Raw), dojot.CertOwner{}); err == nil {
		t.Error("registered with a root neither trusted nor in the chain")
	}
	if _, err := f.certs.Register(ctx, "admin", leaf+ext.PEM, "", dojot.CertOwner{}); err != nil {
		t.Fatal(err)
	}
	if ca, ok, _ := f.view.GetTrustedCA(ctx, "admin", pki.Fingerprint(ext.Cert.Raw)); !ok || ca.AllowAutoRegistration {
		t.Errorf("root registered as %+v, %v", ca, ok)
	}
}
