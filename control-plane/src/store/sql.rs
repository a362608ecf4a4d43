//! Every SQL statement of the store, written once (`$N` parameters, which SQLite and PostgreSQL
//! both read) and implemented for both backends' connections by one macro. `Store` runs its
//! logic over `Conn`, inside a transaction or on a pooled connection.

use std::fmt::Write as _;
use std::future::Future;

use proto::v1;
use sqlx::Row;

use super::entities::{entity, sort, stamped, unique_name};
use super::StoreError;

/// What the store asks of a database connection.
pub trait Conn: Send {
    /// Every entity, bodies as stored, in `Config::to_entities` order.
    fn all(&mut self) -> impl Future<Output = Result<Vec<v1::Entity>, StoreError>> + Send;
    /// Every entity of one kind, with its timestamps, for the Admin API.
    fn of_kind(
        &mut self,
        kind: &str,
    ) -> impl Future<Output = Result<Vec<v1::Entity>, StoreError>> + Send;
    /// One entity by id or unique name, with its timestamps, for the Admin API.
    fn one(
        &mut self,
        kind: &str,
        id_or_name: &str,
    ) -> impl Future<Output = Result<Option<v1::Entity>, StoreError>> + Send;
    /// The config version.
    fn version(&mut self) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// The config version, its row locked until the transaction ends (PostgreSQL); other
    /// control planes' writes wait for it.
    fn lock_version(&mut self) -> impl Future<Output = Result<u64, StoreError>> + Send;
    fn set_version(
        &mut self,
        version: u64,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The store's writes, written per backend (they differ in how rows are batched).
pub trait Writes: Send {
    /// Deletes entities by `(kind, id)`.
    fn delete_many(
        &mut self,
        keys: &[(&str, &str)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Inserts or replaces entities. An update keeps the row's `created_at`.
    fn upsert_many(
        &mut self,
        entities: &[&v1::Entity],
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

macro_rules! impl_conn {
    ($conn:ty, $lock_suffix:literal) => {
        impl Conn for $conn {
            async fn all(&mut self) -> Result<Vec<v1::Entity>, StoreError> {
                let rows = sqlx::query("SELECT kind, id, body FROM entities")
                    .fetch_all(&mut *self)
                    .await?;
                let mut out: Vec<v1::Entity> = rows
                    .iter()
                    .map(|r| entity(r.get("kind"), r.get("id"), r.get("body")))
                    .collect();
                sort(&mut out);
                Ok(out)
            }

            async fn of_kind(&mut self, kind: &str) -> Result<Vec<v1::Entity>, StoreError> {
                let rows = sqlx::query(
                    "SELECT kind, id, body, created_at, updated_at FROM entities WHERE kind = $1 ORDER BY id",
                )
                .bind(kind)
                .fetch_all(&mut *self)
                .await?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        let e = entity(r.get("kind"), r.get("id"), r.get("body"));
                        stamped(e, r.get("created_at"), r.get("updated_at"))
                    })
                    .collect())
            }

            async fn one(
                &mut self,
                kind: &str,
                id_or_name: &str,
            ) -> Result<Option<v1::Entity>, StoreError> {
                let row = sqlx::query(
                    "SELECT kind, id, body, created_at, updated_at FROM entities WHERE kind = $1 AND (id = $2 OR name = $3)",
                )
                .bind(kind)
                .bind(id_or_name)
                .bind(id_or_name)
                .fetch_optional(&mut *self)
                .await?;
                Ok(row.map(|r| {
                    let e = entity(r.get("kind"), r.get("id"), r.get("body"));
                    stamped(e, r.get("created_at"), r.get("updated_at"))
                }))
            }

            async fn version(&mut self) -> Result<u64, StoreError> {
                let row = sqlx::query("SELECT version FROM config_version WHERE id = 1")
                    .fetch_one(&mut *self)
                    .await?;
                Ok(row.get::<i64, _>("version").max(0) as u64)
            }

            async fn lock_version(&mut self) -> Result<u64, StoreError> {
                let row = sqlx::query(concat!(
                    "SELECT version FROM config_version WHERE id = 1",
                    $lock_suffix
                ))
                .fetch_one(&mut *self)
                .await?;
                Ok(row.get::<i64, _>("version").max(0) as u64)
            }

            async fn set_version(&mut self, version: u64, now: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE config_version SET version = $1, updated_at = $2 WHERE id = 1")
                    .bind(version as i64)
                    .bind(now)
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }
        }
    };
}

// SQLite has no row locks: its writers take the whole file (one CP per file).
impl_conn!(sqlx::SqliteConnection, "");
impl_conn!(sqlx::PgConnection, " FOR UPDATE");

const UPSERT_CONFLICT: &str = " ON CONFLICT (kind, id) DO UPDATE SET name = excluded.name, \
     body = excluded.body, updated_at = excluded.updated_at";

fn body(e: &v1::Entity) -> Result<&str, StoreError> {
    std::str::from_utf8(&e.json).map_err(|err| StoreError::Corrupt(err.to_string()))
}

/// SQLite runs in-process, but every statement is a trip to sqlx's worker thread: rows go in
/// chunks, many per statement.
impl Writes for sqlx::SqliteConnection {
    async fn delete_many(&mut self, keys: &[(&str, &str)]) -> Result<(), StoreError> {
        for chunk in keys.chunks(SQLITE_ROWS) {
            let mut sql = String::from("DELETE FROM entities WHERE (kind, id) IN (VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                let _ = write!(sql, "(${}, ${})", 2 * i + 1, 2 * i + 2);
            }
            sql.push(')');
            let mut q = sqlx::query(&sql);
            for (kind, id) in chunk {
                q = q.bind(kind).bind(id);
            }
            q.execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn upsert_many(&mut self, entities: &[&v1::Entity], now: i64) -> Result<(), StoreError> {
        // Many rows per statement: each statement is a trip to sqlx's SQLite worker thread.
        for chunk in entities.chunks(SQLITE_ROWS) {
            let mut sql = String::from(
                "INSERT INTO entities (kind, id, name, body, created_at, updated_at) VALUES ",
            );
            for i in 0..chunk.len() {
                let p = 2 + 4 * i;
                if i > 0 {
                    sql.push(',');
                }
                let _ = write!(sql, "(${p}, ${}, ${}, ${}, $1, $1)", p + 1, p + 2, p + 3);
            }
            sql.push_str(UPSERT_CONFLICT);
            let mut q = sqlx::query(&sql).bind(now);
            for e in chunk {
                q = q
                    .bind(&e.kind)
                    .bind(&e.id)
                    .bind(unique_name(&e.kind, &e.json))
                    .bind(body(e)?);
            }
            q.execute(&mut *self).await?;
        }
        Ok(())
    }
}

/// Rows per SQLite statement. Not more: sqlx looks every parameter up by name among the
/// statement's parameters, so a statement's binding cost grows with the square of its size
/// (smaller in tests, so they cross chunk boundaries cheaply).
const SQLITE_ROWS: usize = if cfg!(test) { 7 } else { 64 };

/// Rows per PostgreSQL statement: arrays of this many values each, one round trip (smaller
/// in tests, so they cross batch boundaries cheaply).
pub const BATCH: usize = if cfg!(test) { 1000 } else { 5000 };

/// PostgreSQL is a round trip away: rows go in batches, as arrays `UNNEST` spreads into rows.
impl Writes for sqlx::PgConnection {
    async fn delete_many(&mut self, keys: &[(&str, &str)]) -> Result<(), StoreError> {
        for chunk in keys.chunks(BATCH) {
            let (kinds, ids): (Vec<&str>, Vec<&str>) = chunk.iter().copied().unzip();
            sqlx::query(
                "DELETE FROM entities WHERE (kind, id) IN \
                 (SELECT * FROM UNNEST($1::text[], $2::text[]))",
            )
            .bind(kinds)
            .bind(ids)
            .execute(&mut *self)
            .await?;
        }
        Ok(())
    }

    async fn upsert_many(&mut self, entities: &[&v1::Entity], now: i64) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO entities (kind, id, name, body, created_at, updated_at) \
             SELECT kind, id, name, body, $5, $5 \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) AS t(kind, id, name, body)\
             {UPSERT_CONFLICT}"
        );
        for chunk in entities.chunks(BATCH) {
            let mut kinds = Vec::with_capacity(chunk.len());
            let mut ids = Vec::with_capacity(chunk.len());
            let mut names = Vec::with_capacity(chunk.len());
            let mut bodies = Vec::with_capacity(chunk.len());
            for e in chunk {
                kinds.push(e.kind.as_str());
                ids.push(e.id.as_str());
                names.push(unique_name(&e.kind, &e.json));
                bodies.push(body(e)?);
            }
            sqlx::query(&sql)
                .bind(kinds)
                .bind(ids)
                .bind(names)
                .bind(bodies)
                .bind(now)
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }
}
