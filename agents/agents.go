// Package agents holds what dojot's IoT agents (agents/mqtt, amqp, http,
// lorawan, sigfox) share beyond the reading's shape (dojot.Reading): the
// count of what they refuse.
package agents

import "sync/atomic"

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
