package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/dojot-es/dojot"
)

// KeySize is the key's length in bytes (AES-256).
const KeySize = 32

// ErrKey: the event was sealed under another key than this instance's.
var ErrKey = errors.New("seal: sealed under another key")

const (
	clearField  = "psks"
	sealedField = "psks_sealed"
	version     = "v1"
)

var (
	clearKey  = []byte(`"` + clearField + `"`)
	sealedKey = []byte(`"` + sealedField + `"`)
)

// Sealer seals and opens the pre-shared keys in device events. It is safe
// for concurrent use.
type Sealer struct {
	aead cipher.AEAD
	kid  string
}

// New returns a Sealer for a KeySize-byte key.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key of %d bytes, want %d: %w", len(key), KeySize, dojot.ErrInvalid)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	sum := sha256.Sum256(append([]byte("dojot psk key id\x00"), key...))
	return &Sealer{aead: aead, kid: hex.EncodeToString(sum[:4])}, nil
}

// ParseKey reads a key written as 64 hex digits.
func ParseKey(s string) ([]byte, error) {
	k, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != KeySize {
		return nil, fmt.Errorf("seal: a key is %d hex digits: %w", 2*KeySize, dojot.ErrInvalid)
	}
	return k, nil
}

// KeyID names the key without revealing it (in logs and in sealed values).
func (s *Sealer) KeyID() string { return s.kid }

// Seal replaces the "psks" member of a device event's payload by its
// sealed form. Other events, and device events without keys, are left as
// they are.
func (s *Sealer) Seal(ev *dojot.Event) error {
	if ev.Kind != dojot.KindDevice || !bytes.Contains(ev.Data, clearKey) {
		return nil
	}
	start, end, plain, ok := member(ev.Data, clearField)
	if !ok {
		return nil // no "psks" member: nothing to seal
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("seal: nonce: %w", err)
	}
	box := s.aead.Seal(nonce, nonce, plain, aad(ev))
	repl := `"` + sealedField + `":"` + version + "." + s.kid + "." + base64.RawURLEncoding.EncodeToString(box) + `"`
	ev.Data = splice(ev.Data, start, end, repl)
	return nil
}

// Open puts back in clear the pre-shared keys Seal sealed. Events without
// sealed keys (other kinds, or stored before sealing) are left as they
// are.
func (s *Sealer) Open(ev *dojot.Event) error {
	if ev.Kind != dojot.KindDevice || !bytes.Contains(ev.Data, sealedKey) {
		return nil
	}
	start, end, raw, ok := member(ev.Data, sealedField)
	if !ok {
		return nil
	}
	var sealed string
	if err := json.Unmarshal(raw, &sealed); err != nil {
		return fmt.Errorf("seal: open %s %s: %w", ev.Type, ev.AggregateID, err)
	}
	ver, rest, _ := strings.Cut(sealed, ".")
	kid, enc, _ := strings.Cut(rest, ".")
	if ver != version {
		return fmt.Errorf("seal: open %s %s: unknown version %q", ev.Type, ev.AggregateID, ver)
	}
	if kid != s.kid {
		return fmt.Errorf("seal: open %s %s: key %s, this instance has key %s: %w", ev.Type, ev.AggregateID, kid, s.kid, ErrKey)
	}
	box, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(box) < s.aead.NonceSize() {
		return fmt.Errorf("seal: open %s %s: malformed", ev.Type, ev.AggregateID)
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, box[:n], box[n:], aad(ev))
	if err != nil {
		return fmt.Errorf("seal: open %s %s: %w", ev.Type, ev.AggregateID, err)
	}
	ev.Data = splice(ev.Data, start, end, `"`+clearField+`":`+string(plain))
	return nil
}

// member finds the top-level member name of the JSON object data: the
// bytes [start, end) hold `"name":value`, and value is its value. ok is
// false when data is not an object or has no such member (or names it
// with escapes, which json.Marshal never writes).
func member(data []byte, name string) (start, end int, value json.RawMessage, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, 0, nil, false
	}
	quoted := `"` + name + `"`
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return 0, 0, nil, false
		}
		keyEnd := int(dec.InputOffset())
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return 0, 0, nil, false
		}
		if t != name {
			continue
		}
		keyStart := keyEnd - len(quoted)
		if keyStart < 0 || string(data[keyStart:keyEnd]) != quoted {
			return 0, 0, nil, false
		}
		return keyStart, int(dec.InputOffset()), v, true
	}
	return 0, 0, nil, false
}

// splice returns data with [start, end) replaced by repl, in a new slice:
// the caller's may be a message buffer.
func splice(data []byte, start, end int, repl string) []byte {
	out := make([]byte, 0, len(data)-(end-start)+len(repl))
	out = append(out, data[:start]...)
	out = append(out, repl...)
	return append(out, data[end:]...)
}

// aad binds a sealed value to its device: copied into another device's
// event, or another tenant's, it does not open.
func aad(ev *dojot.Event) []byte {
	return []byte(ev.Tenant + "\x00" + ev.AggregateID)
}
