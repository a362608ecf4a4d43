//! The `clustering_data_planes` table (PostgreSQL only): every CP writes the rows of the DPs
//! connected to it, so `GET /clustering/data-planes` on any CP lists the DPs of all of them.
//! On SQLite (one CP) the CP's in-memory registry is the whole list and nothing is stored.

use sqlx::{PgPool, Row};

use super::StoreError;

/// One DP row as a CP writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    pub id: String,
    pub connected: bool,
    pub last_seen: i64,
    /// The row's `GET /clustering/data-planes` JSON.
    pub body: String,
}

/// One DP row as read back, with the CP that wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedNode {
    pub cp_id: String,
    /// Connected, and its CP is alive (refreshed its heartbeat since the cutoff).
    pub connected: bool,
    pub body: String,
}

/// Refreshes `cp_id`'s heartbeat, writes `rows`, and deletes rows last seen before `purge_before`.
/// A row already claimed by another CP is only taken over by a connected DP or a later sighting,
/// so the CP a DP left cannot mark it disconnected after it moved.
pub async fn save(
    pool: &PgPool,
    cp_id: &str,
    now: i64,
    rows: &[NodeRow],
    purge_before: i64,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO clustering_control_planes (id, seen_at) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
    )
    .bind(cp_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    for r in rows {
        sqlx::query(
            "INSERT INTO clustering_data_planes (id, cp_id, connected, last_seen, body)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET cp_id = excluded.cp_id, connected = excluded.connected,
                 last_seen = excluded.last_seen, body = excluded.body
             WHERE excluded.connected OR clustering_data_planes.cp_id = excluded.cp_id
                 OR excluded.last_seen > clustering_data_planes.last_seen",
        )
        .bind(&r.id)
        .bind(cp_id)
        .bind(r.connected)
        .bind(r.last_seen)
        .bind(&r.body)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DELETE FROM clustering_data_planes WHERE last_seen < $1")
        .bind(purge_before)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Every row, `connected` only where its CP refreshed its heartbeat at or after `alive_after`.
pub async fn load(pool: &PgPool, alive_after: i64) -> Result<Vec<SharedNode>, StoreError> {
    let rows = sqlx::query(
        "SELECT d.cp_id, d.body, d.connected AND COALESCE(c.seen_at, 0) >= $1 AS live
         FROM clustering_data_planes d LEFT JOIN clustering_control_planes c ON c.id = d.cp_id
         ORDER BY d.id",
    )
    .bind(alive_after)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| SharedNode {
            cp_id: r.get("cp_id"),
            connected: r.get("live"),
            body: r.get("body"),
        })
        .collect())
}
