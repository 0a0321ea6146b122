package mongo

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
)

// errLeaseLost: this View led, and another instance holds the lease now.
var errLeaseLost = errors.New("mongo: the applier lease is held by another instance")

// Apply applies one event (ApplyTx of one).
func (v *View) Apply(ctx context.Context, ev dojot.Event) error {
	refused, err := v.ApplyTx(ctx, []dojot.Event{ev})
	if err != nil {
		return err
	}
	return errors.Join(refused...)
}

// ApplyTx applies evs to the generation bound by the last Checkpoint (the
// one served when the View opened, until then). MongoDB gives no
// multi-document transaction here (FerretDB has none, a standalone
// MongoDB neither), so the batch is ordered bulk writes of idempotent
// upserts and deletes, and the checkpoint is written last: after a crash
// the checkpoint is still before the batch, and the batch applied again
// writes the same documents.
//
// It returns projections.ErrSwitched when the generation is no longer the
// served one, checked before writing and again after: a batch that raced a
// switch may have missed the new generation, and the Runner then follows
// the log again from the new generation's checkpoint.
func (v *View) ApplyTx(ctx context.Context, evs []dojot.Event) ([]error, error) {
	gen := v.applyGen.Load()
	if err := v.checkServed(ctx, gen); err != nil {
		return nil, err
	}
	refused, err := applyTx(ctx, v.database(gen), evs, v.opts.afterBulk)
	if err != nil {
		return nil, err
	}
	if err := v.checkServed(ctx, gen); err != nil {
		return nil, err
	}
	return refused, nil
}

