package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/gateway"
	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/projections/mongo"
	"github.com/dojot-es/dojot/projections/postgres"
)

// durableView is a view kept in PostgreSQL or MongoDB: shared by every
// instance pointed at it, verified against the log at start, rebuilt
// beside the served generation.
type durableView interface {
	projections.View
	projections.TxApplier
	projections.Shared
	projections.Stamped
	projections.Rebuilder
	gateway.Reads
	x509Reads // x509.go
}

// openDurable opens the view -view names (nil for memory); close releases
// it.
func openDurable(ctx context.Context, cfg *Config, log *slog.Logger) (v durableView, close func(), err error) {
	switch cfg.View {
	case "postgres":
		pg, err := postgres.Open(ctx, postgres.Options{URL: cfg.PostgresURL, Name: cfg.ViewName, Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("-postgres-url: %w", err)
		}
		return pg, pg.Close, nil
	case "mongo":
		m, err := mongo.Open(ctx, mongo.Options{URL: cfg.MongoURL, Database: cfg.ViewName, Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("-mongo-url: %w", err)
		}
		return m, func() { _ = m.Close() }, nil
	}
	return nil, nil, nil
}

// trust checks a durable view against the log and rebuilds it when it
// cannot be trusted (no checkpoint, another schema version, a checkpoint
// the log does not hold). The rebuild runs under the applier lease, so that
// of several instances starting together one rebuilds and the others,
// checking again once they get the lease, find the view rebuilt.
func trust(ctx context.Context, store *eventstore.Store, v durableView, cfg *Config, log *slog.Logger) error {
	reason, err := projections.Check(ctx, store, v)
	if err != nil || reason == "" {
		return err
	}
	lease, release, err := v.Lead(ctx)
	if err != nil {
		return fmt.Errorf("view lease: %w", err)
	}
	defer release()
	if reason, err = projections.Check(lease, store, v); err != nil || reason == "" {
		return err
	}
	log.Warn("rebuilding the view from the event log", "view", cfg.View, "reason", reason)
	return projections.Rebuild(lease, store, v, projections.RebuildOptions{
		Force:    true,
		Every:    5 * time.Second,
		Progress: logProgress(log, cfg.View),
		Runner:   projections.Options{Logger: log},
	})
}

// logProgress reports a replay as log lines.
func logProgress(log *slog.Logger, view string) func(projections.Progress) {
	return func(p projections.Progress) {
		log.Info("view replay", "view", view, "applied", p.Applied, "last", p.Last,
			"events_per_s", int(p.Rate), "eta", p.ETA.Round(time.Second).String(), "done", p.Done)
	}
}

// barProgress draws a progress bar on a terminal, or prints a plain line
// every 5 s when w is not one (a log file, CI).
func barProgress(w io.Writer, view string) (fn func(projections.Progress), every time.Duration) {
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return func(p projections.Progress) {
				fmt.Fprintf(w, "\r%s %s", bar(p), stats(p))
				if p.Done {
					fmt.Fprintln(w)
				}
			}, 200 * time.Millisecond
		}
	}
	return func(p projections.Progress) {
		fmt.Fprintf(w, "replay %s: %s\n", view, stats(p))
	}, 5 * time.Second
}

func bar(p projections.Progress) string {
	const width = 30
	frac := 1.0
	if p.Last > 0 {
		frac = min(1, float64(p.Applied)/float64(p.Last))
	}
	n := int(frac * width)
	return fmt.Sprintf("[%s%s] %3.0f%%", strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100)
}

func stats(p projections.Progress) string {
	s := fmt.Sprintf("%d/%d events, %.0f events/s", p.Applied, p.Last, p.Rate)
	if p.Done {
		return s + fmt.Sprintf(", done in %s", p.Elapsed.Round(10*time.Millisecond))
	}
	return s + fmt.Sprintf(", ETA %s   ", p.ETA.Round(time.Second))
}

// syncAll waits for several views: a write is answered once the memory
// view that commands decide against and the view the gateway reads have
// both applied it.
type syncAll []interface {
	WaitFor(ctx context.Context, seq uint64) error
	Sync(ctx context.Context) error
}

func (s syncAll) WaitFor(ctx context.Context, seq uint64) error {
	for _, v := range s {
		if err := v.WaitFor(ctx, seq); err != nil {
			return err
		}
	}
	return nil
}

func (s syncAll) Sync(ctx context.Context) error {
	for _, v := range s {
		if err := v.Sync(ctx); err != nil {
			return err
		}
	}
	return nil
}
