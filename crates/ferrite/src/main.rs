//! The `ferrite` binary: command line, credentials, and the HTTP server.

mod credentials;
mod metrics;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ferrite", version, about = "Ferrite: an S3-compatible object storage server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the S3 API.
    ///
    /// Root credentials come from FERRITE_ROOT_ACCESS_KEY and FERRITE_ROOT_SECRET_KEY.
    /// When both are unset, the first start generates a pair, stores it in
    /// DATA_DIR/credentials.json (mode 0600) and prints it once; later starts reuse it.
    Serve(ServeArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FERRITE_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Directory holding all data and metadata.
    #[arg(long, env = "FERRITE_DATA_DIR", default_value = "./ferrite-data")]
    pub data_dir: PathBuf,
    /// Region this server answers for.
    #[arg(long, env = "FERRITE_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Base domain for virtual-hosted-style requests (`bucket.DOMAIN`); path style always works.
    #[arg(long, env = "FERRITE_DOMAIN")]
    pub domain: Option<String>,
    /// Acknowledge writes without fsync. Faster, but a crash can lose acknowledged writes.
    #[arg(long, env = "FERRITE_NO_FSYNC", default_value_t = false)]
    pub no_fsync: bool,
    /// Seconds a request body may send nothing before the request fails with RequestTimeout.
    #[arg(long, env = "FERRITE_BODY_TIMEOUT_SECS", default_value_t = 60)]
    pub body_timeout_secs: u64,
    /// MiB of metadata pages to keep cached in memory (bounds most of the server's memory).
    #[arg(long, env = "FERRITE_META_CACHE_MIB", default_value_t = 32)]
    pub meta_cache_mib: usize,
    /// When set, `GET /metrics` requires `Authorization: Bearer <token>`; otherwise
    /// the metrics are open to anyone who can reach the listen address.
    #[arg(long, env = "FERRITE_METRICS_TOKEN")]
    pub metrics_token: Option<String>,
}

fn main() -> anyhow::Result<()> {
    // s3s logs every client error (NoSuchKey, ...) at ERROR level; it is silenced by
    // default and can be turned on with RUST_LOG=s3s=debug. Server errors are logged here.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,s3s=off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(server::serve(args)),
    }
}
