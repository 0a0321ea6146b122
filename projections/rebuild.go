package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dojot-es/dojot"
)

// Log is the event log as Check and Rebuild read it (the event store).
type Log interface {
	Source
	EventLookup
}

// Check tells whether a durable view may be trusted: "" if it matches the
// log, else why it must be rebuilt. A view is not trusted when it has no
// checkpoint, was built with another schema version, has a checkpoint
// beyond the log's end, or recorded another event at its checkpoint than
// the log holds there (the log was replaced, e.g. a new NATS with the same
// database).
func Check(ctx context.Context, log Log, v Stamped) (reason string, err error) {
	st, err := v.Stamp(ctx)
	if err != nil {
		return "", fmt.Errorf("view stamp: %w", err)
	}
	if !st.Exists {
		return "the view has no checkpoint", nil
	}
	if want := v.SchemaVersion(); st.Schema != want {
		return fmt.Sprintf("the view has schema version %d, this binary builds %d", st.Schema, want), nil
	}
	last, err := log.LastSeq(ctx)
	if err != nil {
		return "", fmt.Errorf("last seq: %w", err)
	}
	if st.Seq > last {
		return fmt.Sprintf("the view's checkpoint %d is beyond the log's last event %d", st.Seq, last), nil
	}
	if st.Seq == 0 {
		return "", nil
	}
	ev, err := log.EventAt(ctx, st.Seq)
	if errors.Is(err, dojot.ErrNotFound) {
		return fmt.Sprintf("the log holds no event at the view's checkpoint %d", st.Seq), nil
	}
	if err != nil {
		return "", fmt.Errorf("event at checkpoint: %w", err)
	}
	if ev.ID != st.EventID {
		return fmt.Sprintf("the event at the view's checkpoint %d is %s in the log, %s in the view", st.Seq, ev.ID, st.EventID), nil
	}
	return "", nil
}

// Progress is how far a replay is.
type Progress struct {
	Applied, Last uint64 // sequences: applied so far, and the log's end
	Events        uint64 // events applied by this replay
	Elapsed       time.Duration
	Rate          float64       // events per second so far
	ETA           time.Duration // at that rate (0 when unknown or done)
	Done          bool
}

// RebuildOptions configure Rebuild.
type RebuildOptions struct {
	// Fresh starts an empty generation even if an interrupted rebuild
	// left one to resume.
	Fresh bool
	// Force switches over once the new generation has caught up with the
	// log, however far the served one got: for a served generation that
	// Check does not trust.
	Force bool
	// From skips the events before it (default: the whole log).
	From uint64
	// Progress, when set, is called about every Every (default 1 s) and
	// once more when done.
	Progress func(Progress)
	Every    time.Duration
	Runner   Options
}

// Rebuild builds a new generation of a view from the log beside the served
// one, and switches over once it has caught up with the log (and with the
// served generation, which other instances may go on applying to meanwhile).
// An interruption leaves the new generation to be resumed by the next
// Rebuild without Fresh.
func Rebuild(ctx context.Context, log Log, rb Rebuilder, opts RebuildOptions) error {
	b, err := rb.Build(ctx, opts.Fresh)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	if cp, err := b.Checkpoint(ctx); err == nil && cp > 0 && opts.Runner.Logger != nil {
		opts.Runner.Logger.Info("resuming an interrupted rebuild", "seq", cp)
	}
	// Wrapped, so that the build's runner sees only Building's methods
	// (never a lease: the new generation has one writer, this one).
	runner := opts.Runner
	runner.From = opts.From
	r := NewRunner(log, building{b}, runner)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	defer func() { stop(); <-done }()
	for {
		if err := ReplayProgress(ctx, r, log, opts.Every, opts.Progress); err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
		err := b.Switch(ctx, opts.Force)
		if !errors.Is(err, ErrBehindServed) {
			if err != nil {
				return fmt.Errorf("rebuild: switch: %w", err)
			}
			return nil
		}
		if !sleep(ctx, 50*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// ReplayProgress waits until r has applied the log as it is at the call,
// calling progress about every every (default 1 s) and once when done.
func ReplayProgress(ctx context.Context, r *Runner, log Source, every time.Duration, progress func(Progress)) error {
	if every <= 0 {
		every = time.Second
	}
	last, err := log.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("last seq: %w", err)
	}
	start, from := time.Now(), r.Applied()
	report := func(done bool) {
		if progress == nil {
			return
		}
		p := Progress{Applied: r.Applied(), Last: last, Elapsed: time.Since(start), Done: done}
		if p.Applied > from {
			p.Events = p.Applied - from
		}
		if s := p.Elapsed.Seconds(); s > 0 {
			p.Rate = float64(p.Events) / s
		}
		if !done && p.Rate > 0 && last > p.Applied {
			p.ETA = time.Duration(float64(last-p.Applied) / p.Rate * float64(time.Second))
		}
		progress(p)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		wait, cancel := context.WithTimeout(ctx, every)
		err := r.WaitFor(wait, last)
		cancel()
		switch {
		case err == nil:
			report(true)
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, ErrBehind) && !errors.Is(err, context.DeadlineExceeded):
			return err
		}
		select {
		case <-tick.C:
			report(false)
		default:
		}
	}
}

// building shows a runner only what Building has.
type building struct{ Building }
