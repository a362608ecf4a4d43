//! `file-log` log phase: each finished request's serialized entry goes, as one JSON line, to a
//! bounded queue; a writer thread (started on first use) appends it to `config.path`, so the
//! request path never touches the disk. A full queue drops the entry and counts it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::OnceLock;

use proto::schema::plugins::file_log::FileLogConfig;
use serde_json::Value;

use crate::metrics::Metrics;

/// Entries waiting for the writer, per instance.
const QUEUE: usize = 10_000;

/// One configured file-log instance and its (lazily started) writer.
#[derive(Debug)]
pub struct FileLog {
    pub config: FileLogConfig,
    tx: OnceLock<Option<SyncSender<Vec<u8>>>>,
}

impl FileLog {
    pub fn new(config: FileLogConfig) -> Self {
        FileLog {
            config,
            tx: OnceLock::new(),
        }
    }

    /// Queues `entry`; never blocks.
    pub fn log(&self, metrics: &Metrics, entry: &Value) {
        let tx = self.tx.get_or_init(|| self.start());
        let mut line = entry.to_string().into_bytes();
        line.push(b'\n');
        let sent = match tx {
            Some(tx) => match tx.try_send(line) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
            },
            None => false,
        };
        if !sent {
            metrics.log_dropped.with_label_values(&["file-log"]).inc();
        }
    }

    fn start(&self) -> Option<SyncSender<Vec<u8>>> {
        let (tx, rx) = sync_channel(QUEUE);
        let (path, reopen) = (self.config.path.clone(), self.config.reopen);
        match std::thread::Builder::new()
            .name("file-log".into())
            .spawn(move || write_loop(&path, reopen, rx))
        {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::warn!(error = %e, "file-log: cannot start its writer thread");
                None
            }
        }
    }
}

fn open(path: &str) -> std::io::Result<File> {
    // Kong: O_CREAT | O_APPEND | O_WRONLY, mode 0644.
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .open(path)
}

/// Runs until every sender (the instance) is gone: the config that held it was replaced and
/// its last request finished.
fn write_loop(path: &str, reopen: bool, rx: Receiver<Vec<u8>>) {
    let mut file: Option<File> = None;
    for line in rx {
        if reopen || file.is_none() {
            file = match open(path) {
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::warn!(path, error = %e, "file-log: cannot open the log file");
                    None
                }
            };
        }
        if let Some(f) = file.as_mut() {
            if let Err(e) = f.write_all(&line) {
                tracing::warn!(path, error = %e, "file-log: write failed");
                file = None;
            }
        }
        if reopen {
            file = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::{Duration, Instant};

    fn temp_path(name: &str) -> String {
        let dir = std::env::temp_dir().join(format!("file-log-{}-{name}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("out.log").display().to_string()
    }

    fn wait_lines(path: &str, n: usize) -> Vec<String> {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            if lines.len() >= n || Instant::now() > until {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn appends_one_json_line_per_entry() {
        for reopen in [false, true] {
            let path = temp_path(if reopen { "reopen" } else { "keep" });
            std::fs::write(&path, "earlier\n").unwrap();
            let fl = FileLog::new(FileLogConfig {
                path: path.clone(),
                reopen,
                custom_fields_by_lua: None,
            });
            let m = Metrics::new("n", "v").unwrap();
            fl.log(&m, &json!({"n": 1}));
            fl.log(&m, &json!({"n": 2}));
            let lines = wait_lines(&path, 3);
            assert_eq!(lines, vec!["earlier", r#"{"n":1}"#, r#"{"n":2}"#]);
            assert!(!m.render().contains("kong_log_dropped_total{"));
        }
    }

    #[test]
    fn unwritable_path_does_not_block_the_caller() {
        let fl = FileLog::new(FileLogConfig {
            path: "/nonexistent-dir-for-file-log/x.log".into(),
            reopen: false,
            custom_fields_by_lua: None,
        });
        let m = Metrics::new("n", "v").unwrap();
        let t = Instant::now();
        for i in 0..100 {
            fl.log(&m, &json!({"n": i}));
        }
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
