-- The DPs of every CP sharing this database, as Kong's `clustering_data_planes`: each CP writes
-- its DPs' rows (the `GET /clustering/data-planes` JSON in `body`), so any CP lists them all.
-- A row belongs to the CP its DP last connected to; a CP that stops refreshing its own row in
-- `clustering_control_planes` has its DPs shown disconnected.
CREATE TABLE clustering_data_planes (
    id        TEXT    PRIMARY KEY,
    cp_id     TEXT    NOT NULL,
    connected BOOLEAN NOT NULL,
    last_seen BIGINT  NOT NULL,
    body      TEXT    NOT NULL
);

CREATE TABLE clustering_control_planes (
    id      TEXT   PRIMARY KEY,
    seen_at BIGINT NOT NULL
);
