package commands

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/projections/memory"
)

// racingState is the view while another instance's write lands in the middle
// of a decision: the first time the decision asks for device id, the answer
// is "absent", and right after that the other instance's device.created is
// stored and applied, so every later read sees it.
type racingState struct {
	*memory.View
	once  sync.Once
	race  func()
	watch string
}

func (s *racingState) Device(tenant, id string) (dojot.Device, bool) {
	d, ok := s.View.Device(tenant, id)
	if id == s.watch {
		s.once.Do(s.race)
	}
	return d, ok
}

// TestCreateDeviceRaceInsideDecision: a device id is never taken twice, even
// when the view moves between the reads of one decision.
func TestCreateDeviceRaceInsideDecision(t *testing.T) {
	ctx := context.Background()
	view := memory.New()
	store := &commandstest.Store{View: view}
	state := &racingState{View: view, watch: "abc1"}
	d := NewDevices(Options{Store: store, Sync: commandstest.Syncer{}}, state)
	tid, err := d.CreateTemplate(ctx, "t1", []byte(`{"label":"T","attrs":[{"label":"a","type":"dynamic","value_type":"float"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"label":"d","id":"abc1","templates":[` + strconv.Itoa(tid) + `]}`)
	other := NewDevices(Options{Store: store, Sync: commandstest.Syncer{}}, view)
	state.race = func() {
		if _, err := other.CreateDevices(ctx, "t1", body, 1); err != nil {
			t.Errorf("the other instance's create: %v", err)
		}
	}
	_, err = d.CreateDevices(ctx, "t1", body, 1)
	if err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Errorf("second create of abc1 = %v; want the duplicate-key refusal", err)
	}
	if n := store.Count(dojot.EventDeviceCreated); n != 1 {
		t.Errorf("%d device.created events for one id; want 1", n)
	}
}
