package seal_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/seal"
)

func sealer(t *testing.T, b byte) *seal.Sealer {
	t.Helper()
	s, err := seal.New(bytes.Repeat([]byte{b}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func deviceEvent(data string) dojot.Event {
	return dojot.Event{Type: dojot.EventDeviceUpdated, Tenant: "acme", Kind: dojot.KindDevice, AggregateID: "a1998e", Data: []byte(data)}
}

const withKeys = `{"id":"a1998e","label":"psks","templates":[1],"psks":[{"attr_id":2,"static_value":"0011223344556677"}],"cause":"psk"}`

func TestSealOpen(t *testing.T) {
	s := sealer(t, 1)
	ev := deviceEvent(withKeys)
	if err := s.Seal(&ev); err != nil {
		t.Fatal(err)
	}
	got := string(ev.Data)
	if strings.Contains(got, "0011223344556677") || strings.Contains(got, `"psks":`) || !strings.Contains(got, `"psks_sealed":"v1.`+s.KeyID()+".") {
		t.Fatalf("sealed = %s", got)
	}
	if !strings.HasPrefix(got, `{"id":"a1998e","label":"psks","templates":[1],"psks_sealed":`) || !strings.HasSuffix(got, `,"cause":"psk"}`) {
		t.Errorf("sealed = %s: the other members should stay in place", got)
	}
	again := deviceEvent(withKeys)
	if err := s.Seal(&again); err != nil || string(again.Data) == got {
		t.Errorf("sealing twice gave the same bytes (%v): the nonce must be fresh", err)
	}
	opened := ev
	if err := s.Open(&opened); err != nil {
		t.Fatal(err)
	}
	if string(opened.Data) != withKeys {
		t.Errorf("opened = %s, want %s", opened.Data, withKeys)
	}

	// Another key, another device or tenant: refused, never garbage.
	other := ev
	if err := sealer(t, 2).Open(&other); !errors.Is(err, seal.ErrKey) {
		t.Errorf("open with another key: %v, want ErrKey", err)
	}
	for name, mod := range map[string]func(e *dojot.Event){
		"another device": func(e *dojot.Event) { e.AggregateID = "c0ffee" },
		"another tenant": func(e *dojot.Event) { e.Tenant = "evil" },
		"tampered": func(e *dojot.Event) {
			b := bytes.Clone(e.Data)
			i := bytes.Index(b, []byte(`","cause"`)) - 5 // inside the ciphertext
			b[i] ^= 1
			e.Data = b
		},
	} {
		moved := ev
		mod(&moved)
		if err := s.Open(&moved); err == nil {
			t.Errorf("%s: opened %s", name, moved.Data)
		}
	}
}

// TestUntouched: what carries no keys, and events stored in clear before
// sealing, read as they are.
func TestUntouched(t *testing.T) {
	s := sealer(t, 1)
	for name, ev := range map[string]dojot.Event{
		"clear (stored before sealing)": deviceEvent(withKeys),
		"device without keys":           deviceEvent(`{"id":"a1998e","label":"x","templates":[]}`),
		"psks in a string":              deviceEvent(`{"id":"a1998e","label":"\"psks\":[1]","templates":[]}`),
		"nested psks":                   deviceEvent(`{"id":"a1998e","meta":{"psks":[1]},"templates":[]}`),
		"not an object":                 deviceEvent(`["psks"]`),
		"template event":                {Type: dojot.EventTemplateCreated, Tenant: "acme", Kind: dojot.KindTemplate, AggregateID: "1", Data: []byte(`{"psks":[1]}`)},
	} {
		before := string(ev.Data)
		if err := s.Open(&ev); err != nil || string(ev.Data) != before {
			t.Errorf("%s: Open = %s, %v", name, ev.Data, err)
		}
		if name == "clear (stored before sealing)" {
			continue
		}
		if err := s.Seal(&ev); err != nil || string(ev.Data) != before {
			t.Errorf("%s: Seal = %s, %v", name, ev.Data, err)
		}
	}
}

func TestKeys(t *testing.T) {
	if _, err := seal.New(make([]byte, 16)); !errors.Is(err, dojot.ErrInvalid) {
		t.Errorf("16-byte key: %v", err)
	}
	for _, bad := range []string{"", "zz", strings.Repeat("ab", 31)} {
		if _, err := seal.ParseKey(bad); !errors.Is(err, dojot.ErrInvalid) {
			t.Errorf("ParseKey(%q) = %v", bad, err)
		}
	}
	k, err := seal.ParseKey(strings.Repeat("0a", 32) + "\n")
	if err != nil || len(k) != seal.KeySize || k[0] != 10 {
		t.Errorf("ParseKey = %x, %v", k, err)
	}
}

// BenchmarkOpenPlain is what every device event read at replay pays when it
// carries no sealed keys (the common case): a scan for the member's name.
func BenchmarkOpenPlain(b *testing.B) {
	s, _ := seal.New(make([]byte, seal.KeySize))
	ev := deviceEvent(`{"id":"a1998e","label":"pump","created":"2026-01-01T00:00:00Z","templates":[1,2,3],"overrides":[{"attr_id":1,"static_value":"x"}]}`)
	for b.Loop() {
		if err := s.Open(&ev); err != nil {
			b.Fatal(err)
		}
	}
}