// checkServed fails when gen is not the served generation, or when this
// View led and has lost the lease (one read for both).
func (v *View) checkServed(ctx context.Context, gen int64) error {
	ids := bson.A{metaServed}
	leading := v.lease.Leading()
	if leading {
		ids = append(ids, metaApplier)
	}
	cur, err := v.meta.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return wrap("read served generation", err)
	}
	var docs []struct {
		ID    string `bson:"_id"`
		Gen   int64  `bson:"gen"`
		Owner string `bson:"owner"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return wrap("read served generation", err)
	}
	served, owner := int64(-1), ""
	for _, d := range docs {
		switch d.ID {
		case metaServed:
			served = d.Gen
		case metaApplier:
			owner = d.Owner
		}
	}
	if served != gen {
		return fmt.Errorf("mongo: generation %d, served %d: %w", gen, served, projections.ErrSwitched)
	}
	if leading && owner != v.owner {
		return errLeaseLost
	}
	return nil
}

// applyTx applies evs to db's generation (see ApplyTx).
func applyTx(ctx context.Context, db *mongo.Database, evs []dojot.Event, afterBulk func(string)) ([]error, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	cp, _, err := checkpoint(ctx, db)
	if err != nil {
		return nil, err
	}
	b := &batch{ctx: ctx, db: db, cp: uint64(cp.Seq), ops: map[string][]mongo.WriteModel{},
		templates: map[string]*templateDoc{}, wiped: map[string]bool{}, inserts: map[string]bool{}, exists: map[string]int64{}}
	var refused []error
	last := evs[len(evs)-1]
	for i, ev := range evs {
		if ev.Seq != 0 && ev.Seq <= b.cp {
			continue // applied before: the memory view skips it too
		}
		if err := b.apply(ev); err != nil {
			if errors.Is(err, errRead) {
				return nil, err
			}
			if refused == nil {
				refused = make([]error, len(evs))
			}
			refused[i] = fmt.Errorf("apply %s seq %d: %w", ev.Type, ev.Seq, err)
		}
	}
	if last.Seq != 0 && last.Seq <= b.cp {
		return nil, nil // all applied before
	}
	for _, coll := range []string{collTemplates, collDevices, collUsers, collGroups, collPermissions, collTenants, collCertificates, collRevoked, collTrustedCAs, collFlows, collCronJobs} {
		ops := b.ops[coll]
		if len(ops) == 0 {
			continue
		}
		_, err := db.Collection(coll).BulkWrite(ctx, ops, options.BulkWrite().SetOrdered(true))
		if mongo.IsDuplicateKeyError(err) && b.inserts[coll] {
			// The batch was applied before (up to a crash), or a device
			// was created twice: the same writes again, as upserts. The
			// ordered bulk stopped at the collision, so everything
			// before it was written as it will be written again.
			for i, m := range ops {
				if ins, ok := m.(*mongo.InsertOneModel); ok {
					ops[i] = mongo.NewReplaceOneModel().SetFilter(byID(ins.Document.(deviceDoc).Key)).
						SetReplacement(ins.Document).SetUpsert(true)
				}
			}
			_, err = db.Collection(coll).BulkWrite(ctx, ops, options.BulkWrite().SetOrdered(true))
		}
		if err != nil {
			return nil, wrap("write "+coll, err)
		}
		if afterBulk != nil {
			afterBulk(coll)
		}
	}
	seq := max(last.Seq, b.cp)
	_, err = db.Collection(collCheckpoint).ReplaceOne(ctx, bson.D{{Key: "_id", Value: "checkpoint"}},
		checkpointDoc{ID: "checkpoint", Seq: int64(seq), EventID: last.ID, SchemaVersion: SchemaVersion},
		options.Replace().SetUpsert(true))
	if err != nil {
		return nil, wrap("write checkpoint", err)
	}
	return refused, nil
}

// errRead marks a failure to read the state a batch depends on: the
// batch fails, unlike an event that cannot be decoded.
var errRead = errors.New("read failed")

// batch turns events into write models, per collection in event order.
// What applying an event must read (a template's former version, whether
// a group exists) is read from the database once and then kept here, as
// the batch changes it, since nothing is written before the whole batch
// is decided.
type batch struct {
	ctx context.Context
	db  *mongo.Database
	cp  uint64
	ops map[string][]mongo.WriteModel
	// inserts marks the collections whose ops hold inserts: a device's
	// first document is inserted, not upserted, since an upsert must look
	// for the document first, which FerretDB does by scanning the
	// collection (5 ms an upsert at 20,000 devices, 35 µs an insert), and
	// MongoDB too does more work for it. A collision turns them into
	// upserts (applyTx).
	inserts map[string]bool

	templates map[string]*templateDoc // by key; nil: absent
	wiped     map[string]bool         // tenants whose templates were all deleted in this batch
	exists    map[string]int64        // "groups/<id>": its created_seq, -1: absent
	certs     map[string]*certDoc     // certificates by fingerprint (x509.go); nil: absent
	trusted   map[string]*trustedDoc  // trusted CAs by id (x509.go); nil: absent
}

func (b *batch) add(coll string, m mongo.WriteModel) { b.ops[coll] = append(b.ops[coll], m) }

func byID(id any) bson.D { return bson.D{{Key: "_id", Value: id}} }

func (b *batch) replace(coll string, id, doc any) {
	b.add(coll, mongo.NewReplaceOneModel().SetFilter(byID(id)).SetReplacement(doc).SetUpsert(true))
}

func (b *batch) deleteOne(coll string, id any) {
	b.add(coll, mongo.NewDeleteOneModel().SetFilter(byID(id)))
}

func (b *batch) updateOne(coll string, id any, update bson.D) {
	b.add(coll, mongo.NewUpdateOneModel().SetFilter(byID(id)).SetUpdate(update))
}

func (b *batch) updateMany(coll string, filter, update bson.D) {
	b.add(coll, mongo.NewUpdateManyModel().SetFilter(filter).SetUpdate(update))
}

func (b *batch) apply(ev dojot.Event) error {
	switch ev.Kind {
	case dojot.KindTemplate:
		return b.applyTemplate(ev)
	case dojot.KindDevice:
		return b.applyDevice(ev)
	case dojot.KindTenant, dojot.KindUser, dojot.KindGroup, dojot.KindPermission:
		return b.applyAuth(ev)
	case dojot.KindCertificate, dojot.KindTrustedCA:
		return b.applyX509(ev) // x509.go
	case dojot.KindFlow:
		return b.applyFlow(ev)
	case dojot.KindCronJob:
		return b.applyCronJob(ev) // cronjobs.go
	}
	return nil
}

func (b *batch) applyFlow(ev dojot.Event) error {
	switch ev.Type {
	case dojot.EventFlowCreated, dojot.EventFlowUpdated:
		var f dojot.Flow
		if err := ev.Decode(&f); err != nil {
			return err
		}
		// An upsert either way: a re-applied event writes the same
		// document, and an update keeps the creation's position.
		d := newFlowDoc(ev.Tenant, f)
		b.add(collFlows, mongo.NewUpdateOneModel().SetFilter(byID(d.Key)).SetUpsert(true).SetUpdate(bson.D{
			{Key: "$set", Value: bson.D{{Key: "tenant", Value: d.Tenant}, {Key: "id", Value: d.ID}, {Key: "name", Value: d.Name},
				{Key: "enabled", Value: d.Enabled}, {Key: "nodes", Value: d.Nodes}, {Key: "created", Value: d.Created}, {Key: "updated", Value: d.Updated}}},
			{Key: "$setOnInsert", Value: bson.D{{Key: "pos", Value: int64(ev.Seq)}}},
		}))
	case dojot.EventFlowDeleted:
		var p dojot.FlowDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		b.deleteOne(collFlows, flowKey(ev.Tenant, p.ID))
	case dojot.EventFlowsAllDeleted:
		var p dojot.FlowsAllDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		for _, id := range p.IDs {
			b.deleteOne(collFlows, flowKey(ev.Tenant, id))
		}
	}
	return nil
}

func (b *batch) applyDevice(ev dojot.Event) error {
	switch ev.Type {
	case dojot.EventDeviceCreated, dojot.EventDeviceUpdated:
		var p dojot.DeviceUpdated // the shape of both
		if err := ev.Decode(&p); err != nil {
			return err
		}
		if p.ID != ev.AggregateID {
			return fmt.Errorf("device payload id %q on aggregate %q", p.ID, ev.AggregateID)
		}
		d := newDeviceDoc(ev.Tenant, p.Device)
		if ev.Type == dojot.EventDeviceCreated {
			b.add(collDevices, mongo.NewInsertOneModel().SetDocument(d))
			b.inserts[collDevices] = true
		} else {
			b.replace(collDevices, d.Key, d)
		}
	case dojot.EventDeviceDeleted:
		// The aggregate id is the device id; the payload carries the
		// rendered device for the Kafka bridge only.
		b.deleteOne(collDevices, deviceKey(ev.Tenant, ev.AggregateID))
		return b.deviceCertsDeleted(ev) // its certificates are revoked (x509.go)
	case dojot.EventDeviceCredentialsSet:
		// Not stored: device credentials are checked against the memory
		// view every instance keeps (commands.Devices.CheckDeviceCredentials),
		// never read from a shared view, so password hashes stay out of it.
	}
	// device.actuated and anything newer change nothing shown.
	return nil
}

// template returns a template's document as the batch left it so far.
func (b *batch) template(tenant string, id int) (*templateDoc, error) {
	key := templateKey(tenant, id)
	if d, ok := b.templates[key]; ok {
		return d, nil
	}
	if b.wiped[tenant] {
		return nil, nil
	}
	var d templateDoc
	err := b.db.Collection(collTemplates).FindOne(b.ctx, byID(key)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		b.templates[key] = nil
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRead, wrap("read template", err))
	}
	b.templates[key] = &d
	return &d, nil
}

func (b *batch) putTemplate(tenant string, tp dojot.Template, old *templateDoc, seq uint64) {
	d := newTemplateDoc(tenant, tp, old, seq, b.cp)
	b.templates[d.Key] = &d
	b.replace(collTemplates, d.Key, d)
}

func (b *batch) dropTemplate(tenant string, id int) {
	key := templateKey(tenant, id)
	b.templates[key] = nil
	b.deleteOne(collTemplates, key)
}

func (b *batch) applyTemplate(ev dojot.Event) error {
	switch ev.Type {
	case dojot.EventTemplateCreated:
		var p dojot.TemplateCreated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		old, err := b.template(ev.Tenant, p.ID)
		if err != nil {
			return err
		}
		b.putTemplate(ev.Tenant, p.Template, old, ev.Seq)
	case dojot.EventTemplateUpdated:
		var p dojot.TemplateUpdated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		old, err := b.template(ev.Tenant, p.ID)
		if err != nil {
			return err
		}
		lost := lostPSKAttrs(old, p.Template, ev.Seq)
		b.putTemplate(ev.Tenant, p.Template, old, ev.Seq)
		if len(lost) > 0 {
			// Every device of the tenant, also those that no longer use
			// the template: dojot keeps their keys until then too.
			has, unset := bson.A{}, bson.D{}
			for _, id := range lost {
				field := "psks." + strconv.Itoa(id)
				has = append(has, bson.D{{Key: field, Value: bson.D{{Key: "$exists", Value: true}}}})
				unset = append(unset, bson.E{Key: field, Value: ""})
			}
			b.updateMany(collDevices, bson.D{{Key: "tenant", Value: ev.Tenant}, {Key: "$or", Value: has}},
				bson.D{{Key: "$unset", Value: unset}})
		}
	case dojot.EventTemplateDeleted:
		var p dojot.TemplateDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		b.dropTemplate(ev.Tenant, p.ID)
	case dojot.EventTemplatesDeleted:
		var p dojot.TemplatesDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		for _, id := range p.IDs {
			b.dropTemplate(ev.Tenant, id)
		}
	case dojot.EventTemplatesImported:
		var p dojot.TemplatesImported
		if err := ev.Decode(&p); err != nil {
			return err
		}
		b.add(collTemplates, mongo.NewDeleteManyModel().SetFilter(bson.D{{Key: "tenant", Value: ev.Tenant}}))
		for key, d := range b.templates {
			if d != nil && d.Tenant == ev.Tenant {
				b.templates[key] = nil
			}
		}
		b.wiped[ev.Tenant] = true
		for _, tp := range p.Templates {
			b.putTemplate(ev.Tenant, tp, nil, ev.Seq)
		}
	}
	return nil
}

// exist reports whether a group or permission existed when the event at
// seq was applied, as the batch left it. A document created after seq
// (written by an earlier, interrupted application of this batch) did not
// exist yet; one deleted after seq is gone, and its deletion removes the
// relation again anyway.
func (b *batch) exist(coll string, id int64, seq uint64) (bool, error) {
	key := fmt.Sprint(coll, "/", id)
	created, seen := b.exists[key]
	if !seen {
		var d struct {
			CreatedSeq int64 `bson:"created_seq"`
		}
		err := b.db.Collection(coll).FindOne(b.ctx, byID(id), options.FindOne().SetProjection(bson.D{{Key: "created_seq", Value: 1}})).Decode(&d)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			created = -1
		case err != nil:
			return false, fmt.Errorf("%w: %w", errRead, wrap("read "+coll, err))
		default:
			created = d.CreatedSeq
		}
		b.exists[key] = created
	}
	return created >= 0 && (seq == 0 || uint64(created) < seq), nil
}

// setExists records a group or permission created (at seq) or deleted
// (seq -1) by the batch.
func (b *batch) setExists(coll string, id int64, seq int64) {
	b.exists[fmt.Sprint(coll, "/", id)] = seq
}

func set(kv ...any) bson.D {
	d := bson.D{}
	for i := 0; i < len(kv); i += 2 {
		d = append(d, bson.E{Key: kv[i].(string), Value: kv[i+1]})
	}
	return bson.D{{Key: "$set", Value: d}}
}

func op(name, field string, value any) bson.D {
	return bson.D{{Key: name, Value: bson.D{{Key: field, Value: value}}}}
}

// applyAuth is the memory view's authState.apply as writes. Relations
// name only groups and permissions that exist when they are applied, as
// there.
func (b *batch) applyAuth(ev dojot.Event) error {
	switch ev.Type {
	case dojot.EventTenantCreated, dojot.EventTenantDeleted:
		var p dojot.TenantCreated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		b.replace(collTenants, p.Tenant, bson.D{{Key: "_id", Value: p.Tenant}, {Key: "active", Value: ev.Type == dojot.EventTenantCreated}})
	case dojot.EventUserCreated:
		var p dojot.UserCreated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		var groups []int64
		for _, g := range p.Groups {
			ok, err := b.exist(collGroups, g, ev.Seq)
			if err != nil {
				return err
			}
			if ok && !containsInt64(groups, g) {
				groups = append(groups, g)
			}
		}
		// A username is claimed in the stream, so another user of that
		// name is never expected; the memory view drops it, and so here.
		b.add(collUsers, mongo.NewDeleteManyModel().SetFilter(bson.D{{Key: "username", Value: p.Username}}))
		b.replace(collUsers, p.ID, newUserDoc(p.User, groups))
	case dojot.EventUserUpdated:
		var p dojot.UserUpdated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		b.updateOne(collUsers, p.ID, set("name", p.Name, "service", p.Service, "email", p.Email))
	case dojot.EventUserDeleted:
		var p dojot.UserDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		b.deleteOne(collUsers, p.ID)
	case dojot.EventUserPasswordChanged:
		// Secrets are not kept here: commands decide logins against the
		// memory view. Only the payload is checked, as there.
		var p dojot.UserPasswordChanged
		return ev.Decode(&p)
	case dojot.EventUserGroupAdded, dojot.EventUserGroupRemoved:
		var p dojot.UserGroup
		if err := ev.Decode(&p); err != nil {
			return err
		}
		if ev.Type == dojot.EventUserGroupRemoved {
			b.updateOne(collUsers, p.UserID, op("$pull", "groups", p.GroupID))
			return nil
		}
		ok, err := b.exist(collGroups, p.GroupID, ev.Seq)
		if err != nil || !ok { // a group deleted meanwhile stays deleted
			return err
		}
		b.updateOne(collUsers, p.UserID, op("$addToSet", "groups", p.GroupID))
	case dojot.EventUserPermissionAdded, dojot.EventUserPermissionRemoved:
		var p dojot.UserPermission
		if err := ev.Decode(&p); err != nil {
			return err
		}
		if ev.Type == dojot.EventUserPermissionRemoved {
			b.updateOne(collUsers, p.UserID, op("$pull", "perms", p.PermissionID))
			return nil
		}
		ok, err := b.exist(collPermissions, p.PermissionID, ev.Seq)
		if err != nil || !ok {
			return err
		}
		b.updateOne(collUsers, p.UserID, op("$addToSet", "perms", p.PermissionID))
	case dojot.EventGroupCreated:
		var p dojot.GroupCreated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		g := p.Group
		b.replace(collGroups, g.ID, groupDoc{ID: g.ID, Name: g.Name, Description: g.Description,
			CreatedDate: text(g.CreatedDate), CreatedBy: g.CreatedBy, Perms: []int64{}, CreatedSeq: int64(ev.Seq)})
		b.setExists(collGroups, g.ID, int64(ev.Seq))
	case dojot.EventGroupUpdated:
		var p dojot.GroupUpdated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		b.updateOne(collGroups, p.ID, set("name", p.Name, "description", p.Description))
	case dojot.EventGroupDeleted:
		var p dojot.GroupDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		b.deleteOne(collGroups, p.ID)
		b.updateMany(collUsers, bson.D{{Key: "groups", Value: p.ID}}, op("$pull", "groups", p.ID))
		b.setExists(collGroups, p.ID, -1)
	case dojot.EventGroupPermissionAdded, dojot.EventGroupPermissionRemoved:
		var p dojot.GroupPermission
		if err := ev.Decode(&p); err != nil {
			return err
		}
		if ev.Type == dojot.EventGroupPermissionRemoved {
			b.updateOne(collGroups, p.GroupID, op("$pull", "perms", p.PermissionID))
			return nil
		}
		ok, err := b.exist(collPermissions, p.PermissionID, ev.Seq)
		if err != nil || !ok {
			return err
		}
		b.updateOne(collGroups, p.GroupID, op("$addToSet", "perms", p.PermissionID))
	case dojot.EventPermissionCreated:
		var p dojot.PermissionCreated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		pm := p.Permission
		b.replace(collPermissions, pm.ID, permDoc{ID: pm.ID, Name: pm.Name, Path: pm.Path, Method: pm.Method,
			Permission: pm.Permission, Type: pm.Type, CreatedDate: text(pm.CreatedDate), CreatedBy: pm.CreatedBy, CreatedSeq: int64(ev.Seq)})
		b.setExists(collPermissions, pm.ID, int64(ev.Seq))
	case dojot.EventPermissionUpdated:
		var p dojot.PermissionUpdated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		b.updateOne(collPermissions, p.ID, set("path", p.Path, "method", p.Method, "permission", p.Permission, "type", p.Type))
	case dojot.EventPermissionDeleted:
		var p dojot.PermissionDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		b.deleteOne(collPermissions, p.ID)
		b.updateMany(collGroups, bson.D{{Key: "perms", Value: p.ID}}, op("$pull", "perms", p.ID))
		b.updateMany(collUsers, bson.D{{Key: "perms", Value: p.ID}}, op("$pull", "perms", p.ID))
		b.setExists(collPermissions, p.ID, -1)
	} // unknown types are newer events this version ignores
	return nil
}

func containsInt64(s []int64, v int64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
