-- The generation readers are served from: one row; gen is NULL while no
-- generation is served. An applier locks it FOR SHARE in each transaction
-- and a switch FOR UPDATE, so a switch waits for the batch in flight.
CREATE TABLE {{meta}}.served (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    gen integer
);
INSERT INTO {{meta}}.served (gen) VALUES (NULL);

-- Every generation ever made; each lives in the schema {{meta}}_g<gen>
-- until it is dropped.
CREATE TABLE {{meta}}.generations (
    gen            integer PRIMARY KEY,
    schema_version integer NOT NULL,
    state          text NOT NULL CHECK (state IN ('building', 'served', 'dropped')),
    created        timestamptz NOT NULL DEFAULT now()
);
