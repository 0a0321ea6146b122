// Package viewtest is the conformance suite every view (memory, Postgres,
// Mongo) passes: the same test functions, run by each view's own tests.
//
// The suite feeds a view the event log of Scenario and asks it every query
// the gateway makes (device and template reads, paging, filters, sort,
// counts, auth reads). The answers are compared byte for byte with the
// memory view's, which the memory package's own tests pin to dojot's
// behaviour; some answers are also checked outright, so the suite fails
// even for the memory view when it breaks. It then re-applies batches to
// prove that applying an event twice changes nothing.
package viewtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/projections/memory"
	"github.com/dojot-es/dojot/seal"
)

// Reads is every query the gateway makes of a view.
type Reads interface {
	TemplateJSON(ctx context.Context, tenant string, id int) ([]byte, bool, error)
	ListTemplates(ctx context.Context, tenant string, q dojot.TemplateQuery) ([]byte, error)
	DeviceJSON(ctx context.Context, tenant, id string) ([]byte, bool, error)
	ListDevices(ctx context.Context, tenant string, q dojot.DeviceQuery) ([]byte, error)
	InternalDeviceJSON(ctx context.Context, tenant, id string) ([]byte, bool, error)
	ListInternalDevices(ctx context.Context, tenant string, q dojot.DeviceQuery) ([]byte, error)

	User(ctx context.Context, ref string) (dojot.User, bool, error)
	Users(ctx context.Context, usernameSubstr string) ([]dojot.User, error)
	UserGroups(ctx context.Context, userID int64) ([]dojot.Group, error)
	UserPermissions(ctx context.Context, userID int64) ([]dojot.Permission, error)
	UserAllPermissions(ctx context.Context, userID int64) ([]dojot.Permission, error)
	Group(ctx context.Context, ref string) (dojot.Group, bool, error)
	Groups(ctx context.Context, nameSubstr string) ([]dojot.Group, error)
	GroupPermissions(ctx context.Context, groupID int64) ([]dojot.Permission, error)
	GroupUsers(ctx context.Context, groupID int64) ([]dojot.User, error)
	Permission(ctx context.Context, ref string) (dojot.Permission, bool, error)
	Permissions(ctx context.Context, path, method, permission, typ string) ([]dojot.Permission, error)
	Tenants(ctx context.Context) ([]string, error)
	Flow(ctx context.Context, tenant, id string) (dojot.Flow, bool, error)
	Flows(ctx context.Context, tenant string) ([]dojot.Flow, error)
	CronJob(ctx context.Context, tenant, id string) (dojot.CronJob, bool, error)
	CronJobs(ctx context.Context, tenant string) ([]dojot.CronJob, error)
	PDPInputs(ctx context.Context, userID int64) (direct []dojot.Permission, groups [][]dojot.Permission, ok bool, err error)
}

// Subject is one view under test: what applies events (a projections.View,
// used through TxApplier or BatchApplier when it is one) and what answers
// the queries (often the same value).
type Subject struct {
	View  projections.View
	Reads Reads
}

// Open returns a fresh, empty view; the suite calls it once per test.
type Open func(t *testing.T) Subject

// Run runs the whole suite against the views open returns.
func Run(t *testing.T, open Open) {
	t.Run("Answers", func(t *testing.T) { testAnswers(t, open) })
	t.Run("Incremental", func(t *testing.T) { testIncremental(t, open) })
	t.Run("Idempotent", func(t *testing.T) { testIdempotent(t, open) })
	t.Run("Checkpoint", func(t *testing.T) { testCheckpoint(t, open) })
	t.Run("Empty", func(t *testing.T) { testEmpty(t, open) })
	t.Run("Sealed", func(t *testing.T) { testSealed(t, open) })
	t.Run("X509", func(t *testing.T) { testX509(t, open) }) // x509.go
}

// scenarioDevices is the number of plain devices per tenant: enough for
// several pages of every page size the suite asks.
const scenarioDevices = 45

