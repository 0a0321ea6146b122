package history

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections"
	mongoview "github.com/dojot-es/dojot/projections/mongo"
)

var (
	_ projections.View      = (*MongoView)(nil)
	_ projections.TxApplier = (*MongoView)(nil)
	_ projections.Shared    = (*MongoView)(nil)
)

// MongoView applies one stream to a Mongo history: Readings() DATA,
// Events() EVENTS. It keeps its checkpoint in the database and is a
// projections.Shared view: one instance applies at a time, holding the
// view's lease document.
type MongoView struct {
	m     *Mongo
	name  string // "readings" or "events": the checkpoint's _id
	lease *mongoview.Lease
}

func (m *Mongo) view(name string) *MongoView {
	return &MongoView{m: m, name: name, lease: &mongoview.Lease{Coll: m.meta, ID: name + ".applier", Owner: m.owner,
		TTL: m.opts.LeaseTTL, Timeout: m.opts.Timeout, Logger: m.opts.Logger.With("component", "history", "view", name)}}
}

// Apply applies one event (ApplyTx of one).
func (v *MongoView) Apply(ctx context.Context, ev dojot.Event) error {
	refused, err := v.ApplyTx(ctx, []dojot.Event{ev})
	if err != nil {
		return err
	}
	return errors.Join(refused...)
}

// Checkpoint is the sequence of the last event applied.
func (v *MongoView) Checkpoint(ctx context.Context) (uint64, error) {
	cp, _, err := v.state(ctx)
	return cp, err
}

