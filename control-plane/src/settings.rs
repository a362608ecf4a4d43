//! The command line: `serve` and the decK-style commands, every flag also read from the env var
//! DESIGN.md promises.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "control-plane",
    version,
    about = "Kong-compatible control plane for AI traffic"
)]
pub struct Cli {
    /// Log filter, RUST_LOG syntax.
    #[arg(long, env = "RUST_LOG", default_value = "info", global = true)]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the control plane: Admin API plus the gRPC cluster listener for data planes.
    Serve(ServeArgs),
    /// Apply decK files to a running control plane (create, update and delete to match them).
    Apply(ApplyArgs),
    /// Show what `apply` would change, without changing anything.
    Diff(ApplyArgs),
    /// Check decK files offline: templates, schema, references. Talks to no server.
    Validate(ValidateArgs),
    /// Write the control plane's current config as a decK file.
    Dump(DumpArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Database URL: sqlite://PATH (created when missing).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://kong.db")]
    pub database_url: String,
    /// Admin API listen address.
    #[arg(long, env = "KONG_ADMIN_LISTEN", default_value = "127.0.0.1:8001")]
    pub admin_listen: String,
    /// Cluster (gRPC) listen address for data planes.
    #[arg(long, env = "KONG_CLUSTER_LISTEN", default_value = "0.0.0.0:8005")]
    pub cluster_listen: String,
    /// Cluster certificate (PEM) for mTLS with data planes.
    #[arg(long, env = "KONG_CLUSTER_CERT")]
    pub cluster_cert: Option<PathBuf>,
    /// Cluster certificate key (PEM).
    #[arg(long, env = "KONG_CLUSTER_CERT_KEY")]
    pub cluster_cert_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Admin API of the control plane to talk to.
    #[arg(
        long,
        alias = "kong-addr",
        env = "DECK_KONG_ADDR",
        default_value = "http://127.0.0.1:8001"
    )]
    pub admin_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// decK files or folders of them (*.yaml, *.yml, *.json); several are merged.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub admin: AdminArgs,
    /// Print the changes without making them.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct DumpArgs {
    #[command(flatten)]
    pub admin: AdminArgs,
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long = "output-file")]
    pub output: Option<PathBuf>,
}
