//! `data-plane` binary: parse settings, set up logging, run until SIGTERM/SIGINT.

use std::io::IsTerminal;

use clap::Parser;
use data_plane::Settings;
use tracing_subscriber::EnvFilter;

/// mimalloc: the request path allocates many small, short-lived objects across threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    let filter = EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if let Err(e) = data_plane::run(settings).await {
        tracing::error!("{e}");
        std::process::exit(1);
    }
    Ok(())
}
