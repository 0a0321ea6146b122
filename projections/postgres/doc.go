// Package postgres is the DeviceManager and auth view kept in PostgreSQL
// (pgx/v5): the production read model that several instances share.
//
// The database holds a meta schema (Options.Name, "dojot" by default) that
// says which generation is served, and one schema per generation,
// <name>_g<N>, with tables close to dojot DeviceManager's and auth's own
// (templates, attrs, devices, device_template, overrides,
// pre_shared_keys, users, groups, permissions, user_group, group_perm,
// user_perm) plus a tenant column, and a one-row checkpoint. A rebuild
// fills a new generation beside the served one and switches the pointer
// in one transaction (Build, Building.Switch), so readers never see a
// half-built view.
//
// Events are applied in batches, one transaction per batch together with
// the checkpoint (ApplyTx), runs of device.created by COPY. Commits are
// asynchronous (synchronous_commit off): a server crash may lose the last
// batches, but never one without its checkpoint, and the log replays them.
//
// Open creates generation 1, served and empty, on a database that has
// none, so the first start needs no rebuild: its Stamp is Exists, at
// sequence 0, and the Runner applies the whole log to it.
package postgres
