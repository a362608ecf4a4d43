//! The `entities` table: one row per entity, its Admin API JSON in `body`.

use proto::v1;
use serde_json::Value;
use sqlx::{Row, SqliteConnection};

use super::StoreError;

pub async fn all(conn: &mut SqliteConnection) -> Result<Vec<v1::Entity>, StoreError> {
    let rows = sqlx::query("SELECT kind, id, body FROM entities")
        .fetch_all(&mut *conn)
        .await?;
    let mut out: Vec<v1::Entity> = rows.iter().map(to_entity).collect();
    // Same canonical order as `Config::to_entities`: kinds in dependency order, ids within.
    out.sort_by_key(|e| (rank(&e.kind), uuid_key(&e.id)));
    Ok(out)
}

pub async fn of_kind(
    conn: &mut SqliteConnection,
    kind: &str,
) -> Result<Vec<v1::Entity>, StoreError> {
    let rows = sqlx::query("SELECT kind, id, body FROM entities WHERE kind = ? ORDER BY id")
        .bind(kind)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(to_entity).collect())
}

pub async fn one(
    conn: &mut SqliteConnection,
    kind: &str,
    id_or_name: &str,
) -> Result<Option<v1::Entity>, StoreError> {
    let row =
        sqlx::query("SELECT kind, id, body FROM entities WHERE kind = ? AND (id = ? OR name = ?)")
            .bind(kind)
            .bind(id_or_name)
            .bind(id_or_name)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.as_ref().map(to_entity))
}

pub async fn delete(conn: &mut SqliteConnection, kind: &str, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM entities WHERE kind = ? AND id = ?")
        .bind(kind)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts or replaces an entity, stamping `created_at`/`updated_at` into its JSON where the
/// entity has those fields.
pub async fn upsert(
    conn: &mut SqliteConnection,
    e: &v1::Entity,
    created_at: i64,
    updated_at: i64,
) -> Result<(), StoreError> {
    let mut body: Value =
        serde_json::from_slice(&e.json).map_err(|err| StoreError::Corrupt(err.to_string()))?;
    if let Some(m) = body.as_object_mut() {
        if m.contains_key("created_at") {
            m.insert("created_at".into(), created_at.into());
        }
        if m.contains_key("updated_at") {
            m.insert("updated_at".into(), updated_at.into());
        }
    }
    let name = unique_name(&e.kind, &body);
    sqlx::query(
        "INSERT INTO entities (kind, id, name, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (kind, id) DO UPDATE SET name = excluded.name, body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(&e.kind)
    .bind(&e.id)
    .bind(name)
    .bind(body.to_string())
    .bind(created_at)
    .bind(updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The `created_at` stamped into a stored body, if any.
pub fn created_at(json: &[u8]) -> Option<i64> {
    serde_json::from_slice::<Value>(json)
        .ok()?
        .get("created_at")?
        .as_i64()
}

fn unique_name(kind: &str, body: &Value) -> Option<String> {
    let field = match kind {
        "services" | "routes" => "name",
        "consumers" => "username",
        "keyauth_credentials" => "key",
        _ => return None,
    };
    body.get(field).and_then(Value::as_str).map(str::to_string)
}

fn to_entity(row: &sqlx::sqlite::SqliteRow) -> v1::Entity {
    v1::Entity {
        kind: row.get("kind"),
        id: row.get("id"),
        json: row.get::<String, _>("body").into_bytes(),
    }
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
