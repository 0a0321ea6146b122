package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections"
)

// Apply applies one event in its own transaction; an event at or below the
// checkpoint changes nothing.
func (v *View) Apply(ctx context.Context, ev dojot.Event) error {
	refused, err := v.ApplyTx(ctx, []dojot.Event{ev})
	if err != nil {
		return err
	}
	return errors.Join(refused...)
}

// ApplyTx applies evs in one transaction with the checkpoint, to the
// generation served when this view last looked. When another generation
// is served now (a rebuild switched over), nothing is applied and the
// error wraps projections.ErrSwitched; the next ApplyTx and Checkpoint are
// on the served generation.
func (v *View) ApplyTx(ctx context.Context, evs []dojot.Event) ([]error, error) {
	return v.applyTx(ctx, v.target.Load(), evs, true)
}

// Checkpoint is the served generation's checkpoint (0: nothing applied),
// and makes that generation the one ApplyTx applies to.
func (v *View) Checkpoint(ctx context.Context) (uint64, error) {
	s, err := v.refresh(ctx)
	if err != nil {
		return 0, err
	}
	v.target.Store(s)
	return v.checkpoint(ctx, s)
}

func (v *View) checkpoint(ctx context.Context, s *schema) (uint64, error) {
	var seq int64
	err := v.pool.QueryRow(ctx, s.q("SELECT seq FROM {s}.checkpoint")).Scan(&seq)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, wrapErr("checkpoint", err)
	}
	return uint64(seq), nil
}

// applyTx applies evs to s. served: s is meant to be the served
// generation (check it, and notify followers of the new checkpoint).
//
// Runs of device.created go by COPY, which fails on a row that is
// already there (never in a log the commands wrote, where each id is
// claimed once, but a view must not stall on any log): the batch is then
// applied again with upserts.
func (v *View) applyTx(ctx context.Context, s *schema, evs []dojot.Event, served bool) ([]error, error) {
	refused, err := v.tryApply(ctx, s, evs, served, true)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		v.opts.Logger.Warn("postgres view: COPY met an existing row, applying the batch with upserts", "seq", evs[0].Seq, "err", err)
		refused, err = v.tryApply(ctx, s, evs, served, false)
	}
	if err == nil && served {
		v.analyzeSometimes(s, len(evs))
	}
	return refused, err
}

func (v *View) tryApply(ctx context.Context, s *schema, evs []dojot.Event, served, copyCreated bool) ([]error, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	tx, err := v.pool.Begin(ctx)
	if err != nil {
		return nil, wrapErr("begin", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	cp, err := v.lockCheckpoint(ctx, tx, s, served)
	if served && missingRelation(err) {
		// The generation's tables are gone: a switch dropped them (pgx
		// prepares a batch's statements first, so the check of the served
		// pointer may not have run).
		if now, rerr := v.refresh(ctx); rerr == nil && now.gen != s.gen {
			v.target.Store(now)
			return nil, fmt.Errorf("postgres: generation %d is no longer served (%d is): %w", s.gen, now.gen, projections.ErrSwitched)
		}
	}
	if err != nil {
		return nil, err
	}
	a := &applier{ctx: ctx, tx: tx, s: s, copyCreated: copyCreated}
	var refused []error
	last := dojot.Event{Seq: cp}
	for i, ev := range evs {
		if ev.Seq != 0 && ev.Seq <= cp {
			continue // applied before: at-least-once delivery
		}
		bad, err := a.apply(ev)
		if err != nil {
			return nil, err
		}
		if bad != nil {
			if refused == nil {
				refused = make([]error, len(evs))
			}
			refused[i] = fmt.Errorf("apply %s seq %d: %w", ev.Type, ev.Seq, bad)
		}
		if ev.Seq > last.Seq {
			last = ev
		}
	}
	if last.Seq == cp && a.empty() {
		return refused, nil // nothing new: leave the transaction
	}
	if err := a.stmt(s.q(`INSERT INTO {s}.checkpoint (seq, event_id, schema_version) VALUES ($1, $2, $3)
		ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, event_id = excluded.event_id`),
		int64(last.Seq), last.ID, schemaVersion); err != nil {
		return nil, err
	}
	if served && last.Seq != cp {
		if err := a.stmt("SELECT pg_notify($1, $2)", v.channel, notification(s.gen, last.Seq)); err != nil {
			return nil, err
		}
	}
	if err := a.flush(); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, wrapErr("commit", err)
	}
	return refused, nil
}

// lockCheckpoint starts the transaction: commits asynchronous (the log
// is the truth, and a lost commit loses its checkpoint with it), the
// served pointer locked FOR SHARE (a switch waits for this batch) and
// checked, and the checkpoint read and locked (one applier at a time).
func (v *View) lockCheckpoint(ctx context.Context, tx pgx.Tx, s *schema, served bool) (uint64, error) {
	b := &pgx.Batch{}
	b.Queue("SET LOCAL synchronous_commit TO off")
	if served {
		b.Queue(fmt.Sprintf("SELECT gen FROM %s.served FOR SHARE", v.meta))
	}
	b.Queue(s.q("SELECT seq FROM {s}.checkpoint FOR UPDATE"))
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return 0, wrapErr("begin", err)
	}
	if served {
		var gen *int
		if err := br.QueryRow().Scan(&gen); err != nil {
			return 0, wrapErr("served generation", err)
		}
		if gen == nil || *gen != s.gen {
			now := 0
			if gen != nil {
				now = *gen
				v.target.Store(v.cacheServed(now))
			}
			return 0, fmt.Errorf("postgres: generation %d is no longer served (%d is): %w", s.gen, now, projections.ErrSwitched)
		}
	}
	var seq int64
	if err := br.QueryRow().Scan(&seq); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, wrapErr("checkpoint", err)
	}
	return uint64(seq), nil
}

