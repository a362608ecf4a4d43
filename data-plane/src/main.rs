//! `data-plane` binary: parse settings, set up logging, run until SIGTERM/SIGINT.

use std::io::IsTerminal;

use clap::Parser;
use data_plane::Settings;
use tracing_subscriber::EnvFilter;

/// mimalloc: the request path allocates many small, short-lived objects across threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    let filter = EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    // The proxy runs on its own per-core workers (`proxy::workers`); this runtime only carries
    // the status listener, the control-plane link and the config cache: one thread is enough.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    if let Err(e) = runtime.block_on(data_plane::run(settings)) {
        tracing::error!("{e}");
        std::process::exit(1);
    }
    Ok(())
}
