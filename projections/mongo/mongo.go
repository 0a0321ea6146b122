package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections"
)

var (
	_ projections.View      = (*View)(nil)
	_ projections.TxApplier = (*View)(nil)
	_ projections.Shared    = (*View)(nil)
	_ projections.Stamped   = (*View)(nil)
	_ projections.Rebuilder = (*View)(nil)
	_ projections.Building  = (*Building)(nil)
)

// SchemaVersion is the version of the layout this package writes; a
// generation stamped with another one is rebuilt.
const SchemaVersion = 4

// Options configure a View. A zero field means the default.
type Options struct {
	// URL is the MongoDB connection string, e.g. mongodb://127.0.0.1:27017/dojot.
	URL string
	// Database names the meta database and prefixes the generations'
	// (default: the URL's path, else "dojot"): up to 52 characters of
	// [A-Za-z0-9_-], so that "<Database>_g<N>" fits the 63 that MongoDB
	// and FerretDB allow.
	Database string
	Logger   *slog.Logger
	// LeaseTTL is how long the applier lease lasts unless renewed (default
	// 10 s); it is renewed every LeaseTTL/5.
	LeaseTTL time.Duration
	// FollowInterval is how often Follow polls the served checkpoint
	// (default 100 ms): FerretDB, the tests' server, has no change streams.
	FollowInterval time.Duration
	// Timeout bounds finding a reachable server for an operation, and
	// Close (default 10 s): past it the operation fails with
	// dojot.ErrUnavailable.
	Timeout time.Duration

	// afterBulk, when set (by tests), runs after each bulk write of a
	// batch, before the checkpoint is written.
	afterBulk func(collection string)
}

