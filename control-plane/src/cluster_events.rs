//! Database → publisher, for writes made on other control planes sharing one PostgreSQL: a
//! LISTEN connection hears each committed version (and a slow poll covers lost notifications);
//! when the database is ahead of this CP's snapshot, the CP reloads it and publishes it to its
//! DPs. Kong's `cluster_events`, by NOTIFY instead of a polled table. Nothing runs on SQLite.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Mutex};

use crate::snapshot::Publisher;
use crate::store::{Event, Listener, Store};

/// How often the version row is read anyway (notifications can be lost while reconnecting).
pub const POLL: Duration = Duration::from_secs(5);
/// The wait before reconnecting a listener whose connection failed.
const RETRY: Duration = Duration::from_secs(1);

/// Follows other CPs' writes until the process exits. `write_lock` is the Admin API's: a reload
/// never interleaves with a local write (which would publish an older snapshot after a newer).
pub async fn run(store: Store, publisher: Publisher, write_lock: Arc<Mutex<()>>) {
    let listener = match store.listen().await {
        Ok(Some(l)) => l,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(
                "cannot LISTEN for other control planes' writes: {e}; polling every {}s",
                POLL.as_secs()
            );
            return poll_only(store, publisher, write_lock).await;
        }
    };
    tracing::info!("following other control planes' writes (LISTEN/NOTIFY)");
    let (tx, mut rx) = mpsc::channel(64);
    tokio::spawn(forward(store.clone(), listener, tx));
    let mut tick = tokio::time::interval(POLL);
    loop {
        let known = tokio::select! {
            ev = rx.recv() => match ev {
                Some(Event::Version(v)) => Some(v),
                Some(Event::Reconnected) => None,
                None => return poll_only(store, publisher, write_lock).await,
            },
            _ = tick.tick() => None,
        };
        catch_up(&store, &publisher, &write_lock, known).await;
    }
}

/// Feeds the listener's events into `tx`, reconnecting after errors.
async fn forward(store: Store, mut listener: Listener, tx: mpsc::Sender<Event>) {
    loop {
        match listener.next().await {
            Ok(ev) => {
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!("LISTEN connection failed: {e}; reconnecting");
                loop {
                    tokio::time::sleep(RETRY).await;
                    match store.listen().await {
                        Ok(Some(l)) => {
                            listener = l;
                            break;
                        }
                        Ok(None) => return,
                        Err(e) => tracing::warn!("LISTEN reconnect failed: {e}"),
                    }
                }
                if tx.send(Event::Reconnected).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn poll_only(store: Store, publisher: Publisher, write_lock: Arc<Mutex<()>>) {
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        catch_up(&store, &publisher, &write_lock, None).await;
    }
}

/// Reloads when the database is ahead of the published snapshot. `announced` is a version a
/// notification carried; without one the version row is read.
async fn catch_up(
    store: &Store,
    publisher: &Publisher,
    write_lock: &Mutex<()>,
    announced: Option<u64>,
) {
    if announced.is_some_and(|v| v <= publisher.current().version) {
        return;
    }
    let _serial = write_lock.lock().await;
    let db = match store.version().await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("cannot read the config version: {e}");
            return;
        }
    };
    let had = publisher.current().version;
    if db == had {
        return;
    }
    match publisher.refresh().await {
        Ok(snap) => tracing::info!(
            version = snap.version,
            previous = had,
            hash = %snap.hash,
            "config reloaded from the database (written by another control plane)"
        ),
        Err(e) => tracing::warn!("cannot reload the config from the database: {e}"),
    }
}
