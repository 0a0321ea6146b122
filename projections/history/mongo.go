package history

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/dojot-es/dojot"
)

// MongoOptions configure a Mongo history. A zero field means the default.
type MongoOptions struct {
	// URL is the MongoDB connection string; its path is not used (the
	// database is Database).
	URL string
	// Database is the history's database (default "device_history", as
	// dojot's persister): up to 63 characters of [A-Za-z0-9_-].
	Database string
	// Expiration is the TTL index's expireAfterSeconds on ts (default
	// 604800 s, dojot's HISTORY_DB_DATA_EXPIRATION); whole seconds.
	Expiration time.Duration
	Logger     *slog.Logger
	// LeaseTTL is how long an applier lease lasts unless renewed (default
	// 10 s); it is renewed every LeaseTTL/5.
	LeaseTTL time.Duration
	// FollowInterval is how often Follow polls a checkpoint (default
	// 100 ms): FerretDB, the tests' server, has no change streams.
	FollowInterval time.Duration
	// Timeout bounds finding a reachable server for an operation, and
	// Close (default 10 s): past it the operation fails with
	// dojot.ErrUnavailable.
	Timeout time.Duration
}

var mongoDBNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)

func (o *MongoOptions) setDefaults() error {
	if o.URL == "" {
		return errors.New("history: no MongoDB URL")
	}
	if o.Database == "" {
		o.Database = "device_history"
	}
	if !mongoDBNameRe.MatchString(o.Database) {
		return fmt.Errorf("history: database %q: want %s", o.Database, mongoDBNameRe)
	}
	if o.Expiration == 0 {
		o.Expiration = 604800 * time.Second
	}
	if o.Expiration < time.Second {
		return fmt.Errorf("history: expiration %v: want 1 s or more", o.Expiration)
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

// collMeta holds the views' checkpoints ({_id:"readings", seq},
// {_id:"events", seq}) and applier leases ({_id:"readings.applier",
// owner, expires}). Its leading "_" keeps it apart from the devices'
// collections: a tenant starts with a letter (dojot.ValidTenant).
const collMeta = "_dojot_meta"

// Mongo is the history view in dojot's persister layout: in the database
// (device_history by default), a collection <tenant>_<deviceid> per
// device, one document per attribute of a reading,
//
//	{_id:"d<seq>:<attr>", attr, value, device_id, ts:<date, ms>, metadata:{..}, ref:<int64>}
//
// where _id names the stream ("d" DATA, "e" EVENTS) and sequence, so that
// a reading applied twice is stored once (a reading with an id, a flow's
// output, is "i<len>:<id>:<attr>" instead, so that a copy of it stored
// again in DATA is stored once too), and ref is Doc.Ref, which
// orders documents of the same ts. Values and metadata are BSON as
// pymongo stores what Python's json reads (see bsonOf), so dojot's own
// History reads them. Each collection has dojot's indexes (ts desc; attr
// desc and ts desc; the TTL on ts) and one on attr, ts and ref for the
// order here. Follow DATA with Readings() and EVENTS with Events(), each
// by its own projections.Runner; both are shared views (one instance
// applies at a time) with their checkpoint in the database. Safe for
// concurrent use.
type Mongo struct {
	client *mongo.Client
	db     *mongo.Database
	meta   *mongo.Collection
	opts   MongoOptions
	owner  string // this process's name in the applier leases

	idxMu   sync.Mutex // serializes ensureIndexes
	mu      sync.Mutex
	indexed map[string]bool // collections this process made the indexes of
	exists  map[string]bool // collections known to exist
	noTTL   bool            // the server refused a TTL index (said once)
}

// OpenMongo connects to MongoDB. It creates nothing until the first write.
func OpenMongo(ctx context.Context, opts MongoOptions) (*Mongo, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	client, err := mongo.Connect(options.Client().ApplyURI(opts.URL).SetServerSelectionTimeout(opts.Timeout))
	if err != nil {
		return nil, fmt.Errorf("history: connect: %w", err)
	}
	owner := make([]byte, 8)
	_, _ = rand.Read(owner)
	db := client.Database(opts.Database)
	return &Mongo{client: client, db: db, meta: db.Collection(collMeta), opts: opts, owner: hex.EncodeToString(owner),
		indexed: map[string]bool{}, exists: map[string]bool{}}, nil
}

// Ping reports whether the database answers (for readiness).
func (m *Mongo) Ping(ctx context.Context) error { return m.client.Ping(ctx, nil) }

// Close disconnects.
func (m *Mongo) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.Timeout)
	defer cancel()
	return m.client.Disconnect(ctx)
}