// applier turns events into statements on one transaction. Statements are
// queued and sent in one round trip (pgx.Batch) when the batch ends, when
// a COPY comes, or when an event needs the answer of a read; devices
// created in a row are gathered and sent by COPY. Order is kept: queued
// statements go before a COPY, pending COPY rows before a statement.
type applier struct {
	ctx         context.Context
	tx          pgx.Tx
	s           *schema
	copyCreated bool

	batch pgx.Batch
	rows  copyRows
}

// copyRows are the rows of devices created in a row, waiting for COPY.
type copyRows struct {
	devices, templates, overrides, psks [][]any
}

func (a *applier) empty() bool { return a.batch.Len() == 0 && len(a.rows.devices) == 0 }

// stmt queues a statement after what is pending.
func (a *applier) stmt(sql string, args ...any) error {
	if len(a.rows.devices) > 0 {
		if err := a.flushCopy(); err != nil {
			return err
		}
	}
	a.batch.Queue(sql, args...)
	return nil
}

func (a *applier) flush() error {
	if err := a.flushStmts(); err != nil {
		return err
	}
	return a.flushCopy()
}

func (a *applier) flushStmts() error {
	if a.batch.Len() == 0 {
		return nil
	}
	err := a.tx.SendBatch(a.ctx, &a.batch).Close()
	a.batch = pgx.Batch{}
	return wrapErr("apply", err)
}

func (a *applier) flushCopy() error {
	if len(a.rows.devices) == 0 {
		return nil
	}
	for _, c := range []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"devices", []string{"tenant", "id", "label", "created", "updated"}, a.rows.devices},
		{"device_template", []string{"tenant", "device_id", "template_id", "pos"}, a.rows.templates},
		{"overrides", []string{"tenant", "did", "aid", "static_value"}, a.rows.overrides},
		{"pre_shared_keys", []string{"tenant", "device_id", "attr_id", "psk"}, a.rows.psks},
	} {
		if len(c.rows) == 0 {
			continue
		}
		if _, err := a.tx.CopyFrom(a.ctx, pgx.Identifier{a.s.raw, c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
			return wrapErr("copy "+c.table, err)
		}
	}
	// The statements are all sent (copyDevice flushed them), so the count
	// goes first in the next batch.
	var tenants []string
	var added []int64
	for _, r := range a.rows.devices {
		i := slices.Index(tenants, r[0].(string)) // a few tenants at most
		if i < 0 {
			i, tenants, added = len(tenants), append(tenants, r[0].(string)), append(added, 0)
		}
		added[i]++
	}
	a.batch.Queue(a.s.q(`INSERT INTO {s}.device_counts AS c (tenant, devices) SELECT * FROM unnest($1::text[], $2::bigint[])
		ON CONFLICT (tenant) DO UPDATE SET devices = c.devices + excluded.devices`), tenants, added)
	clear(a.rows.devices)
	a.rows = copyRows{devices: a.rows.devices[:0], templates: a.rows.templates[:0], overrides: a.rows.overrides[:0], psks: a.rows.psks[:0]}
	return nil
}

