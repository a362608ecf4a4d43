//! `control-plane` binary: parse the command line, set up logging, run the command.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use control_plane::settings::{Cli, Command};
use tracing_subscriber::EnvFilter;

/// mimalloc: applying a large decK file builds and drops hundreds of thousands of small JSON
/// values; glibc's allocator was a third of the time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve(_)) {
        purge_freed_memory_at_once();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

/// The CP holds one large config and replaces it whole on every apply. mimalloc keeps freed
/// pages for a second by default, so the previous apply's garbage would count in the resident
/// size at the next one (a 30,000-entity config peaked near 250 MB instead of 180 MB). The
/// allocator reads its options from the environment before `main`, so unless the operator set a
/// delay, `serve` runs itself again, once, in the same process, with `MIMALLOC_PURGE_DELAY=0`.
fn purge_freed_memory_at_once() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut cmd = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    let err = cmd.args(args).env("MIMALLOC_PURGE_DELAY", "0").exec();
    eprintln!("warning: could not run again with MIMALLOC_PURGE_DELAY=0 ({err}); freed memory is returned after mimalloc's default delay");
}

async fn run(cli: Cli) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_new(&cli.log_level).unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result: anyhow::Result<()> = match &cli.command {
        Command::Serve(args) => control_plane::serve(args.clone()).await.map_err(Into::into),
        Command::Apply(args) => control_plane::cli::apply(args, false)
            .await
            .map_err(Into::into),
        Command::Diff(args) => control_plane::cli::apply(args, true)
            .await
            .map_err(Into::into),
        Command::Validate(args) => control_plane::cli::validate(args).map_err(Into::into),
        Command::Dump(args) => control_plane::cli::dump(args).await.map_err(Into::into),
        Command::Cert(args) => control_plane::cli::cert::generate(args).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}
