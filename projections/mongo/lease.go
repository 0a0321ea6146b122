package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Lease is an applier lease: the document {_id: ID, owner, expires} in
// Coll, held by one Owner at a time. The Mongo view and the Mongo history
// (projections/history) each let one instance apply through one.
type Lease struct {
	Coll    *mongo.Collection
	ID      string
	Owner   string
	TTL     time.Duration // how long a holder keeps it unrenewed
	Timeout time.Duration // bounds the release
	Logger  *slog.Logger

	// leading is set while this process holds the lease: an applier then
	// checks, with each batch, that it still does.
	leading atomic.Bool
}

// Leading reports whether this process holds the lease (between Lead
// and release).
func (l *Lease) Leading() bool { return l.leading.Load() }

// Lead blocks until this process holds the lease, or ctx is done. The
// lease lasts TTL and is renewed every TTL/5; the returned context is
// cancelled when a renewal fails or finds the lease taken, and release
// gives it up at once so that another instance need not wait for it to
// expire.
//
// Expiry is judged by each instance's clock: clocks must agree to well
// within TTL.
func (l *Lease) Lead(ctx context.Context) (context.Context, func(), error) {
	for {
		ok, err := l.acquire(ctx)
		if err != nil && ctx.Err() == nil {
			l.Logger.Warn("lease", "err", err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(l.TTL / 5):
		}
	}
	l.leading.Store(true)
	l.Logger.Info("leading", "lease", l.ID, "owner", l.Owner)
	lease, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		tick := time.NewTicker(l.TTL / 5)
		defer tick.Stop()
		for {
			select {
			case <-lease.Done():
				return
			case <-tick.C:
			}
			if err := l.renew(lease); err != nil {
				if lease.Err() == nil {
					l.Logger.Warn("lease lost", "lease", l.ID, "err", err)
				}
				return
			}
		}
	}()
	release := func() {
		cancel()
		<-done
		l.leading.Store(false)
		rctx, rcancel := context.WithTimeout(context.Background(), l.Timeout)
		defer rcancel()
		if _, err := l.Coll.DeleteOne(rctx, bson.D{{Key: "_id", Value: l.ID}, {Key: "owner", Value: l.Owner}}); err != nil {
			l.Logger.Warn("release lease", "lease", l.ID, "err", wrap("release lease", err))
		}
	}
	return lease, release, nil
}

// acquire takes the lease if it is free, expired or already this
// process's. Without a lease document the upsert creates it; with one held
// by another instance the filter misses and the upsert's insert collides
// on _id.
func (l *Lease) acquire(ctx context.Context) (bool, error) {
	now := time.Now()
	filter := bson.D{{Key: "_id", Value: l.ID}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "owner", Value: l.Owner}},
		bson.D{{Key: "expires", Value: bson.D{{Key: "$lt", Value: now}}}},
	}}}
	_, err := l.Coll.UpdateOne(ctx, filter, set("owner", l.Owner, "expires", now.Add(l.TTL)), options.UpdateOne().SetUpsert(true))
	switch {
	case err == nil:
		return true, nil
	case mongo.IsDuplicateKeyError(err):
		return false, nil
	default:
		return false, wrap("acquire lease", err)
	}
}

// renew extends the lease if this process still holds it.
func (l *Lease) renew(ctx context.Context) error {
	res, err := l.Coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: l.ID}, {Key: "owner", Value: l.Owner}},
		set("expires", time.Now().Add(l.TTL)))
	if err != nil {
		return wrap("renew lease", err)
	}
	if res.MatchedCount == 0 {
		return errors.New("taken by another instance")
	}
	return nil
}

// Lead blocks until this View holds the applier lease (the meta "applier"
// document), or ctx is done; see Lease. While it leads, ApplyTx also
// checks the lease before and after each batch, so an applier whose
// renewals stalled stops writing once another instance took over.
func (v *View) Lead(ctx context.Context) (context.Context, func(), error) {
	return v.lease.Lead(ctx)
}

// Follow calls fn with the served generation's checkpoint whenever it
// moves (a batch applied by any instance, or a switch to another
// generation); see PollCheckpoint.
func (v *View) Follow(ctx context.Context, fn func(seq uint64)) error {
	return PollCheckpoint(ctx, v.opts.FollowInterval, v.servedSeq, fn, v.opts.Logger.With("component", "mongo view"))
}

// PollCheckpoint calls fn with the checkpoint read returns whenever it
// moves, reading it every interval: FerretDB has no change streams, and a
// poll of one small document is cheap. It calls fn once at the start, and
// returns nil when ctx is done; a failing read is logged and tried again.
func PollCheckpoint(ctx context.Context, interval time.Duration, read func(context.Context) (uint64, error), fn func(seq uint64), log *slog.Logger) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last, first := uint64(0), true
	for {
		seq, err := read(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("follow", "err", err)
		case err == nil && (first || seq != last):
			fn(seq)
			last, first = seq, false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// servedSeq reads the served generation's checkpoint, and keeps the
// generation for reads.
func (v *View) servedSeq(ctx context.Context) (uint64, error) {
	gen, ok, err := v.served(ctx)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("mongo: no served generation")
	}
	v.setReadGen(gen)
	d, _, err := checkpoint(ctx, v.database(gen))
	return uint64(d.Seq), err
}
