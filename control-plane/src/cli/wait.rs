//! `apply --wait`: after the write, polls the CP's `/clustering/data-planes` until every
//! connected DP has ACKed the new version, printing each DP and how long it took, or names the
//! DPs that did not (their NACK reason, a dropped stream, or silence).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::client::{AdminClient, ClientError};

const POLL: Duration = Duration::from_millis(25);

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("GET /clustering/data-planes answered HTTP {0}")]
    Status(u16),
    #[error("not every data plane applied version {version}:\n{}", .failures.join("\n"))]
    NotApplied { version: u64, failures: Vec<String> },
}

/// What one DP did with the version waited for.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Pending,
    Applied(Duration),
    Refused(String),
    Gone,
}

/// The config waited for, as `POST /config` answered.
#[derive(Debug, Clone)]
pub struct Target {
    pub version: u64,
    pub hash: String,
}

/// Waits up to `timeout` for every connected DP to ACK `target` (its version, a later one, or
/// an equal config under another version).
pub async fn wait(
    client: &AdminClient,
    target: &Target,
    timeout: Duration,
) -> Result<(), WaitError> {
    let start = Instant::now();
    let mut seen: BTreeMap<String, (String, Outcome)> = BTreeMap::new();
    loop {
        let (status, body) = client.get("/clustering/data-planes").await?;
        if status != 200 {
            return Err(WaitError::Status(status));
        }
        let rows = body["data"].as_array().cloned().unwrap_or_default();
        for row in &rows {
            observe(&mut seen, row, target, start.elapsed());
        }
        let pending = seen.values().any(|(_, o)| *o == Outcome::Pending);
        if !pending || start.elapsed() >= timeout {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    report(target.version, seen, timeout)
}

/// Folds one row into `seen`. Only DPs connected at some point during the wait count.
fn observe(
    seen: &mut BTreeMap<String, (String, Outcome)>,
    row: &Value,
    target: &Target,
    elapsed: Duration,
) {
    let id = row["id"].as_str().unwrap_or_default().to_string();
    let connected = row["connected"].as_bool().unwrap_or(false);
    if !connected && !seen.contains_key(&id) {
        return;
    }
    let name = format!("{} ({id})", row["hostname"].as_str().unwrap_or("?"));
    let entry = seen.entry(id).or_insert((name, Outcome::Pending));
    if entry.1 != Outcome::Pending {
        return;
    }
    let held = row["config_version"].as_u64().unwrap_or(0);
    let refused = row["last_error_version"]
        .as_u64()
        .filter(|v| *v >= target.version)
        .and(row["last_error"].as_str());
    entry.1 = if held >= target.version || row["config_hash"] == target.hash.as_str() {
        Outcome::Applied(elapsed)
    } else if let Some(reason) = refused {
        Outcome::Refused(reason.to_string())
    } else if !connected {
        Outcome::Gone
    } else {
        Outcome::Pending
    };
}

fn report(
    version: u64,
    seen: BTreeMap<String, (String, Outcome)>,
    timeout: Duration,
) -> Result<(), WaitError> {
    if seen.is_empty() {
        println!("no data plane is connected; nothing to wait for");
        return Ok(());
    }
    let mut failures = Vec::new();
    for (name, outcome) in seen.into_values() {
        match outcome {
            Outcome::Applied(t) => println!(
                "data plane {name} applied version {version} in {} ms",
                t.as_millis()
            ),
            Outcome::Refused(reason) => {
                failures.push(format!("  data plane {name} refused it: {reason}"));
            }
            Outcome::Gone => failures.push(format!(
                "  data plane {name} disconnected before applying it"
            )),
            Outcome::Pending => failures.push(format!(
                "  data plane {name} did not answer within {} s",
                timeout.as_secs()
            )),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(WaitError::NotApplied { version, failures })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(id: &str, connected: bool, version: u64, err: Option<(u64, &str)>) -> Value {
        json!({
            "id": id, "hostname": "h", "connected": connected, "config_version": version,
            "config_hash": format!("hash-{version}"),
            "last_error_version": err.map(|e| e.0), "last_error": err.map(|e| e.1),
        })
    }

    fn v5() -> Target {
        Target {
            version: 5,
            hash: "hash-5".into(),
        }
    }

    #[test]
    fn outcomes_follow_the_rows() {
        let mut seen = BTreeMap::new();
        let t = Duration::from_millis(7);
        observe(&mut seen, &row("a", true, 5, None), &v5(), t);
        observe(
            &mut seen,
            &row("b", true, 4, Some((5, "unknown plugin"))),
            &v5(),
            t,
        );
        observe(
            &mut seen,
            &row("c", true, 4, Some((3, "old error"))),
            &v5(),
            t,
        );
        observe(&mut seen, &row("d", false, 1, None), &v5(), t);
        assert_eq!(seen["a"].1, Outcome::Applied(t));
        assert_eq!(seen["b"].1, Outcome::Refused("unknown plugin".into()));
        assert_eq!(seen["c"].1, Outcome::Pending);
        assert!(!seen.contains_key("d"), "never connected: not waited for");
        // c drops its stream: gone.
        observe(&mut seen, &row("c", false, 4, None), &v5(), t);
        assert_eq!(seen["c"].1, Outcome::Gone);
        let err = report(5, seen, Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("refused it: unknown plugin"), "{err}");
        assert!(err.contains("disconnected"), "{err}");
    }

    #[test]
    fn the_same_config_under_an_older_version_counts() {
        let mut seen = BTreeMap::new();
        let same = Target {
            version: 5,
            hash: "hash-2".into(),
        };
        observe(&mut seen, &row("a", true, 2, None), &same, Duration::ZERO);
        assert_eq!(seen["a"].1, Outcome::Applied(Duration::ZERO));
    }

    #[test]
    fn all_applied_is_ok() {
        let mut seen = BTreeMap::new();
        observe(&mut seen, &row("a", true, 6, None), &v5(), Duration::ZERO);
        assert!(report(5, seen, Duration::from_secs(1)).is_ok());
    }
}
