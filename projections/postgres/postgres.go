package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections"
)

var (
	_ projections.View      = (*View)(nil)
	_ projections.TxApplier = (*View)(nil)
	_ projections.Shared    = (*View)(nil)
	_ projections.Stamped   = (*View)(nil)
	_ projections.Rebuilder = (*View)(nil)
)

// schemaVersion is the version of sql/generation.sql. Bump it with any
// change there: generations of another version are rebuilt, not migrated.
const schemaVersion = 4

//go:embed sql/*.sql
var sqlFiles embed.FS

// Options configure a View. A zero field means the default.
type Options struct {
	// URL is the database, e.g. postgres://user@host:5432/db.
	URL string
	// Name namespaces everything the view creates, so two deployments can
	// share one database: the meta schema, the generation schemas
	// <Name>_g<N>, the notification channel and the advisory lock keys.
	// Lower case letters, digits and '_' (default "dojot").
	Name   string
	Logger *slog.Logger
}

var nameRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

func (o *Options) setDefaults() error {
	if o.Name == "" {
		o.Name = "dojot"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var errs []error
	if o.URL == "" {
		errs = append(errs, errors.New("postgres: no URL"))
	}
	if !nameRe.MatchString(o.Name) {
		errs = append(errs, fmt.Errorf("postgres: name %q: want %s", o.Name, nameRe))
	}
	return errors.Join(errs...)
}

// View is the view in one database. It is safe for concurrent use: one
// applier (the Runner of the instance holding the lease) and any number of
// readers.
type View struct {
	opts    Options
	pool    *pgxpool.Pool
	connCfg *pgx.ConnConfig // for the dedicated connections (lease, LISTEN)
	meta    string          // the meta schema, quoted
	channel string          // NOTIFY channel: "<gen> <seq>" on every commit of the served generation

	leadKey, migrateKey int64 // advisory lock keys

	// served is the generation reads use, cached; refreshed on a switch
	// notification, and when a query finds its tables gone.
	served atomic.Pointer[schema]
	// target is the generation ApplyTx applies to: the served one when it
	// last looked.
	target    atomic.Pointer[schema]
	refreshMu sync.Mutex

	stop context.CancelFunc
	done chan struct{}
}

// Open connects, applies the meta schema's migrations, creates the first
// generation if there is none, and starts watching for switches.
func Open(ctx context.Context, opts Options) (*View, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	v := &View{
		opts:       opts,
		pool:       pool,
		connCfg:    cfg.ConnConfig,
		meta:       pgx.Identifier{opts.Name}.Sanitize(),
		channel:    opts.Name,
		leadKey:    lockKey(opts.Name + "/lead"),
		migrateKey: lockKey(opts.Name + "/migrate"),
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, wrapErr("connect", err)
	}
	if err := v.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	s, err := v.refresh(ctx)
	if err != nil {
		pool.Close()
		return nil, err
	}
	v.target.Store(s)
	wctx, stop := context.WithCancel(context.Background())
	v.stop, v.done = stop, make(chan struct{})
	go func() { defer close(v.done); v.watch(wctx) }()
	return v, nil
}

// Ping reports whether the database answers (for readiness).
func (v *View) Ping(ctx context.Context) error { return v.pool.Ping(ctx) }

// Close stops watching and closes the connections.
func (v *View) Close() {
	v.stop()
	<-v.done
	v.pool.Close()
}

// SchemaVersion is the version of the generation schema this binary
// builds.
func (v *View) SchemaVersion() int { return schemaVersion }

// lockKey is an advisory lock key for a name.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("github.com/dojot-es/dojot/projections/postgres:" + name))
	return int64(h.Sum64())
}

