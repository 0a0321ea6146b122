-- One generation of the view: DeviceManager's and auth's tables as dojot
-- keeps them (Flask-SQLAlchemy models of device-manager and auth), with a
-- tenant column where dojot had one schema per tenant. Labels and ids sort
-- in byte order (COLLATE "C"), as the memory view sorts them. There are no
-- foreign keys: the log is the truth, and a device may name a template
-- that is gone (it is left out when shown, as dojot does).
-- A change here (or in generation_indexes.sql) is a new SchemaVersion:
-- generations are rebuilt from the log, never migrated. Only primary keys
-- are made here, which applying needs; the indexes reads need are made
-- when the generation is about to be served (generation_indexes.sql), as
-- building them once after a rebuild's bulk load is cheaper than keeping
-- them up to date row by row.
CREATE SCHEMA {{gen}};

CREATE TABLE {{gen}}.templates (
    tenant  text COLLATE "C" NOT NULL,
    id      integer NOT NULL,
    label   text COLLATE "C" NOT NULL,
    created timestamptz NOT NULL,
    updated timestamptz,
    PRIMARY KEY (tenant, id)
);

-- Attributes and (parent_id set) their metadata. pos orders a template's
-- rows as its attrs list does, each attr's metadata right after it.
CREATE TABLE {{gen}}.attrs (
    tenant       text COLLATE "C" NOT NULL,
    template_id  integer NOT NULL,
    id           integer NOT NULL,
    parent_id    integer,
    pos          integer NOT NULL,
    label        text COLLATE "C" NOT NULL,
    type         text COLLATE "C" NOT NULL,
    value_type   text COLLATE "C" NOT NULL,
    static_value text COLLATE "C",
    created      timestamptz NOT NULL,
    updated      timestamptz,
    PRIMARY KEY (tenant, template_id, id)
);

CREATE TABLE {{gen}}.devices (
    tenant  text COLLATE "C" NOT NULL,
    id      text COLLATE "C" NOT NULL,
    label   text COLLATE "C" NOT NULL,
    created timestamptz NOT NULL,
    updated timestamptz,
    PRIMARY KEY (tenant, id)
);

-- How many devices each tenant has: GET /device's page count without a
-- scan of the tenant's devices.
CREATE TABLE {{gen}}.device_counts (
    tenant  text COLLATE "C" PRIMARY KEY,
    devices bigint NOT NULL
);

-- pos keeps the order of the device's templates list.
CREATE TABLE {{gen}}.device_template (
    tenant      text COLLATE "C" NOT NULL,
    device_id   text COLLATE "C" NOT NULL,
    template_id integer NOT NULL,
    pos         smallint NOT NULL,
    PRIMARY KEY (tenant, device_id, template_id)
);

-- A device's own static values (dojot: overrides(id, did, aid, static_value)).
CREATE TABLE {{gen}}.overrides (
    tenant       text COLLATE "C" NOT NULL,
    did          text COLLATE "C" NOT NULL,
    aid          integer NOT NULL,
    static_value text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, did, aid)
);

-- dojot: pre_shared_keys(attr_id, device_id, psk); shown by internal reads only.
CREATE TABLE {{gen}}.pre_shared_keys (
    tenant    text COLLATE "C" NOT NULL,
    device_id text COLLATE "C" NOT NULL,
    attr_id   integer NOT NULL,
    psk       text NOT NULL,
    PRIMARY KEY (tenant, device_id, attr_id)
);

-- auth. No password hashes and no JWT keys: no read of this view needs them.
CREATE TABLE {{gen}}.users (
    id           bigint PRIMARY KEY,
    name         text COLLATE "C" NOT NULL,
    username     text COLLATE "C" NOT NULL,
    service      text COLLATE "C" NOT NULL,
    email        text NOT NULL,
    profile      text NOT NULL,
    created_date timestamptz NOT NULL,
    created_by   bigint NOT NULL
);

