package memory

import (
	"strings"
	"testing"

	"github.com/dojot-es/dojot"
)

// TestDeviceCredentials: the hash is stored, replaced by the next one,
// dropped with its device (a re-created device has none), kept across a
// device update, and never rendered.
func TestDeviceCredentials(t *testing.T) {
	dev := dojot.Device{ID: "aa", Label: "lock", Created: at0}
	l := &log{}
	l.add(t, "t1", dojot.EventDeviceCreated, dojot.KindDevice, "aa", dojot.DeviceCreated{Device: dev})
	l.add(t, "t2", dojot.EventDeviceCreated, dojot.KindDevice, "aa", dojot.DeviceCreated{Device: dev})
	l.add(t, "t1", dojot.EventDeviceCredentialsSet, dojot.KindDevice, "aa", dojot.DeviceCredentialsSet{ID: "aa", Hash: "$2a$04$first"})
	steps := []struct {
		name string
		ev   func()
		want string // "" : none
	}{
		{"stored", func() {}, "$2a$04$first"},
		{"replaced", func() {
			l.add(t, "t1", dojot.EventDeviceCredentialsSet, dojot.KindDevice, "aa", dojot.DeviceCredentialsSet{ID: "aa", Hash: "$2a$04$second"})
		}, "$2a$04$second"},
		{"kept by an update", func() {
			d := dev
			d.Label = "lock2"
			l.add(t, "t1", dojot.EventDeviceUpdated, dojot.KindDevice, "aa", dojot.DeviceUpdated{Device: d})
		}, "$2a$04$second"},
		{"dropped by delete", func() {
			l.add(t, "t1", dojot.EventDeviceDeleted, dojot.KindDevice, "aa", dojot.DeviceDeleted{ID: "aa"})
		}, ""},
		{"none after re-creation", func() {
			l.add(t, "t1", dojot.EventDeviceCreated, dojot.KindDevice, "aa", dojot.DeviceCreated{Device: dev})
		}, ""},
	}
	for _, s := range steps {
		s.ev()
		v := l.view(t)
		hash, ok := v.DeviceCredentials("t1", "aa")
		if hash != s.want || ok != (s.want != "") {
			t.Errorf("%s: DeviceCredentials = %q, %v; want %q", s.name, hash, ok, s.want)
		}
		if h, ok := v.DeviceCredentials("t2", "aa"); ok {
			t.Errorf("%s: tenant t2's device has t1's credentials %q", s.name, h)
		}
		seq, _ := v.Aggregate("t1", dojot.KindDevice, "aa")
		if last := l.evs[len(l.evs)-1]; last.Tenant == "t1" && seq != last.Seq {
			t.Errorf("%s: aggregate at seq %d; want %d", s.name, seq, last.Seq)
		}
		if s.name == "replaced" {
			pub, _ := v.DeviceJSON("t1", "aa")
			internal, _ := v.InternalDeviceJSON("t1", "aa")
			for _, b := range [][]byte{pub, internal, v.ListDevices("t1", dojot.DeviceQuery{Page: dojot.Page{Num: 1, Size: 10}}), v.ListInternalDevices("t1", dojot.DeviceQuery{Page: dojot.Page{Num: 1, Size: 10}})} {
				if strings.Contains(string(b), "$2a$") || strings.Contains(string(b), "hash") {
					t.Errorf("a device rendering shows the credentials: %s", b)
				}
			}
		}
	}

	// An event for a device the view lacks only moves the position.
	l2 := &log{}
	l2.add(t, "t1", dojot.EventDeviceCredentialsSet, dojot.KindDevice, "zz", dojot.DeviceCredentialsSet{ID: "zz", Hash: "h"})
	v := l2.view(t)
	if _, ok := v.DeviceCredentials("t1", "zz"); ok {
		t.Error("credentials of a device that does not exist")
	}
	if seq, ver := v.Aggregate("t1", dojot.KindDevice, "zz"); seq != 1 || ver != 1 {
		t.Errorf("aggregate zz = seq %d v%d; want 1, 1", seq, ver)
	}
}
