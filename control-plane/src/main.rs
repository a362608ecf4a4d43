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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
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
