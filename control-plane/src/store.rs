//! The CP's database: the only place SQL appears. SQLite (the default) or PostgreSQL (several
//! CPs on one database) through sqlx, migrations embedded from `migrations/<backend>/`. A whole
//! config is replaced in one transaction, so a failed apply changes nothing.

mod entities;
mod listen;
mod nodes;
mod sql;

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proto::v1;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Connection, PgConnection, PgPool, SqlitePool};

use crate::diff::{self, Changes};
pub use listen::{Event, Listener};
pub use nodes::{NodeRow, SharedNode};
use proto::schema::Config;
use sql::{Conn, Writes};

/// The PostgreSQL channel a write announces its new version on (payload: the version).
pub const CHANNEL: &str = "kong_config_version";
/// How long a statement waits for a PostgreSQL connection before the request fails (Kong's
/// `pg_timeout` default).
const PG_TIMEOUT: Duration = Duration::from_secs(5);
/// `/status` and `/status/ready` answer within this even when the database hangs.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("cannot open the database at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database url '{0}': use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE")]
    Unsupported(String),
    #[error("stored config is corrupt: {0}")]
    Corrupt(String),
    #[error("the config changed on another control plane (database at version {current}, this control plane at {seen}); retry the write")]
    Stale { seen: u64, current: u64 },
}

impl StoreError {
    /// Whether the database could not be reached (down, restarting, network cut): the request
    /// may succeed later, unlike a refused statement.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            StoreError::Db(
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
            ) | StoreError::Connect { .. }
        )
    }
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// The version of the config this CP last loaded or wrote: the base of its next write.
    /// `replace` refuses to write over a newer version (another CP's write it has not loaded).
    seen: Arc<AtomicU64>,
}

/// The outcome of replacing the config.
#[derive(Debug, Clone)]
pub struct Applied {
    pub version: u64,
    pub changes: Changes,
}

/// Runs `$body` with `$c` bound to a pooled connection of either backend.
macro_rules! on_conn {
    ($self:expr, |$c:ident| $body:expr) => {
        match &$self.pool {
            Pool::Sqlite(p) => {
                let mut conn = p.acquire().await?;
                let $c = &mut *conn;
                $body
            }
            Pool::Postgres(p) => {
                let mut conn = p.acquire().await?;
                let $c = &mut *conn;
                $body
            }
        }
    };
}

