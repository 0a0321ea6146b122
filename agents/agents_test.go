package agents_test

import (
	"maps"
	"testing"

	"github.com/dojot-es/dojot/agents"
)

func TestRefusals(t *testing.T) {
	f := agents.NewRefusals("auth", "too_large")
	var logged int
	for range 2*agents.LogEvery + 1 {
		if _, log := f.Add(1); log {
			logged++
		}
	}
	if logged != 3 {
		t.Errorf("logged %d of %d refusals; want 3 (the first, then one in %d)", logged, 2*agents.LogEvery+1, agents.LogEvery)
	}
	if got, want := f.Map(), map[string]uint64{"auth": 0, "too_large": 2*agents.LogEvery + 1}; !maps.Equal(got, want) {
		t.Errorf("Map = %v; want %v", got, want)
	}
	if f.Name(0) != "auth" {
		t.Errorf("Name(0) = %q", f.Name(0))
	}
}
