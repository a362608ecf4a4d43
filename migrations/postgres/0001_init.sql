-- PostgreSQL twin of migrations/sqlite/0001_init.sql: the same tables, columns and keys.
-- Every Kong entity, as the JSON the Admin API returns. `name` holds the entity's unique
-- natural key (service/route name, consumer username, key-auth key) so duplicates are refused
-- by the database itself.
-- COLLATE "C": byte order and byte equality, as SQLite's TEXT, whatever the database locale.
CREATE TABLE entities (
    kind       TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C",
    body       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE UNIQUE INDEX entities_kind_name ON entities (kind, name) WHERE name IS NOT NULL;

-- One row: the config version, bumped by every write that changes anything. Writers lock this
-- row (SELECT ... FOR UPDATE), so versions stay monotonic across control planes.
CREATE TABLE config_version (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    version    BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);

INSERT INTO config_version (id, version, updated_at) VALUES (1, 0, 0);
