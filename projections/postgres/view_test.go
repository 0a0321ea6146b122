package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/projections/memory"
	"github.com/dojot-es/dojot/projections/postgres"
	"github.com/dojot-es/dojot/projections/postgres/pgtest"
	"github.com/dojot-es/dojot/projections/viewtest"
)

func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func applyAll(t testing.TB, a projections.TxApplier, evs []dojot.Event) {
	t.Helper()
	for i := 0; i < len(evs); i += 50 {
		refused, err := a.ApplyTx(context.Background(), evs[i:min(len(evs), i+50)])
		if err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(refused...); err != nil {
			t.Fatal(err)
		}
	}
}

// sameDevices fails t unless v lists the devices of every tenant as the
// memory view fed evs does.
func sameDevices(t *testing.T, r interface {
	ListDevices(context.Context, string, dojot.DeviceQuery) ([]byte, error)
}, evs []dojot.Event) {
	t.Helper()
	ref := memory.New()
	viewtest.Apply(t, ref, evs, rand.New(rand.NewPCG(9, 9)))
	for _, tenant := range []string{"admin", "acme"} {
		q := dojot.DeviceQuery{Page: dojot.Page{Num: 1, Size: 1000}}
		got, err := r.ListDevices(t.Context(), tenant, q)
		if err != nil {
			t.Fatal(err)
		}
		if want := ref.ListDevices(tenant, q); string(got) != string(want) {
			t.Errorf("%s devices:\n got  %.300s\n want %.300s", tenant, got, want)
		}
	}
}

