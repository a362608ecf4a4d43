//! Polling with a deadline: the one way the tests wait for something to become true.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

/// How often [`until`] asks again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Calls `check` until it returns `Ok(Some(value))` or `timeout` passes. `Ok(None)` and `Err`
/// both mean "not yet"; the last error is part of the timeout message.
pub async fn until<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    let mut last = String::from("condition never held");
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last = format!("{e:#}"),
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}; last: {last}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_once_true() {
        let mut n = 0;
        let got = until("n to reach 3", Duration::from_secs(5), async || {
            n += 1;
            Ok((n >= 3).then_some(n))
        })
        .await
        .unwrap();
        assert_eq!(got, 3);
    }

    #[tokio::test]
    async fn times_out_with_last_error() {
        let err = until::<()>("never", Duration::from_millis(250), async || {
            anyhow::bail!("still broken")
        })
        .await
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("never") && msg.contains("still broken"),
            "{msg}"
        );
    }
}