// apply applies one event: refused is the reason the event cannot be
// applied (its payload), err a failure of the transaction.
func (a *applier) apply(ev dojot.Event) (refused, err error) {
	switch ev.Kind {
	case dojot.KindTemplate:
		return a.template(ev)
	case dojot.KindDevice:
		return a.device(ev)
	case dojot.KindTenant, dojot.KindUser, dojot.KindGroup, dojot.KindPermission:
		return a.auth(ev)
	case dojot.KindCertificate, dojot.KindTrustedCA:
		return a.x509(ev) // apply_x509.go
	case dojot.KindFlow:
		return a.flow(ev)
	case dojot.KindCronJob:
		return a.cronJob(ev)
	}
	return nil, nil
}

// cronJob keeps a job as its event holds it, text (jsonb would reorder the
// actions' keys, which GET answers as sent).
func (a *applier) cronJob(ev dojot.Event) (refused, err error) {
	switch ev.Type {
	case dojot.EventCronJobCreated, dojot.EventCronJobUpdated:
		var j dojot.CronJob
		if err := ev.Decode(&j); err != nil {
			return err, nil
		}
		doc, err := json.Marshal(j)
		if err != nil {
			return err, nil
		}
		if hasNUL(string(doc)) {
			return errNUL, nil
		}
		return nil, a.stmt(a.s.q(`INSERT INTO {s}.cronjobs (tenant, id, pos, doc) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant, id) DO UPDATE SET pos = excluded.pos, doc = excluded.doc`),
			ev.Tenant, j.ID, int64(ev.Seq), string(doc))
	case dojot.EventCronJobDeleted:
		var p dojot.CronJobDeleted
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		return nil, a.stmt(a.s.q(`DELETE FROM {s}.cronjobs WHERE tenant = $1 AND id = $2`), ev.Tenant, p.ID)
	}
	return nil, nil
}

func (a *applier) flow(ev dojot.Event) (refused, err error) {
	switch ev.Type {
	case dojot.EventFlowCreated, dojot.EventFlowUpdated:
		var f dojot.Flow
		if err := ev.Decode(&f); err != nil {
			return err, nil
		}
		if hasNUL(f.ID, f.Name, string(f.Nodes)) {
			return errNUL, nil
		}
		// Upserted either way: a re-applied event writes the same row, and
		// an update keeps the creation's position.
		return nil, a.stmt(a.s.q(`INSERT INTO {s}.flows (tenant, id, pos, name, enabled, nodes, created, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant, id) DO UPDATE
			SET name = excluded.name, enabled = excluded.enabled, nodes = excluded.nodes, updated = excluded.updated`),
			ev.Tenant, f.ID, int64(ev.Seq), f.Name, f.Enabled, string(f.Nodes), f.Created, f.Updated)
	case dojot.EventFlowDeleted:
		var p dojot.FlowDeleted
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		return nil, a.stmt(a.s.q(`DELETE FROM {s}.flows WHERE tenant = $1 AND id = $2`), ev.Tenant, p.ID)
	case dojot.EventFlowsAllDeleted:
		var p dojot.FlowsAllDeleted
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		return nil, a.stmt(a.s.q(`DELETE FROM {s}.flows WHERE tenant = $1 AND id = ANY($2)`), ev.Tenant, p.IDs)
	}
	return nil, nil
}

// errNUL: PostgreSQL text cannot hold a NUL character, which JSON can.
// Such an event is refused rather than stalling the view.
var errNUL = errors.New("a string holds a NUL character, which PostgreSQL cannot store")

