package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
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
	// From skips the log before this sequence: the runner starts after
	// the view's checkpoint or at From, whichever is later (replay -from).
	From uint64
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

// BatchApplier is a View that applies several events in one call (under
// one lock, in one transaction). The Runner hands such a view the events
// that are queued up at once (many during a replay, usually one when
// following), instead of calling Apply for each.
type BatchApplier interface {
	// ApplyBatch applies evs in order, as Apply would one after the other.
	// It returns nil when every event applied, else one error (or nil) per
	// event.
	ApplyBatch(ctx context.Context, evs []dojot.Event) []error
}

// queueLen bounds the events decoded ahead of the view; maxBatch bounds
// how many are applied in one call (and so how long a view holds its lock).
const (
	queueLen = 1024
	maxBatch = 256
)

// Runner feeds a View from a Source, from the view's checkpoint onwards, and
// tells callers when a sequence has been applied.
//
// The source's goroutine decodes and queues events; another one applies
// them, in batches when they arrive faster than the view applies them (the
// start-up replay), so decoding and applying run side by side.
type Runner struct {
	src  Source
	view View
	opts Options

	applied atomic.Uint64
	// wakeAt is the lowest sequence a WaitFor waits for (MaxUint64: none),
	// so that advancing below it costs one atomic load.
	wakeAt atomic.Uint64

	mu      sync.Mutex
	waiters map[*waiter]struct{}
	failed  atomic.Uint64 // events the view refused
}

// waiter is a WaitFor in progress: ch is closed once seq is applied.
type waiter struct {
	seq uint64
	ch  chan struct{}
}

// NewRunner returns a runner; call Run to start it.
func NewRunner(src Source, view View, opts Options) *Runner {
	opts.setDefaults()
	r := &Runner{src: src, view: view, opts: opts, waiters: make(map[*waiter]struct{})}
	r.wakeAt.Store(math.MaxUint64)
	return r
}

// Run follows the log until ctx is done, subscribing again after the last
// event received when the subscription breaks (e.g. NATS restarted).
//
// A Shared view is applied by one instance at a time: Run follows the
// view's checkpoint (so WaitFor works whoever applies) and applies only
// while it holds the view's lease, taking it again when it can after
// losing it.
func (r *Runner) Run(ctx context.Context) error {
	sh, ok := r.view.(Shared)
	if !ok {
		return r.apply(ctx)
	}
	go r.follow(ctx, sh)
	for {
		lease, release, err := sh.Lead(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			r.opts.Logger.Warn("projection lease unavailable, trying again", "err", err)
			if !sleep(ctx, r.opts.Retry) {
				return nil
			}
			continue
		}
		r.opts.Logger.Info("projection lease taken: this instance applies events to the view")
		err = r.apply(lease)
		release()
		if ctx.Err() != nil {
			return nil
		}
		r.opts.Logger.Warn("projection lease lost, following the view", "err", err)
	}
}

// follow advances the runner with the checkpoint of a shared view, until
// ctx is done.
func (r *Runner) follow(ctx context.Context, sh Shared) {
	for {
		err := sh.Follow(ctx, r.advance)
		if ctx.Err() != nil {
			return
		}
		r.opts.Logger.Warn("following the view's checkpoint failed, trying again", "err", err)
		if !sleep(ctx, r.opts.Retry) {
			return
		}
	}
}

// apply applies the log to the view until ctx is done, starting over from
// the view's checkpoint when the view switched generation.
func (r *Runner) apply(ctx context.Context) error {
	for {
		err := r.applyFrom(ctx)
		if !errors.Is(err, ErrSwitched) {
			return err
		}
		r.opts.Logger.Info("the view switched generation, applying from its checkpoint")
	}
}