func (o *Options) setDefaults() error {
	if o.URL == "" {
		return errors.New("mongo: no URL")
	}
	if o.Database == "" {
		cs, err := connstring.ParseAndValidate(o.URL)
		if err != nil {
			return fmt.Errorf("mongo: url: %w", err)
		}
		o.Database = cs.Database
	}
	if o.Database == "" {
		o.Database = "dojot"
	}
	// Generations are named <Database>_g<N>; MongoDB allows 63 bytes,
	// FerretDB 63 characters of [A-Za-z0-9_-].
	if !dbNameRe.MatchString(o.Database) {
		return fmt.Errorf("mongo: database %q: want %s", o.Database, dbNameRe)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = 10 * time.Second
	}
	if o.FollowInterval == 0 {
		o.FollowInterval = 100 * time.Millisecond
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	return nil
}

var dbNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,52}$`)

// Collections of a generation's database and of the meta database.
const (
	collTemplates   = "templates"
	collDevices     = "devices"
	collUsers       = "users"
	collGroups      = "groups"
	collPermissions = "permissions"
	collTenants     = "tenants"
	collFlows       = "flows"
	collCronJobs    = "cronjobs"
	collCheckpoint  = "checkpoint"
	collMeta        = "meta"
)

// Documents of the meta collection.
const (
	metaServed   = "served"
	metaBuilding = "building"
	metaGens     = "gens"
	metaApplier  = "applier"
)

// View is the view in one MongoDB database. Its reads serve the served
// generation; it applies to the generation that was served when it last
// read its checkpoint (see ApplyTx). Safe for concurrent use.
type View struct {
	client *mongo.Client
	opts   Options
	meta   *mongo.Collection
	owner  string // this View's name in the applier lease

	// applyGen is the generation ApplyTx writes to: the served one as of
	// the last Checkpoint.
	applyGen atomic.Int64
	// lease lets one instance apply at a time; while this View holds it,
	// ApplyTx also checks that it still does.
	lease *Lease

	mu      sync.Mutex
	readGen int64     // the served generation as last seen
	readAt  time.Time // when
}

// Open connects to MongoDB and returns the view, creating an empty served
// generation when the database has none yet.
func Open(ctx context.Context, opts Options) (*View, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	client, err := mongo.Connect(options.Client().ApplyURI(opts.URL).
		SetServerSelectionTimeout(opts.Timeout))
	if err != nil {
		return nil, fmt.Errorf("mongo: connect: %w", err)
	}
	owner := make([]byte, 8)
	_, _ = rand.Read(owner)
	v := &View{client: client, opts: opts, meta: client.Database(opts.Database).Collection(collMeta), owner: hex.EncodeToString(owner)}
	v.lease = &Lease{Coll: v.meta, ID: metaApplier, Owner: v.owner, TTL: opts.LeaseTTL, Timeout: opts.Timeout,
		Logger: opts.Logger.With("component", "mongo view")}
	gen, err := v.ensureServed(ctx)
	if err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	v.applyGen.Store(gen)
	v.setReadGen(gen)
	return v, nil
}

// Ping reports whether the database answers (for readiness).
func (v *View) Ping(ctx context.Context) error { return v.client.Ping(ctx, nil) }

// Close disconnects.
func (v *View) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), v.opts.Timeout)
	defer cancel()
	return v.client.Disconnect(ctx)
}

// SchemaVersion is the version of the schema this binary builds.
func (v *View) SchemaVersion() int { return SchemaVersion }

// ensureServed returns the served generation, making an empty one served
// if there is none.
func (v *View) ensureServed(ctx context.Context) (int64, error) {
	gen, ok, err := v.served(ctx)
	if err != nil || ok {
		return gen, err
	}
	gen, err = v.newGeneration(ctx)
	if err != nil {
		return 0, err
	}
	_, err = v.meta.InsertOne(ctx, bson.D{{Key: "_id", Value: metaServed}, {Key: "gen", Value: gen}})
	if mongo.IsDuplicateKeyError(err) { // another instance opened it first
		if err := v.database(gen).Drop(ctx); err != nil {
			return 0, wrap("drop unused generation", err)
		}
		gen, _, err = v.served(ctx)
		return gen, err
	}
	if err != nil {
		return 0, wrap("serve generation", err)
	}
	v.opts.Logger.Info("mongo view created", "database", v.opts.Database, "generation", gen)
	return gen, nil
}

// served reads the served generation's number.
func (v *View) served(ctx context.Context) (int64, bool, error) {
	var d struct {
		Gen int64 `bson:"gen"`
	}
	err := v.meta.FindOne(ctx, bson.D{{Key: "_id", Value: metaServed}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, wrap("read served generation", err)
	}
	return d.Gen, true, nil
}

// newGeneration allocates a generation number and creates its database's
// indexes.
func (v *View) newGeneration(ctx context.Context) (int64, error) {
	var d struct {
		Last int64 `bson:"last"`
	}
	err := v.meta.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: metaGens}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "last", Value: int64(1)}}}},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&d)
	if err != nil {
		return 0, wrap("allocate generation", err)
	}
	db := v.database(d.Last)
	if err := db.Drop(ctx); err != nil { // left by a crash between allocating and serving
		return 0, wrap("drop stale generation", err)
	}
	idx := func(coll string, keys ...string) error {
		k := bson.D{}
		for _, key := range keys {
			k = append(k, bson.E{Key: key, Value: 1})
		}
		_, err := db.Collection(coll).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: k})
		return err
	}
	for _, err := range []error{
		idx(collDevices, "tenant", "_id"),
		idx(collDevices, "tenant", "label", "_id"),
		idx(collDevices, "tenant", "templates"),
		idx(collTemplates, "tenant", "id"),
		idx(collUsers, "username"),
		idx(collFlows, "tenant", "pos"),
		idx(collCronJobs, "tenant", "pos"),
		idx(collCertificates, "tenant", "seq"),
		idx(collCertificates, "tenant", "device"),
		idx(collTrustedCAs, "tenant", "seq"),
	} {
		if err != nil {
			return 0, wrap("create indexes", err)
		}
	}
	// An empty generation is a view at sequence 0: stamped, so that a
	// missing checkpoint later means the view lost it and is rebuilt.
	_, err = db.Collection(collCheckpoint).InsertOne(ctx, checkpointDoc{ID: "checkpoint", SchemaVersion: SchemaVersion})
	if err != nil {
		return 0, wrap("write checkpoint", err)
	}
	return d.Last, nil
}

// database is generation gen's database.
func (v *View) database(gen int64) *mongo.Database {
	return v.client.Database(v.opts.Database + "_g" + strconv.FormatInt(gen, 10))
}

func (v *View) setReadGen(gen int64) {
	v.mu.Lock()
	v.readGen, v.readAt = gen, time.Now()
	v.mu.Unlock()
}

// reading is the database reads are served from: the served generation,
// as seen at most FollowInterval ago (Follow refreshes it too), so that a
// read costs no extra round trip. A read racing a switch may see the old
// generation, or, for the instant after it is dropped, nothing.
func (v *View) reading(ctx context.Context) (*mongo.Database, error) {
	v.mu.Lock()
	gen, at := v.readGen, v.readAt
	v.mu.Unlock()
	if time.Since(at) > v.opts.FollowInterval {
		g, ok, err := v.served(ctx)
		if err != nil {
			return nil, err
		}
		if ok {
			gen = g
			v.setReadGen(g)
		}
	}
	return v.database(gen), nil
}

// wrap names the operation that failed; an unreachable server is
// dojot.ErrUnavailable (503), not an internal error.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) || errors.Is(err, mongo.ErrClientDisconnected) ||
		errors.As(err, new(topology.ServerSelectionError)) {
		return fmt.Errorf("mongo: %s: %w: %w", op, dojot.ErrUnavailable, err)
	}
	return fmt.Errorf("mongo: %s: %w", op, err)
}

// checkpoint reads a generation's checkpoint document (ok false: none).
func checkpoint(ctx context.Context, db *mongo.Database) (checkpointDoc, bool, error) {
	var d checkpointDoc
	err := db.Collection(collCheckpoint).FindOne(ctx, bson.D{{Key: "_id", Value: "checkpoint"}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return checkpointDoc{}, false, nil
	}
	if err != nil {
		return checkpointDoc{}, false, wrap("read checkpoint", err)
	}
	return d, true, nil
}

// Checkpoint is the served generation's checkpoint. It also binds ApplyTx
// to that generation: after ErrSwitched the Runner calls it and follows the
// log from the new generation's checkpoint.
func (v *View) Checkpoint(ctx context.Context) (uint64, error) {
	gen, ok, err := v.served(ctx)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errors.New("mongo: no served generation (the meta collection was dropped?)")
	}
	v.applyGen.Store(gen)
	v.setReadGen(gen)
	d, _, err := checkpoint(ctx, v.database(gen))
	return uint64(d.Seq), err
}

// Stamp describes the served generation.
func (v *View) Stamp(ctx context.Context) (projections.Stamp, error) {
	gen, ok, err := v.served(ctx)
	if err != nil || !ok {
		return projections.Stamp{}, err
	}
	d, ok, err := checkpoint(ctx, v.database(gen))
	if err != nil || !ok {
		return projections.Stamp{}, err
	}
	return projections.Stamp{Seq: uint64(d.Seq), EventID: d.EventID, Schema: d.SchemaVersion, Exists: true}, nil
}

func optsUpsert() *options.ReplaceOptionsBuilder { return options.Replace().SetUpsert(true) }