// migrate applies the meta schema's migrations not yet recorded, and
// creates generation 1 (served, empty) when there is no generation at all,
// all in one transaction under an advisory lock, so instances starting
// together do it once.
func (v *View) migrate(ctx context.Context) error {
	tx, err := v.pool.Begin(ctx)
	if err != nil {
		return wrapErr("migrate", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", v.migrateKey); err != nil {
		return wrapErr("migrate: lock", err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA IF NOT EXISTS %[1]s;
CREATE TABLE IF NOT EXISTS %[1]s.migrations (
    version integer PRIMARY KEY,
    name    text NOT NULL,
    applied timestamptz NOT NULL DEFAULT now()
)`, v.meta)); err != nil {
		return wrapErr("migrate: meta schema", err)
	}
	rows, _ := tx.Query(ctx, fmt.Sprintf("SELECT version FROM %s.migrations", v.meta))
	done, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return wrapErr("migrate: read versions", err)
	}
	files, err := fs.Glob(sqlFiles, "sql/meta_*.sql")
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, f := range files {
		base := strings.TrimPrefix(f, "sql/meta_")
		version, err := strconv.Atoi(base[:strings.IndexByte(base, '_')])
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", f, err)
		}
		if slices.Contains(done, version) {
			continue
		}
		body, err := sqlFiles.ReadFile(f)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, strings.ReplaceAll(string(body), "{{meta}}", v.meta)); err != nil {
			return wrapErr("migrate: "+f, err)
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s.migrations (version, name) VALUES ($1, $2)", v.meta), version, base); err != nil {
			return wrapErr("migrate: record "+f, err)
		}
		v.opts.Logger.Info("postgres migration applied", "schema", v.opts.Name, "migration", base)
	}
	var gens int
	if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s.generations", v.meta)).Scan(&gens); err != nil {
		return wrapErr("migrate: generations", err)
	}
	if gens == 0 {
		if err := v.createGeneration(ctx, tx, 1, "served"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf("UPDATE %s.served SET gen = 1", v.meta)); err != nil {
			return wrapErr("migrate: serve generation 1", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return wrapErr("migrate: commit", err)
	}
	return nil
}

// createGeneration makes the schema of generation gen, empty, with its
// checkpoint at 0.
func (v *View) createGeneration(ctx context.Context, tx pgx.Tx, gen int, state string) error {
	body, err := sqlFiles.ReadFile("sql/generation.sql")
	if err != nil {
		return err
	}
	ddl := strings.NewReplacer("{{gen}}", v.schemaName(gen), "{{version}}", strconv.Itoa(schemaVersion)).Replace(string(body))
	if _, err := tx.Exec(ctx, ddl); err != nil {
		return wrapErr(fmt.Sprintf("create generation %d", gen), err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s.generations (gen, schema_version, state) VALUES ($1, $2, $3)", v.meta), gen, schemaVersion, state); err != nil {
		return wrapErr(fmt.Sprintf("record generation %d", gen), err)
	}
	if state == "served" {
		return v.createIndexes(ctx, tx, gen)
	}
	return nil
}

// createIndexes makes the indexes reads need on generation gen (a served
// one has them; a building one gets them just before it is served).
func (v *View) createIndexes(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, gen int) error {
	body, err := sqlFiles.ReadFile("sql/generation_indexes.sql")
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, strings.ReplaceAll(string(body), "{{gen}}", v.schemaName(gen))); err != nil {
		return wrapErr(fmt.Sprintf("index generation %d", gen), err)
	}
	return nil
}

// analyzed are the tables whose statistics steer the reads' plans (a page
// of ids by offset, a device with its templates).
const analyzed = "{s}.devices, {s}.device_template, {s}.overrides, {s}.templates, {s}.attrs, {s}.users"

// analyze refreshes the planner's statistics of a generation's tables.
// Without them (a server with autovacuum off, or a generation just
// filled) the first plans of each connection sort a tenant's devices to
// page them, and deep pages read the heap instead of the index alone.
func (v *View) analyze(ctx context.Context, s *schema) error {
	if _, err := v.pool.Exec(ctx, s.q("ANALYZE "+analyzed)); err != nil {
		return wrapErr(fmt.Sprintf("analyze generation %d", s.gen), err)
	}
	return nil
}

// analyzeSometimes runs ANALYZE in the background each time the events
// this process applied to s have doubled since the last one (from 1,000
// on): a few times while a view fills, then rarely, whatever autovacuum
// does.
func (v *View) analyzeSometimes(s *schema, n int) {
	applied := s.applied.Add(int64(n))
	if applied < 1000 || applied < 2*s.analyzedAt.Load() || !s.analyzing.CompareAndSwap(false, true) {
		return
	}
	s.analyzedAt.Store(applied)
	go func() {
		defer s.analyzing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := v.analyze(ctx, s); err != nil {
			v.opts.Logger.Warn("postgres view: analyze", "gen", s.gen, "err", err)
		}
	}()
}

// schemaName is generation gen's schema, quoted.
func (v *View) schemaName(gen int) string {
	return pgx.Identifier{fmt.Sprintf("%s_g%d", v.opts.Name, gen)}.Sanitize()
}

// schema is one generation's schema and the statements on it.
type schema struct {
	gen  int
	name string // quoted
	raw  string // unquoted, for pgx.Identifier
	sqls sync.Map

	// applied counts events this process applied to the generation, and
	// analyzedAt what it was at the last ANALYZE (see analyzeSometimes).
	applied, analyzedAt atomic.Int64
	analyzing           atomic.Bool
}

func (v *View) newSchema(gen int) *schema {
	return &schema{gen: gen, name: v.schemaName(gen), raw: fmt.Sprintf("%s_g%d", v.opts.Name, gen)}
}

// q is the statement t with {s} replaced by the schema, made once per
// generation: statements are prepared and cached by their text.
func (s *schema) q(t string) string {
	if q, ok := s.sqls.Load(t); ok {
		return q.(string)
	}
	q := strings.ReplaceAll(t, "{s}", s.name)
	s.sqls.Store(t, q)
	return q
}

// errNoGeneration: the meta row points to no generation (only an
// operator can make it so).
var errNoGeneration = errors.New("postgres: no generation is served")

// refresh reads which generation is served and caches it for reads.
func (v *View) refresh(ctx context.Context) (*schema, error) {
	v.refreshMu.Lock()
	defer v.refreshMu.Unlock()
	var gen *int
	if err := v.pool.QueryRow(ctx, fmt.Sprintf("SELECT gen FROM %s.served", v.meta)).Scan(&gen); err != nil {
		return nil, wrapErr("served generation", err)
	}
	if gen == nil {
		return nil, errNoGeneration
	}
	return v.cacheServed(*gen), nil
}

// cacheServed records gen as the served generation, keeping the cached
// schema (and its statements) when it did not change.
func (v *View) cacheServed(gen int) *schema {
	if s := v.served.Load(); s != nil && s.gen == gen {
		return s
	}
	s := v.newSchema(gen)
	if old := v.served.Swap(s); old != nil {
		v.opts.Logger.Info("postgres view served from another generation", "schema", v.opts.Name, "from", old.gen, "to", gen)
	}
	return s
}

// read runs fn on the served generation; when its tables are gone (a
// switch dropped them and this instance missed the notification), it
// looks again and, if another generation is served, runs fn once more.
func (v *View) read(ctx context.Context, op string, fn func(s *schema) error) error {
	s := v.served.Load()
	if s == nil {
		var err error
		if s, err = v.refresh(ctx); err != nil {
			return err
		}
	}
	err := fn(s)
	if missingRelation(err) {
		if s2, rerr := v.refresh(ctx); rerr == nil && s2.gen != s.gen {
			err = fn(s2)
		}
	}
	return wrapErr(op, err)
}

// watch keeps the served generation's cache current: it LISTENs for
// commits and switches on a connection of its own, and looks again after
// every reconnection (notifications sent meanwhile are lost).
func (v *View) watch(ctx context.Context) {
	for ctx.Err() == nil {
		err := v.listen(ctx, func(gen int, _ uint64) {
			if s := v.served.Load(); s == nil || s.gen != gen {
				if _, err := v.refresh(ctx); err != nil && ctx.Err() == nil {
					v.opts.Logger.Warn("postgres view: reading the served generation", "err", err)
				}
			}
		}, 0)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errReconnect) {
			continue
		}
		v.opts.Logger.Warn("postgres view: listening for switches failed, again in 1s", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// listen connects, LISTENs on the channel, calls fn with the served
// generation and checkpoint right away and then for every notification,
// and, when every is not 0, also each time every passes without one. It
// returns when ctx is done (nil) or the connection fails.
func (v *View) listen(ctx context.Context, fn func(gen int, seq uint64), every time.Duration) error {
	conn, err := pgx.ConnectConfig(ctx, v.connCfg)
	if err != nil {
		return wrapErr("listen: connect", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{v.channel}.Sanitize()); err != nil {
		return wrapErr("listen", err)
	}
	poll := func() error {
		gen, seq, err := v.servedCheckpoint(ctx, conn)
		if err != nil {
			return err
		}
		fn(gen, seq)
		return nil
	}
	if err := poll(); err != nil {
		return err
	}
	for {
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if every > 0 {
			wctx, cancel = context.WithTimeout(ctx, every)
		}
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && every > 0 && errors.Is(err, context.DeadlineExceeded):
			// pgx closes the connection when a wait is cancelled, so a
			// timed-out wait means a new connection.
			if conn.IsClosed() {
				return errReconnect
			}
			if err := poll(); err != nil {
				return err
			}
		case err != nil:
			return wrapErr("listen", err)
		default:
			gen, seq, ok := parseNotification(n.Payload)
			if !ok {
				v.opts.Logger.Warn("postgres view: unexpected notification", "channel", n.Channel, "payload", n.Payload)
				continue
			}
			fn(gen, seq)
		}
	}
}

// errReconnect: listen's connection closed on a deliberate timeout; the
// caller connects again at once.
var errReconnect = errors.New("postgres: listen again")

// servedCheckpoint reads the served generation and its checkpoint
// sequence (0 when the row is missing).
func (v *View) servedCheckpoint(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, uint64, error) {
	var gen *int
	if err := q.QueryRow(ctx, fmt.Sprintf("SELECT gen FROM %s.served", v.meta)).Scan(&gen); err != nil {
		return 0, 0, wrapErr("served generation", err)
	}
	if gen == nil {
		return 0, 0, errNoGeneration
	}
	var seq int64
	err := q.QueryRow(ctx, v.newSchema(*gen).q("SELECT seq FROM {s}.checkpoint")).Scan(&seq)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, wrapErr("served checkpoint", err)
	}
	return *gen, uint64(seq), nil
}

// notification is the payload of a commit on the served generation.
func notification(gen int, seq uint64) string { return fmt.Sprintf("%d %d", gen, seq) }

func parseNotification(p string) (gen int, seq uint64, ok bool) {
	g, s, found := strings.Cut(p, " ")
	if !found {
		return 0, 0, false
	}
	gen, err1 := strconv.Atoi(g)
	seq, err2 := strconv.ParseUint(s, 10, 64)
	return gen, seq, err1 == nil && err2 == nil
}

// missingRelation: the query named a schema or table that is not there
// (any more): undefined_table, invalid_schema_name.
func missingRelation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000")
}

// wrapErr says which operation failed and, when the database could not
// be reached, wraps dojot.ErrUnavailable so that the gateway answers 503.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if unavailable(err) {
		return fmt.Errorf("postgres: %s: %w: %w", op, dojot.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

func unavailable(err error) bool {
	if errors.Is(err, dojot.ErrUnavailable) || errors.Is(err, context.Canceled) {
		return false // already said, or the caller gave up
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// connection_exception, insufficient_resources, operator_intervention
		// (admin shutdown, cannot connect now).
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "53") ||
			pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "closed pool") || strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection reset")
}
