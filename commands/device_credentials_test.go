package commands

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/projections/memory"
)

// credDevices is a Devices handler over store and st, hashing at MinCost.
func credDevices(store Store, st DeviceState) *Devices {
	d := NewDevices(Options{Store: store, Sync: commandstest.Syncer{}, Now: func() time.Time { return t1 }, Rand: rand.NewChaCha8([32]byte{5})}, st)
	d.BcryptCost = bcrypt.MinCost
	return d
}

func TestDecideSetBasicCredentials(t *testing.T) {
	deleted := ev(dojot.EventDeviceDeleted, dojot.KindDevice, "aa", 2, 1, dojot.DeviceDeleted{ID: "aa"})
	set := func(version, expect uint64) dojot.Event {
		return ev(dojot.EventDeviceCredentialsSet, dojot.KindDevice, "aa", version, expect, dojot.DeviceCredentialsSet{ID: "aa", Hash: "h"})
	}
	tests := map[string]struct {
		given  []dojot.Event
		tenant string
		then   []dojot.Event
		err    error
	}{
		"set":            {[]dojot.Event{lockACreated}, "t1", []dojot.Event{set(2, 1)}, nil},
		"replaced":       {[]dojot.Event{lockACreated, set(2, 1)}, "t1", []dojot.Event{set(3, 2)}, nil},
		"no device":      {nil, "t1", nil, dojot.ErrInvalid},
		"deleted device": {[]dojot.Event{lockACreated, deleted}, "t1", nil, dojot.ErrInvalid},
		"other tenant":   {[]dojot.Event{lockACreated}, "t2", nil, dojot.ErrInvalid},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			st := replay(t, tt.given)
			got, err := decideSetBasicCredentials(st, decideEnv{now: t1}, tt.tenant, "aa", "h")
			var gotEvs []dojot.Event
			if err == nil {
				gotEvs = []dojot.Event{got}
			}
			if !errors.Is(err, tt.err) || !same(gotEvs, tt.then) {
				t.Errorf("decide = %s, %v; want %s, %v", show(gotEvs), err, show(tt.then), tt.err)
			}
		})
	}
}

// TestSetBasicCredentials: the password is dojot's (15 characters, each
// class present), only its hash is stored, each call replaces it, and a
// missing device is dojot's 400 body.
func TestSetBasicCredentials(t *testing.T) {
	store, view := storeWith(t, keysCreated, lockACreated)
	d := credDevices(store, view)

	user, pw, err := d.SetBasicCredentials(t.Context(), "t1", "aa")
	if err != nil {
		t.Fatal(err)
	}
	if user != "t1@aa" {
		t.Errorf("username = %q; want t1@aa", user)
	}
	checkPassword(t, pw)
	if !d.CheckDeviceCredentials("t1", "aa", pw) {
		t.Error("the new password does not verify")
	}
	for _, e := range store.Events() {
		if strings.Contains(string(e.Data), pw) {
			t.Errorf("event %s holds the password in clear: %s", e.Type, e.Data)
		}
	}
	hash, ok := view.DeviceCredentials("t1", "aa")
	if !ok || bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) != nil {
		t.Errorf("stored hash %q, %v does not verify the password", hash, ok)
	}
	if cost, _ := bcrypt.Cost([]byte(hash)); cost != bcrypt.MinCost {
		t.Errorf("bcrypt cost %d; want %d", cost, bcrypt.MinCost)
	}

	_, pw2, err := d.SetBasicCredentials(t.Context(), "t1", "aa")
	if err != nil {
		t.Fatal(err)
	}
	if pw2 == pw {
		t.Errorf("second password %q is the first", pw2)
	}
	if d.CheckDeviceCredentials("t1", "aa", pw) || !d.CheckDeviceCredentials("t1", "aa", pw2) {
		t.Error("after a second call, the old password must fail and the new one verify")
	}
	for _, c := range []struct{ tenant, id, pw string }{{"t2", "aa", pw2}, {"t1", "bb", pw2}, {"t1", "aa", ""}, {"t1", "aa", pw2 + "x"}} {
		if d.CheckDeviceCredentials(c.tenant, c.id, c.pw) {
			t.Errorf("CheckDeviceCredentials(%q, %q, %q) = true", c.tenant, c.id, c.pw)
		}
	}

	for _, c := range []struct{ tenant, id string }{{"t1", "nope"}, {"t2", "aa"}} {
		n := len(store.Events())
		_, _, err := d.SetBasicCredentials(t.Context(), c.tenant, c.id)
		var de *dojot.Error
		if !errors.As(err, &de) || !errors.Is(err, dojot.ErrInvalid) || de.Body.(map[string]string)["error"] != "Device is not valid." {
			t.Errorf("SetBasicCredentials(%s, %s) = %v; want 400 Device is not valid.", c.tenant, c.id, err)
		}
		if len(store.Events()) != n {
			t.Errorf("a refused call stored an event")
		}
	}

	if _, err := d.DeleteDevice(t.Context(), "t1", "aa"); err != nil {
		t.Fatal(err)
	}
	if _, ok := view.DeviceCredentials("t1", "aa"); ok || d.CheckDeviceCredentials("t1", "aa", pw2) {
		t.Error("credentials outlived their device")
	}
}

