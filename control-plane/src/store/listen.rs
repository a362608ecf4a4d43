//! Other CPs' writes, as PostgreSQL notifications on [`super::CHANNEL`] (LISTEN/NOTIFY): each
//! committed write announces its version; the CP's `cluster_events` task reloads on it.

use sqlx::postgres::PgListener;
use sqlx::PgPool;

use super::{StoreError, CHANNEL};

/// What the listener saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A write committed this version (on any CP, this one included).
    Version(u64),
    /// The connection was lost and re-established: notifications may have been missed.
    Reconnected,
}

/// A dedicated database connection LISTENing on the version channel.
pub struct Listener {
    inner: PgListener,
}

impl Listener {
    pub(super) async fn connect(pool: &PgPool) -> Result<Self, StoreError> {
        let mut inner = PgListener::connect_with(pool).await?;
        inner.listen(CHANNEL).await?;
        Ok(Self { inner })
    }

    /// Waits for the next event. Not cancel-safe: run it in its own task.
    pub async fn next(&mut self) -> Result<Event, StoreError> {
        Ok(match self.inner.try_recv().await? {
            Some(n) => match n.payload().parse::<u64>() {
                Ok(v) => Event::Version(v),
                // Not ours (someone else NOTIFYing on the channel): check the version anyway.
                Err(_) => Event::Reconnected,
            },
            None => Event::Reconnected,
        })
    }
}