// state reads the checkpoint and the lease's owner, in one query.
func (v *MongoView) state(ctx context.Context) (cp uint64, owner string, err error) {
	cur, err := v.m.meta.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{v.name, v.lease.ID}}}}})
	if err != nil {
		return 0, "", wrap("read checkpoint", err)
	}
	var docs []struct {
		ID    string `bson:"_id"`
		Seq   int64  `bson:"seq"`
		Owner string `bson:"owner"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return 0, "", wrap("read checkpoint", err)
	}
	for _, d := range docs {
		if d.ID == v.name {
			cp = uint64(d.Seq)
		} else {
			owner = d.Owner
		}
	}
	return cp, owner, nil
}

// ApplyTx stores the documents of evs and then moves the checkpoint to
// the last one. MongoDB gives no transaction here (FerretDB has none), so
// the writes are idempotent instead: documents are inserted under ids of
// stream, sequence and attribute, unordered, and a duplicate key means
// the document is stored already (a batch applied again after a crash
// before its checkpoint). Any other failure fails the batch, to be
// retried. The checkpoint only moves forward, so an applier that lost
// its lease while writing cannot take it back.
//
// A reading the persister cannot store (not a reading, not storable as
// BSON) is refused with an error that wraps ErrNoReading; so is an
// actuation that cannot be decoded.
func (v *MongoView) ApplyTx(ctx context.Context, evs []dojot.Event) ([]error, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	cp, owner, err := v.state(ctx)
	if err != nil {
		return nil, err
	}
	if v.lease.Leading() && owner != v.m.owner {
		return nil, errLeaseLost
	}
	last := evs[len(evs)-1].Seq
	if last <= cp {
		return nil, nil // applied before
	}
	var refused []error
	refuse := func(i int, err error) {
		if refused == nil {
			refused = make([]error, len(evs))
		}
		refused[i] = fmt.Errorf("history: %s seq %d: %w", evs[i].Type, evs[i].Seq, err)
	}
	var order []string           // collections in order of first use
	docs := map[string][]any{}   // by collection
	created := map[string]bool{} // collections to make
	for i, ev := range evs {
		if ev.Seq <= cp {
			continue
		}
		ds, create, err := v.docs(ev)
		if err != nil {
			refuse(i, err)
			continue
		}
		if !create && len(ds) == 0 {
			continue
		}
		name := collection(ev.Tenant, ev.AggregateID)
		if v.name == "notifications" {
			name = collection(ev.Tenant, notificationsColl)
		}
		if _, ok := docs[name]; !ok && !created[name] {
			order = append(order, name)
		}
		created[name] = true
		docs[name] = append(docs[name], ds...)
	}
	for _, name := range order {
		if err := v.m.ensureIndexes(ctx, name, v.name == "notifications"); err != nil {
			return nil, err
		}
		if len(docs[name]) == 0 {
			continue
		}
		_, err := v.m.db.Collection(name).InsertMany(ctx, docs[name], options.InsertMany().SetOrdered(false))
		if err != nil && !onlyDuplicates(err) {
			return nil, wrap("insert into "+name, err)
		}
	}
	// Forward only: with the checkpoint at or past seq the filter misses,
	// the upsert's insert collides on _id, and nothing changes.
	_, err = v.m.meta.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: v.name}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: int64(last)}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: int64(last)}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return nil, wrap("write checkpoint", err)
	}
	return refused, nil
}

// onlyDuplicates says whether every error of an unordered insert is a
// duplicate key: the documents are stored already.
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return false
		}
	}
	return true
}

// docs is what the view stores of ev: documents, and whether the device's
// collection is to exist even without any.
func (v *MongoView) docs(ev dojot.Event) ([]any, bool, error) {
	var ds []Doc
	var err error
	prefix := "d"
	switch {
	case v.name == "notifications":
		return notificationDocs(ev)
	case v.name == "readings" && ev.Type == dojot.EventReading:
		ds, err = ReadingDocs(ev)
	case v.name == "readings":
		return nil, false, fmt.Errorf("%w: %s is not a reading", ErrNoReading, ev.Type)
	case ev.Type == dojot.EventDeviceCreated, ev.Type == dojot.EventDeviceUpdated:
		return nil, dojot.ValidTenant(ev.Tenant), nil
	case ev.Type == dojot.EventDeviceActuated:
		prefix = "e"
		ds, err = ActuationDocs(ev)
	default:
		return nil, false, nil // nothing of it is history
	}
	if err != nil {
		return nil, false, err
	}
	if !dojot.ValidTenant(ev.Tenant) {
		return nil, false, fmt.Errorf("%w: tenant %q", ErrNoReading, ev.Tenant)
	}
	if len(ds) == 0 {
		return nil, true, nil // an empty attrs object: dojot creates nothing, but the device sent data
	}
	meta, err := bsonOf(ds[0].Metadata) // the same for every doc of a reading
	if err != nil {
		return nil, false, fmt.Errorf("%w: metadata: %w", ErrNoReading, err)
	}
	// A reading with an id (a flow's output, the id derived from its
	// input) is keyed by it, so a copy stored again in DATA past its
	// Duplicates window collides with the first, as a batch applied again
	// does; the id's length keeps an id with ":" apart from the attribute.
	key := prefix + strconv.FormatUint(ev.Seq, 10)
	if ev.ID != "" && prefix == "d" {
		key = "i" + strconv.Itoa(len(ev.ID)) + ":" + ev.ID
	}
	out := make([]any, len(ds))
	for i, d := range ds {
		val, err := bsonOf(d.Value)
		if err != nil {
			return nil, false, fmt.Errorf("%w: attr %q: %w", ErrNoReading, d.Attr, err)
		}
		out[i] = bson.D{
			{Key: "_id", Value: key + ":" + d.Attr},
			{Key: "attr", Value: d.Attr},
			{Key: "value", Value: val},
			{Key: "device_id", Value: d.DeviceID},
			{Key: "ts", Value: bson.NewDateTimeFromTime(d.TS)},
			{Key: "metadata", Value: meta},
			{Key: "ref", Value: int64(d.Ref)},
		}
	}
	return out, true, nil
}

// errLeaseLost: this process led, and another instance holds the lease now.
var errLeaseLost = errors.New("history: the applier lease is held by another instance")

// Lead blocks until this process holds the view's applier lease (the
// meta document "<view>.applier"), or ctx is done; see mongoview.Lease.
func (v *MongoView) Lead(ctx context.Context) (context.Context, func(), error) {
	return v.lease.Lead(ctx)
}

// Follow calls fn with the checkpoint whenever it moves (whoever
// applied), polling every FollowInterval, and once at the start; it
// returns nil when ctx is done. A failing poll is logged and tried again.
func (v *MongoView) Follow(ctx context.Context, fn func(seq uint64)) error {
	read := func(ctx context.Context) (uint64, error) {
		seq, _, err := v.state(ctx)
		return seq, err
	}
	return mongoview.PollCheckpoint(ctx, v.m.opts.FollowInterval, read, fn, v.m.opts.Logger.With("component", "history", "view", v.name))
}
