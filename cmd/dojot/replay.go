package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/projections/memory"
)

// replay is `dojot replay`: it rebuilds the -view from the event log into
// a new generation and switches the served view over once caught up. It
// can run while instances serve from the view (they keep serving the old
// generation until the switch); with the embedded NATS it needs the data
// dir to itself, so stop `dojot serve` first or point -nats-url at a
// serving instance's -nats-listen.
func replay(ctx context.Context, cfg *Config, log *slog.Logger, progressOut io.Writer) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("-data-dir %s: %w", cfg.DataDir, err)
	}
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	progress, every := barProgress(progressOut, cfg.View)
	last, err := store.LastSeq(ctx)
	if err != nil {
		return err
	}
	log.Info("replay", "view", cfg.View, "from", max(cfg.From, 1), "last", last)
	if cfg.View == "memory" {
		return replayMemory(ctx, cfg, store, log, progress, every)
	}
	dv, closeView, err := openDurable(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeView()
	reason, err := projections.Check(ctx, store, dv)
	if err != nil {
		return err
	}
	if reason != "" {
		log.Warn("the served view is not trusted: the new one replaces it however far it got", "reason", reason)
	}
	err = projections.Rebuild(ctx, store, dv, projections.RebuildOptions{
		Fresh: cfg.Fresh, From: cfg.From, Force: reason != "", Every: every, Progress: progress,
		Runner: projections.Options{Logger: log},
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("replay interrupted; run it again to resume: %w", ctx.Err())
		}
		return err
	}
	if n := store.Unopened(); n > 0 {
		return fmt.Errorf("-psk-key: the pre-shared keys of %d events did not open with this key (logged above): the view was built without them; replay again with the deployment's key", n)
	}
	st, err := dv.Stamp(ctx)
	if err != nil {
		return err
	}
	log.Info("replay done: the new view is served", "view", cfg.View, "checkpoint", st.Seq)
	return nil
}

// replayMemory builds a memory view from the log and throws it away: the
// memory view is rebuilt at every start, so this only measures how long
// that takes.
func replayMemory(ctx context.Context, cfg *Config, store projections.Source, log *slog.Logger, progress func(projections.Progress), every time.Duration) error {
	r := projections.NewRunner(store, memory.New(), projections.Options{Logger: log, From: cfg.From})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	defer func() { stop(); <-done }()
	defer replayGC(cfg.ReplayMemory, log)()
	return projections.ReplayProgress(ctx, r, store, every, progress)
}
