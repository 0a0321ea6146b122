package commands

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/dojot-es/dojot"
)

// Device basic credentials, as dojot's device-basic-authentication service
// issues them (POST /basic-auth/v1/devices/:id/basic-credentials): a
// 15-character random password per device, stored only as a bcrypt hash in
// a device.credentials_set event (a device event: a concurrent delete
// conflicts, and deleting the device drops them). Each call replaces the
// password. Devices present them as "<tenant>@<device id>" (HTTP agent,
// MQTT) and are checked with CheckDeviceCredentials.

// errDeviceNotValid is dojot's answer (deviceValidation.js) when the device
// does not exist in the caller's tenant: 400 {"error":"Device is not valid."}.
var errDeviceNotValid = &dojot.Error{Kind: dojot.ErrInvalid, Message: "Device is not valid.",
	Body: map[string]string{"error": "Device is not valid."}}

// PasswordLength is the length of a device password, as dojot makes it.
const PasswordLength = 15

// passwordRules are dojot's (BasicCredentialsCtrl.generatePassword): at
// least this many distinct characters of each class, the rest from all of
// them, shuffled.
var passwordRules = []struct {
	chars string
	min   int
}{
	{"abcdefghijklmnopqrstuvwxyz", 3},
	{"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 2},
	{"0123456789", 2},
	{"!@#$&*?|%+-_./;=()[]{}", 1},
}

// SetBasicCredentials gives a device of tenant a new random password and
// returns it with the username ("<tenant>@<deviceID>"); the password is
// shown only here. A device that does not exist in tenant is dojot's 400
// "Device is not valid.".
func (d *Devices) SetBasicCredentials(ctx context.Context, tenant, deviceID string) (username, password string, err error) {
	// Checked before the (slow) hash, and again when deciding.
	if _, ok := d.st.Device(tenant, deviceID); !ok {
		return "", "", errDeviceNotValid
	}
	password, err = newDevicePassword(d.opts.Rand)
	if err != nil {
		return "", "", err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), d.bcryptCost())
	if err != nil {
		return "", "", fmt.Errorf("hash device password: %w", err)
	}
	err = d.appendOne(ctx, func() (dojot.Event, error) {
		return decideSetBasicCredentials(d.st, d.env(ctx), tenant, deviceID, string(hash))
	})
	if err != nil {
		return "", "", err
	}
	return tenant + "@" + deviceID, password, nil
}

func decideSetBasicCredentials(st DeviceState, e decideEnv, tenant, deviceID, hash string) (dojot.Event, error) {
	if _, ok := st.Device(tenant, deviceID); !ok {
		return dojot.Event{}, errDeviceNotValid
	}
	return e.newEvent(st, dojot.EventDeviceCredentialsSet, tenant, dojot.KindDevice, deviceID,
		dojot.DeviceCredentialsSet{ID: deviceID, Hash: hash})
}

// CheckDeviceCredentials reports whether password is the current basic-auth
// password of the device deviceID of tenant. A device that does not exist
// or has no credentials costs one bcrypt comparison too, so the answer takes
// about as long either way.
//
// A bcrypt comparison costs ~50 ms of CPU at dojot's cost 10, so a fleet
// reconnecting at once (a broker restart, a network blip) would queue
// behind it for minutes. A pair (hash, password) that matched is
// remembered, keyed by an HMAC under a per-process key, so a device
// reconnecting with the same password is checked in microseconds. New
// credentials have a new hash, so the old pair never matches them.
func (d *Devices) CheckDeviceCredentials(tenant, deviceID, password string) bool {
	hash, ok := d.st.DeviceCredentials(tenant, deviceID)
	if !ok {
		_ = bcrypt.CompareHashAndPassword(decoyHash(), []byte(password))
		return false
	}
	key := d.verified.key(hash, password)
	if d.verified.has(key) {
		return true
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return false
	}
	d.verified.add(key)
	return true
}

// verifiedCap bounds the remembered matches: 64k devices' worth, ~3 MiB.
const verifiedCap = 1 << 16

// verifiedSet remembers (hash, password) pairs that matched. Full, it
// starts over: the next reconnects pay bcrypt once more.
type verifiedSet struct {
	once   sync.Once
	secret []byte
	mu     sync.Mutex
	set    map[[32]byte]struct{}
}

func (v *verifiedSet) key(hash, password string) [32]byte {
	v.once.Do(func() {
		v.secret = make([]byte, 32)
		if _, err := rand.Read(v.secret); err != nil {
			panic(err) // crypto/rand does not fail on Linux
		}
	})
	m := hmac.New(sha256.New, v.secret)
	m.Write([]byte(hash))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var k [32]byte
	m.Sum(k[:0])
	return k
}

func (v *verifiedSet) has(k [32]byte) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.set[k]
	return ok
}

func (v *verifiedSet) add(k [32]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.set == nil || len(v.set) >= verifiedCap {
		v.set = make(map[[32]byte]struct{})
	}
	v.set[k] = struct{}{}
}

func (d *Devices) bcryptCost() int {
	if d.BcryptCost == 0 {
		return bcrypt.DefaultCost
	}
	return d.BcryptCost
}

// decoyHash is compared against when there is no hash to compare with.
var decoyHash = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("no device has this password"), bcrypt.DefaultCost)
	if err != nil {
		panic(err) // only an invalid cost fails
	}
	return h
})

// newDevicePassword draws a password as dojot does: distinct characters of
// each rule's class, then the rest from every class, all shuffled.
func newDevicePassword(rnd io.Reader) (string, error) {
	var all string
	need := 0
	for _, r := range passwordRules {
		all += r.chars
		need += r.min
	}
	out := make([]byte, 0, PasswordLength)
	pick := func(chars string, n int) error {
		b := []byte(chars)
		for i := 0; i < n; i++ { // partial Fisher-Yates: n distinct characters
			j, err := randIntn(rnd, len(b)-i)
			if err != nil {
				return err
			}
			b[i], b[i+j] = b[i+j], b[i]
			out = append(out, b[i])
		}
		return nil
	}
	for _, r := range passwordRules {
		if err := pick(r.chars, r.min); err != nil {
			return "", err
		}
	}
	if err := pick(all, PasswordLength-need); err != nil {
		return "", err
	}
	for i := len(out) - 1; i > 0; i-- {
		j, err := randIntn(rnd, i+1)
		if err != nil {
			return "", err
		}
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

// randIntn is a uniform random int in [0, n), n > 0, read from rnd.
func randIntn(rnd io.Reader, n int) (int, error) {
	limit := uint32(1<<32 - (1<<32)%uint64(n)) // largest multiple of n, exclusive
	var b [4]byte
	for {
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return 0, fmt.Errorf("device password: %w", err)
		}
		if v := binary.BigEndian.Uint32(b[:]); limit == 0 || v < limit {
			return int(v % uint32(n)), nil
		}
	}
}
