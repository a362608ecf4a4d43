//! The CP's database: the only place SQL appears. SQLite through sqlx, migrations embedded from
//! `migrations/`. A whole config is replaced in one transaction, so a failed apply changes nothing.

mod entities;
mod version;

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use proto::schema::Config;
use proto::v1;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::SqlitePool;

use crate::diff::{self, Changes};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database url '{0}': only sqlite:// is supported so far")]
    Unsupported(String),
    #[error("stored config is corrupt: {0}")]
    Corrupt(String),
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// The outcome of replacing the config.
#[derive(Debug, Clone)]
pub struct Applied {
    pub version: u64,
    pub changes: Changes,
}

impl Store {
    /// Opens (creating when missing) the database at `url` and runs pending migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::Unsupported(url.to_string()));
        }
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("../migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    /// The stored config and its version.
    pub async fn load(&self) -> Result<(u64, Config), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let version = version::get(&mut conn).await?;
        let rows = entities::all(&mut conn).await?;
        let cfg = Config::from_entities(&rows).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok((version, cfg))
    }

    /// Replaces the whole config with `new` (as `Config::to_entities` gives it, timestamps null)
    /// in one transaction and bumps the version when anything changed. With `dry_run` the
    /// changes are computed and nothing is written.
    pub async fn replace(&self, new: &[v1::Entity], dry_run: bool) -> Result<Applied, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = version::get(&mut tx).await?;
        let old = entities::all(&mut tx).await?;
        let changes = diff::compute(&old, new);
        if dry_run || changes.is_empty() {
            tx.rollback().await?;
            return Ok(Applied { version, changes });
        }
        let now = now();
        let old_by_id: HashMap<&str, &v1::Entity> =
            old.iter().map(|e| (e.id.as_str(), e)).collect();
        for c in &changes.deleting {
            if let Some(e) = old_by_id.get(c.id.as_str()) {
                entities::delete(&mut tx, &e.kind, &e.id).await?;
            }
        }
        let changed: HashSet<&str> = changes
            .creating
            .iter()
            .chain(&changes.updating)
            .map(|c| c.id.as_str())
            .collect();
        for e in new.iter().filter(|e| changed.contains(e.id.as_str())) {
            entities::upsert(&mut tx, e, now).await?;
        }
        let version = version + 1;
        version::set(&mut tx, version, now).await?;
        tx.commit().await?;
        Ok(Applied { version, changes })
    }

    /// All stored entities of one kind, as Admin API JSON.
    pub async fn list(&self, kind: &str) -> Result<Vec<v1::Entity>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        entities::of_kind(&mut conn, kind).await
    }

    /// One entity by id or by its unique name.
    pub async fn get(
        &self,
        kind: &str,
        id_or_name: &str,
    ) -> Result<Option<v1::Entity>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        entities::one(&mut conn, kind, id_or_name).await
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
