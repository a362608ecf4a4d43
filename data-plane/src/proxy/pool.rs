//! The keep-alive pool for plain-HTTP upstreams: idle HTTP/1.1 connections of the lean client
//! (`h1`) by `host:port`, kept per thread, so a proxy worker reuses the connections it opened
//! with no pool lock and no pool-return task. HTTPS upstreams go through the general client in
//! `forward`.
//!
//! A connection comes back once its response body was read to the end and both sides allowed
//! keep-alive (`h1::Body`); it is taken again, newest first, unless it idled longer than
//! `IDLE_TIMEOUT` or the upstream closed it meanwhile (then it is dropped).

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::h1::Conn;

/// Kong's `upstream_keepalive_idle_timeout` default.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Kong's `upstream_keepalive_pool_size` default (per host:port, here per worker).
const MAX_IDLE: usize = 512;

struct Idle {
    conn: Conn,
    since: Instant,
}

type Fold = foldhash::fast::FixedState;

thread_local! {
    static IDLE: RefCell<HashMap<Box<str>, Vec<Idle>, Fold>> = RefCell::new(HashMap::default());
}

/// A live idle connection to `key` (`host:port`) from this thread's list, if there is one.
pub(super) fn checkout(key: &str) -> Option<Conn> {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let list = idle.get_mut(key)?;
        let now = Instant::now();
        while let Some(mut c) = list.pop() {
            if now.duration_since(c.since) < IDLE_TIMEOUT && c.conn.looks_alive() {
                return Some(c.conn);
            }
        }
        None
    })
}

/// Puts `conn` (its response fully read) back in this thread's idle list.
pub(super) fn checkin(conn: Conn) {
    // A pool being torn down with its thread takes no connections.
    let _ = IDLE.try_with(|idle| {
        let Ok(mut idle) = idle.try_borrow_mut() else {
            return;
        };
        let list = match idle.get_mut(&*conn.key) {
            Some(l) => l,
            None => idle.entry(conn.key.clone()).or_default(),
        };
        let now = Instant::now();
        // Connections left at the bottom since a burst: dropped once they are too old.
        if list
            .first()
            .is_some_and(|c| now.duration_since(c.since) >= IDLE_TIMEOUT)
        {
            list.retain(|c| now.duration_since(c.since) < IDLE_TIMEOUT);
        }
        if list.len() < MAX_IDLE {
            list.push(Idle { conn, since: now });
        }
    });
}
