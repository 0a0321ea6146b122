// Package agents holds what dojot's IoT agents (agents/mqtt, amqp, http,
// lorawan, sigfox) share beyond the reading's shape (dojot.Reading): the
// count of what they refuse and how they answer it, and which devices a network server's uplink
// is for.
package agents

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/dojot-es/dojot"
)

// ForTenant keeps, of the devices whose static attribute shows a network
// server's id for a device (a LoRaWAN dev_eui, a Sigfox id), those of
// tenant ("": all), and reports whether they are all of one tenant. Such
// an id is printed on the device, no secret: any tenant may register a
// device showing another tenant's, and must not get that device's uplinks
// for it. So an uplink that names no tenant (the callback URL's ?tenant=)
// is for its devices only while they are all of one tenant; several
// devices of one tenant sharing an id each get it.
func ForTenant(devices []dojot.DeviceKey, tenant string) (kept []dojot.DeviceKey, oneTenant bool) {
	for _, d := range devices {
		if tenant == "" || d.Tenant == tenant {
			kept = append(kept, d)
		}
	}
	for _, d := range kept {
		if d.Tenant != kept[0].Tenant {
			return kept, false
		}
	}
	return kept, true
}

// LogEvery: a refusal is logged the first time its reason comes and then
// once in every LogEvery of that reason, so a misbehaving device or
// network server cannot flood the log.
const LogEvery = 1000

// Refusals counts an agent's refusals by reason, for /healthz. The zero
// value is not usable: NewRefusals names the reasons, in the order of the
// agent's reason constants.
type Refusals struct {
	names  []string
	counts []atomic.Uint64
}

// NewRefusals returns counters for reasons named names.
func NewRefusals(names ...string) *Refusals {
	return &Refusals{names: names, counts: make([]atomic.Uint64, len(names))}
}

// Add counts one refusal of reason r; log reports whether to log it.
func (f *Refusals) Add(r int) (n uint64, log bool) {
	n = f.counts[r].Add(1)
	return n, n%LogEvery == 1
}

// Name is reason r's name.
func (f *Refusals) Name(r int) string { return f.names[r] }

// Map is every reason's count by name.
func (f *Refusals) Map() map[string]uint64 {
	m := make(map[string]uint64, len(f.names))
	for r, name := range f.names {
		m[name] = f.counts[r].Load()
	}
	return m
}

// Refusal is a request of a network server's callback (Sigfox, LoRaWAN)
// refused, as an error: the reason it is counted under (an index of the
// agent's Refusals), the status and the message answered.
type Refusal struct {
	Reason int
	Code   int
	Msg    string
}

func (r *Refusal) Error() string { return r.Msg }

// Refuse is a Refusal whose message is formatted.
func Refuse(reason, code int, format string, args ...any) *Refusal {
	return &Refusal{reason, code, fmt.Sprintf(format, args...)}
}

// WriteError answers code with {"error": msg}; msg's <, > and & stay as
// they are, for the network server's console to show.
func WriteError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]string{"error": msg})
}
