//! The `config_version` row: a counter bumped by every write that changes the config.

use sqlx::{Row, SqliteConnection};

use super::StoreError;

pub async fn get(conn: &mut SqliteConnection) -> Result<u64, StoreError> {
    let row = sqlx::query("SELECT version FROM config_version WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.get::<i64, _>("version").max(0) as u64)
}

pub async fn set(conn: &mut SqliteConnection, version: u64, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE config_version SET version = ?, updated_at = ? WHERE id = 1")
        .bind(version as i64)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
