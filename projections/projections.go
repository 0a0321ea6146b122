// Package projections keeps views up to date with the event log. A Runner
// feeds events from the view's checkpoint onwards to a View and lets callers
// wait until a given stream sequence has been applied (read-your-writes).
// Views (memory/, later postgres/ and mongo/) are idempotent per sequence and
// keep their own checkpoint, so a restart or a replay never applies an event
// twice.
package projections

import (
	"context"

	"github.com/dojot-es/dojot"
)

// View is a read model built from events.
type View interface {
	// Apply applies ev; an event at or below the checkpoint is a no-op.
	Apply(ctx context.Context, ev dojot.Event) error
	// Checkpoint is the sequence of the last applied event (0: none).
	Checkpoint(ctx context.Context) (uint64, error)
}

// Source is the event log as a Runner reads it.
type Source interface {
	// Subscribe calls fn for every event from sequence from on, in order,
	// until ctx is done or fn fails.
	Subscribe(ctx context.Context, from uint64, fn func(dojot.Event) error) error
	// LastSeq is the sequence of the last event stored.
	LastSeq(ctx context.Context) (uint64, error)
}
