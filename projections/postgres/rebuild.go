package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections"
)

var (
	_ projections.Building  = (*Building)(nil)
	_ projections.TxApplier = (*Building)(nil)
)

// Stamp describes the served generation: its checkpoint, the id of the
// event there and its schema version. Exists is false when no generation
// is served or its checkpoint row (or schema) is missing.
func (v *View) Stamp(ctx context.Context) (projections.Stamp, error) {
	var st projections.Stamp
	tx, err := v.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return st, wrapErr("stamp", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var gen *int
	if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT gen FROM %s.served", v.meta)).Scan(&gen); err != nil {
		return st, wrapErr("stamp: served generation", err)
	}
	if gen == nil {
		return st, nil
	}
	s := v.newSchema(*gen)
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", s.raw+".checkpoint").Scan(&exists); err != nil || !exists {
		return st, wrapErr("stamp", err)
	}
	var seq int64
	err = tx.QueryRow(ctx, s.q("SELECT seq, event_id, schema_version FROM {s}.checkpoint")).Scan(&seq, &st.EventID, &st.Schema)
	if errors.Is(err, pgx.ErrNoRows) {
		return projections.Stamp{}, nil
	}
	if err != nil {
		return projections.Stamp{}, wrapErr("stamp: checkpoint", err)
	}
	st.Seq, st.Exists = uint64(seq), true
	return st, nil
}

// Building is a generation under construction, in a schema of its own.
// Reads are never served from it; one Runner applies to it (no lease, no
// served pointer check), until Switch makes it the served one.
type Building struct {
	v *View
	s *schema
}

// Build returns the generation under construction: with fresh false the
// newest unfinished one of this schema version, if any, resumed from its
// own checkpoint; otherwise a new empty one. Every other unfinished
// generation is dropped, and so are the schemas of generations dropped
// before but left behind (a switch that could not drop the old one).
func (v *View) Build(ctx context.Context, fresh bool) (projections.Building, error) {
	tx, err := v.pool.Begin(ctx)
	if err != nil {
		return nil, wrapErr("build", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The same lock as migrate's: one generation is made at a time.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", v.migrateKey); err != nil {
		return nil, wrapErr("build: lock", err)
	}
	type gen struct {
		gen, version int
		state        string
	}
	rows, _ := tx.Query(ctx, fmt.Sprintf("SELECT gen, schema_version, state FROM %s.generations ORDER BY gen DESC", v.meta))
	gens, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gen, error) {
		var g gen
		err := r.Scan(&g.gen, &g.version, &g.state)
		return g, err
	})
	if err != nil {
		return nil, wrapErr("build: generations", err)
	}
	resume, next := 0, 1
	if len(gens) > 0 {
		next = gens[0].gen + 1
	}
	live := map[string]bool{}
	for _, g := range gens {
		switch {
		case g.state == "served":
			live[v.newSchema(g.gen).raw] = true
		case g.state == "building" && !fresh && resume == 0 && g.version == schemaVersion:
			resume = g.gen
			live[v.newSchema(g.gen).raw] = true
		case g.state == "building":
			if _, err := tx.Exec(ctx, fmt.Sprintf("UPDATE %s.generations SET state = 'dropped' WHERE gen = $1", v.meta), g.gen); err != nil {
				return nil, wrapErr("build: drop unfinished generation", err)
			}
			v.opts.Logger.Info("postgres view: dropping an unfinished generation", "schema", v.opts.Name, "gen", g.gen)
		}
	}
	// Any schema of ours that no live generation owns goes.
	rows, _ = tx.Query(ctx, "SELECT nspname FROM pg_namespace WHERE nspname ~ ('^' || $1 || '_g[0-9]+$')", v.opts.Name)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrapErr("build: schemas", err)
	}
	for _, n := range names {
		if !live[n] {
			if _, err := tx.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{n}.Sanitize()+" CASCADE"); err != nil {
				return nil, wrapErr("build: drop "+n, err)
			}
		}
	}
	if resume == 0 {
		resume = next
		if err := v.createGeneration(ctx, tx, resume, "building"); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, wrapErr("build: commit", err)
	}
	return &Building{v: v, s: v.newSchema(resume)}, nil
}

