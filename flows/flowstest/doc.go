// Package flowstest holds the conformance suite every flows.ContextStore
// implementation runs (the memory one here, the JetStream key-value one
// of the wiring): RunContextStore(t, newStore).
package flowstest
