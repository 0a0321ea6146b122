package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/cron"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/projections/memory"
)

// cronClaimsTTL is how long a tick's claim is kept: ten times the
// lateness after which no instance tries a tick (cron.Options.MaxLate, a
// minute), which leaves room for clocks that disagree by minutes. Longer
// would only fill the bucket: an every-second job claims 86,400 keys a
// day.
const cronClaimsTTL = 10 * time.Minute

// startCron runs the cron scheduler unless -cron=false, under wg until ctx
// is done: it fires the jobs of the memory view, each tick claimed in the
// CRON_TICKS bucket so one instance of the deployment fires it.
func startCron(ctx context.Context, cfg *Config, store *eventstore.Store, view *memory.View, devices *commands.Devices, log *slog.Logger, wg *sync.WaitGroup) (*cron.Scheduler, error) {
	if !cfg.Cron {
		return nil, nil
	}
	claims, err := store.KVWithTTL(ctx, "CRON_TICKS", cronClaimsTTL)
	if err != nil {
		return nil, err
	}
	s, err := cron.New(cron.Options{Jobs: view, Claims: claims, Actuator: devices, Data: store, Devices: view, Tenants: view,
		AllowedURLs: cfg.cronAllowedURLs(), HTTPTimeout: cfg.CronHTTPTimeout, Logger: log})
	if err != nil {
		return nil, err
	}
	goRun(ctx, wg, log, s.Run, "cron: stopped")
	return s, nil
}
