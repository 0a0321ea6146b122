package commands

import (
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/dojot-es/dojot"
)

var (
	// tplKeys has two psk attributes (one with a template value) and one
	// that is not; tplKeys2 repeats a label with another type.
	tplKeys = dojot.Template{ID: 1, Label: "Keys", Created: t0, Attrs: []dojot.Attr{
		{ID: 1, Label: "k", Type: "static", ValueType: "psk", Created: t0},
		{ID: 2, Label: "k2", Type: "static", ValueType: "psk", StaticValue: str("none"), Created: t0},
		{ID: 3, Label: "temp", Type: "dynamic", ValueType: "float", Created: t0},
	}}
	keysCreated = ev(dojot.EventTemplateCreated, dojot.KindTemplate, "1", 1, 0, dojot.TemplateCreated{Template: tplKeys})
	tplPlain    = dojot.Template{ID: 2, Label: "Plain", Created: t0, Attrs: []dojot.Attr{
		{ID: 4, Label: "x", Type: "dynamic", ValueType: "string", Created: t0},
		{ID: 5, Label: "k", Type: "dynamic", ValueType: "string", Created: t0},
	}}
	plainCreated = ev(dojot.EventTemplateCreated, dojot.KindTemplate, "2", 1, 1, dojot.TemplateCreated{Template: tplPlain})

	lockA        = dojot.Device{ID: "aa", Label: "a", Created: t0, Templates: []int{1}}
	lockACreated = ev(dojot.EventDeviceCreated, dojot.KindDevice, "aa", 1, 0, dojot.DeviceCreated{Device: lockA})
	lockB        = dojot.Device{ID: "bb", Label: "b", Created: t0, Templates: []int{1}}
	lockBCreated = ev(dojot.EventDeviceCreated, dojot.KindDevice, "bb", 1, 0, dojot.DeviceCreated{Device: lockB})
	plainDev     = dojot.Device{ID: "cc", Label: "c", Created: t0, Templates: []int{2}}
	plainDevAdd  = ev(dojot.EventDeviceCreated, dojot.KindDevice, "cc", 1, 0, dojot.DeviceCreated{Device: plainDev})
	// lockAKeyed: aa already has keys for both attributes.
	lockAKeyed = ev(dojot.EventDeviceUpdated, dojot.KindDevice, "aa", 2, 3, dojot.DeviceUpdated{Cause: dojot.CausePSK, Device: withKeys(lockA,
		dojot.Override{AttrID: 1, StaticValue: "0a0b"}, dojot.Override{AttrID: 2, StaticValue: "0c0d"})})
)

func withKeys(d dojot.Device, keys ...dojot.Override) dojot.Device {
	d.PSKs = keys
	d.Updated = &t1
	return d
}

// keysFrom is what env()'s random source yields as n keys of size bytes.
func keysFrom(n, size int) []string {
	r := rand.NewChaCha8([32]byte{})
	out := make([]string, n)
	for i := range out {
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			panic(err)
		}
		out[i] = hex.EncodeToString(b)
	}
	return out
}

