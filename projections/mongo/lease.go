package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Lead blocks until this View holds the applier lease (the meta "applier"
// document: {owner, expires}), or ctx is done. The lease lasts LeaseTTL
// and is renewed every LeaseTTL/5; the returned context is cancelled when
// a renewal fails or finds the lease taken, and release gives it up at
// once so that another instance need not wait for it to expire.
//
// Expiry is judged by each instance's clock: clocks must agree to well
// within LeaseTTL. While it leads, ApplyTx also checks the lease before
// and after each batch, so an applier whose renewals stalled stops
// writing once another instance took over.
func (v *View) Lead(ctx context.Context) (context.Context, func(), error) {
	ttl := v.opts.LeaseTTL
	for {
		ok, err := v.acquire(ctx)
		if err != nil {
			v.opts.Logger.Warn("mongo view: lease", "err", err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(ttl / 5):
		}
	}
	v.leading.Store(true)
	v.opts.Logger.Info("mongo view: leading", "owner", v.owner)
	lease, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		tick := time.NewTicker(ttl / 5)
		defer tick.Stop()
		for {
			select {
			case <-lease.Done():
				return
			case <-tick.C:
			}
			if err := v.renew(lease); err != nil {
				if lease.Err() == nil {
					v.opts.Logger.Warn("mongo view: lease lost", "err", err)
				}
				return
			}
		}
	}()
	release := func() {
		cancel()
		<-done
		v.leading.Store(false)
		rctx, rcancel := context.WithTimeout(context.Background(), v.opts.Timeout)
		defer rcancel()
		if _, err := v.meta.DeleteOne(rctx, bson.D{{Key: "_id", Value: metaApplier}, {Key: "owner", Value: v.owner}}); err != nil {
			v.opts.Logger.Warn("mongo view: release lease", "err", wrap("release lease", err))
		}
	}
	return lease, release, nil
}

// acquire takes the lease if it is free, expired or already this View's.
// Without a lease document the upsert creates it; with one held by another
// instance the filter misses and the upsert's insert collides on _id.
func (v *View) acquire(ctx context.Context) (bool, error) {
	now := time.Now()
	filter := bson.D{{Key: "_id", Value: metaApplier}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "owner", Value: v.owner}},
		bson.D{{Key: "expires", Value: bson.D{{Key: "$lt", Value: now}}}},
	}}}
	err := v.meta.FindOneAndUpdate(ctx, filter, set("owner", v.owner, "expires", now.Add(v.opts.LeaseTTL)),
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Err()
	switch {
	case err == nil:
		return true, nil
	case mongo.IsDuplicateKeyError(err):
		return false, nil
	default:
		return false, wrap("acquire lease", err)
	}
}

// renew extends the lease if this View still holds it.
func (v *View) renew(ctx context.Context) error {
	res, err := v.meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: metaApplier}, {Key: "owner", Value: v.owner}},
		set("expires", time.Now().Add(v.opts.LeaseTTL)))
	if err != nil {
		return wrap("renew lease", err)
	}
	if res.MatchedCount == 0 {
		return errors.New("taken by another instance")
	}
	return nil
}

// Follow calls fn with the served generation's checkpoint whenever it
// moves (a batch applied by any instance, or a switch to another
// generation), polling every FollowInterval: FerretDB has no change
// streams, and a poll of one small document is cheap. It calls fn once
// at the start, and returns nil when ctx is done; a failing poll is
// logged and tried again.
func (v *View) Follow(ctx context.Context, fn func(seq uint64)) error {
	tick := time.NewTicker(v.opts.FollowInterval)
	defer tick.Stop()
	last, first := uint64(0), true
	for {
		seq, err := v.servedSeq(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			v.opts.Logger.Warn("mongo view: follow", "err", err)
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