impl Store {
    /// Opens the database at `url` (`sqlite://PATH`, created when missing, or `postgres://…`)
    /// and runs pending migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts)
                .await
                .map_err(|source| connect_error(url, source))?;
            sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?
                .application_name("kong-control-plane")
                // Not every `CREATE TABLE IF NOT EXISTS` notice of the migrations at INFO.
                .options([("client_min_messages", "warning")]);
            // One plain connection first: its error says why (refused, bad password, no such
            // database) where the pool would only time out.
            let probe = PgConnection::connect_with(&opts)
                .await
                .map_err(|source| connect_error(url, source))?;
            probe.close().await?;
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(PG_TIMEOUT)
                .connect_with(opts)
                .await
                .map_err(|source| connect_error(url, source))?;
            // Migrations take an advisory lock: CPs starting together migrate once.
            sqlx::migrate!("../migrations/postgres").run(&pool).await?;
            Pool::Postgres(pool)
        } else {
            return Err(StoreError::Unsupported(redacted(url)));
        };
        let store = Self {
            pool,
            seen: Arc::default(),
        };
        let version = store.version().await?;
        store.seen.store(version, Ordering::SeqCst);
        Ok(store)
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// The stored config and its version, read from one consistent snapshot of the database.
    /// The version becomes the base of this store's next `replace` (see `seen`).
    pub async fn load(&self) -> Result<(u64, Config), StoreError> {
        let (version, rows) = match &self.pool {
            Pool::Sqlite(p) => {
                let mut tx = p.begin().await?;
                (tx.version().await?, tx.all().await?)
            }
            Pool::Postgres(p) => {
                let mut tx = p
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?;
                (tx.version().await?, tx.all().await?)
            }
        };
        let cfg = Config::from_entities(&rows).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.seen.store(version, Ordering::SeqCst);
        Ok((version, cfg))
    }

    /// The stored config version (cheap: one row).
    pub async fn version(&self) -> Result<u64, StoreError> {
        on_conn!(self, |c| c.version().await)
    }

    /// Replaces the whole config with `new` (as `Config::to_entities` gives it, timestamps null)
    /// in one transaction and bumps the version when anything changed. With `dry_run` the
    /// changes are computed and nothing is written. The version row is locked for the whole
    /// transaction, so writes from several CPs are serialized and versions stay monotonic; on
    /// PostgreSQL the commit notifies the other CPs on [`CHANNEL`].
    pub async fn replace(&self, new: &[v1::Entity], dry_run: bool) -> Result<Applied, StoreError> {
        self.replace_known(None, new, dry_run).await
    }

    /// [`Store::replace`] given what the caller knows is stored at a version (the published
    /// snapshot): when the database is still at that version, the diff is taken against it
    /// instead of reading every row back.
    /// `new` may hold the entities or references to them.
    pub async fn replace_known<N: Borrow<v1::Entity> + Sync>(
        &self,
        known: Option<(u64, &[v1::Entity])>,
        new: &[N],
        dry_run: bool,
    ) -> Result<Applied, StoreError> {
        let seen = self.seen.load(Ordering::SeqCst);
        let now = now();
        let (applied, written) = match &self.pool {
            Pool::Sqlite(p) => {
                // IMMEDIATE: take the write lock before reading the version.
                let begin = if dry_run { "BEGIN" } else { "BEGIN IMMEDIATE" };
                let mut tx = p.begin_with(begin).await?;
                let out = replace_in(&mut *tx, known, new, dry_run, seen, now).await?;
                if out.1 {
                    tx.commit().await?;
                }
                out
            }
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                let out = replace_in(&mut *tx, known, new, dry_run, seen, now).await?;
                if out.1 {
                    // Delivered to the listeners when (and only if) the transaction commits.
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(CHANNEL)
                        .bind(out.0.version.to_string())
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                }
                out
            }
        };
        if written {
            self.seen.store(applied.version, Ordering::SeqCst);
        }
        Ok(applied)
    }

    /// All stored entities of one kind, as Admin API JSON.
    pub async fn list(&self, kind: &str) -> Result<Vec<v1::Entity>, StoreError> {
        on_conn!(self, |c| c.of_kind(kind).await)
    }

    /// One entity by id or by its unique name.
    pub async fn get(
        &self,
        kind: &str,
        id_or_name: &str,
    ) -> Result<Option<v1::Entity>, StoreError> {
        on_conn!(self, |c| c.one(kind, id_or_name).await)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        matches!(
            tokio::time::timeout(PING_TIMEOUT, self.version()).await,
            Ok(Ok(_))
        )
    }

    /// Whether DP rows are shared through the database (PostgreSQL: several CPs may serve).
    pub fn shares_nodes(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// Writes this CP's DP rows and heartbeat (PostgreSQL; nothing on SQLite).
    pub async fn save_nodes(
        &self,
        cp_id: &str,
        now: i64,
        rows: &[NodeRow],
        purge_before: i64,
    ) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(_) => Ok(()),
            Pool::Postgres(p) => nodes::save(p, cp_id, now, rows, purge_before).await,
        }
    }

    /// The DP rows of every CP (PostgreSQL); empty on SQLite.
    pub async fn load_nodes(&self, alive_after: i64) -> Result<Vec<SharedNode>, StoreError> {
        match &self.pool {
            Pool::Sqlite(_) => Ok(Vec::new()),
            Pool::Postgres(p) => nodes::load(p, alive_after).await,
        }
    }

    /// A listener for other CPs' writes (PostgreSQL); `None` on SQLite, where this CP is the
    /// only writer.
    pub async fn listen(&self) -> Result<Option<Listener>, StoreError> {
        match &self.pool {
            Pool::Sqlite(_) => Ok(None),
            Pool::Postgres(p) => Ok(Some(Listener::connect(p).await?)),
        }
    }
}

/// The body of [`Store::replace`] on either backend; also says whether it wrote anything
/// (the caller commits only then).
async fn replace_in<C: Conn + Writes, N: Borrow<v1::Entity> + Sync>(
    conn: &mut C,
    known: Option<(u64, &[v1::Entity])>,
    new: &[N],
    dry_run: bool,
    seen: u64,
    now: i64,
) -> Result<(Applied, bool), StoreError> {
    let version = conn.lock_version().await?;
    let stored;
    let old = match known {
        Some((at, entities)) if at == version => entities,
        _ => {
            stored = conn.all().await?;
            stored.as_slice()
        }
    };
    let changes = diff::compute(old, new);
    if dry_run || changes.is_empty() {
        return Ok((Applied { version, changes }, false));
    }
    if version != seen {
        return Err(StoreError::Stale {
            seen,
            current: version,
        });
    }
    let old_by_id: HashMap<&str, &v1::Entity> = old.iter().map(|e| (e.id.as_str(), e)).collect();
    let gone: Vec<(&str, &str)> = changes
        .deleting
        .iter()
        .filter_map(|c| old_by_id.get(c.id.as_str()))
        .map(|e| (e.kind.as_str(), e.id.as_str()))
        .collect();
    conn.delete_many(&gone).await?;
    let changed: HashSet<&str> = changes
        .creating
        .iter()
        .chain(&changes.updating)
        .map(|c| c.id.as_str())
        .collect();
    let written: Vec<&v1::Entity> = new
        .iter()
        .map(Borrow::borrow)
        .filter(|e: &&v1::Entity| changed.contains(e.id.as_str()))
        .collect();
    conn.upsert_many(&written, now).await?;
    let version = version + 1;
    conn.set_version(version, now).await?;
    Ok((Applied { version, changes }, true))
}

fn connect_error(url: &str, source: sqlx::Error) -> StoreError {
    StoreError::Connect {
        url: redacted(url),
        source,
    }
}

/// `url` with the password of its `user:password@` part masked, for messages.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
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