func TestDecideGenPSK(t *testing.T) {
	k := keysFrom(2, 8)
	base := []dojot.Event{keysCreated, plainCreated, lockACreated, plainDevAdd}
	updated := func(version, expect uint64, d dojot.Device) []dojot.Event {
		return []dojot.Event{ev(dojot.EventDeviceUpdated, dojot.KindDevice, d.ID, version, expect, dojot.DeviceUpdated{Device: d, Cause: dojot.CausePSK})}
	}
	tests := map[string]struct {
		given  []dojot.Event
		tenant string
		id     string
		length int
		attrs  []string
		then   []dojot.Event
		keys   []dojot.PSK
		err    error
		msg    string
	}{
		"every psk attr": {base, "t1", "aa", 8, nil,
			updated(2, 3, withKeys(lockA, dojot.Override{AttrID: 1, StaticValue: k[0]}, dojot.Override{AttrID: 2, StaticValue: k[1]})),
			[]dojot.PSK{{Attribute: "k", PSK: k[0]}, {Attribute: "k2", PSK: k[1]}}, nil, ""},
		"named attr": {base, "t1", "aa", 8, []string{"k2"},
			updated(2, 3, withKeys(lockA, dojot.Override{AttrID: 2, StaticValue: k[0]})),
			[]dojot.PSK{{Attribute: "k2", PSK: k[0]}}, nil, ""},
		"both named, any order": {base, "t1", "aa", 8, []string{"k2", "k"},
			updated(2, 3, withKeys(lockA, dojot.Override{AttrID: 1, StaticValue: k[0]}, dojot.Override{AttrID: 2, StaticValue: k[1]})),
			[]dojot.PSK{{Attribute: "k", PSK: k[0]}, {Attribute: "k2", PSK: k[1]}}, nil, ""},
		"again replaces the key": {append(base[:4:4], lockAKeyed), "t1", "aa", 8, []string{"k2"},
			updated(3, 5, withKeys(lockA, dojot.Override{AttrID: 1, StaticValue: "0a0b"}, dojot.Override{AttrID: 2, StaticValue: k[0]})),
			[]dojot.PSK{{Attribute: "k2", PSK: k[0]}}, nil, ""},
		"longest key": {base, "t1", "aa", 1024, []string{"k"},
			updated(2, 3, withKeys(lockA, dojot.Override{AttrID: 1, StaticValue: keysFrom(1, 1024)[0]})),
			[]dojot.PSK{{Attribute: "k", PSK: keysFrom(1, 1024)[0]}}, nil, ""},
		"no psk attr: nothing": {base, "t1", "cc", 8, nil, nil, nil, nil, ""},

		"unknown device":      {base, "t1", "dd", 8, nil, nil, nil, dojot.ErrNotFound, "No such device: dd"},
		"other tenant":        {base, "t2", "aa", 8, nil, nil, nil, dojot.ErrNotFound, "No such device: aa"},
		"device before range": {base, "t1", "dd", 0, nil, nil, nil, dojot.ErrNotFound, "No such device: dd"},
		"zero length":         {base, "t1", "aa", 0, nil, nil, nil, dojot.ErrInvalid, "key_length must be greater than 0 and lesser than 1024"},
		"negative length":     {base, "t1", "aa", -8, nil, nil, nil, dojot.ErrInvalid, "key_length must be greater than 0 and lesser than 1024"},
		"too long":            {base, "t1", "aa", 1025, nil, nil, nil, dojot.ErrInvalid, "key_length must be greater than 0 and lesser than 1024"},
		"range before attrs":  {base, "t1", "cc", 1025, []string{"x"}, nil, nil, dojot.ErrInvalid, "key_length must be greater than 0 and lesser than 1024"},
		"not psk":             {base, "t1", "aa", 8, []string{"temp"}, nil, nil, dojot.ErrInvalid, "Not found some attributes, please check them"},
		"unknown attr":        {base, "t1", "aa", 8, []string{"k", "nope"}, nil, nil, dojot.ErrInvalid, "Not found some attributes, please check them"},
		"repeated attr":       {base, "t1", "aa", 8, []string{"k", "k"}, nil, nil, dojot.ErrInvalid, "Not found some attributes, please check them"},
		"empty attrs":         {base, "t1", "aa", 8, []string{""}, nil, nil, dojot.ErrInvalid, "Not found some attributes, please check them"},
		"named on no psk":     {base, "t1", "cc", 8, []string{"x"}, nil, nil, dojot.ErrInvalid, "Not found some attributes, please check them"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var got []dojot.Event
			e, keys, err := decideGenPSK(replay(t, tt.given), env(), tt.tenant, tt.id, tt.length, tt.attrs)
			if err == nil && keys != nil {
				got = []dojot.Event{e}
			}
			if !errors.Is(err, tt.err) || !same(got, tt.then) {
				t.Errorf("GenPSK(%s, %d, %q) = %s, %v; want %s, %v", tt.id, tt.length, tt.attrs, show(got), err, show(tt.then), tt.err)
			}
			if err != nil && err.Error() != tt.msg {
				t.Errorf("GenPSK(%s) error %q; want %q", tt.id, err, tt.msg)
			}
			if len(keys) != len(tt.keys) {
				t.Fatalf("GenPSK(%s) keys = %v; want %v", tt.id, keys, tt.keys)
			}
			for i := range keys {
				if keys[i] != tt.keys[i] {
					t.Errorf("GenPSK(%s) key %d = %v; want %v", tt.id, i, keys[i], tt.keys[i])
				}
			}
		})
	}
}