// Readings is the view of the DATA stream (dojot.EventReading events).
func (m *Mongo) Readings() *MongoView { return m.view("readings") }

// Events is the view of the EVENTS stream: created and updated devices
// get their collection, actuations are stored as readings.
func (m *Mongo) Events() *MongoView { return m.view("events") }

// collection is dojot's name of a device's collection.
func collection(tenant, id string) string { return tenant + "_" + id }

// Known says whether the device has a history in the tenant: its
// collection exists (made by this view, or by dojot's persister).
func (m *Mongo) Known(ctx context.Context, tenant, id string) (bool, error) {
	name := collection(tenant, id)
	m.mu.Lock()
	ok := m.exists[name]
	m.mu.Unlock()
	if ok {
		return true, nil
	}
	names, err := m.db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: name}})
	if err != nil {
		return false, wrap("list collections", err)
	}
	if len(names) == 0 {
		return false, nil
	}
	m.mu.Lock()
	m.exists[name] = true
	m.mu.Unlock()
	return true, nil
}

// Attrs are the attributes a device has history of, sorted.
func (m *Mongo) Attrs(ctx context.Context, tenant, id string) ([]string, error) {
	res := m.db.Collection(collection(tenant, id)).Distinct(ctx, "attr", bson.D{})
	if err := res.Err(); err != nil {
		return nil, wrap("distinct attr", err)
	}
	var attrs []string
	if err := res.Decode(&attrs); err != nil {
		return nil, wrap("distinct attr", err)
	}
	slices.Sort(attrs)
	return attrs, nil
}

// storedDoc is a history document as read back.
type storedDoc struct {
	Attr     string        `bson:"attr"`
	Value    bson.RawValue `bson:"value"`
	DeviceID string        `bson:"device_id"`
	TS       time.Time     `bson:"ts"`
	Metadata bson.RawValue `bson:"metadata"`
}

// Find returns the docs q selects of a device's attribute, newest first
// unless q.Oldest, as dojot's History queries them ({attr, value:{$ne:" "},
// ts:{$gte,$lte}}), docs of the same ts in stream order; none (not an
// error) when the device or the attribute has no history.
func (m *Mongo) Find(ctx context.Context, tenant, id string, q Query) ([]Doc, error) {
	filter := bson.D{{Key: "attr", Value: q.Attr}, {Key: "value", Value: bson.D{{Key: "$ne", Value: " "}}}}
	if ts := tsRange(q.From, q.To); len(ts) > 0 {
		filter = append(filter, bson.E{Key: "ts", Value: ts})
	}
	dir := -1
	if q.Oldest {
		dir = 1
	}
	opts := options.Find().SetSort(bson.D{{Key: "ts", Value: dir}, {Key: "ref", Value: dir}}).
		SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: "ref", Value: 0}})
	if q.Limit > 0 {
		opts.SetLimit(int64(q.Limit))
	}
	cur, err := m.db.Collection(collection(tenant, id)).Find(ctx, filter, opts)
	if err != nil {
		return nil, wrap("find", err)
	}
	defer cur.Close(ctx)
	var docs []Doc
	for cur.Next(ctx) {
		var s storedDoc
		if err := cur.Decode(&s); err != nil {
			return nil, fmt.Errorf("history: decode %s: %w", collection(tenant, id), err)
		}
		d := Doc{Attr: s.Attr, DeviceID: s.DeviceID, TS: s.TS.UTC()}
		if d.Value, err = appendJSON(nil, s.Value); err != nil {
			return nil, fmt.Errorf("history: value in %s: %w", collection(tenant, id), err)
		}
		d.Metadata = json.RawMessage("{}")
		if s.Metadata.Type == bson.TypeEmbeddedDocument {
			if d.Metadata, err = appendJSON(nil, s.Metadata); err != nil {
				return nil, fmt.Errorf("history: metadata in %s: %w", collection(tenant, id), err)
			}
		}
		docs = append(docs, d)
	}
	if err := cur.Err(); err != nil {
		return nil, wrap("find", err)
	}
	return docs, nil
}