// Apply feeds evs to v in batches of random sizes (1 to 64), through
// TxApplier, BatchApplier or Apply, whichever v is, and fails the test on
// any error.
func Apply(t testing.TB, v projections.View, evs []dojot.Event, rnd *rand.Rand) {
	t.Helper()
	ctx := context.Background()
	for len(evs) > 0 {
		n := min(len(evs), 1+rnd.IntN(64))
		batch := evs[:n]
		evs = evs[n:]
		switch a := v.(type) {
		case projections.TxApplier:
			refused, err := a.ApplyTx(ctx, batch)
			if err != nil {
				t.Fatalf("ApplyTx seq %d..%d: %v", batch[0].Seq, batch[n-1].Seq, err)
			}
			if err := errors.Join(refused...); err != nil {
				t.Fatalf("ApplyTx refused: %v", err)
			}
		case projections.BatchApplier:
			if err := errors.Join(a.ApplyBatch(ctx, batch)...); err != nil {
				t.Fatalf("ApplyBatch: %v", err)
			}
		default:
			for _, ev := range batch {
				if err := v.Apply(ctx, ev); err != nil {
					t.Fatalf("Apply seq %d: %v", ev.Seq, err)
				}
			}
		}
	}
}

func reference(t testing.TB, evs []dojot.Event) memory.Reads {
	ref := memory.New()
	Apply(t, ref, evs, rand.New(rand.NewPCG(1, 1)))
	return ref.Reads()
}

