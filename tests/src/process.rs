//! A child process owned by a test: output to a log file, killed by its own pid on drop, and its
//! log echoed when a test fails.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::logs::{address_after, strip_ansi, tail};
use crate::wait;

/// How many log lines a diagnosis shows.
const TAIL_LINES: usize = 80;

#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Self> {
        let file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .env("NO_COLOR", "1");
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {name}: {cmd:?}"))?;
        Ok(Self {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The whole log so far, ANSI codes removed.
    pub fn log_text(&self) -> String {
        std::fs::read(&self.log)
            .map(|bytes| strip_ansi(&String::from_utf8_lossy(&bytes)))
            .unwrap_or_default()
    }

    /// The tail of the log, headed by the process name, for error messages.
    pub fn diagnostics(&self) -> String {
        format!(
            "--- last lines of {} (pid {}, {}) ---\n{}\n--- end of {} ---",
            self.name,
            self.pid(),
            self.log.display(),
            tail(&self.log_text(), TAIL_LINES),
            self.name
        )
    }

    /// `Ok(())` while running; an error with the exit status and log once it has exited.
    pub fn ensure_running(&mut self) -> Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => bail!("{} exited ({status})\n{}", self.name, self.diagnostics()),
        }
    }

    /// Sends SIGTERM to exactly this child's pid (as Kubernetes does on a rolling restart).
    pub fn terminate(&mut self) -> Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .context("running kill -TERM")?;
        anyhow::ensure!(
            status.success(),
            "kill -TERM {} failed: {status}",
            self.pid()
        );
        Ok(())
    }

    /// Waits up to `timeout` for the child to exit, and returns its exit status.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        let what = format!("{} to exit", self.name);
        wait::until(&what, timeout, async || Ok(self.child.try_wait()?))
            .await
            .with_context(|| self.diagnostics())
    }

    /// Waits until the log has a line with `phrase` followed by an address, and returns it.
    pub async fn wait_for_address(
        &mut self,
        phrase: &str,
        timeout: Duration,
    ) -> Result<SocketAddr> {
        let what = format!("{} to log `{phrase} <addr>`", self.name);
        let found = wait::until(&what, timeout, async || {
            if let Some(addr) = address_after(&self.log_text(), phrase) {
                return Ok(Some(Ok(addr)));
            }
            if let Err(e) = self.ensure_running() {
                return Ok(Some(Err(e)));
            }
            Ok(None)
        })
        .await;
        match found {
            Ok(inner) => inner,
            Err(e) => Err(e.context(self.diagnostics())),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.diagnostics());
        }
        // Child::kill signals exactly this child's pid.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tempdir::TempDir;

    #[tokio::test]
    async fn reads_an_address_from_the_log_and_kills_on_drop() {
        let dir = TempDir::new("proc").unwrap();
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "printf '\\033[32mINFO\\033[0m thing listening on 127.0.0.1:4567\\n' >&2; sleep 30",
        ]);
        let mut p = Process::spawn("sh", cmd, &dir.join("sh.log")).unwrap();
        let addr = p
            .wait_for_address("thing listening on", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(addr.port(), 4567);
        p.ensure_running().unwrap();
        let pid = p.pid();
        drop(p);
        // Killed and reaped: the pid is gone.
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }

    #[tokio::test]
    async fn an_exited_process_is_reported_with_its_log() {
        let dir = TempDir::new("proc").unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo boom >&2; exit 3"]);
        let mut p = Process::spawn("sh", cmd, &dir.join("sh.log")).unwrap();
        let err = p
            .wait_for_address("never printed", Duration::from_secs(5))
            .await
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("exited") && msg.contains("boom"), "{msg}");
    }
}