// applyFrom reads the view's checkpoint (again and again while the view
// is unreachable) and applies the log from there.
func (r *Runner) applyFrom(ctx context.Context) error {
	var cp uint64
	for {
		var err error
		if cp, err = r.view.Checkpoint(ctx); err == nil {
			cp = max(cp, max(r.opts.From, 1)-1)
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if _, durable := r.view.(TxApplier); !durable {
			return fmt.Errorf("checkpoint: %w", err)
		}
		r.opts.Logger.Warn("projection checkpoint unreadable, trying again", "err", err)
		if !sleep(ctx, r.opts.Retry) {
			return nil
		}
	}
	r.advance(cp)
	ctx, cancel := context.WithCancelCause(ctx)
	q := make(chan dojot.Event, queueLen)
	stopped := make(chan struct{})
	go func() { defer close(stopped); r.applyLoop(ctx, cancel, q) }()
	defer func() { cancel(nil); <-stopped }()
	// queued is the last sequence handed to the applier: a new
	// subscription starts after it. Atomic, since a subscription may call
	// fn on a goroutine of its own.
	var queued atomic.Uint64
	queued.Store(cp)
	enqueue := func(ev dojot.Event) error {
		select {
		case q <- ev:
			queued.Store(ev.Seq)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		err := r.src.Subscribe(ctx, queued.Load()+1, enqueue)
		if ctx.Err() != nil {
			if cause := context.Cause(ctx); errors.Is(cause, ErrSwitched) {
				return cause
			}
			return nil
		}
		r.opts.Logger.Warn("projection subscription ended, following again", "err", err, "seq", queued.Load())
		if !sleep(ctx, r.opts.Retry) {
			return nil
		}
	}
}

// sleep waits d, or less if ctx is done first; it reports whether ctx is
// still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// applyLoop applies what q holds, as many events at a time as are queued
// (up to maxBatch), until ctx is done. A view that applies in transactions
// gets a failed batch again until it takes (the log must not move past
// it); one that switched generation stops the loop with ErrSwitched.
func (r *Runner) applyLoop(ctx context.Context, stop context.CancelCauseFunc, q <-chan dojot.Event) {
	batch := make([]dojot.Event, 0, maxBatch)
	tx, _ := r.view.(TxApplier)
	ba, _ := r.view.(BatchApplier)
	for {
		select {
		case ev := <-q:
			batch = append(batch, ev)
		case <-ctx.Done():
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case ev := <-q:
				batch = append(batch, ev)
			default:
				break fill
			}
		}
		switch {
		case tx != nil:
			// A database outage fails every try: say so when it starts,
			// every 30 s while it lasts, and when it ends.
			var failures int
			var since, said time.Time
			for {
				refused, err := tx.ApplyTx(ctx, batch)
				if err == nil {
					if failures > 0 {
						r.opts.Logger.Info("projection batch applied after failures", "from", batch[0].Seq, "failures", failures, "for", time.Since(since).Round(time.Millisecond).String())
					}
					for i, err := range refused {
						if err != nil {
							r.refused(batch[i], err)
						}
					}
					break
				}
				if errors.Is(err, ErrSwitched) {
					stop(err)
					return
				}
				if ctx.Err() != nil {
					return
				}
				if failures++; failures == 1 {
					since = time.Now()
				}
				if time.Since(said) >= 30*time.Second {
					said = time.Now()
					r.opts.Logger.Warn("projection batch failed, trying again", "from", batch[0].Seq, "to", batch[len(batch)-1].Seq,
						"failures", failures, "for", time.Since(since).Round(time.Millisecond).String(), "err", err)
				}
				if !sleep(ctx, r.opts.Retry) {
					return
				}
			}
		case ba != nil:
			for i, err := range ba.ApplyBatch(context.Background(), batch) {
				if err != nil {
					r.refused(batch[i], err)
				}
			}
		default:
			for _, ev := range batch {
				if err := r.view.Apply(context.Background(), ev); err != nil {
					r.refused(ev, err)
				}
			}
		}
		r.advance(batch[len(batch)-1].Seq)
		clear(batch) // let the payloads go
		batch = batch[:0]
	}
}

// refused: one bad event must not stop the view for everybody. It is
// logged, counted, and the view moves on (its checkpoint includes it).
func (r *Runner) refused(ev dojot.Event, err error) {
	r.failed.Add(1)
	r.opts.Logger.ErrorContext(ev.Context(context.Background()), "projection apply failed", "seq", ev.Seq, "type", ev.Type, "err", err)
}

func (r *Runner) advance(seq uint64) {
	if seq <= r.applied.Load() {
		return
	}
	r.applied.Store(seq)
	// applied is stored before wakeAt is read, and WaitFor registers
	// before it reads applied: one of the two sees the other.
	if seq < r.wakeAt.Load() {
		return
	}
	r.mu.Lock()
	low := uint64(math.MaxUint64)
	for w := range r.waiters {
		if w.seq <= seq {
			close(w.ch)
			delete(r.waiters, w)
		} else {
			low = min(low, w.seq)
		}
	}
	r.wakeAt.Store(low)
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
	w := &waiter{seq: seq, ch: make(chan struct{})}
	r.mu.Lock()
	r.waiters[w] = struct{}{}
	if seq < r.wakeAt.Load() {
		r.wakeAt.Store(seq)
	}
	r.mu.Unlock()
	defer r.forget(w)
	// Checked after registering, so an advance between the two is never
	// missed.
	if r.applied.Load() >= seq {
		return nil
	}
	timer := time.NewTimer(r.opts.WaitTimeout)
	defer timer.Stop()
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("wait for seq %d (applied %d): %w", seq, r.applied.Load(), ErrBehind)
	}
}

// forget unregisters a waiter that advance did not wake.
func (r *Runner) forget(w *waiter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.waiters[w]; !ok {
		return
	}
	delete(r.waiters, w)
	if w.seq == r.wakeAt.Load() {
		low := uint64(math.MaxUint64)
		for o := range r.waiters {
			low = min(low, o.seq)
		}
		r.wakeAt.Store(low)
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