// testAnswers: every query answers as the memory view does, and a few
// answers are what dojot gives.
func testAnswers(t *testing.T, open Open) {
	evs := Scenario(t, scenarioDevices)
	s := open(t)
	Apply(t, s.View, evs, rand.New(rand.NewPCG(2, 2)))
	compare(t, s.Reads, reference(t, evs))

	ctx := t.Context()
	// Outright checks: counts, order, filters (the memory view must pass
	// them too).
	page := func(q dojot.DeviceQuery) (ids []string, total int) {
		t.Helper()
		q.IDsOnly = true
		b, err := s.Reads.ListDevices(ctx, "admin", q)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &ids); err != nil {
			t.Fatalf("ids page %s: %v", b, err)
		}
		q.IDsOnly = false
		b, err = s.Reads.ListDevices(ctx, "admin", q)
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Pagination struct{ Total, Page int } `json:"pagination"`
			Devices    []json.RawMessage         `json:"devices"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("page %s: %v", b, err)
		}
		if len(p.Devices) != len(ids) {
			t.Errorf("page has %d devices, ids page %d", len(p.Devices), len(ids))
		}
		return ids, p.Pagination.Total
	}
	all, pages := page(dojot.DeviceQuery{Page: dojot.Page{Num: 1, Size: 1000}})
	if want := scenarioDevices + 3; len(all) != want || pages != 1 {
		t.Errorf("admin has %d devices in %d pages; want %d in 1", len(all), pages, want)
	}
	if !slices.IsSorted(all) {
		t.Errorf("devices not in id order: %v", all)
	}
	if _, pages := page(dojot.DeviceQuery{Page: dojot.Page{Num: 2, Size: 10}}); pages != (scenarioDevices+3+9)/10 {
		t.Errorf("pages of 10 = %d", pages)
	}
	if ids, _ := page(dojot.DeviceQuery{Label: "ump", Page: dojot.Page{Num: 1, Size: 20}}); !slices.Equal(ids, []string{"a1998e", "b00001"}) {
		t.Errorf("label ump = %v", ids)
	}
	if ids, _ := page(dojot.DeviceQuery{Label: `o\%\_`, Page: dojot.Page{Num: 1, Size: 20}}); !slices.Equal(ids, []string{"c0ffee"}) {
		t.Errorf(`label o\%%\_ = %v`, ids)
	}
	if ids, _ := page(dojot.DeviceQuery{Attr: []dojot.AttrFilter{{Label: "model", Value: "m9"}}, Page: dojot.Page{Num: 1, Size: 20}}); !slices.Equal(ids, []string{"a1998e"}) {
		t.Errorf("attr model=m9 = %v", ids)
	}
	if b, ok, err := s.Reads.DeviceJSON(ctx, "acme", "a1998e"); ok || err != nil {
		t.Errorf("acme's deleted device = %s, %v, %v; want absent", b, ok, err)
	}
	if b, ok, err := s.Reads.DeviceJSON(ctx, "acme", "cafe"); !ok || err != nil || !strings.Contains(string(b), `"static_value":"w"`) {
		t.Errorf("imported device = %s, %v, %v", b, ok, err)
	}
	if ts, err := s.Reads.Tenants(ctx); err != nil || !slices.Equal(ts, []string{"acme", "admin"}) {
		t.Errorf("tenants = %v, %v; want [acme admin] (beta's only user was deleted)", ts, err)
	}
}

// testIncremental: the answers match the reference after each quarter of
// the log, so updates and deletes are applied in place, not only on a
// full build.
func testIncremental(t *testing.T, open Open) {
	evs := Scenario(t, 12)
	s := open(t)
	rnd := rand.New(rand.NewPCG(3, 3))
	for _, cut := range []int{len(evs) / 4, len(evs) / 2, 3 * len(evs) / 4, len(evs)} {
		done := 0
		if cp, err := s.View.Checkpoint(t.Context()); err == nil {
			done = int(cp)
		}
		Apply(t, s.View, evs[done:cut], rnd)
		compare(t, s.Reads, reference(t, evs[:cut]))
		if t.Failed() {
			t.Fatalf("after %d of %d events", cut, len(evs))
		}
	}
}

// testIdempotent: re-applying any batch, and then the whole log, changes no
// answer and no checkpoint.
func testIdempotent(t *testing.T, open Open) {
	evs := Scenario(t, 12)
	s := open(t)
	rnd := rand.New(rand.NewPCG(4, 4))
	Apply(t, s.View, evs, rnd)
	before := answers(t, s.Reads)
	cp, err := s.View.Checkpoint(t.Context())
	if err != nil || cp != evs[len(evs)-1].Seq {
		t.Fatalf("Checkpoint = %d, %v; want %d", cp, err, evs[len(evs)-1].Seq)
	}
	Apply(t, s.View, evs[len(evs)/3:len(evs)/2], rnd)
	Apply(t, s.View, evs, rnd)
	after := answers(t, s.Reads)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed by re-applying:\n before %s\n after  %s", k, trunc(v), trunc(after[k]))
		}
	}
	if cp2, err := s.View.Checkpoint(t.Context()); err != nil || cp2 != cp {
		t.Errorf("Checkpoint after re-applying = %d, %v; want %d", cp2, err, cp)
	}
}

// testCheckpoint: the checkpoint is the last applied sequence, also across
// gaps in the sequence (events of other streams' subjects never reach a
// view, so sequences may skip).
func testCheckpoint(t *testing.T, open Open) {
	evs := Scenario(t, 3)
	s := open(t)
	if cp, err := s.View.Checkpoint(t.Context()); err != nil || cp != 0 {
		t.Fatalf("empty view Checkpoint = %d, %v; want 0", cp, err)
	}
	gapped := make([]dojot.Event, len(evs))
	for i, ev := range evs {
		ev.Seq = uint64(10 + 3*i)
		gapped[i] = ev
	}
	Apply(t, s.View, gapped[:7], rand.New(rand.NewPCG(5, 5)))
	if cp, err := s.View.Checkpoint(t.Context()); err != nil || cp != gapped[6].Seq {
		t.Errorf("Checkpoint = %d, %v; want %d", cp, err, gapped[6].Seq)
	}
	Apply(t, s.View, gapped[7:], rand.New(rand.NewPCG(5, 5)))
	compare(t, s.Reads, reference(t, gapped))
}

// testSealed: a log whose pre-shared keys are partly sealed (stored since
// sealing was on) and partly in clear (stored before), read back as the
// event store reads it (seal.Sealer's Open), builds the view the clear log
// builds: internal reads show the same keys.
func testSealed(t *testing.T, open Open) {
	evs := Scenario(t, 3)
	key := make([]byte, seal.KeySize)
	key[0] = 1
	s, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	read := make([]dojot.Event, len(evs))
	sealed := 0
	for i, ev := range evs {
		if i%2 == 1 { // every other event as stored before sealing
			before := string(ev.Data)
			if err := s.Seal(&ev); err != nil {
				t.Fatal(err)
			}
			if string(ev.Data) != before {
				sealed++
				if strings.Contains(string(ev.Data), `"psks":`) {
					t.Fatalf("sealed %s still has psks: %s", ev.Type, ev.Data)
				}
			}
		}
		if err := s.Open(&ev); err != nil {
			t.Fatal(err)
		}
		read[i] = ev
	}
	if sealed < 2 {
		t.Fatalf("%d events sealed: the scenario should carry keys", sealed)
	}
	v := open(t)
	Apply(t, v.View, read, rand.New(rand.NewPCG(6, 6)))
	compare(t, v.Reads, reference(t, evs))
}

// testEmpty: an empty view answers as dojot does with nothing stored.
func testEmpty(t *testing.T, open Open) {
	s := open(t)
	compare(t, s.Reads, memory.New().Reads())
	b, err := s.Reads.ListDevices(t.Context(), "admin", dojot.DeviceQuery{})
	if want := `{"devices":[],"pagination":{"has_next":false,"next_page":null,"page":1,"total":0}}`; err != nil || string(b) != want {
		t.Errorf("empty device list = %s, %v; want %s", b, err, want)
	}
}

// compare asks got and want every query and reports each difference.
func compare(t *testing.T, got, want Reads) {
	t.Helper()
	g, w := answers(t, got), answers(t, want)
	var keys []string
	for k := range w {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	bad := 0
	for _, k := range keys {
		if g[k] != w[k] {
			if bad++; bad <= 15 {
				t.Errorf("%s:\n got  %s\n want %s", k, trunc(g[k]), trunc(w[k]))
			}
		}
	}
	if bad > 15 {
		t.Errorf("... %d differences in all", bad)
	}
}

func trunc(s string) string {
	if len(s) > 600 {
		return s[:600] + "..."
	}
	return s
}

// answers is every query's answer, by a key naming the query.
func answers(t *testing.T, r Reads) map[string]string {
	t.Helper()
	ctx := t.Context()
	out := map[string]string{}
	put := func(key string, v any, err error) {
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		switch b := v.(type) {
		case []byte:
			out[key] = string(b)
		default:
			j, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			out[key] = string(j)
		}
	}
	type found struct {
		Body  string
		Found bool
	}
	for _, tenant := range []string{"admin", "acme", "beta", "nobody"} {
		for _, q := range deviceQueries() {
			key := fmt.Sprintf("%s ListDevices %+v", tenant, q)
			b, err := r.ListDevices(ctx, tenant, q)
			put(key, b, err)
			b, err = r.ListInternalDevices(ctx, tenant, q)
			put("internal "+key, b, err)
		}
		for _, q := range templateQueries() {
			b, err := r.ListTemplates(ctx, tenant, q)
			put(fmt.Sprintf("%s ListTemplates %+v", tenant, q), b, err)
		}
		for id := range 8 {
			b, ok, err := r.TemplateJSON(ctx, tenant, id)
			put(fmt.Sprintf("%s TemplateJSON %d", tenant, id), found{string(b), ok}, err)
		}
		ids, err := r.ListDevices(ctx, tenant, dojot.DeviceQuery{Page: dojot.Page{Num: 1, Size: 1000}, IDsOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		var list []string
		if err := json.Unmarshal(ids, &list); err != nil {
			t.Fatalf("%s ids %s: %v", tenant, ids, err)
		}
		for _, id := range append(list, "000aaa", "ffffff", "") {
			b, ok, err := r.DeviceJSON(ctx, tenant, id)
			put(fmt.Sprintf("%s DeviceJSON %q", tenant, id), found{string(b), ok}, err)
			b, ok, err = r.InternalDeviceJSON(ctx, tenant, id)
			put(fmt.Sprintf("%s InternalDeviceJSON %q", tenant, id), found{string(b), ok}, err)
		}
	}
	type userFound struct {
		U  dojot.User
		OK bool
	}
	type groupFound struct {
		G  dojot.Group
		OK bool
	}
	type permFound struct {
		P  dojot.Permission
		OK bool
	}
	for _, ref := range []string{"admin", "alice", "bob", "carol", "dave", "1", "2", "3", "5", "99", ""} {
		u, ok, err := r.User(ctx, ref)
		put("User "+ref, userFound{u, ok}, err)
		g, ok, err := r.Group(ctx, ref)
		put("Group "+ref, groupFound{g, ok}, err)
		p, ok, err := r.Permission(ctx, ref)
		put("Permission "+ref, permFound{p, ok}, err)
	}
	for _, ref := range []string{"ops", "viewers", "admin", "user", "no-delete", "read-history", "all_all"} {
		g, ok, err := r.Group(ctx, ref)
		put("Group "+ref, groupFound{g, ok}, err)
		p, ok, err := r.Permission(ctx, ref)
		put("Permission "+ref, permFound{p, ok}, err)
	}
	for _, sub := range []string{"", "a", "o", "zz"} {
		us, err := r.Users(ctx, sub)
		put("Users "+sub, us, err)
		gs, err := r.Groups(ctx, sub)
		put("Groups "+sub, gs, err)
	}
	for id := range int64(9) {
		v1, err := r.UserGroups(ctx, id)
		put(fmt.Sprint("UserGroups ", id), v1, err)
		v2, err := r.UserPermissions(ctx, id)
		put(fmt.Sprint("UserPermissions ", id), v2, err)
		v3, err := r.UserAllPermissions(ctx, id)
		put(fmt.Sprint("UserAllPermissions ", id), v3, err)
		v4, err := r.GroupPermissions(ctx, id)
		put(fmt.Sprint("GroupPermissions ", id), v4, err)
		v5, err := r.GroupUsers(ctx, id)
		put(fmt.Sprint("GroupUsers ", id), v5, err)
		direct, groups, ok, err := r.PDPInputs(ctx, id)
		put(fmt.Sprint("PDPInputs ", id), []any{direct, groups, ok}, err)
	}
	for _, f := range [][4]string{
		{}, {"/device/(.*)", "", "", ""}, {"", "GET", "", ""}, {"", "", dojot.Deny, ""},
		{"", "", "", dojot.PermissionAPI}, {"", "", "", dojot.PermissionSystem}, {"/nothing", "", "", ""},
	} {
		ps, err := r.Permissions(ctx, f[0], f[1], f[2], f[3])
		put(fmt.Sprint("Permissions ", f), ps, err)
	}
	ts, err := r.Tenants(ctx)
	put("Tenants", ts, err)
	for _, tenant := range []string{"admin", "acme", "beta", "nobody"} {
		fs, err := r.Flows(ctx, tenant)
		put("Flows "+tenant, fs, err)
		for _, f := range fs {
			got, ok, err := r.Flow(ctx, tenant, f.ID)
			put("Flow "+tenant+" "+f.ID, []any{got, ok}, err)
		}
		_, ok, err := r.Flow(ctx, tenant, "00000000-0000-4000-8000-000000000000")
		put("Flow "+tenant+" unknown", ok, err)
		js, err := r.CronJobs(ctx, tenant)
		put("CronJobs "+tenant, js, err)
		for _, j := range js {
			got, ok, err := r.CronJob(ctx, tenant, j.ID)
			put("CronJob "+tenant+" "+j.ID, []any{got, ok}, err)
		}
		_, ok, err = r.CronJob(ctx, tenant, "my-job")
		put("CronJob "+tenant+" my-job", ok, err)
	}
	return out
}

func deviceQueries() []dojot.DeviceQuery {
	var qs []dojot.DeviceQuery
	for _, p := range []dojot.Page{{}, {Num: 1, Size: 7}, {Num: 3, Size: 7}, {Num: 2, Size: 20}, {Num: 99, Size: 20}, {Num: 1, Size: 1000}} {
		for _, sort := range []bool{false, true} {
			for _, f := range []dojot.DeviceQuery{
				{},
				{Label: "dev"}, {Label: "ump"}, {Label: "_2"}, {Label: "%"}, {Label: `\%`}, {Label: "ç"}, {Label: "none"},
				{Template: 1}, {Template: 2}, {Template: 3}, {Template: 5},
				{Attr: []dojot.AttrFilter{{Label: "model", Value: "m2"}}},
				{Attr: []dojot.AttrFilter{{Label: "model", Value: "m9"}}},
				{Attr: []dojot.AttrFilter{{Label: "vendor", Value: "other"}}},
				{Attr: []dojot.AttrFilter{{Label: "a", Value: "w"}}},
				{AttrType: []string{"float"}}, {AttrType: []string{"float", "bool"}},
				{Attr: []dojot.AttrFilter{{Label: "model", Value: "m2"}}, AttrType: []string{"string"}},
				{Label: "dev", Template: 1, Attr: []dojot.AttrFilter{{Label: "color", Value: "red"}}},
			} {
				f.Page, f.SortByLabel = p, sort
				qs = append(qs, f)
			}
		}
	}
	for _, p := range []dojot.Page{{}, {Num: 2, Size: 5}} {
		qs = append(qs, dojot.DeviceQuery{Page: p, IDsOnly: true}, dojot.DeviceQuery{Page: p, IDsOnly: true, SortByLabel: true, Label: "e"})
	}
	return qs
}

func templateQueries() []dojot.TemplateQuery {
	var qs []dojot.TemplateQuery
	for _, p := range []dojot.Page{{}, {Num: 1, Size: 2}, {Num: 2, Size: 2}, {Num: 5, Size: 2}} {
		for _, sort := range []bool{false, true} {
			for _, f := range []dojot.AttrFormat{dojot.AttrFormatBoth, dojot.AttrFormatSplit, dojot.AttrFormatSingle} {
				for _, q := range []dojot.TemplateQuery{
					{}, {Label: "e"}, {Label: "%"}, {Label: `0\%`},
					{Attr: []dojot.AttrFilter{{Label: "model", Value: "m2"}}},
					{Attr: []dojot.AttrFilter{{Label: "vendor", Value: "acme"}}, AttrType: []string{"string"}},
					{AttrType: []string{"integer"}},
				} {
					q.Page, q.SortByLabel, q.Format = p, sort, f
					qs = append(qs, q)
				}
			}
		}
	}
	return qs
}
