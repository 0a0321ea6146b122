package eventstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

func TestAppendData(t *testing.T) {
	store := eventstoretest.Open(t)
	ctx := t.Context()
	payload := []byte(`{"metadata":{"deviceid":"a1998e","tenant":"admin","timestamp":1528226137452},"attrs":{"t":1}}`)
	seq, err := store.AppendData(ctx, "admin", "a1998e", payload, "")
	if err != nil || seq == 0 {
		t.Fatalf("AppendData = %d, %v; want a sequence", seq, err)
	}
	m, err := store.JetStream().Stream(ctx, store.DataStream())
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.GetMsg(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	if tenant, device, ok := store.DataDevice(got.Subject); !ok || tenant != "admin" || device != "a1998e" ||
		!strings.HasSuffix(got.Subject, ".admin.a1998e") || strings.Count(got.Subject, ".") != strings.Count(store.DataSubject("admin", "a1998e"), ".")+1 || string(got.Data) != string(payload) {
		t.Errorf("stored %s %s; want data.<partition>.admin.a1998e %s", got.Subject, got.Data, payload)
	}

	// The same message id within the duplicate window is stored once.
	a, err1 := store.AppendData(ctx, "admin", "a1998e", payload, "reading-1")
	b, err2 := store.AppendData(ctx, "admin", "a1998e", payload, "reading-1")
	if err1 != nil || err2 != nil || a != b || a != seq+1 {
		t.Errorf("AppendData twice with one id = %d, %v and %d, %v; want %d twice", a, err1, b, err2, seq+1)
	}

	// A reading read back carries its message id as its event id (none
	// for a plain reading), by sequence and in the log.
	for want, at := range map[string]uint64{"": seq, "reading-1": a} {
		ev, err := store.ReadingAt(ctx, at)
		if err != nil || ev.ID != want || ev.Seq != at {
			t.Errorf("ReadingAt(%d) = id %q seq %d, %v; want id %q", at, ev.ID, ev.Seq, err, want)
		}
	}
	var ids []string
	done := errors.New("done")
	err = store.DataLog().Subscribe(ctx, seq, func(ev dojot.Event) error {
		ids = append(ids, ev.ID)
		if ev.Seq >= a {
			return done
		}
		return nil
	})
	if !errors.Is(err, done) || len(ids) != 2 || ids[0] != "" || ids[1] != "reading-1" {
		t.Errorf("DataLog ids = %q, %v; want [\"\" \"reading-1\"]", ids, err)
	}

	for _, bad := range [][2]string{{"admin", "a.b"}, {"", "a1998e"}, {"ad min", "x"}, {"admin", ""}} {
		if _, err := store.AppendData(ctx, bad[0], bad[1], payload, ""); !errors.Is(err, dojot.ErrInvalid) {
			t.Errorf("AppendData(%q, %q) = %v; want ErrInvalid", bad[0], bad[1], err)
		}
	}
}
