package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/internal/mongotest"
	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/projections/memory"
	"github.com/dojot-es/dojot/projections/viewtest"
)

// testDB returns the test server's URI and a database name of this test's
// own, short enough for the generations' "_g<N>" suffix; every database
// of that name or its generations is dropped when the test ends.
func testDB(t testing.TB) (uri, name string) {
	t.Helper()
	uri, name = mongotest.Database(t)
	if len(name) > 52 { // keep the random suffix: "_" and 8 hex digits
		name = name[:43] + name[len(name)-9:]
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client, err := mongo.Connect(options.Client().ApplyURI(uri))
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer client.Disconnect(ctx)
		names, err := client.ListDatabaseNames(ctx, map[string]any{})
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		for _, n := range names {
			if n == name || strings.HasPrefix(n, name+"_g") {
				if err := client.Database(n).Drop(ctx); err != nil {
					t.Errorf("drop %s: %v", n, err)
				}
			}
		}
	})
	return uri, name
}

// open opens a View on a database of the test's own (or on name's, when
// given, to share it with another View).
func open(t testing.TB, name string, opts Options) *View {
	t.Helper()
	uri, own := "", name
	if name == "" {
		uri, own = testDB(t)
	} else {
		uri = mongotest.URL(t)
	}
	opts.URL, opts.Database = uri, own
	v, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: about 40 s against FerretDB")
	}
	viewtest.Run(t, func(t *testing.T) viewtest.Subject {
		v := open(t, "", Options{})
		return viewtest.Subject{View: v, Reads: v}
	})
}

