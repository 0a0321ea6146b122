// Package mongo is the DeviceManager and auth view kept in MongoDB: the
// same read model as projections/memory, as documents, so that several
// instances can serve reads from one database that outlives them.
//
// # Layout
//
// The database named in Options (say "dojot") holds one collection, meta,
// with the pointer to the served generation ({_id:"served", gen}), the
// generation under construction ({_id:"building", gen}), the generation
// counter ({_id:"gens", last}) and the applier lease ({_id:"applier",
// owner, expires}). Each generation N is a database of its own,
// "dojot_g<N>", with the collections
//
//	templates    {_id:"<tenant>.<id>", tenant, id, label, created, updated, attrs, psk_versions}
//	devices      {_id:"<tenant>.<id>", tenant, id, label, created, updated, templates, overrides, psks:{<attr id>: key}}
//	users        {_id:<id>, username, name, service, email, profile, created_date, created_by, groups, perms}
//	groups       {_id:<id>, name, description, created_date, created_by, perms, created_seq}
//	permissions  {_id:<id>, name, path, method, permission, type, created_date, created_by, created_seq}
//	tenants      {_id:"<tenant>", active}
//	flows        {_id:"<tenant>.<id>", tenant, id, name, enabled, nodes (the JSON text as sent), created, updated, pos}
//	cronjobs     {_id:"<tenant>.<id>", tenant, pos, doc (the job's JSON text)}
//	checkpoint   {_id:"checkpoint", seq, event_id, schema_version}
//
// Device and template times are Unix microseconds (what dojot shows);
// auth times are RFC 3339 text, kept to the nanosecond as the log has them.
// Relations are id arrays embedded in the user and group documents.
// Password hashes and user keys are not kept: logins are decided by
// commands against the memory view, and this view serves reads. A
// rebuild fills a new generation beside the served one and switches the
// pointer, one document write, then drops the old database: no collection
// is ever renamed, and a reader only ever sees a whole generation.
//
// # Applying without transactions
//
// Document ids derive from the aggregate (tenant and id), and every event
// carries its aggregate's full state (device.created/updated the whole
// device, template.* the whole template), so a batch is applied as ordered
// bulk writes of upserts and deletes, and the checkpoint is written last.
// A crash in the middle leaves the checkpoint before the batch; applying
// the batch again writes the same documents. The one derived change, a
// template update taking away the pre-shared keys of attributes that stop
// being psk, depends on the version replaced; each template keeps the psk
// attributes of its versions since the checkpoint (psk_versions), so a
// replay drops the same keys even though the template document already
// holds a later version. Likewise a relation to a group or permission
// applied again sees it as it was at the relation's sequence
// (created_seq). A device's first document is inserted rather than
// upserted (much cheaper); a batch applied again collides and is written
// once more as upserts.
//
// Keys are a document by attr id, not an array, so that dropping some is
// an $unset: FerretDB's $pull with a condition on the fields of array
// elements matches the document and silently removes nothing.
//
// # Several instances
//
// One instance applies at a time: it holds the lease document, renewed
// every LeaseTTL/5 (see Lead). Every instance follows the served
// checkpoint by polling it (see Follow): FerretDB has no change streams.
// The view needs no multi-document transaction, no change stream and no
// aggregation beyond counting, so that FerretDB v1 (the tests' server)
// runs it.
package mongo