func hasNUL(ss ...string) bool {
	for _, s := range ss {
		for i := 0; i < len(s); i++ {
			if s[i] == 0 {
				return true
			}
		}
	}
	return false
}

func (a *applier) device(ev dojot.Event) (refused, err error) {
	switch ev.Type {
	case dojot.EventDeviceCreated, dojot.EventDeviceUpdated:
		d, err := decodeDevice(ev)
		if err != nil {
			return err, nil
		}
		if d.ID != ev.AggregateID {
			return fmt.Errorf("device payload id %q on aggregate %q", d.ID, ev.AggregateID), nil
		}
		if bad := cleanDevice(ev.Tenant, &d); bad != nil {
			return bad, nil
		}
		if ev.Type == dojot.EventDeviceCreated && a.copyCreated {
			return nil, a.copyDevice(ev.Tenant, d)
		}
		return nil, a.putDevice(ev.Tenant, d)
	case dojot.EventDeviceDeleted:
		// The aggregate id is the device id: the payload (the rendered
		// device, for the Kafka bridge) is not needed.
		return nil, a.stmt(a.s.q(`WITH t AS (DELETE FROM {s}.device_template WHERE tenant = $1 AND device_id = $2),
			o AS (DELETE FROM {s}.overrides WHERE tenant = $1 AND did = $2),
			k AS (DELETE FROM {s}.pre_shared_keys WHERE tenant = $1 AND device_id = $2),
			d AS (DELETE FROM {s}.devices WHERE tenant = $1 AND id = $2 RETURNING 1),
			`+revokeDeviceCerts+`
			UPDATE {s}.device_counts SET devices = devices - (SELECT count(*) FROM d) WHERE tenant = $1`), ev.Tenant, ev.AggregateID, int64(ev.Seq), ev.Time)
	case dojot.EventDeviceCredentialsSet:
		// Not stored: device credentials are checked against the memory
		// view every instance keeps (commands.Devices.CheckDeviceCredentials),
		// never read from a shared view, so password hashes stay out of it.
		return nil, nil
	}
	return nil, nil // device.actuated and anything newer: nothing shown changes
}

// cleanDevice drops repeated templates, overrides and keys (the first one
// counts, as the memory view reads them), which the tables' keys would
// refuse, and refuses what PostgreSQL cannot store.
func cleanDevice(tenant string, d *dojot.Device) error {
	if hasNUL(tenant, d.ID, d.Label) {
		return errNUL
	}
	d.Templates = dedupe(d.Templates, func(t int) int { return t })
	d.Overrides = dedupe(d.Overrides, func(o dojot.Override) int { return o.AttrID })
	d.PSKs = dedupe(d.PSKs, func(o dojot.Override) int { return o.AttrID })
	for _, o := range d.Overrides {
		if hasNUL(o.StaticValue) {
			return errNUL
		}
	}
	for _, o := range d.PSKs {
		if hasNUL(o.StaticValue) {
			return errNUL
		}
	}
	return nil
}

// dedupe keeps the first element of each key, in order; s is returned
// as is when no key repeats (the usual case, without allocating).
func dedupe[T any](s []T, key func(T) int) []T {
	dup := false
	for i := 1; i < len(s) && !dup; i++ {
		for j := range i {
			if key(s[j]) == key(s[i]) {
				dup = true
				break
			}
		}
	}
	if !dup {
		return s
	}
	seen := map[int]bool{}
	var out []T
	for _, x := range s {
		if !seen[key(x)] {
			seen[key(x)] = true
			out = append(out, x)
		}
	}
	return out
}

func (a *applier) copyDevice(tenant string, d dojot.Device) error {
	if err := a.flushStmts(); err != nil {
		return err
	}
	a.rows.devices = append(a.rows.devices, []any{tenant, d.ID, d.Label, d.Created, d.Updated})
	for i, t := range d.Templates {
		a.rows.templates = append(a.rows.templates, []any{tenant, d.ID, int32(t), int16(i)})
	}
	for _, o := range d.Overrides {
		a.rows.overrides = append(a.rows.overrides, []any{tenant, d.ID, int32(o.AttrID), o.StaticValue})
	}
	for _, o := range d.PSKs {
		a.rows.psks = append(a.rows.psks, []any{tenant, d.ID, int32(o.AttrID), o.StaticValue})
	}
	return nil
}

