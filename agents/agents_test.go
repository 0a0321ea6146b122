package agents_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/dojot-es/dojot"
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

func TestForTenant(t *testing.T) {
	t1a, t1b, t2a := dojot.DeviceKey{Tenant: "t1", ID: "a"}, dojot.DeviceKey{Tenant: "t1", ID: "b"}, dojot.DeviceKey{Tenant: "t2", ID: "a"}
	for _, tc := range []struct {
		devices []dojot.DeviceKey
		tenant  string
		want    []dojot.DeviceKey
		one     bool
	}{
		{nil, "", nil, true},
		{[]dojot.DeviceKey{t1a, t1b}, "", []dojot.DeviceKey{t1a, t1b}, true},
		{[]dojot.DeviceKey{t1a, t2a}, "", []dojot.DeviceKey{t1a, t2a}, false},
		{[]dojot.DeviceKey{t1a, t2a, t1b}, "t1", []dojot.DeviceKey{t1a, t1b}, true},
		{[]dojot.DeviceKey{t1a, t2a}, "t2", []dojot.DeviceKey{t2a}, true},
		{[]dojot.DeviceKey{t1a}, "t3", nil, true},
	} {
		got, one := agents.ForTenant(tc.devices, tc.tenant)
		if !slices.Equal(got, tc.want) || one != tc.one {
			t.Errorf("ForTenant(%v, %q) = %v, %v; want %v, %v", tc.devices, tc.tenant, got, one, tc.want, tc.one)
		}
	}
}