// Generation is the number of the generation being built.
func (b *Building) Generation() int { return b.s.gen }

// Apply applies one event to the new generation.
func (b *Building) Apply(ctx context.Context, ev dojot.Event) error {
	refused, err := b.ApplyTx(ctx, []dojot.Event{ev})
	if err != nil {
		return err
	}
	return errors.Join(refused...)
}

// ApplyTx applies evs to the new generation in one transaction with its
// checkpoint.
func (b *Building) ApplyTx(ctx context.Context, evs []dojot.Event) ([]error, error) {
	return b.v.applyTx(ctx, b.s, evs, false)
}

// Checkpoint is the new generation's checkpoint.
func (b *Building) Checkpoint(ctx context.Context) (uint64, error) {
	return b.v.checkpoint(ctx, b.s)
}

// Switch makes this generation the served one if its checkpoint has
// reached the served one's (else projections.ErrBehindServed; force skips
// that check, for a served generation that is not trusted), in one
// transaction that locks the served pointer FOR UPDATE, so it waits for
// the served generation's batch in flight, and notifies every instance.
// The old generation's schema is dropped after the commit. The indexes
// reads need are made first (a rebuild loads the tables without them).
func (b *Building) Switch(ctx context.Context, force bool) error {
	v := b.v
	// Outside the switch's transaction: it would hold the served pointer,
	// and so the served generation's applier, while the indexes are made.
	if err := v.createIndexes(ctx, v.pool, b.s.gen); err != nil {
		return fmt.Errorf("switch: %w", err)
	}
	if err := v.analyze(ctx, b.s); err != nil {
		return fmt.Errorf("switch: %w", err)
	}
	tx, err := v.pool.Begin(ctx)
	if err != nil {
		return wrapErr("switch", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var old *int
	if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT gen FROM %s.served FOR UPDATE", v.meta)).Scan(&old); err != nil {
		return wrapErr("switch: served generation", err)
	}
	var state string
	if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT state FROM %s.generations WHERE gen = $1", v.meta), b.s.gen).Scan(&state); err != nil {
		return wrapErr("switch: generation state", err)
	}
	if state != "building" {
		return fmt.Errorf("postgres: switch to generation %d: it is %s, not building", b.s.gen, state)
	}
	var seq int64
	if err := tx.QueryRow(ctx, b.s.q("SELECT seq FROM {s}.checkpoint")).Scan(&seq); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return wrapErr("switch: checkpoint", err)
	}
	if old != nil {
		prev := v.newSchema(*old)
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", prev.raw+".checkpoint").Scan(&exists); err != nil {
			return wrapErr("switch", err)
		}
		var served int64
		if exists {
			if err := tx.QueryRow(ctx, prev.q("SELECT seq FROM {s}.checkpoint")).Scan(&served); err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return wrapErr("switch: served checkpoint", err)
			}
		}
		if seq < served && !force {
			return fmt.Errorf("postgres: generation %d at %d, served generation %d at %d: %w", b.s.gen, seq, *old, served, projections.ErrBehindServed)
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf("UPDATE %s.generations SET state = 'dropped' WHERE gen = $1", v.meta), *old); err != nil {
			return wrapErr("switch", err)
		}
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("UPDATE %s.generations SET state = 'served' WHERE gen = $1", v.meta), b.s.gen); err != nil {
		return wrapErr("switch", err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("UPDATE %s.served SET gen = $1", v.meta), b.s.gen); err != nil {
		return wrapErr("switch", err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", v.channel, notification(b.s.gen, uint64(seq))); err != nil {
		return wrapErr("switch: notify", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return wrapErr("switch: commit", err)
	}
	v.cacheServed(b.s.gen)
	v.opts.Logger.Info("postgres view: switched generation", "schema", v.opts.Name, "gen", b.s.gen, "seq", seq)
	if old != nil {
		// Readers still on the old schema finish first (DROP waits for
		// their locks); later ones find it gone and look again.
		if _, err := v.pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+v.schemaName(*old)+" CASCADE"); err != nil {
			// The next Build drops it.
			v.opts.Logger.Warn("postgres view: dropping the old generation failed", "gen", *old, "err", err)
		}
	}
	return nil
}
