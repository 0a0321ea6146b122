package viewtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
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

// X509Reads is what the x509 API reads of a view (certificates, trusted
// CAs, the CRL's entries).
type X509Reads interface {
	GetCertificate(ctx context.Context, tenant, fp string) (dojot.Certificate, bool, error)
	ListCertificates(ctx context.Context, tenant string, q dojot.RecordQuery) ([]dojot.Certificate, int, error)
	GetTrustedCA(ctx context.Context, tenant, fp string) (dojot.TrustedCA, bool, error)
	ListTrustedCAs(ctx context.Context, tenant string, q dojot.RecordQuery) ([]dojot.TrustedCA, int, error)
	CRLEntries(ctx context.Context) ([]dojot.RevokedSerial, uint64, error)
}

// x509Of is the subject's x509 reads: its Reads, or its View.
func x509Of(t *testing.T, s Subject) X509Reads {
	t.Helper()
	if x, ok := s.Reads.(X509Reads); ok {
		return x
	}
	if x, ok := s.View.(X509Reads); ok {
		return x
	}
	t.Fatalf("%T serves no x509 reads", s.View)
	return nil
}

// X509Scenario is a certificate authority's life, decided by the real
// commands: certificates issued with and without owners, owners changed
// and dropped, revocations, a device deleted with its certificates, a
// trusted CA added, updated, removed and added again, an external
// certificate registered, in two tenants.
func X509Scenario(t testing.TB) (evs []dojot.Event, fps []string) {
	t.Helper()
	ctx := context.Background()
	view := memory.New()
	store := &commandstest.Store{View: view}
	clock := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	opts := commands.Options{Store: store, Sync: commandstest.Syncer{}, Rand: rand.NewChaCha8([32]byte{9}),
		Now: func() time.Time { clock = clock.Add(1234 * time.Millisecond); return clock }}
	dm := commands.NewDevices(opts, view)
	ca := pkitest.CA(t, pki.Options{}) // the real time: chains are verified against it
	certs := commands.NewCertificates(opts, view, ca)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	devices := map[string][]string{}
	for _, tenant := range []string{"admin", "acme"} {
		refs, err := dm.CreateDevices(ctx, tenant, []byte(`{"label":"d","templates":[]}`), 4)
		must(err)
		for _, r := range refs {
			devices[tenant] = append(devices[tenant], r.ID)
		}
	}
	issue := func(tenant, device string) string {
		_, csr := pkitest.CSRFor(t, "cn")
		rec, err := certs.Issue(ctx, tenant, csr, dojot.CertOwner{Device: device})
		must(err)
		fps = append(fps, rec.Fingerprint)
		return rec.Fingerprint
	}
	for _, tenant := range []string{"admin", "acme"} {
		d := devices[tenant]
		a, b := issue(tenant, d[0]), issue(tenant, "")
		issue(tenant, d[1])
		issue(tenant, d[1])
		c := issue(tenant, d[2])
		must(certs.SetOwner(ctx, tenant, b, dojot.CertOwner{Device: d[3]}))
		must(certs.SetOwner(ctx, tenant, a, dojot.CertOwner{}))
		must(certs.Revoke(ctx, tenant, c))
		_, err := dm.DeleteDevice(ctx, tenant, d[1])
		must(err)
	}
	year := time.Now().AddDate(1, 0, 0)
	ext := pkitest.NewExtCA(t, "ext CA", year)
	leaf, _ := ext.Leaf(t, "admin:x", year, false)
	caFP, err := certs.AddTrustedCA(ctx, "admin", ext.PEM, false)
	must(err)
	_, err = certs.AddTrustedCA(ctx, "acme", ext.PEM, true)
	must(err)
	must(certs.UpdateTrustedCA(ctx, "acme", caFP, false))
	must(certs.RemoveTrustedCA(ctx, "acme", caFP))
	_, err = certs.AddTrustedCA(ctx, "acme", ext.PEM, true)
	must(err)
	other := pkitest.NewExtCA(t, "other CA", year)
	_, err = certs.AddTrustedCA(ctx, "admin", other.PEM, false)
	must(err)
	rec, err := certs.Register(ctx, "admin", leaf, caFP, dojot.CertOwner{Device: devices["admin"][0]})
	must(err)
	fps = append(fps, rec.Fingerprint, "AB:CD")
	return store.Events(), fps
}

