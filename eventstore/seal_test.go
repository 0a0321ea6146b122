package eventstore_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/seal"
)

func sealerOf(t *testing.T, b byte) *seal.Sealer {
	t.Helper()
	s, err := seal.New(bytes.Repeat([]byte{b}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSealedPSKs: with a Sealer, a device's keys never reach the stream in
// clear, and every read gives them back; events stored in clear before
// (the same data dir opened without a Sealer) read as they were; a store
// with another key refuses the sealed ones instead of misreading them.
func TestSealedPSKs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	open := func(s eventstore.Sealer) *eventstore.Store {
		t.Helper()
		store, err := eventstore.Open(ctx, eventstore.Options{DataDir: dir, Listen: "127.0.0.1:0", Logger: eventstoretest.Logger(t), Sealer: s})
		if err != nil {
			t.Fatal(err)
		}
		return store
	}
	keyed := func(id, key string) dojot.Event {
		ev, err := dojot.NewEvent(dojot.EventDeviceUpdated, "acme", dojot.KindDevice, id, time.Now(),
			dojot.DeviceUpdated{Device: dojot.Device{ID: id, Label: "pump", Templates: []int{1}, PSKs: []dojot.Override{{AttrID: 2, StaticValue: key}}}, Cause: dojot.CausePSK})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	const oldKey, newKey = "0ld0ld0ld0ld0ld0", "5ec2e75ec2e75ec2"
	legacy := keyed("a1", oldKey)
	clear := open(nil)
	mustAppend(t, clear, legacy)
	if err := clear.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(sealerOf(t, 1))
	defer s.Close()
	fresh := keyed("b2", newKey)
	seq := mustAppend(t, s, fresh)
	want := map[string]string{"a1": string(legacy.Data), "b2": string(fresh.Data)}
	check := func(how string, ev dojot.Event) {
		t.Helper()
		if w := want[ev.AggregateID]; string(ev.Data) != w {
			t.Errorf("%s %s: data %s, want %s", how, ev.AggregateID, ev.Data, w)
		}
	}

	// On the wire (what NATS keeps on disk): the new key is sealed.
	st, err := s.JetStream().Stream(ctx, s.EventsStream())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.GetMsg(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw.Data, []byte(newKey)) || !bytes.Contains(raw.Data, []byte(`"psks_sealed":"v1.`)) {
		t.Errorf("stored: %s", raw.Data)
	}
	ev, err := s.Decode(raw.Data)
	if err != nil {
		t.Fatal(err)
	}
	check("Decode", ev)
	for _, id := range []string{"a1", "b2"} {
		evs, err := s.Load(ctx, "acme", dojot.KindDevice, id)
		if err != nil || len(evs) != 1 {
			t.Fatalf("Load %s = %d events, %v", id, len(evs), err)
		}
		check("Load", evs[0])
		if evs, err := s.LoadBefore(ctx, "acme", dojot.KindDevice, id, 0, 5); err != nil || len(evs) != 1 {
			t.Fatalf("LoadBefore %s = %d events, %v", id, len(evs), err)
		} else {
			check("LoadBefore", evs[0])
		}
	}
	ev, err = s.EventAt(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	check("EventAt", ev)
	c := newCollector()
	sctx, cancel := context.WithCancel(ctx)
	go s.Subscribe(sctx, 1, c.fn)
	for _, ev := range c.wait(t, 2) {
		check("Subscribe", ev)
	}
	cancel()
	n := 0
	err = s.ReadRange(ctx, eventstore.Range{Tenant: "acme", From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)}, func(it eventstore.RangeItem) error {
		n++
		ev, err := s.Decode(it.Data)
		if err != nil {
			return err
		}
		if !strings.Contains(string(it.Data), `"psks":[`) {
			t.Errorf("ReadRange item %s", it.Data)
		}
		check("ReadRange", ev)
		return nil
	})
	if err != nil || n != 2 {
		t.Errorf("ReadRange: %d items, %v", n, err)
	}

	// Another key: the legacy event still reads, the sealed one is refused.
	other, err := eventstore.Open(ctx, eventstore.Options{URL: s.ClientURL(), Logger: eventstoretest.Logger(t), Sealer: sealerOf(t, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if evs, err := other.Load(ctx, "acme", dojot.KindDevice, "a1"); err != nil || len(evs) != 1 {
		t.Errorf("Load legacy with another key = %v, %v", evs, err)
	}
	if _, err := other.Load(ctx, "acme", dojot.KindDevice, "b2"); !errors.Is(err, seal.ErrKey) {
		t.Errorf("Load sealed with another key: %v, want seal.ErrKey", err)
	}
	// Views and the change log still get the event (the device without
	// its keys), logged.
	if evs, err := other.LoadBefore(ctx, "acme", dojot.KindDevice, "b2", 0, 5); err != nil || len(evs) != 1 || bytes.Contains(evs[0].Data, []byte(newKey)) {
		t.Errorf("LoadBefore sealed with another key = %v, %v; want the event, keys still sealed", evs, err)
	}
	ev, err = other.EventAt(ctx, seq)
	if err != nil || bytes.Contains(ev.Data, []byte(newKey)) || !bytes.Contains(ev.Data, []byte(`"label":"pump"`)) {
		t.Errorf("EventAt with another key = %s, %v; want the event, keys still sealed", ev.Data, err)
	}
}