// ensureIndexes makes dojot's indexes on a collection (which creates it)
// unless this process did already.
//
// One at a time per process: the DATA and EVENTS appliers meet on a new
// device's collection at once, and need not both make its indexes. One
// createIndexes per index: FerretDB 1.24 drops the connection on a
// createIndexes of several indexes that already exist (every restart),
// while MongoDB takes either.
func (m *Mongo) ensureIndexes(ctx context.Context, name string, notifications bool) error {
	m.idxMu.Lock()
	defer m.idxMu.Unlock()
	m.mu.Lock()
	done := m.indexed[name]
	m.mu.Unlock()
	if done {
		return nil
	}
	coll := m.db.Collection(name)
	indexes := []mongo.IndexModel{
		{Keys: bson.D{{Key: "ts", Value: -1}}},
		{Keys: bson.D{{Key: "attr", Value: -1}, {Key: "ts", Value: -1}}},
	}
	if notifications { // their order here: ts, then _id (the stream sequence)
		indexes = append(indexes, mongo.IndexModel{Keys: bson.D{{Key: "ts", Value: -1}, {Key: "_id", Value: -1}}})
	} else {
		indexes = append(indexes, mongo.IndexModel{Keys: bson.D{{Key: "attr", Value: 1}, {Key: "ts", Value: 1}, {Key: "ref", Value: 1}}})
	}
	for _, idx := range indexes {
		if _, err := coll.Indexes().CreateOne(ctx, idx); err != nil {
			return wrap("create indexes of "+name, err)
		}
	}
	if err := m.ensureTTL(ctx, coll); err != nil {
		return err
	}
	m.mu.Lock()
	m.indexed[name], m.exists[name] = true, true
	m.mu.Unlock()
	return nil
}

// Server error codes the TTL index may meet.
const (
	codeNotImplemented       = 238 // FerretDB: no TTL indexes
	codeIndexOptionsConflict = 85  // ts_1 exists with another expireAfterSeconds
)

// ensureTTL makes dojot's TTL index on ts ("ts_1"). A server without TTL
// indexes (FerretDB) is said once in the log and otherwise tolerated:
// documents then never expire. An index of another expiration (the
// option changed) is set to this one, as dojot's persister does at start.
func (m *Mongo) ensureTTL(ctx context.Context, coll *mongo.Collection) error {
	secs := int32(m.opts.Expiration / time.Second)
	_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "ts", Value: 1}},
		Options: options.Index().SetExpireAfterSeconds(secs)})
	var ce mongo.CommandError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce) && ce.Code == codeNotImplemented:
		m.mu.Lock()
		said := m.noTTL
		m.noTTL = true
		m.mu.Unlock()
		if !said {
			m.opts.Logger.Warn("history: the server has no TTL indexes; documents will not expire",
				"database", m.opts.Database, "err", ce.Message)
		}
		return nil
	case errors.As(err, &ce) && ce.Code == codeIndexOptionsConflict:
		err = m.db.RunCommand(ctx, bson.D{{Key: "collMod", Value: coll.Name()}, {Key: "index", Value: bson.D{
			{Key: "keyPattern", Value: bson.D{{Key: "ts", Value: 1}}}, {Key: "expireAfterSeconds", Value: secs}}}}).Err()
		return wrap("update the TTL of "+coll.Name(), err)
	}
	return wrap("create the TTL index of "+coll.Name(), err)
}

// wrap names the operation that failed; an unreachable server is
// dojot.ErrUnavailable (503), not an internal error.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if !errors.Is(err, context.Canceled) && (mongo.IsNetworkError(err) || mongo.IsTimeout(err) ||
		errors.Is(err, mongo.ErrClientDisconnected) || errors.As(err, new(topology.ServerSelectionError))) {
		return fmt.Errorf("history: %s: %w: %w", op, dojot.ErrUnavailable, err)
	}
	return fmt.Errorf("history: %s: %w", op, err)
}