func TestDecideCopyPSK(t *testing.T) {
	keyed := []dojot.Event{keysCreated, plainCreated, lockACreated, plainDevAdd, lockAKeyed, lockBCreated}
	bothTemplates := ev(dojot.EventDeviceCreated, dojot.KindDevice, "dd", 1, 0, dojot.DeviceCreated{Device: dojot.Device{ID: "dd", Label: "d", Created: t0, Templates: []int{1, 2}}})
	tests := map[string]struct {
		given         []dojot.Event
		tenant        string
		to, label     string
		from, fromLbl string
		then          []dojot.Event
		err           error
		msg           string
	}{
		"to another device": {keyed, "t1", "bb", "k2", "aa", "k",
			[]dojot.Event{ev(dojot.EventDeviceUpdated, dojot.KindDevice, "bb", 2, 6, dojot.DeviceUpdated{Cause: dojot.CausePSK,
				Device: withKeys(lockB, dojot.Override{AttrID: 2, StaticValue: "0a0b"})})}, nil, ""},
		"within a device": {keyed, "t1", "aa", "k", "aa", "k2",
			[]dojot.Event{ev(dojot.EventDeviceUpdated, dojot.KindDevice, "aa", 3, 5, dojot.DeviceUpdated{Cause: dojot.CausePSK,
				Device: withKeys(lockA, dojot.Override{AttrID: 1, StaticValue: "0c0d"}, dojot.Override{AttrID: 2, StaticValue: "0c0d"})})}, nil, ""},

		"unknown source device": {keyed, "t1", "bb", "k", "zz", "k", nil, dojot.ErrNotFound, "No such device: zz"},
		"source first":          {keyed, "t1", "yy", "k", "zz", "k", nil, dojot.ErrNotFound, "No such device: zz"},
		"other tenant":          {keyed, "t2", "bb", "k", "aa", "k", nil, dojot.ErrNotFound, "No such device: aa"},
		"unknown source attr":   {keyed, "t1", "bb", "k", "aa", "nope", nil, dojot.ErrNotFound, "Not found attributes nope"},
		"source attr not psk":   {keyed, "t1", "bb", "k", "aa", "temp", nil, dojot.ErrInvalid, "Attribute temp is not a 'psk' type_value"},
		"unknown target device": {keyed, "t1", "zz", "k", "aa", "k", nil, dojot.ErrNotFound, "No such device: zz"},
		"unknown target attr":   {keyed, "t1", "bb", "nope", "aa", "k", nil, dojot.ErrNotFound, "Not found attributes nope"},
		"target attr not psk":   {keyed, "t1", "bb", "temp", "aa", "k", nil, dojot.ErrInvalid, "Attribute temp is not a 'psk' type_value"},
		"target has no such":    {keyed, "t1", "cc", "k", "aa", "k", nil, dojot.ErrInvalid, "Attribute k is not a 'psk' type_value"},
		"source has no key":     {keyed, "t1", "aa", "k", "bb", "k", nil, dojot.ErrInvalid, "There is not a psk generated to k"},
		// dd's second template has a non-psk "k": dojot refuses it even
		// though the first one is psk.
		"label also not psk": {append(keyed[:6:6], bothTemplates), "t1", "dd", "k", "aa", "k", nil, dojot.ErrInvalid, "Attribute k is not a 'psk' type_value"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var got []dojot.Event
			e, err := decideCopyPSK(replay(t, tt.given), env(), tt.tenant, tt.to, tt.label, tt.from, tt.fromLbl)
			if err == nil {
				got = []dojot.Event{e}
			}
			if !errors.Is(err, tt.err) || !same(got, tt.then) {
				t.Errorf("CopyPSK(%s/%s <- %s/%s) = %s, %v; want %s, %v", tt.to, tt.label, tt.from, tt.fromLbl, show(got), err, show(tt.then), tt.err)
			}
			if err != nil && err.Error() != tt.msg {
				t.Errorf("CopyPSK error %q; want %q", err, tt.msg)
			}
		})
	}
}

// Keys stay when their template leaves a device (dojot keeps the rows) and
// go with a PUT /device, which recreates the device.
func TestPSKsAcrossDeviceChanges(t *testing.T) {
	given := []dojot.Event{keysCreated, plainCreated, lockACreated, lockAKeyed}
	st := replay(t, given)
	e, err := decideRemoveTemplate(st, env(), "t1", "aa", "1")
	if err != nil {
		t.Fatal(err)
	}
	var p dojot.DeviceUpdated
	if err := e.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if len(p.PSKs) != 2 || len(p.Templates) != 0 {
		t.Errorf("after removing the template: %+v; want both keys kept", p.Device)
	}
	in, err := parseDevice([]byte(`{"label":"a","templates":[1]}`))
	if err != nil {
		t.Fatal(err)
	}
	e, err = decideUpdateDevice(st, env(), "t1", "aa", in)
	if err != nil {
		t.Fatal(err)
	}
	p = dojot.DeviceUpdated{}
	if err := e.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if len(p.PSKs) != 0 {
		t.Errorf("after PUT /device: keys %+v; want none", p.PSKs)
	}
}
