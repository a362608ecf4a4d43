//! `http-log` log phase: each finished request's serialized entry goes to a bounded queue
//! (`queue.max_entries`); a background task (started on first use) batches entries
//! (`queue.max_batch_size`, `queue.max_coalescing_delay`) and sends each batch to
//! `http_endpoint`, retrying with backoff within `queue.max_retry_time`. Entries that do not fit
//! the queue, or whose batch is given up, are dropped and counted.

mod sender;

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::IntCounter;
use proto::schema::plugins::http_log::HttpLogConfig;
use proto::schema::plugins::queue::QueueConfig;
use serde_json::Value;
use tokio::sync::mpsc::{self, error::TrySendError};

use crate::metrics::Metrics;

const PLUGIN: &str = "http-log";

/// One configured http-log instance and its (lazily started) queue.
#[derive(Debug)]
pub struct HttpLog {
    pub config: HttpLogConfig,
    tx: OnceLock<Option<mpsc::Sender<Value>>>,
}

impl HttpLog {
    pub fn new(config: HttpLogConfig) -> Self {
        HttpLog {
            config,
            tx: OnceLock::new(),
        }
    }

    /// Queues `entry`; never blocks.
    pub fn log(&self, metrics: &Metrics, entry: Value) {
        let dropped = metrics.log_dropped.with_label_values(&[PLUGIN]);
        let tx = self.tx.get_or_init(|| self.start(dropped.clone()));
        let sent = match tx {
            Some(tx) => match tx.try_send(entry) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) | Err(TrySendError::Closed(_)) => false,
            },
            None => false,
        };
        if !sent {
            dropped.inc();
        }
    }

    fn start(&self, dropped: IntCounter) -> Option<mpsc::Sender<Value>> {
        let handle = match tokio::runtime::Handle::try_current() {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "http-log: no runtime to run its queue on");
                return None;
            }
        };
        let queue = self.config.effective_queue();
        let cap = usize::try_from(queue.max_entries).unwrap_or(1).max(1);
        let (tx, rx) = mpsc::channel(cap);
        let send = match sender::Sender::new(&self.config) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "http-log: cannot build its HTTP client");
                return None;
            }
        };
        handle.spawn(run(rx, queue, send, dropped));
        Some(tx)
    }
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX)
}

/// Batches entries and sends them until every sender (the instance) is gone.
async fn run(
    mut rx: mpsc::Receiver<Value>,
    queue: QueueConfig,
    send: sender::Sender,
    dropped: IntCounter,
) {
    let max_batch = usize::try_from(queue.max_batch_size).unwrap_or(1).max(1);
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + secs(queue.max_coalescing_delay);
        while batch.len() < max_batch {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(e)) => batch.push(e),
                Ok(None) | Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        // Kong: one object when the batch size is 1, else a JSON array.
        let body = if max_batch == 1 {
            batch.pop().unwrap_or(Value::Null)
        } else {
            Value::Array(batch)
        };
        if !deliver(&send, &queue, &body).await {
            dropped.inc_by(n);
        }
    }
}

/// Sends one batch, retrying with exponential backoff (`initial_retry_delay` doubling up to
/// `max_retry_delay`) while `max_retry_time` allows.
async fn deliver(send: &sender::Sender, queue: &QueueConfig, body: &Value) -> bool {
    let started = tokio::time::Instant::now();
    let budget = secs(queue.max_retry_time);
    let mut delay = secs(queue.initial_retry_delay);
    let payload = bytes::Bytes::from(body.to_string());
    loop {
        match send.send(payload.clone()).await {
            Ok(()) => return true,
            Err(e) => {
                if started.elapsed() + delay > budget {
                    tracing::warn!(error = %e, "http-log: giving up on a batch");
                    return false;
                }
                tracing::debug!(error = %e, "http-log: batch failed; retrying");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(secs(queue.max_retry_delay));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_clamped() {
        assert_eq!(secs(-1.0), Duration::ZERO);
        assert_eq!(secs(0.01), Duration::from_millis(10));
        assert_eq!(secs(f64::INFINITY), Duration::MAX);
    }
}