func checkpoint(t testing.TB, v projections.View) uint64 {
	t.Helper()
	cp, err := v.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// TestApplyTxAtomic: a batch that fails after some of its rows were
// written (here: it blocks on a locked table and its context is
// cancelled) leaves neither rows nor checkpoint behind.
func TestApplyTxAtomic(t *testing.T) {
	url := pgtest.URL(t)
	v := openURL(t, url, "")
	evs := viewtest.Scenario(t, 5)
	half := len(evs) / 2
	applyAll(t, v, evs[:half])
	before, err := v.ListDevices(t.Context(), "admin", dojot.DeviceQuery{Page: dojot.Page{Num: 1, Size: 1000}})
	if err != nil {
		t.Fatal(err)
	}

	// The batch: new devices (sent by COPY first), then a group event,
	// whose statement waits for the lock held below.
	at := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	var batch []dojot.Event
	seq := evs[half-1].Seq
	for i := range 3 {
		id := fmt.Sprintf("new%d", i)
		ev, _ := dojot.NewEvent(dojot.EventDeviceCreated, "admin", dojot.KindDevice, id, at, dojot.DeviceCreated{Device: dojot.Device{ID: id, Label: id, Created: at, Templates: []int{1}}})
		seq++
		ev.Seq = seq
		batch = append(batch, ev)
	}
	ev, _ := dojot.NewEvent(dojot.EventGroupCreated, dojot.ManagementTenant, dojot.KindGroup, "77", at, dojot.GroupCreated{Group: dojot.Group{ID: 77, Name: "g77", CreatedDate: at}})
	seq++
	ev.Seq = seq
	batch = append(batch, ev)

	locker := connect(t, url)
	tx, err := locker.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "LOCK TABLE dojot_g1.groups IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := v.ApplyTx(ctx, batch); err == nil {
		t.Fatal("ApplyTx succeeded through a locked table")
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	if cp := checkpoint(t, v); cp != evs[half-1].Seq {
		t.Errorf("checkpoint after a failed batch = %d; want %d", cp, evs[half-1].Seq)
	}
	after, err := v.ListDevices(t.Context(), "admin", dojot.DeviceQuery{Page: dojot.Page{Num: 1, Size: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Errorf("a failed batch left rows behind:\n before %.200s\n after  %.200s", before, after)
	}
	// The same batch applies once the table is free.
	applyAll(t, v, batch)
	if _, ok, err := v.DeviceJSON(t.Context(), "admin", "new2"); !ok || err != nil {
		t.Errorf("device new2 after the retry: %v, %v", ok, err)
	}
	if g, ok, err := v.Group(t.Context(), "g77"); !ok || err != nil || g.ID != 77 {
		t.Errorf("group g77 after the retry: %+v, %v, %v", g, ok, err)
	}
}

// TestCreatedTwice: a device.created for a device that is there (which
// the commands never append) fails the COPY; the batch is applied again
// with upserts, as the memory view applies it: the second one wins.
func TestCreatedTwice(t *testing.T) {
	v := open(t)
	at := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	var evs []dojot.Event
	for i, label := range []string{"first", "second"} {
		ev, _ := dojot.NewEvent(dojot.EventDeviceCreated, "admin", dojot.KindDevice, "dup", at,
			dojot.DeviceCreated{Device: dojot.Device{ID: "dup", Label: label, Created: at, Templates: []int{1, 2}}})
		ev.Seq = uint64(i + 1)
		evs = append(evs, ev)
	}
	applyAll(t, v, evs[:1])
	applyAll(t, v, evs[1:])
	ref := memory.New()
	viewtest.Apply(t, ref, evs, rand.New(rand.NewPCG(1, 1)))
	got, _, err := v.DeviceJSON(t.Context(), "admin", "dup")
	if want, _ := ref.DeviceJSON("admin", "dup"); err != nil || string(got) != string(want) {
		t.Errorf("device = %s, %v; want %s", got, err, want)
	}
	// Twice in one batch too.
	v2 := open(t)
	applyAll(t, v2, evs)
	if got2, _, err := v2.DeviceJSON(t.Context(), "admin", "dup"); err != nil || string(got2) != string(got) {
		t.Errorf("device = %s, %v; want %s", got2, err, got)
	}
}

// TestRefused: an event the view cannot apply is reported and skipped;
// the rest of the batch and the checkpoint go through.
func TestRefused(t *testing.T) {
	v := open(t)
	at := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	good, _ := dojot.NewEvent(dojot.EventDeviceCreated, "admin", dojot.KindDevice, "ok", at, dojot.DeviceCreated{Device: dojot.Device{ID: "ok", Label: "ok", Created: at}})
	bad := good
	bad.AggregateID, bad.ID = "other", "bad-id"
	nul, _ := dojot.NewEvent(dojot.EventDeviceCreated, "admin", dojot.KindDevice, "nul", at, dojot.DeviceCreated{Device: dojot.Device{ID: "nul", Label: "a\x00b", Created: at}})
	garbage := good
	garbage.Data = []byte(`{"id":`)
	garbage.AggregateID = "g"
	evs := []dojot.Event{good, bad, nul, garbage}
	for i := range evs {
		evs[i].Seq = uint64(i + 1)
	}
	refused, err := v.ApplyTx(t.Context(), evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(refused) != 4 || refused[0] != nil || refused[1] == nil || refused[2] == nil || refused[3] == nil {
		t.Errorf("refused = %v; want [nil err err err]", refused)
	}
	if cp := checkpoint(t, v); cp != 4 {
		t.Errorf("checkpoint = %d; want 4", cp)
	}
	if _, ok, err := v.DeviceJSON(t.Context(), "admin", "ok"); !ok || err != nil {
		t.Errorf("device ok: %v, %v", ok, err)
	}
}

func TestStamp(t *testing.T) {
	url := pgtest.URL(t)
	v := openURL(t, url, "")
	ctx := t.Context()
	st, err := v.Stamp(ctx)
	if want := (projections.Stamp{Schema: v.SchemaVersion(), Exists: true}); err != nil || st != want {
		t.Errorf("fresh Stamp = %+v, %v; want %+v (generation 1, empty)", st, err, want)
	}
	evs := viewtest.Scenario(t, 2)
	applyAll(t, v, evs)
	last := evs[len(evs)-1]
	st, err = v.Stamp(ctx)
	if want := (projections.Stamp{Seq: last.Seq, EventID: last.ID, Schema: v.SchemaVersion(), Exists: true}); err != nil || st != want {
		t.Errorf("Stamp = %+v, %v; want %+v", st, err, want)
	}
	conn := connect(t, url)
	if _, err := conn.Exec(ctx, "DELETE FROM dojot_g1.checkpoint"); err != nil {
		t.Fatal(err)
	}
	if st, err := v.Stamp(ctx); err != nil || st.Exists {
		t.Errorf("Stamp without a checkpoint row = %+v, %v; want !Exists", st, err)
	}
	if _, err := conn.Exec(ctx, "UPDATE dojot.served SET gen = NULL"); err != nil {
		t.Fatal(err)
	}
	if st, err := v.Stamp(ctx); err != nil || st.Exists {
		t.Errorf("Stamp without a served generation = %+v, %v; want !Exists", st, err)
	}
}

func TestBuildSwitch(t *testing.T) {
	url := pgtest.URL(t)
	v := openURL(t, url, "")
	other := openURL(t, url, "") // another instance, reading
	idle := openURL(t, url, "")  // and one that never applied before the switch
	ctx := t.Context()
	evs := viewtest.Scenario(t, 10)
	cut := len(evs) * 3 / 4
	applyAll(t, v, evs[:cut])
	sameDevices(t, other, evs[:cut])

	bld, err := v.Build(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	applyAll(t, bld, evs[:cut/2])
	if err := bld.Switch(ctx, false); !errors.Is(err, projections.ErrBehindServed) {
		t.Fatalf("Switch behind the served generation = %v; want ErrBehindServed", err)
	}
	applyAll(t, bld, evs[cut/2:cut])
	if err := bld.Switch(ctx, false); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, url)
	var schemas []string
	rows, _ := conn.Query(ctx, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'dojot%' ORDER BY 1")
	if schemas, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || !slices.Equal(schemas, []string{"dojot", "dojot_g2"}) {
		t.Errorf("schemas after the switch = %v, %v; want [dojot dojot_g2]", schemas, err)
	}
	sameDevices(t, v, evs[:cut])
	sameDevices(t, other, evs[:cut])

	// The old generation's appliers are told, and then apply to the new one.
	if _, err := idle.ApplyTx(ctx, evs[cut:]); !errors.Is(err, projections.ErrSwitched) {
		t.Fatalf("first ApplyTx of an instance opened before the switch = %v; want ErrSwitched", err)
	}
	if _, err := v.ApplyTx(ctx, evs[cut:]); !errors.Is(err, projections.ErrSwitched) {
		t.Fatalf("ApplyTx on the old generation = %v; want ErrSwitched", err)
	}
	if cp := checkpoint(t, v); cp != evs[cut-1].Seq {
		t.Errorf("checkpoint after the switch = %d; want %d", cp, evs[cut-1].Seq)
	}
	applyAll(t, v, evs[cut:])
	sameDevices(t, other, evs)
	if st, err := other.Stamp(ctx); err != nil || st.Seq != evs[len(evs)-1].Seq {
		t.Errorf("Stamp = %+v, %v; want seq %d", st, err, evs[len(evs)-1].Seq)
	}
}

// TestBuildResume: an interrupted rebuild resumes from its own checkpoint;
// a fresh one starts over and drops it.
func TestBuildResume(t *testing.T) {
	url := pgtest.URL(t)
	v := openURL(t, url, "")
	ctx := t.Context()
	evs := viewtest.Scenario(t, 5)
	applyAll(t, v, evs)

	bld, err := v.Build(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	applyAll(t, bld, evs[:len(evs)/2])
	// The process stops; another one (or the same) resumes.
	v2 := openURL(t, url, "")
	again, err := v2.Build(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if cp := checkpoint(t, again); cp != evs[len(evs)/2-1].Seq {
		t.Errorf("resumed build's checkpoint = %d; want %d", cp, evs[len(evs)/2-1].Seq)
	}
	if g1, g2 := bld.(*postgres.Building).Generation(), again.(*postgres.Building).Generation(); g1 != g2 {
		t.Errorf("resumed generation %d; want %d", g2, g1)
	}
	fresh, err := v2.Build(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if cp := checkpoint(t, fresh); cp != 0 {
		t.Errorf("fresh build's checkpoint = %d; want 0", cp)
	}
	if g := fresh.(*postgres.Building).Generation(); g != 3 {
		t.Errorf("fresh generation %d; want 3", g)
	}
	if _, err := again.ApplyTx(ctx, evs[len(evs)/2:]); err == nil {
		t.Error("ApplyTx on a dropped build succeeded")
	}
	if err := again.Switch(ctx, false); err == nil {
		t.Error("Switch to a dropped build succeeded")
	}
	applyAll(t, fresh, evs[:len(evs)/2])
	if err := fresh.Switch(ctx, false); !errors.Is(err, projections.ErrBehindServed) {
		t.Fatalf("Switch behind = %v; want ErrBehindServed", err)
	}
	// force: the served generation is not trusted, whatever its checkpoint.
	if err := fresh.Switch(ctx, true); err != nil {
		t.Fatal(err)
	}
	sameDevices(t, v, evs[:len(evs)/2])
}

func TestLead(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: waits for leases")
	}
	url := pgtest.URL(t)
	v1, v2 := openURL(t, url, ""), openURL(t, url, "")
	ctx := t.Context()
	lease1, release1, err := v1.Lead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type leased struct {
		lease   context.Context
		release func()
		err     error
	}
	got := make(chan leased, 1)
	go func() {
		l, r, err := v2.Lead(ctx)
		got <- leased{l, r, err}
	}()
	select {
	case <-got:
		t.Fatal("two leaders at once")
	case <-time.After(1500 * time.Millisecond):
	}
	release1()
	if lease1.Err() == nil {
		t.Error("lease still live after release")
	}
	var l2 leased
	select {
	case l2 = <-got:
		if l2.err != nil {
			t.Fatal(l2.err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no lease after the leader released it")
	}
	// The second leader's connection dies: its lease ends, and the lock is
	// free for the first.
	conn := connect(t, url)
	tag, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("terminate the leader's backend: %v, %v", tag, err)
	}
	select {
	case <-l2.lease.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("lease still live after its connection died")
	}
	l2.release()
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, release3, err := v1.Lead(lctx)
	if err != nil {
		t.Fatalf("Lead after the leader's connection died: %v", err)
	}
	release3()
	// A cancelled Lead returns.
	_, r, _ := v2.Lead(ctx) // free now
	cctx, ccancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer ccancel()
	if _, _, err := v1.Lead(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lead while another leads, until ctx expires = %v", err)
	}
	r()
}

func TestFollow(t *testing.T) {
	url := pgtest.URL(t)
	v1, v2 := openURL(t, url, ""), openURL(t, url, "")
	evs := viewtest.Scenario(t, 3)
	var mu sync.Mutex
	var seen []uint64
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- v2.Follow(ctx, func(seq uint64) {
			mu.Lock()
			seen = append(seen, seq)
			mu.Unlock()
		})
	}()
	// Once the first report is in, Follow is listening: every commit
	// after it is notified.
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Since(start) > time.Minute { // a bound for a hang, not a timing
			t.Fatal("Follow never reported the checkpoint it started at")
		}
	}
	applyAll(t, v1, evs)
	want := evs[len(evs)-1].Seq
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		last := uint64(0)
		if len(seen) > 0 {
			last = seen[len(seen)-1]
		}
		n := len(seen)
		mu.Unlock()
		if last == want {
			if batches := (len(evs) + 49) / 50; n != 1+batches {
				t.Errorf("Follow reported %d sequences; want the start and each of %d batches", n, batches)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Follow saw %d; want %d", last, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Follow = %v", err)
	}
}

func TestUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, postgres.Options{URL: "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"})
	if !errors.Is(err, dojot.ErrUnavailable) {
		t.Errorf("Open on a closed port = %v; want ErrUnavailable", err)
	}
}

// TestNamespaces: two deployments share one database under two names.
func TestNamespaces(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url, "dojot"), openURL(t, url, "other")
	evs := viewtest.Scenario(t, 2)
	applyAll(t, a, evs)
	if cp := checkpoint(t, b); cp != 0 {
		t.Errorf("the other deployment's checkpoint = %d; want 0", cp)
	}
	if ts, err := b.Tenants(t.Context()); err != nil || len(ts) != 0 {
		t.Errorf("the other deployment's tenants = %v, %v", ts, err)
	}
}
