// Package commands validates what users ask for, decides the events that
// follow from the current state, and appends them with optimistic
// concurrency. Deciding is a pure function of (state, command, clock,
// randomness); appending and retrying against fresh state is the Handler's
// job. A conflicting concurrent write is retried against fresh state and
// surfaces as dojot.ErrConflict only if it keeps conflicting: never a lost
// update.
package commands

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/dojot-es/dojot"
)

// Store is what commands need from the event store.
type Store interface {
	// Append stores ev if its expectation holds and returns its stream
	// sequence; a failed expectation is an error wrapping dojot.ErrConflict.
	Append(ctx context.Context, ev dojot.Event) (uint64, error)
	// AppendBatch stores many events, pipelined; errs[i] is nil when evs[i]
	// was stored at seqs[i].
	AppendBatch(ctx context.Context, evs []dojot.Event) (seqs []uint64, errs []error)
}

// Syncer lets a command wait until the local view has caught up.
type Syncer interface {
	// WaitFor returns once the view has applied seq (bounded by ctx and the
	// runner's own limit).
	WaitFor(ctx context.Context, seq uint64) error
	// Sync returns once the view has applied everything the store held when
	// Sync was called: used before retrying a conflicting command.
	Sync(ctx context.Context) error
}

// Options are shared by the command handlers.
type Options struct {
	Store  Store
	Sync   Syncer
	Now    func() time.Time // default time.Now
	Rand   io.Reader        // default crypto/rand.Reader
	Logger *slog.Logger
	// Retries is how many times a conflicting command is decided again
	// against fresh state before the conflict reaches the caller (default 5).
	Retries int
}

func (o *Options) setDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Retries == 0 {
		o.Retries = 5
	}
}

// retry runs attempt until it succeeds or fails with something other than a
// conflict; after a conflict it brings the view up to date first, so the next
// decision sees the write that beat it. The successful attempt's last
// sequence is waited for, so a read after the command sees it.
func retry(ctx context.Context, o *Options, attempt func() (uint64, error)) error {
	var err error
	for i := 0; i <= o.Retries; i++ {
		var seq uint64
		seq, err = attempt()
		if err == nil {
			if seq == 0 {
				return nil
			}
			return o.Sync.WaitFor(ctx, seq)
		}
		if !errors.Is(err, dojot.ErrConflict) || isFinal(err) {
			return err
		}
		if serr := o.Sync.Sync(ctx); serr != nil {
			return fmt.Errorf("sync after conflict: %w", serr)
		}
	}
	return err
}

// isFinal tells a conflict the user must see (a *dojot.Error such as "username
// in use") from a store-level expectation failure that a retry can fix.
func isFinal(err error) bool {
	var de *dojot.Error
	return errors.As(err, &de)
}
