//! Admin API writes → store: the one place a write that lost a race with another CP (the store
//! answers `Stale`) is redone on top of the newer config. `POST /config` and the single-entity
//! writes both go through it.

use std::future::Future;

use super::{AdminError, AppState};
use crate::store::StoreError;

/// How many times a write based on a config another CP has since changed is redone.
pub const MAX_STALE_RETRIES: usize = 5;

/// Runs `attempt` (which reads the published config, checks and stores one change). When the
/// store reports that another CP wrote first, the config is reloaded from the store and the
/// attempt redone, up to [`MAX_STALE_RETRIES`] times; after that the `Stale` error is returned
/// (a 409: the client retries).
pub async fn redo_on_stale<T, F, Fut>(state: &AppState, mut attempt: F) -> Result<T, AdminError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AdminError>>,
{
    let mut stale = 0;
    loop {
        match attempt().await {
            Err(AdminError::Store(StoreError::Stale { .. })) if stale < MAX_STALE_RETRIES => {
                stale += 1;
                let snap = state.publisher.refresh().await?;
                tracing::info!(
                    version = snap.version,
                    "another control plane wrote first; redoing this write on top of its config"
                );
            }
            other => return other,
        }
    }
}
