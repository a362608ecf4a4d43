//! A throwaway PostgreSQL server for tests: `initdb` into a temp dir, `pg_ctl start` on a free
//! 127.0.0.1 port (no Unix socket, trust auth, fsync off), stopped and deleted on drop. Uses the
//! server binaries of the Debian package (`/usr/lib/postgresql/<N>/bin`, or `$PG_BIN`); as root
//! it runs them as the `postgres` user, since PostgreSQL refuses to run as root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context, Result};

use crate::ports::free_port;
use crate::tempdir::TempDir;

/// The user PostgreSQL runs as when the tests run as root.
const SERVER_USER: &str = "postgres";

pub struct Postgres {
    bin: PathBuf,
    port: u16,
    run_as: Option<&'static str>,
    data: PathBuf,
    // Declared last: removed after the server stopped.
    dir: TempDir,
}

impl Postgres {
    /// Initializes and starts a server. Fails with a clear message when PostgreSQL is not
    /// installed (`tests/run` installs the Debian package `postgresql`).
    pub fn start() -> Result<Self> {
        let bin = server_bin()?;
        let run_as = is_root().then_some(SERVER_USER);
        let dir = TempDir::new("postgres")?;
        if let Some(user) = run_as {
            chown_to(dir.path(), user)?;
        }
        let data = dir.join("data");
        let mut initdb = server_cmd(&bin, run_as, "initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb, "initdb")?;
        let log = dir.join("postgres.log");
        let mut last = None;
        // A free port may be taken between choosing and binding it: try a few.
        for _ in 0..3 {
            let port = free_port()?;
            match pg_ctl_start(&bin, run_as, &data, &log, port) {
                Ok(()) => {
                    return Ok(Self {
                        bin,
                        port,
                        run_as,
                        data,
                        dir,
                    })
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("PostgreSQL did not start")))
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`: clients see their connections
    /// cut, as in a crash); `restart` brings it back on the same port with the same data.
    pub fn stop(&self) -> Result<()> {
        let mut cmd = server_cmd(&self.bin, self.run_as, "pg_ctl");
        cmd.arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"]);
        run(cmd, "pg_ctl stop").map(|_| ())
    }

    /// Starts a stopped server again on its port.
    pub fn restart(&self) -> Result<()> {
        let log = self.dir.join("postgres.log");
        pg_ctl_start(&self.bin, self.run_as, &self.data, &log, self.port)
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a fresh database and returns its URL.
    pub fn create_database(&self) -> Result<String> {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!("kong_test_{}", N.fetch_add(1, Ordering::Relaxed));
        let mut cmd = Command::new(self.bin.join("createdb"));
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
        ])
        .arg(&name);
        run(cmd, "createdb")?;
        Ok(self.url(&name))
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The server's log so far, for failure messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }

    /// Runs one SQL statement with `psql` on `database` (a name or one of this server's URLs)
    /// and returns its unaligned output.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String> {
        let database = database.rsplit('/').next().unwrap_or(database);
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
        ])
        .args([
            "-d",
            database,
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ]);
        run(cmd, "psql")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("stopping the test PostgreSQL on port {}: {e:#}", self.port);
        }
    }
}

fn pg_ctl_start(
    bin: &Path,
    run_as: Option<&str>,
    data: &Path,
    log: &Path,
    port: u16,
) -> Result<()> {
    let opts = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c shared_buffers=16MB -c max_connections=200"
    );
    let mut cmd = server_cmd(bin, run_as, "pg_ctl");
    cmd.arg("-D")
        .arg(data)
        .arg("-l")
        .arg(log)
        .args(["-o", &opts, "-w", "-t", "60", "start"]);
    run(cmd, "pg_ctl start").with_context(|| {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        format!("PostgreSQL log:\n{text}")
    })?;
    Ok(())
}

/// `$PG_BIN`, else the newest `/usr/lib/postgresql/<N>/bin` with `initdb`.
fn server_bin() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/<version>/bin: install \
             the Debian package `postgresql` (tests/run does) or set PG_BIN"
        ),
    }
}

fn server_cmd(bin: &Path, run_as: Option<&str>, tool: &str) -> Command {
    match run_as {
        Some(user) => {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", user, "--"]).arg(bin.join(tool));
            cmd
        }
        None => Command::new(bin.join(tool)),
    }
}

fn run(mut cmd: Command, what: &str) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("running {what}: {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn chown_to(path: &Path, user: &str) -> Result<()> {
    let status = Command::new("chown")
        .arg(user)
        .arg(path)
        .status()
        .context("running chown")?;
    anyhow::ensure!(status.success(), "chown {user} {} failed", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_sql_and_stops_on_drop() {
        let pg = Postgres::start().unwrap();
        let url = pg.create_database().unwrap();
        assert_eq!(pg.psql(&url, "SELECT 40 + 2").unwrap(), "42");
        let port = pg.port();
        drop(pg);
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "nothing listens on {port} after drop"
        );
    }
}