// checkPassword: dojot's rules (15 characters of its alphabet: at least 3
// lower, 2 upper, 2 digits and 1 special).
func checkPassword(t *testing.T, pw string) {
	t.Helper()
	if len(pw) != PasswordLength {
		t.Errorf("password %q has %d characters; want %d", pw, len(pw), PasswordLength)
	}
	for _, r := range passwordRules {
		n := 0
		for _, c := range pw {
			if strings.ContainsRune(r.chars, c) {
				n++
			}
		}
		if n < r.min {
			t.Errorf("password %q has %d of %q; want at least %d", pw, n, r.chars, r.min)
		}
	}
	for _, c := range pw {
		if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$&*?|%+-_./;=()[]{}", c) {
			t.Errorf("password %q has %q, outside dojot's alphabet", pw, c)
		}
	}
}

func TestNewDevicePassword(t *testing.T) {
	rnd := rand.NewChaCha8([32]byte{3})
	seen := map[string]bool{}
	for range 2000 {
		pw, err := newDevicePassword(rnd)
		if err != nil {
			t.Fatal(err)
		}
		checkPassword(t, pw)
		if seen[pw] {
			t.Fatalf("password %q drawn twice", pw)
		}
		seen[pw] = true
	}
}

// deletingState deletes device "aa" through another handler right after
// the decision has read it: the other instance's write lands between the
// decision and the append.
type deletingState struct {
	*memory.View
	reads int
	once  sync.Once
	race  func()
}

func (s *deletingState) Device(tenant, id string) (dojot.Device, bool) {
	d, ok := s.View.Device(tenant, id)
	if s.reads++; s.reads == 2 { // 1: the check before hashing, 2: the decision
		s.once.Do(s.race)
	}
	return d, ok
}

// TestSetBasicCredentialsConcurrentDelete: credentials are a device event,
// so a delete that lands meanwhile makes the append conflict; the retry
// finds no device, and no credentials are left behind.
func TestSetBasicCredentialsConcurrentDelete(t *testing.T) {
	store, view := storeWith(t, keysCreated, lockACreated)
	st := &deletingState{View: view}
	other := credDevices(store, view)
	st.race = func() {
		if _, err := other.DeleteDevice(t.Context(), "t1", "aa"); err != nil {
			t.Errorf("the other instance's delete: %v", err)
		}
	}
	d := credDevices(store, st)
	_, _, err := d.SetBasicCredentials(t.Context(), "t1", "aa")
	if !errors.Is(err, dojot.ErrInvalid) {
		t.Errorf("SetBasicCredentials with a delete meanwhile = %v; want Device is not valid.", err)
	}
	if n := store.Count(dojot.EventDeviceCredentialsSet); n != 0 {
		t.Errorf("%d credentials events stored for a deleted device", n)
	}
	if _, ok := view.DeviceCredentials("t1", "aa"); ok {
		t.Error("credentials of a deleted device")
	}

	// The store itself refuses an event decided before the delete.
	store2, view2 := storeWith(t, keysCreated, lockACreated)
	e, err := decideSetBasicCredentials(view2, decideEnv{now: t1}, "t1", "aa", "h")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := credDevices(store2, view2).DeleteDevice(t.Context(), "t1", "aa"); err != nil {
		t.Fatal(err)
	}
	if _, err := store2.Append(t.Context(), e); !errors.Is(err, dojot.ErrConflict) {
		t.Errorf("append after a concurrent delete = %v; want a conflict", err)
	}
}

// TestCheckDeviceCredentialsRemembers: a password that matched is
// remembered for its hash only; a wrong one never is; the set stays
// bounded.
func TestCheckDeviceCredentialsRemembers(t *testing.T) {
	store, view := storeWith(t, keysCreated, lockACreated)
	d := credDevices(store, view)
	_, pw, err := d.SetBasicCredentials(t.Context(), "t1", "aa")
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := view.DeviceCredentials("t1", "aa")
	if d.verified.has(d.verified.key(hash, pw)) {
		t.Fatal("remembered before any check")
	}
	if d.CheckDeviceCredentials("t1", "aa", pw+"x") || d.verified.has(d.verified.key(hash, pw+"x")) {
		t.Fatal("a wrong password matched or was remembered")
	}
	if !d.CheckDeviceCredentials("t1", "aa", pw) || !d.verified.has(d.verified.key(hash, pw)) {
		t.Fatal("a matching password was not remembered")
	}
	if d.verified.has(d.verified.key("other hash", pw)) {
		t.Fatal("remembered for another hash")
	}
	for i := range verifiedCap + 10 {
		d.verified.add(d.verified.key(hash, fmt.Sprint(i)))
	}
	if n := len(d.verified.set); n > verifiedCap {
		t.Errorf("%d remembered; want at most %d", n, verifiedCap)
	}
}
