//! Kong's plugin queue settings (`config.queue` of http-log and other batching plugins).

use serde::{Deserialize, Serialize};

use crate::schema::error::FieldError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    #[serde(default = "one")]
    pub max_batch_size: i64,
    /// Seconds to wait for a batch to fill before sending it.
    #[serde(default = "one_f")]
    pub max_coalescing_delay: f64,
    #[serde(default = "max_entries")]
    pub max_entries: i64,
    #[serde(default)]
    pub max_bytes: Option<i64>,
    /// Seconds a batch is retried before it is dropped.
    #[serde(default = "sixty")]
    pub max_retry_time: f64,
    #[serde(default = "initial_retry_delay")]
    pub initial_retry_delay: f64,
    #[serde(default = "sixty")]
    pub max_retry_delay: f64,
    #[serde(default = "one")]
    pub concurrency_limit: i64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_batch_size: 1,
            max_coalescing_delay: 1.0,
            max_entries: 10_000,
            max_bytes: None,
            max_retry_time: 60.0,
            initial_retry_delay: 0.01,
            max_retry_delay: 60.0,
            concurrency_limit: 1,
        }
    }
}

fn between(errs: &mut Vec<FieldError>, field: &str, v: f64, lo: f64, hi: f64) {
    if !(lo..=hi).contains(&v) {
        errs.push(FieldError::new(
            format!("queue.{field}"),
            format!("value should be between {lo} and {hi}"),
        ));
    }
}

impl QueueConfig {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        between(
            &mut errs,
            "max_batch_size",
            self.max_batch_size as f64,
            1.0,
            1e6,
        );
        between(
            &mut errs,
            "max_coalescing_delay",
            self.max_coalescing_delay,
            0.0,
            3600.0,
        );
        between(&mut errs, "max_entries", self.max_entries as f64, 1.0, 1e6);
        between(
            &mut errs,
            "initial_retry_delay",
            self.initial_retry_delay,
            0.001,
            1e6,
        );
        between(
            &mut errs,
            "max_retry_delay",
            self.max_retry_delay,
            0.001,
            1e6,
        );
        if ![-1, 1].contains(&self.concurrency_limit) {
            errs.push(FieldError::new(
                "queue.concurrency_limit",
                "expected one of: -1, 1",
            ));
        }
        errs
    }
}

fn one() -> i64 {
    1
}
fn one_f() -> f64 {
    1.0
}
fn max_entries() -> i64 {
    10_000
}
fn sixty() -> f64 {
    60.0
}
fn initial_retry_delay() -> f64 {
    0.01
}