// x509Answers is every x509 query's answer, by a key naming the query.
func x509Answers(t *testing.T, r X509Reads, fps []string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	put := func(k string, v any, err error) {
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		b, _ := json.Marshal(v)
		out[k] = string(b)
	}
	queries := map[string]dojot.RecordQuery{
		"all":       {Page: 1, Limit: 250},
		"page2of2":  {Page: 2, Limit: 2},
		"beyond":    {Page: 9, Limit: 25},
		"free":      {Page: 1, Limit: 25, Filters: []dojot.RecordFilter{{Field: "belongsTo.device", Op: dojot.FilterAbsent}}},
		"owned":     {Page: 1, Limit: 25, Filters: []dojot.RecordFilter{{Field: "belongsTo.device", Op: dojot.FilterExists}}},
		"external":  {Page: 1, Limit: 25, Filters: []dojot.RecordFilter{{Field: "issuedByDojotPki", Op: dojot.FilterEq, Value: "false"}}},
		"caPrefix":  {Page: 1, Limit: 25, Filters: []dojot.RecordFilter{{Field: "caFingerprint", Op: dojot.FilterPrefix, Value: "a"}}},
		"autoIn":    {Page: 1, Limit: 25, Filters: []dojot.RecordFilter{{Field: "allowAutoRegistration", Op: dojot.FilterIn, Values: []string{"true"}}}},
		"subjectCA": {Page: 1, Limit: 25, Filters: []dojot.RecordFilter{{Field: "subjectDN", Op: dojot.FilterContains, Value: "EXT"}}},
	}
	for _, tenant := range []string{"admin", "acme", "nobody"} {
		for name, q := range queries {
			certs, n, err := r.ListCertificates(ctx, tenant, q)
			put(fmt.Sprintf("certificates %s %s", tenant, name), struct {
				N int
				C []dojot.Certificate
			}{n, certs}, err)
			cas, n, err := r.ListTrustedCAs(ctx, tenant, q)
			put(fmt.Sprintf("trusted-cas %s %s", tenant, name), struct {
				N int
				C []dojot.TrustedCA
			}{n, cas}, err)
		}
		for _, fp := range fps {
			c, ok, err := r.GetCertificate(ctx, tenant, fp)
			put(fmt.Sprintf("certificate %s %s", tenant, fp), struct {
				OK bool
				C  dojot.Certificate
			}{ok, c}, err)
			ca, ok, err := r.GetTrustedCA(ctx, tenant, fp)
			put(fmt.Sprintf("trusted-ca %s %s", tenant, fp), struct {
				OK bool
				C  dojot.TrustedCA
			}{ok, ca}, err)
		}
		all, _, _ := r.ListTrustedCAs(ctx, tenant, dojot.RecordQuery{Page: 1, Limit: 250})
		for _, ca := range all {
			got, ok, err := r.GetTrustedCA(ctx, tenant, ca.CAFingerprint)
			put(fmt.Sprintf("trusted-ca %s %s", tenant, ca.CAFingerprint), struct {
				OK bool
				C  dojot.TrustedCA
			}{ok, got}, err)
		}
	}
	entries, number, err := r.CRLEntries(ctx)
	if len(entries) == 0 {
		entries = nil // none is none, however a view says it
	}
	// One revocation may revoke several serials (a device's delete): their
	// order within it is not part of the answer.
	slices.SortFunc(entries, func(a, b dojot.RevokedSerial) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Serial, b.Serial)
	})
	put("crl", struct {
		E []dojot.RevokedSerial
		N uint64
	}{entries, number}, err)
	return out
}

// testX509: after the scenario, and after each quarter of it, the x509
// answers are the memory view's; some are checked outright.
func testX509(t *testing.T, open Open) {
	evs, fps := X509Scenario(t)
	s := open(t)
	x := x509Of(t, s)
	rnd := rand.New(rand.NewPCG(5, 5))
	done := 0
	for _, cut := range []int{len(evs) / 3, 2 * len(evs) / 3, len(evs)} {
		Apply(t, s.View, evs[done:cut], rnd)
		done = cut
		ref := memory.New()
		Apply(t, ref, evs[:cut], rand.New(rand.NewPCG(1, 1)))
		g, w := x509Answers(t, x, fps), x509Answers(t, ref, fps)
		bad := 0
		for k, want := range w {
			if g[k] != want {
				if bad++; bad <= 10 {
					t.Errorf("after %d of %d events, %s:\n got  %s\n want %s", cut, len(evs), k, trunc(g[k]), trunc(want))
				}
			}
		}
		if bad > 0 {
			t.FailNow()
		}
	}
	// Re-applying the whole log changes nothing.
	Apply(t, s.View, evs, rnd)
	ref := memory.New()
	Apply(t, ref, evs, rand.New(rand.NewPCG(1, 1)))
	if g, w := x509Answers(t, x, fps), x509Answers(t, ref, fps); !mapsEqual(g, w) {
		t.Error("applying the log twice changed the x509 answers")
	}

	// Outright: each tenant issued 5 and kept 2 (one revoked, two with
	// their device); admin also registered an external one.
	ctx := t.Context()
	for tenant, want := range map[string]int{"admin": 2 + 1, "acme": 2} {
		if _, n, err := x.ListCertificates(ctx, tenant, dojot.RecordQuery{Page: 1, Limit: 25}); err != nil || n != want {
			t.Errorf("%s has %d certificates, %v; want %d", tenant, n, err, want)
		}
	}
	if entries, number, err := x.CRLEntries(ctx); err != nil || len(entries) != 6 || number == 0 {
		t.Errorf("CRL: %d entries, number %d, %v; want 6 (per tenant: one revoked, two with their device)", len(entries), number, err)
	}
	if _, n, _ := x.ListCertificates(ctx, "admin", dojot.RecordQuery{Page: 1, Limit: 25,
		Filters: []dojot.RecordFilter{{Field: "belongsTo.device", Op: dojot.FilterAbsent}}}); n != 1 {
		t.Errorf("admin's free certificates: %d; want 1", n)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