// putDevice replaces a device's rows: its children go, the device is
// upserted and its children inserted again.
func (a *applier) putDevice(tenant string, d dojot.Device) error {
	if err := a.stmt(a.s.q(`WITH t AS (DELETE FROM {s}.device_template WHERE tenant = $1 AND device_id = $2),
		o AS (DELETE FROM {s}.overrides WHERE tenant = $1 AND did = $2)
		DELETE FROM {s}.pre_shared_keys WHERE tenant = $1 AND device_id = $2`), tenant, d.ID); err != nil {
		return err
	}
	tids := make([]int32, len(d.Templates))
	for i, t := range d.Templates {
		tids[i] = int32(t)
	}
	ovIDs, ovVals := splitOverrides(d.Overrides)
	kIDs, kVals := splitOverrides(d.PSKs)
	return a.stmt(a.s.q(`WITH d AS (
			INSERT INTO {s}.devices (tenant, id, label, created, updated) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tenant, id) DO UPDATE SET label = excluded.label, created = excluded.created, updated = excluded.updated
			RETURNING xmax = 0 AS inserted),
		c AS (INSERT INTO {s}.device_counts AS c (tenant, devices) SELECT $1, 1 FROM d WHERE d.inserted
			ON CONFLICT (tenant) DO UPDATE SET devices = c.devices + 1),
		t AS (INSERT INTO {s}.device_template (tenant, device_id, template_id, pos)
			SELECT $1, $2, u.t, u.n - 1 FROM unnest($6::integer[]) WITH ORDINALITY AS u(t, n)),
		o AS (INSERT INTO {s}.overrides (tenant, did, aid, static_value)
			SELECT $1, $2, u.a, u.v FROM unnest($7::integer[], $8::text[]) AS u(a, v))
		INSERT INTO {s}.pre_shared_keys (tenant, device_id, attr_id, psk)
			SELECT $1, $2, u.a, u.v FROM unnest($9::integer[], $10::text[]) AS u(a, v)`),
		tenant, d.ID, d.Label, d.Created, d.Updated, tids, ovIDs, ovVals, kIDs, kVals)
}

func splitOverrides(ovs []dojot.Override) ([]int32, []string) {
	ids, vals := make([]int32, len(ovs)), make([]string, len(ovs))
	for i, o := range ovs {
		ids[i], vals[i] = int32(o.AttrID), o.StaticValue
	}
	return ids, vals
}

