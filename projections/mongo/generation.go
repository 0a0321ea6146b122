package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections"
)

// Building is a generation under construction: a database beside the
// served one, applied to by one Runner and never read from until Switch.
type Building struct {
	v   *View
	gen int64
}

// Build returns the generation under construction: with fresh false the
// one an interrupted rebuild left (the meta "building" document names it),
// from its own checkpoint; otherwise a new, empty one, dropping the one
// left behind.
func (v *View) Build(ctx context.Context, fresh bool) (projections.Building, error) {
	var d struct {
		Gen int64 `bson:"gen"`
	}
	err := v.meta.FindOne(ctx, byID(metaBuilding)).Decode(&d)
	switch {
	case err == nil && !fresh:
		v.opts.Logger.Info("mongo view: resuming rebuild", "generation", d.Gen)
		return &Building{v: v, gen: d.Gen}, nil
	case err == nil:
		if err := v.database(d.Gen).Drop(ctx); err != nil {
			return nil, wrap("drop abandoned generation", err)
		}
	case !errors.Is(err, mongo.ErrNoDocuments):
		return nil, wrap("read building generation", err)
	}
	gen, err := v.newGeneration(ctx)
	if err != nil {
		return nil, err
	}
	_, err = v.meta.ReplaceOne(ctx, byID(metaBuilding), bson.D{{Key: "_id", Value: metaBuilding}, {Key: "gen", Value: gen}},
		optsUpsert())
	if err != nil {
		return nil, wrap("record building generation", err)
	}
	v.opts.Logger.Info("mongo view: rebuilding", "generation", gen)
	return &Building{v: v, gen: gen}, nil
}

// Generation is the number of the generation being built.
func (b *Building) Generation() int64 { return b.gen }

// Checkpoint is the new generation's checkpoint.
func (b *Building) Checkpoint(ctx context.Context) (uint64, error) {
	d, _, err := checkpoint(ctx, b.v.database(b.gen))
	return uint64(d.Seq), err
}

// Apply applies one event.
func (b *Building) Apply(ctx context.Context, ev dojot.Event) error {
	refused, err := b.ApplyTx(ctx, []dojot.Event{ev})
	if err != nil {
		return err
	}
	return errors.Join(refused...)
}

// ApplyTx applies a batch as View.ApplyTx does, to the new generation. It
// fails when another rebuild took over (a Build with fresh set), so that
// two builders never write to one generation.
func (b *Building) ApplyTx(ctx context.Context, evs []dojot.Event) ([]error, error) {
	var d struct {
		Gen int64 `bson:"gen"`
	}
	err := b.v.meta.FindOne(ctx, byID(metaBuilding)).Decode(&d)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, wrap("read building generation", err)
	}
	if d.Gen != b.gen {
		return nil, fmt.Errorf("mongo: generation %d is no longer being built (%d is)", b.gen, d.Gen)
	}
	return applyTx(ctx, b.v.database(b.gen), evs, b.v.opts.afterBulk)
}

// Switch makes the new generation the served one if its checkpoint is at
// least the served one's (else projections.ErrBehindServed; force skips
// the comparison, for a served generation that is not trusted), with one
// conditional write of the meta "served" document, and then drops the old
// generation. Appliers of the old one get projections.ErrSwitched from
// their next batch and follow the log from the new checkpoint.
func (b *Building) Switch(ctx context.Context, force bool) error {
	v := b.v
	served, ok, err := v.served(ctx)
	if err != nil {
		return err
	}
	if ok && served == b.gen { // switched before, the clean-up was interrupted
		_, err := v.meta.DeleteOne(ctx, bson.D{{Key: "_id", Value: metaBuilding}, {Key: "gen", Value: b.gen}})
		return wrap("forget building generation", err)
	}
	old, _, err := checkpoint(ctx, v.database(served))
	if err != nil {
		return err
	}
	mine, _, err := checkpoint(ctx, v.database(b.gen))
	if err != nil {
		return err
	}
	if mine.Seq < old.Seq && !force {
		return fmt.Errorf("mongo: generation %d at %d, served %d at %d: %w", b.gen, mine.Seq, served, old.Seq, projections.ErrBehindServed)
	}
	res, err := v.meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: metaServed}, {Key: "gen", Value: served}},
		set("gen", b.gen))
	if err != nil {
		return wrap("switch generation", err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongo: generation %d is no longer served: another switch won", served)
	}
	v.setReadGen(b.gen)
	v.opts.Logger.Info("mongo view: switched", "generation", b.gen, "seq", mine.Seq, "old_generation", served)
	if _, err := v.meta.DeleteOne(ctx, bson.D{{Key: "_id", Value: metaBuilding}, {Key: "gen", Value: b.gen}}); err != nil {
		return wrap("forget building generation", err)
	}
	if err := v.database(served).Drop(ctx); err != nil {
		// Served no more: a leftover to drop by hand, not a failed switch.
		v.opts.Logger.Warn("mongo view: drop old generation", "generation", served, "err", err)
	}
	return nil
}