CREATE TABLE {{gen}}.groups (
    id           bigint PRIMARY KEY,
    name         text COLLATE "C" NOT NULL,
    description  text NOT NULL,
    created_date timestamptz NOT NULL,
    created_by   bigint NOT NULL
);

CREATE TABLE {{gen}}.permissions (
    id           bigint PRIMARY KEY,
    name         text COLLATE "C" NOT NULL,
    path         text NOT NULL,
    method       text NOT NULL,
    permission   text NOT NULL,
    type         text NOT NULL,
    created_date timestamptz NOT NULL,
    created_by   bigint NOT NULL
);

CREATE TABLE {{gen}}.user_group (
    user_id  bigint NOT NULL,
    group_id bigint NOT NULL,
    PRIMARY KEY (user_id, group_id)
);

CREATE TABLE {{gen}}.group_perm (
    group_id      bigint NOT NULL,
    permission_id bigint NOT NULL,
    PRIMARY KEY (group_id, permission_id)
);

CREATE TABLE {{gen}}.user_perm (
    user_id       bigint NOT NULL,
    permission_id bigint NOT NULL,
    PRIMARY KEY (user_id, permission_id)
);

-- Tenants as their lifecycle events left them.
CREATE TABLE {{gen}}.tenants (
    name   text COLLATE "C" PRIMARY KEY,
    active boolean NOT NULL
);

-- Flows (dojot's flowbroker): the node list as the client sent it, text
-- (jsonb would reorder its keys); pos is the sequence of flow.created, the
-- creation order dojot lists them in.
CREATE TABLE {{gen}}.flows (
    tenant  text COLLATE "C" NOT NULL,
    id      text COLLATE "C" NOT NULL,
    pos     bigint NOT NULL,
    name    text NOT NULL,
    enabled boolean NOT NULL,
    nodes   text NOT NULL,
    created timestamptz NOT NULL,
    updated timestamptz NOT NULL,
    PRIMARY KEY (tenant, id)
);

-- Jobs of dojot's cron service: the job as its events hold it
-- (dojot.CronJob, the actions as the client sent them); pos is the
-- sequence of the event that created or last replaced it, dojot's order.
CREATE TABLE {{gen}}.cronjobs (
    tenant text COLLATE "C" NOT NULL,
    id     text COLLATE "C" NOT NULL,
    pos    bigint NOT NULL,
    doc    text NOT NULL,
    PRIMARY KEY (tenant, id)
);

-- The last applied event, written in the same transaction as its effects.
-- x509-identity-mgmt: certificates by fingerprint (one certificate
-- platform-wide), the serials the platform CA revoked (the CRL), trusted
-- CAs per tenant. doc is the record as the memory view holds it
-- (dojot.Certificate, dojot.TrustedCA); seq, the event that created it,
-- orders lists as dojot's natural order did.
CREATE TABLE {{gen}}.certificates (
    fingerprint text COLLATE "C" PRIMARY KEY,
    tenant      text COLLATE "C" NOT NULL,
    device      text COLLATE "C",
    seq         bigint NOT NULL,
    doc         jsonb NOT NULL
);

CREATE TABLE {{gen}}.revoked_serials (
    serial text COLLATE "C" PRIMARY KEY,
    at     timestamptz NOT NULL,
    seq    bigint NOT NULL
);

CREATE TABLE {{gen}}.trusted_cas (
    tenant      text COLLATE "C" NOT NULL,
    fingerprint text COLLATE "C" NOT NULL,
    seq         bigint NOT NULL,
    doc         jsonb NOT NULL,
    PRIMARY KEY (tenant, fingerprint)
);

CREATE TABLE {{gen}}.checkpoint (
    one            boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq            bigint NOT NULL,
    event_id       text NOT NULL,
    schema_version integer NOT NULL
);
INSERT INTO {{gen}}.checkpoint (seq, event_id, schema_version) VALUES (0, '', {{version}});
