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
    /// Generate a self-signed cluster certificate and key (for `--cluster-mtls shared`).
    Cert(CertArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Database URL: sqlite://PATH (created when missing) or
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE (several control planes may share one).
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
    /// CA certificate (PEM) that signs the data planes' certificates (`--cluster-mtls pki`).
    #[arg(long, env = "KONG_CLUSTER_CA_CERT")]
    pub cluster_ca_cert: Option<PathBuf>,
    /// How data planes prove who they are: `shared` (the same certificate as the CP) or `pki`
    /// (a certificate signed by `--cluster-ca-cert`).
    #[arg(long, env = "KONG_CLUSTER_MTLS", value_enum, default_value = "shared")]
    pub cluster_mtls: MtlsMode,
    /// `pki` mode: the only common names accepted in data plane certificates, comma-separated
    /// (Kong's `cluster_allowed_common_names`); unset, any certificate the CA signed.
    #[arg(long, env = "KONG_CLUSTER_ALLOWED_COMMON_NAMES", value_delimiter = ',')]
    pub cluster_allowed_common_names: Vec<String>,
}

/// Kong's `cluster_mtls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MtlsMode {
    Shared,
    Pki,
}

#[derive(Debug, Clone, Args)]
pub struct CertArgs {
    /// Where to write the certificate (PEM).
    #[arg(long, default_value = "cluster.crt")]
    pub cert: PathBuf,
    /// Where to write the private key (PEM).
    #[arg(long, default_value = "cluster.key")]
    pub key: PathBuf,
    /// Validity in days.
    #[arg(long, default_value_t = 1095)]
    pub days: u32,
    /// Common name and DNS name of the certificate.
    #[arg(long, default_value = "kong_clustering")]
    pub common_name: String,
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
    /// Manage only entities with this tag (repeatable), as decK's `--select-tag`; the same as
    /// `_info.select_tags` in the file.
    #[arg(long = "select-tag", value_name = "TAG")]
    pub select_tags: Vec<String>,
    /// Print the changes as decK's JSON (`changes`, `summary`, `warnings`, `errors`).
    #[arg(long)]
    pub json_output: bool,
    /// After the write, wait up to SECONDS (30 when no value is given) until every connected
    /// data plane has applied the new version; exit non-zero naming those that did not.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, require_equals = true, default_missing_value = "30")]
    pub wait: Option<u64>,
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
