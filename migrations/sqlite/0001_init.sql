-- Every Kong entity, as the JSON the Admin API returns. `name` holds the entity's unique
-- natural key (service/route name, consumer username, key-auth key) so duplicates are refused
-- by the database itself.
CREATE TABLE entities (
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    name       TEXT,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE UNIQUE INDEX entities_kind_name ON entities (kind, name) WHERE name IS NOT NULL;

-- One row: the config version, bumped by every write that changes anything.
CREATE TABLE config_version (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

INSERT INTO config_version (id, version, updated_at) VALUES (1, 0, 0);
