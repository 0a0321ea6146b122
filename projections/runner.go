package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dojot-es/dojot"
)

// Options configure a Runner. A zero field means the default.
type Options struct {
	Logger *slog.Logger
	// WaitTimeout bounds how long WaitFor blocks for a sequence (default 5 s):
	// a view that cannot keep up answers 503 instead of hanging requests.
	WaitTimeout time.Duration
	// Retry is the pause before following the log again after the
	// subscription broke (default 500 ms).
	Retry time.Duration
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.WaitTimeout == 0 {
		o.WaitTimeout = 5 * time.Second
	}
	if o.Retry == 0 {
		o.Retry = 500 * time.Millisecond
	}
}

// Runner feeds a View from a Source, from the view's checkpoint onwards, and
// tells callers when a sequence has been applied.
type Runner struct {
	src  Source
	view View
	opts Options

	applied atomic.Uint64
	waiters atomic.Int32 // only then is there a channel worth closing

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when applied moves and someone waits
	failed  atomic.Uint64 // events the view refused
}

// NewRunner returns a runner; call Run to start it.
func NewRunner(src Source, view View, opts Options) *Runner {
	opts.setDefaults()
	return &Runner{src: src, view: view, opts: opts, changed: make(chan struct{})}
}

// Run follows the log until ctx is done, subscribing again from the last
// applied sequence when the subscription breaks (e.g. NATS restarted).
func (r *Runner) Run(ctx context.Context) error {
	cp, err := r.view.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	r.advance(cp)
	for {
		err := r.src.Subscribe(ctx, r.applied.Load()+1, r.apply)
		if ctx.Err() != nil {
			return nil
		}
		r.opts.Logger.Warn("projection subscription ended, following again", "err", err, "seq", r.applied.Load())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.opts.Retry):
		}
	}
}

func (r *Runner) apply(ev dojot.Event) error {
	if err := r.view.Apply(context.Background(), ev); err != nil {
		// One bad event must not stop the view for everybody: it is logged,
		// counted, and the view moves on (its checkpoint includes it).
		r.failed.Add(1)
		r.opts.Logger.Error("projection apply failed", "seq", ev.Seq, "type", ev.Type, "err", err)
	}
	r.advance(ev.Seq)
	return nil
}

func (r *Runner) advance(seq uint64) {
	if seq <= r.applied.Load() {
		return
	}
	r.applied.Store(seq)
	if r.waiters.Load() == 0 {
		return
	}
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Applied is the sequence of the last event applied.
func (r *Runner) Applied() uint64 { return r.applied.Load() }

// Failed counts events the view could not apply.
func (r *Runner) Failed() uint64 { return r.failed.Load() }

// ErrBehind is returned when the view did not reach a sequence in time.
var ErrBehind = &dojot.Error{Kind: dojot.ErrUnavailable, Message: "the view is catching up, try again"}

// WaitFor returns once seq has been applied, or ErrBehind after WaitTimeout.
func (r *Runner) WaitFor(ctx context.Context, seq uint64) error {
	if r.applied.Load() >= seq {
		return nil
	}
	r.waiters.Add(1)
	defer r.waiters.Add(-1)
	timer := time.NewTimer(r.opts.WaitTimeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		// Checked after taking the channel, so an advance between the two
		// is never missed.
		if r.applied.Load() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("wait for seq %d (applied %d): %w", seq, r.applied.Load(), ErrBehind)
		}
	}
}

// Sync returns once everything the log held when it was called is applied.
func (r *Runner) Sync(ctx context.Context) error {
	last, err := r.src.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("last seq: %w", err)
	}
	return r.WaitFor(ctx, last)
}

// CatchUp waits, without the WaitFor bound, until the view has applied the
// whole log as it was at the call: the start-up replay.
func (r *Runner) CatchUp(ctx context.Context) error {
	last, err := r.src.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("last seq: %w", err)
	}
	for {
		err := r.WaitFor(ctx, last)
		if !errors.Is(err, ErrBehind) {
			return err
		}
	}
}
