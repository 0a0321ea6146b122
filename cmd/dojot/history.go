package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/projections/history"
)

// historyView is what serve needs of a history view: the gateway's reads
// and the two projections that feed it.
type historyView interface {
	Known(ctx context.Context, tenant, id string) (bool, error)
	Find(ctx context.Context, tenant, id string, q history.Query) ([]history.Doc, error)
	Attrs(ctx context.Context, tenant, id string) ([]string, error)
	FindNotifications(ctx context.Context, tenant string, q history.NotificationQuery) ([]history.Notification, error)
}

// historyService is the running persister: the view and its runners
// (DATA, EVENTS, NOTIFICATIONS).
type historyService struct {
	view                            historyView
	readings, events, notifications *projections.Runner
	store                           *eventstore.Store
	// close releases the view once its runners stopped (nil: nothing to).
	close func() error

	// The DATA stream's last sequence, asked at most once a second: a
	// load balancer polling /healthz must not cost JetStream a request
	// each time.
	mu     sync.Mutex
	last   uint64
	lastAt time.Time
}

// historyStatus is what /healthz shows of the persister.
type historyStatus struct {
	View string `json:"view"`
	// ReadingsSeq and EventsSeq are the last sequences applied from DATA
	// and EVENTS; ReadingsLag is how many readings DATA holds past it.
	ReadingsSeq uint64 `json:"readings_seq"`
	ReadingsLag uint64 `json:"readings_lag"`
	EventsSeq   uint64 `json:"events_seq"`
	// NotificationsSeq is the last sequence applied from NOTIFICATIONS.
	NotificationsSeq uint64 `json:"notifications_seq"`
	Refused          uint64 `json:"refused,omitempty"`
}

// startHistory starts the persister -history names, following DATA and
// EVENTS until ctx is done; wg tracks its goroutines. The memory view is
// rebuilt in the background: the History API answers from what it holds
// meanwhile, and /healthz shows how far it is.
func startHistory(ctx context.Context, cfg *Config, store *eventstore.Store, log *slog.Logger, wg *sync.WaitGroup) (*historyService, error) {
	log = log.With("component", "history", "view", cfg.History)
	var readings, events, notes projections.View
	var hs historyService
	switch cfg.History {
	case "memory":
		m := history.NewMemory(store)
		hs.view, readings, events, notes = m, m.Readings(), m.Events(), m.Notifications()
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.KeepRetention(ctx, store, cfg.DataMaxAge, 30*time.Second)
		}()
	case "mongo":
		m, err := history.OpenMongo(ctx, history.MongoOptions{URL: cfg.MongoURL, Database: cfg.HistoryDB, Expiration: cfg.HistoryExpiration, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("-history mongo: %w", err)
		}
		hs.view, readings, events, notes, hs.close = m, m.Readings(), m.Events(), m.Notifications(), m.Close
	default:
		return nil, fmt.Errorf("-history %s: not available", cfg.History)
	}
	hs.store = store
	hs.readings = projections.NewRunner(store.DataLog(), readings, projections.Options{Logger: log.With("stream", "DATA")})
	hs.events = projections.NewRunner(store, events, projections.Options{Logger: log.With("stream", "EVENTS")})
	hs.notifications = projections.NewRunner(store.NotificationLog(), notes, projections.Options{Logger: log.With("stream", "NOTIFICATIONS")})
	for _, r := range []*projections.Runner{hs.readings, hs.events, hs.notifications} {
		goRun(ctx, wg, log, r.Run, "history runner stopped")
	}
	return &hs, nil
}

// Close releases the view; call it after the runners stopped.
func (hs *historyService) Close() error {
	if hs.close == nil {
		return nil
	}
	return hs.close()
}

// Status is a snapshot for /healthz.
func (hs *historyService) Status(ctx context.Context, name string) historyStatus {
	st := historyStatus{View: name, ReadingsSeq: hs.readings.Applied(), EventsSeq: hs.events.Applied(), NotificationsSeq: hs.notifications.Applied(),
		Refused: hs.readings.Failed() + hs.events.Failed() + hs.notifications.Failed()}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if time.Since(hs.lastAt) > time.Second {
		if _, last, err := hs.store.DataRange(ctx); err == nil {
			hs.last, hs.lastAt = last, time.Now()
		}
	}
	if hs.last > st.ReadingsSeq {
		st.ReadingsLag = hs.last - st.ReadingsSeq
	}
	return st
}
