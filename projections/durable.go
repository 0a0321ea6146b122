package projections

import (
	"context"
	"errors"

	"github.com/dojot-es/dojot"
)

// The interfaces below are what a view kept outside the process
// (Postgres, Mongo) adds to View. Such a view outlives the process and is
// shared by every instance pointed at it, so it must prove it matches the
// log before it is trusted, apply each batch in one transaction with its
// checkpoint, let exactly one instance apply at a time, and be rebuilt
// beside the generation being served.

// TxApplier applies a batch in one transaction together with the
// checkpoint: either every event of evs is applied (or refused, see
// below) and the checkpoint moves to the last one, or nothing changes and
// err says why (the database is unreachable, the lease was lost...). The
// Runner retries a failed batch; it never moves past it.
//
// An event the view cannot apply (a payload it cannot decode) must not stop
// it for everybody: it is skipped inside the transaction and reported in
// refused (nil, or one error per event).
type TxApplier interface {
	ApplyTx(ctx context.Context, evs []dojot.Event) (refused []error, err error)
}

// ErrSwitched is returned by ApplyTx when the generation the view applies
// to is no longer the served one (a rebuild switched over). The Runner then
// reads the checkpoint again and follows the log from there.
var ErrSwitched = errors.New("projections: the view switched to another generation")

// Shared is a view that several instances may serve from at once: one of
// them holds the lease and applies, every one follows the checkpoint to
// answer WaitFor.
type Shared interface {
	// Lead blocks until this instance holds the applier lease, or ctx is
	// done. The returned context is done when the lease is lost (e.g. the
	// database connection that held it broke); release gives it up.
	Lead(ctx context.Context) (lease context.Context, release func(), err error)
	// Follow calls fn with the served generation's checkpoint whenever it
	// moves (whoever applied), until ctx is done.
	Follow(ctx context.Context, fn func(seq uint64)) error
}

// Stamp is what a durable view records about itself, to be checked against
// the log before the view is trusted.
type Stamp struct {
	// Seq is the checkpoint, and EventID the id of the event at Seq (empty
	// when Seq is 0).
	Seq     uint64
	EventID string
	// Schema is the schema version the view was built with; a view of
	// another version than the binary's (SchemaVersion) is rebuilt.
	Schema int
	// Exists is false when there is no view at all yet, or when its
	// checkpoint record is missing.
	Exists bool
}

// Stamped is a view that can be verified against the log.
type Stamped interface {
	// Stamp describes the served generation.
	Stamp(ctx context.Context) (Stamp, error)
	// SchemaVersion is the version of the schema this binary builds.
	SchemaVersion() int
}

// Rebuilder builds a new generation of a view beside the served one and
// switches over atomically.
type Rebuilder interface {
	// Build returns the generation under construction. With fresh false
	// it resumes the one an interrupted rebuild left, if any (from its own
	// checkpoint); otherwise, or with fresh true, it starts an empty one.
	// The returned view is applied to by one Runner (no lease); reads are
	// never served from it.
	Build(ctx context.Context, fresh bool) (Building, error)
}

// Building is a generation under construction.
type Building interface {
	View
	TxApplier
	// Switch makes this generation the served one, atomically, if its
	// checkpoint is at least the served one's; otherwise it returns
	// ErrBehindServed and the caller applies more and tries again. force
	// skips that comparison: the served generation is not trusted (see
	// Check), so its checkpoint means nothing. The old generation is
	// dropped after the switch.
	Switch(ctx context.Context, force bool) error
}

// ErrBehindServed: the new generation has not yet reached the served one.
var ErrBehindServed = errors.New("projections: the new generation is behind the served one")

// EventLookup finds the event stored at a sequence (the event store).
type EventLookup interface {
	EventAt(ctx context.Context, seq uint64) (dojot.Event, error)
}
