package commandstest_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
)

var (
	_ commands.Store  = (*commandstest.Store)(nil)
	_ commands.Syncer = commandstest.Syncer{}
)

func TestStoreExpectations(t *testing.T) {
	event := func(typ, kind, id string, expect uint64, filter string) dojot.Event {
		ev, err := dojot.NewEvent(typ, "t1", kind, id, time.Time{}, struct{}{})
		if err != nil {
			t.Fatal(err)
		}
		ev.Expect, ev.ExpectSubject = expect, filter
		return ev
	}
	wild := "evt.t1." + dojot.KindTemplate + ".*"
	tests := []struct {
		name string
		ev   dojot.Event
		seq  uint64
		err  error
	}{
		{"first template", event("template.created", dojot.KindTemplate, "1", 0, wild), 1, nil},
		{"stale filter", event("template.created", dojot.KindTemplate, "2", 0, wild), 0, dojot.ErrConflict},
		{"next template", event("template.created", dojot.KindTemplate, "2", 1, wild), 2, nil},
		{"new device", event("device.created", dojot.KindDevice, "a1", 0, ""), 3, nil},
		{"device again", event("device.created", dojot.KindDevice, "a1", 0, ""), 0, dojot.ErrConflict},
		{"device update", event("device.updated", dojot.KindDevice, "a1", 3, ""), 4, nil},
		{"filter sees all", event("template.updated", dojot.KindTemplate, "1", 2, wild), 5, nil},
		{"taken", event("device.created", dojot.KindDevice, "taken", 0, ""), 0, dojot.ErrConflict},
	}
	s := &commandstest.Store{AppendFn: func(ev dojot.Event) error {
		if ev.AggregateID == "taken" {
			return fmt.Errorf("taken: %w", dojot.ErrConflict)
		}
		return nil
	}}
	for _, tt := range tests {
		seq, err := s.Append(t.Context(), tt.ev)
		if seq != tt.seq || !errors.Is(err, tt.err) {
			t.Errorf("%s: Append = %d, %v; want %d, %v", tt.name, seq, err, tt.seq, tt.err)
		}
	}
	if n, c := len(s.Events()), s.Count("template.created"); n != 5 || c != 2 {
		t.Errorf("stored %d events, %d template.created; want 5, 2", n, c)
	}
}