func (a *applier) template(ev dojot.Event) (refused, err error) {
	switch ev.Type {
	case dojot.EventTemplateCreated, dojot.EventTemplateUpdated:
		var p dojot.TemplateUpdated // the shape of both payloads
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		if bad := checkTemplate(ev.Tenant, p.Template); bad != nil {
			return bad, nil
		}
		return nil, a.putTemplate(ev.Tenant, p.Template, ev.Type == dojot.EventTemplateUpdated)
	case dojot.EventTemplateDeleted:
		var p dojot.TemplateDeleted
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		return nil, a.dropTemplates(ev.Tenant, []int32{int32(p.ID)})
	case dojot.EventTemplatesDeleted:
		var p dojot.TemplatesDeleted
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		ids := make([]int32, len(p.IDs))
		for i, id := range p.IDs {
			ids[i] = int32(id)
		}
		return nil, a.dropTemplates(ev.Tenant, ids)
	case dojot.EventTemplatesImported:
		var p dojot.TemplatesImported
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		for _, tp := range p.Templates {
			if bad := checkTemplate(ev.Tenant, tp); bad != nil {
				return bad, nil
			}
		}
		// The tenant's templates are replaced: all of them go, not only
		// the ones Removed lists.
		if err := a.stmt(a.s.q(`WITH a AS (DELETE FROM {s}.attrs WHERE tenant = $1)
			DELETE FROM {s}.templates WHERE tenant = $1`), ev.Tenant); err != nil {
			return nil, err
		}
		for _, tp := range p.Templates {
			if err := a.putTemplate(ev.Tenant, tp, false); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

// checkTemplate refuses a template the tables cannot hold: attribute ids
// (metadata included) repeated, or NUL characters.
func checkTemplate(tenant string, tp dojot.Template) error {
	if hasNUL(tenant, tp.Label) {
		return errNUL
	}
	seen := map[int]bool{}
	check := func(at dojot.Attr) error {
		if seen[at.ID] {
			return fmt.Errorf("template %d: attribute id %d repeated", tp.ID, at.ID)
		}
		seen[at.ID] = true
		if hasNUL(at.Label, at.Type, at.ValueType) || (at.StaticValue != nil && hasNUL(*at.StaticValue)) {
			return errNUL
		}
		return nil
	}
	for _, at := range tp.Attrs {
		if err := check(at); err != nil {
			return err
		}
		for _, m := range at.Metadata {
			if err := check(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// putTemplate replaces a template and its attrs. An update first drops the
// pre-shared keys of the attrs that lose their psk type or go (dojot
// deletes an attr's pre_shared_keys rows then), from every device of the
// tenant.
func (a *applier) putTemplate(tenant string, tp dojot.Template, update bool) error {
	del := `DELETE FROM {s}.attrs WHERE tenant = $1 AND template_id = $2`
	args := []any{tenant, int32(tp.ID)}
	if update {
		keep := []int32{} // attrs that stay psk (not nil: NULL would match nothing below)
		for _, at := range tp.Attrs {
			if at.ValueType == "psk" {
				keep = append(keep, int32(at.ID))
			}
		}
		del = `WITH k AS (DELETE FROM {s}.pre_shared_keys WHERE tenant = $1 AND attr_id IN (
				SELECT id FROM {s}.attrs WHERE tenant = $1 AND template_id = $2 AND parent_id IS NULL
				AND value_type = 'psk' AND id <> ALL($3::integer[])))
			` + del
		args = append(args, keep)
	}
	if err := a.stmt(a.s.q(del), args...); err != nil {
		return err
	}
	var r attrRows
	for _, at := range tp.Attrs {
		r.add(at, nil)
		for _, m := range at.Metadata {
			r.add(m, &at.ID)
		}
	}
	return a.stmt(a.s.q(`WITH t AS (
			INSERT INTO {s}.templates (tenant, id, label, created, updated) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tenant, id) DO UPDATE SET label = excluded.label, created = excluded.created, updated = excluded.updated)
		INSERT INTO {s}.attrs (tenant, template_id, id, parent_id, pos, label, type, value_type, static_value, created, updated)
		SELECT $1, $2, u.id, u.parent, u.n - 1, u.label, u.type, u.vt, u.sv, u.created, u.updated
		FROM unnest($6::integer[], $7::integer[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::timestamptz[])
			WITH ORDINALITY AS u(id, parent, label, type, vt, sv, created, updated, n)`),
		tenant, int32(tp.ID), tp.Label, tp.Created, tp.Updated,
		r.id, r.parent, r.label, r.typ, r.valueType, r.static, r.created, r.updated)
}

// attrRows are a template's attrs as columns, metadata after their attr.
type attrRows struct {
	id, parent            []*int32
	label, typ, valueType []string
	static                []*string
	created               []time.Time
	updated               []*time.Time
}

func (r *attrRows) add(at dojot.Attr, parent *int) {
	id := int32(at.ID)
	r.id = append(r.id, &id)
	var p *int32
	if parent != nil {
		pv := int32(*parent)
		p = &pv
	}
	r.parent = append(r.parent, p)
	r.label = append(r.label, at.Label)
	r.typ = append(r.typ, at.Type)
	r.valueType = append(r.valueType, at.ValueType)
	r.static = append(r.static, at.StaticValue)
	r.created = append(r.created, at.Created)
	r.updated = append(r.updated, at.Updated)
}

func (a *applier) dropTemplates(tenant string, ids []int32) error {
	return a.stmt(a.s.q(`WITH a AS (DELETE FROM {s}.attrs WHERE tenant = $1 AND template_id = ANY($2))
		DELETE FROM {s}.templates WHERE tenant = $1 AND id = ANY($2)`), tenant, ids)
}