func TestLikeRegexp(t *testing.T) {
	tests := map[string]string{
		"dev":  `\A.*dev.*\z`,
		"_2":   `\A.*.2.*\z`,
		`\%`:   `\A.*%.*\z`,
		"a.b":  `\A.*a\.b.*\z`,
		`a\`:   `\A.*a%\z`, // the backslash escapes the closing '%', as in SQL
		"ç(_)": `\A.*ç\(.\).*\z`,
	}
	for pat, want := range tests {
		if got := likeRegexp(pat); got != want {
			t.Errorf("likeRegexp(%q) = %q; want %q", pat, got, want)
		}
	}
}

func TestStamp(t *testing.T) {
	ctx := t.Context()
	v := open(t, "", Options{})
	st, err := v.Stamp(ctx)
	if want := (projections.Stamp{Schema: SchemaVersion, Exists: true}); err != nil || st != want {
		t.Fatalf("fresh view Stamp = %+v, %v; want %+v (an empty generation at 0)", st, err, want)
	}
	evs := viewtest.Scenario(t, 2)
	viewtest.Apply(t, v, evs, rand.New(rand.NewPCG(1, 1)))
	st, err = v.Stamp(ctx)
	last := evs[len(evs)-1]
	want := projections.Stamp{Seq: last.Seq, EventID: last.ID, Schema: SchemaVersion, Exists: true}
	if err != nil || st != want {
		t.Errorf("Stamp = %+v, %v; want %+v", st, err, want)
	}
	if v.SchemaVersion() != SchemaVersion {
		t.Errorf("SchemaVersion = %d", v.SchemaVersion())
	}
	if _, err := v.database(1).Collection(collCheckpoint).DeleteOne(ctx, byID("checkpoint")); err != nil {
		t.Fatal(err)
	}
	if st, err := v.Stamp(ctx); err != nil || st.Exists {
		t.Errorf("Stamp without a checkpoint document = %+v, %v; want !Exists", st, err)
	}
	if _, err := v.meta.DeleteOne(ctx, byID(metaServed)); err != nil {
		t.Fatal(err)
	}
	if st, err := v.Stamp(ctx); err != nil || st.Exists {
		t.Errorf("Stamp without a served generation = %+v, %v; want !Exists", st, err)
	}
}

// TestCreatedTwice: a device.created for a device that is there (which
// the commands never append) collides with its insert; the batch is
// written again with upserts, as the memory view applies it: the second
// one wins.
func TestCreatedTwice(t *testing.T) {
	at := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	var evs []dojot.Event
	for i, label := range []string{"first", "second"} {
		ev, _ := dojot.NewEvent(dojot.EventDeviceCreated, "admin", dojot.KindDevice, "dup", at,
			dojot.DeviceCreated{Device: dojot.Device{ID: "dup", Label: label, Created: at, Templates: []int{1, 2}}})
		ev.Seq = uint64(i + 1)
		evs = append(evs, ev)
	}
	ref := memory.New()
	viewtest.Apply(t, ref, evs, rand.New(rand.NewPCG(1, 1)))
	want, _ := ref.DeviceJSON("admin", "dup")
	for name, batches := range map[string][][]dojot.Event{"apart": {evs[:1], evs[1:]}, "together": {evs}} {
		v := open(t, "", Options{})
		for _, b := range batches {
			if _, err := v.ApplyTx(t.Context(), b); err != nil {
				t.Fatal(err)
			}
		}
		if got, _, err := v.DeviceJSON(t.Context(), "admin", "dup"); err != nil || string(got) != string(want) {
			t.Errorf("%s: device = %s, %v; want %s", name, got, err, want)
		}
	}
}

// TestRefused: an event the memory view refuses is reported and skipped;
// the rest of the batch and the checkpoint go through.
func TestRefused(t *testing.T) {
	v := open(t, "", Options{})
	at := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	good, _ := dojot.NewEvent(dojot.EventDeviceCreated, "admin", dojot.KindDevice, "ok", at, dojot.DeviceCreated{Device: dojot.Device{ID: "ok", Label: "ok", Created: at}})
	bad := good
	bad.AggregateID, bad.ID = "other", "bad-id"
	nul, _ := dojot.NewEvent(dojot.EventDeviceCreated, "admin", dojot.KindDevice, "nul", at, dojot.DeviceCreated{Device: dojot.Device{ID: "nul", Label: "a\x00b", Created: at}})
	garbage := good
	garbage.Data, garbage.AggregateID = []byte(`{"id":`), "g"
	group := garbage
	group.Type, group.Kind = dojot.EventGroupCreated, dojot.KindGroup
	evs := []dojot.Event{good, bad, nul, garbage, group}
	for i := range evs {
		evs[i].Seq = uint64(i + 1)
	}
	refused, err := v.ApplyTx(t.Context(), evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(refused) != 5 || refused[0] != nil || refused[1] == nil || refused[2] != nil || refused[3] == nil || refused[4] == nil {
		t.Errorf("refused = %v; want [nil err nil err err] (the memory view takes a NUL in a label)", refused)
	}
	if cp, err := v.Checkpoint(t.Context()); cp != 5 || err != nil {
		t.Errorf("checkpoint = %d, %v; want 5", cp, err)
	}
	for _, id := range []string{"ok", "nul"} {
		if _, ok, err := v.DeviceJSON(t.Context(), "admin", id); !ok || err != nil {
			t.Errorf("device %s: %v, %v", id, ok, err)
		}
	}
}

func TestRebuildSwitch(t *testing.T) {
	ctx := t.Context()
	v := open(t, "", Options{})
	evs := viewtest.Scenario(t, 5)
	half := len(evs) / 2
	viewtest.Apply(t, v, evs[:half], rand.New(rand.NewPCG(1, 1)))
	before := answers(t, v)

	bl, err := v.Build(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	viewtest.Apply(t, bl, evs[:half-3], rand.New(rand.NewPCG(2, 2)))
	if err := bl.Switch(ctx, false); !errors.Is(err, projections.ErrBehindServed) {
		t.Fatalf("Switch behind = %v; want ErrBehindServed", err)
	}
	if got := answers(t, v); got != before {
		t.Error("reads changed before the switch")
	}
	// An interrupted rebuild resumes from its own checkpoint.
	bl, err = v.Build(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if cp, err := bl.Checkpoint(ctx); err != nil || cp != evs[half-4].Seq {
		t.Fatalf("resumed build Checkpoint = %d, %v; want %d", cp, err, evs[half-4].Seq)
	}
	viewtest.Apply(t, bl, evs[half-3:half], rand.New(rand.NewPCG(3, 3)))
	if err := bl.Switch(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := answers(t, v); got != before {
		t.Error("reads differ after switching to an equal generation")
	}
	// The old applier learns of the switch, then follows the new
	// generation from its checkpoint.
	if _, err := v.ApplyTx(ctx, evs[half:half+1]); !errors.Is(err, projections.ErrSwitched) {
		t.Fatalf("ApplyTx after the switch = %v; want ErrSwitched", err)
	}
	cp, err := v.Checkpoint(ctx)
	if err != nil || cp != evs[half-1].Seq {
		t.Fatalf("Checkpoint after the switch = %d, %v; want %d", cp, err, evs[half-1].Seq)
	}
	viewtest.Apply(t, v, evs[half:], rand.New(rand.NewPCG(4, 4)))
	ref := open(t, "", Options{})
	viewtest.Apply(t, ref, evs, rand.New(rand.NewPCG(5, 5)))
	if answers(t, v) != answers(t, ref) {
		t.Error("the switched view differs from a clean apply")
	}
	// The old generation is gone.
	names, err := v.client.ListDatabaseNames(ctx, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n == v.opts.Database+"_g1" {
			t.Errorf("old generation %s not dropped", n)
		}
	}
	// A fresh build discards the one in progress.
	b1, err := v.Build(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := v.Build(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b1.ApplyTx(ctx, evs[:1]); err == nil {
		t.Error("the abandoned build still applies")
	}
	if _, err := b2.ApplyTx(ctx, evs[:1]); err != nil {
		t.Error(err)
	}
}

// answers is a digest of the view's answers to a few queries.
func answers(t testing.TB, v *View) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, tenant := range []string{"admin", "acme"} {
		for _, q := range []dojot.DeviceQuery{{}, {SortByLabel: true, Page: dojot.Page{Num: 2, Size: 3}}, {Label: "ump"}} {
			got, err := v.ListInternalDevices(ctx, tenant, q)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(got)
		}
		got, err := v.ListTemplates(ctx, tenant, dojot.TemplateQuery{})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(got)
	}
	us, err := v.Users(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		b.WriteString(u.Username + u.Email)
	}
	for id := range int64(8) {
		direct, groups, ok, err := v.PDPInputs(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal([]any{direct, groups, ok})
		b.Write(j)
	}
	return b.String()
}

func TestLease(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: waits for leases to expire")
	}
	ctx := t.Context()
	a := open(t, "", Options{LeaseTTL: 500 * time.Millisecond})
	b := open(t, a.opts.Database, Options{LeaseTTL: 500 * time.Millisecond})
	leaseA, releaseA, err := a.Lead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// b waits while a renews.
	short, cancel := context.WithTimeout(ctx, 1200*time.Millisecond)
	defer cancel()
	if _, _, err := b.Lead(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lead = %v; want to wait", err)
	}
	if leaseA.Err() != nil {
		t.Fatal("a lost its lease while renewing")
	}
	// release hands over at once, rather than leaving the lease to
	// expire: c's lease lasts an hour and c retries every 12 minutes, so
	// without that, c's Lead or b's after c's release hangs until the
	// minute's bound (no load makes a correct handover that slow).
	releaseA()
	c := open(t, a.opts.Database, Options{LeaseTTL: time.Hour})
	bounded, cancelBounded := context.WithTimeout(ctx, time.Minute)
	defer cancelBounded()
	_, releaseC, err := c.Lead(bounded)
	if err != nil {
		t.Fatalf("Lead after a's release = %v; want the lease at once", err)
	}
	releaseC()
	leaseB, releaseB, err := b.Lead(bounded)
	if err != nil {
		t.Fatalf("Lead after c's release = %v; want the lease at once", err)
	}
	// b's lease is taken over after it expires (b stops renewing: its
	// renewals are made to fail by taking the lease behind its back).
	if _, err := a.meta.UpdateOne(ctx, byID(metaApplier), set("owner", "thief")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-leaseB.Done():
	case <-time.After(time.Minute): // b renews every 100 ms
		t.Fatal("b's lease context not cancelled when the lease was taken")
	}
	if _, err := b.ApplyTx(ctx, viewtest.Scenario(t, 1)[:1]); !errors.Is(err, errLeaseLost) {
		t.Errorf("ApplyTx without the lease = %v; want errLeaseLost", err)
	}
	releaseB()
	// The thief never renews: its lease expires (500 ms) and a takes over,
	// well within the minute's bound.
	_, releaseA, err = a.Lead(bounded)
	if err != nil {
		t.Fatalf("Lead after the thief's lease expired = %v", err)
	}
	releaseA()
}

func TestFollow(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	a := open(t, "", Options{})
	b := open(t, a.opts.Database, Options{FollowInterval: 20 * time.Millisecond})
	var seen atomic.Uint64
	done := make(chan error)
	go func() { done <- b.Follow(ctx, func(seq uint64) { seen.Store(seq) }) }()
	evs := viewtest.Scenario(t, 1)
	viewtest.Apply(t, a, evs, rand.New(rand.NewPCG(1, 1)))
	want := evs[len(evs)-1].Seq
	for deadline := time.Now().Add(5 * time.Second); seen.Load() != want; {
		if time.Now().After(deadline) {
			t.Fatalf("Follow saw %d; want %d", seen.Load(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	got, ok, err := b.DeviceJSON(ctx, "admin", "a1998e")
	if err != nil || !ok {
		t.Errorf("the follower reads %s, %v, %v", got, ok, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Follow = %v", err)
	}
}

// TestInterrupted: a batch cut off after any of its bulk writes, applied
// again, answers as a clean apply does. Each batch is cut after its first
// bulk write, then applied again and cut after its second, and so on
// until it goes through: every prefix of its writes is left behind once
// and written again.
func TestInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	evs := viewtest.Scenario(t, 4)
	clean := open(t, "", Options{})
	viewtest.Apply(t, clean, evs, rand.New(rand.NewPCG(1, 1)))
	want := answers(t, clean)

	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			var cut context.CancelFunc
			bulks, cutAfter := 0, 0
			v := open(t, "", Options{afterBulk: func(string) {
				if bulks++; bulks == cutAfter {
					cut()
				}
			}})
			rnd := rand.New(rand.NewPCG(seed, seed))
			interrupted := 0
			for rest := evs; len(rest) > 0; {
				n := min(len(rest), 1+rnd.IntN(24))
				for cutAfter = 1; ; cutAfter++ {
					ctx, cancel := context.WithCancel(t.Context())
					cut, bulks = cancel, 0
					_, err := v.ApplyTx(ctx, rest[:n])
					cancel()
					if err == nil {
						break
					}
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("interrupted ApplyTx = %v", err)
					}
					interrupted++
				}
				rest = rest[n:]
			}
			if interrupted == 0 {
				t.Fatal("no batch was interrupted")
			}
			if got := answers(t, v); got != want {
				t.Errorf("after interrupted batches:\n got  %.600s\n want %.600s", got, want)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, err = Open(t.Context(), Options{URL: "mongodb://" + addr + "/x", Timeout: 300 * time.Millisecond})
	if !errors.Is(err, dojot.ErrUnavailable) {
		t.Errorf("Open on a closed port = %v; want ErrUnavailable", err)
	}
}

func TestOptions(t *testing.T) {
	for url, want := range map[string]string{
		"mongodb://h:27017/views": "views", "mongodb://h:27017": "dojot", "mongodb://h:27017/?replicaSet=rs": "dojot",
	} {
		o := Options{URL: url}
		if err := o.setDefaults(); err != nil || o.Database != want {
			t.Errorf("Database of %s = %q, %v; want %q", url, o.Database, err, want)
		}
	}
	if o := (Options{URL: "mongodb://h/x", Database: "a.b"}); o.setDefaults() == nil {
		t.Error("database a.b accepted")
	}
}
