//! The `entities` table: one row per entity, its Admin API JSON in `body` exactly as shipped to
//! the DPs (timestamps null), and its timestamps in their own columns, stamped into the JSON
//! only when the Admin API reads it.

use proto::v1;
use serde_json::Value;
use sqlx::{Row, SqliteConnection};

use super::StoreError;

/// Every entity, bodies as stored, in `Config::to_entities` order.
pub async fn all(conn: &mut SqliteConnection) -> Result<Vec<v1::Entity>, StoreError> {
    let rows = sqlx::query("SELECT kind, id, body FROM entities")
        .fetch_all(&mut *conn)
        .await?;
    let mut out: Vec<v1::Entity> = rows.iter().map(to_entity).collect();
    out.sort_by_key(|e| (rank(&e.kind), uuid_key(&e.id)));
    Ok(out)
}

/// Every entity of one kind, with its timestamps, for the Admin API.
pub async fn of_kind(
    conn: &mut SqliteConnection,
    kind: &str,
) -> Result<Vec<v1::Entity>, StoreError> {
    let rows = sqlx::query(
        "SELECT kind, id, body, created_at, updated_at FROM entities WHERE kind = ? ORDER BY id",
    )
    .bind(kind)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().map(stamped).collect())
}

/// One entity by id or unique name, with its timestamps, for the Admin API.
pub async fn one(
    conn: &mut SqliteConnection,
    kind: &str,
    id_or_name: &str,
) -> Result<Option<v1::Entity>, StoreError> {
    let row = sqlx::query(
        "SELECT kind, id, body, created_at, updated_at FROM entities WHERE kind = ? AND (id = ? OR name = ?)",
    )
    .bind(kind)
    .bind(id_or_name)
    .bind(id_or_name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.as_ref().map(stamped))
}

pub async fn delete(conn: &mut SqliteConnection, kind: &str, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM entities WHERE kind = ? AND id = ?")
        .bind(kind)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts or replaces an entity. An update keeps the row's `created_at`.
pub async fn upsert(
    conn: &mut SqliteConnection,
    e: &v1::Entity,
    now: i64,
) -> Result<(), StoreError> {
    let body = std::str::from_utf8(&e.json).map_err(|err| StoreError::Corrupt(err.to_string()))?;
    sqlx::query(
        "INSERT INTO entities (kind, id, name, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (kind, id) DO UPDATE SET name = excluded.name, body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(&e.kind)
    .bind(&e.id)
    .bind(unique_name(&e.kind, &e.json))
    .bind(body)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn unique_name(kind: &str, json: &[u8]) -> Option<String> {
    let field = match kind {
        "services" | "routes" | "upstreams" | "snis" => "name",
        "consumers" => "username",
        "keyauth_credentials" => "key",
        "vaults" => "prefix",
        _ => return None,
    };
    serde_json::from_slice::<Value>(json)
        .ok()?
        .get(field)?
        .as_str()
        .map(str::to_string)
}

fn to_entity(row: &sqlx::sqlite::SqliteRow) -> v1::Entity {
    v1::Entity {
        kind: row.get("kind"),
        id: row.get("id"),
        json: row.get::<String, _>("body").into_bytes(),
    }
}

/// The entity with `created_at`/`updated_at` from the row, where the entity has those fields
/// (targets keep them as float seconds, as Kong does).
fn stamped(row: &sqlx::sqlite::SqliteRow) -> v1::Entity {
    let mut e = to_entity(row);
    let (created, updated): (i64, i64) = (row.get("created_at"), row.get("updated_at"));
    if let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(&e.json) {
        let float = e.kind == "targets";
        for (field, t) in [("created_at", created), ("updated_at", updated)] {
            if m.contains_key(field) {
                let v = if float {
                    Value::from(t as f64)
                } else {
                    Value::from(t)
                };
                m.insert(field.into(), v);
            }
        }
        e.json = Value::Object(m).to_string().into_bytes();
    }
    e
}

fn rank(kind: &str) -> usize {
    proto::schema::ENTITY_KINDS
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(usize::MAX)
}

fn uuid_key(id: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(id).unwrap_or_default()
}
