//! The `ferrite` binary: command line, credentials, and the HTTP server.

#![forbid(unsafe_code)]

mod admin;
mod conn;
mod credentials;
mod datadir;
mod master_key;
mod metrics;
mod migrate;
mod server;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `ferrite --version`: the release and the on-disk format it writes (a test keeps the
/// number equal to `ferrite_model::FORMAT_VERSION`).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (on-disk format 3)");

#[derive(Parser)]
#[command(name = "ferrite", version = VERSION, about = "Ferrite: an S3-compatible object storage server")]
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
    Serve(Box<ServeArgs>),
    /// Manage users and access keys, list buckets, through a running server.
    ///
    /// Signs with root's credentials: FERRITE_ROOT_ACCESS_KEY and
    /// FERRITE_ROOT_SECRET_KEY, or the credentials.json of --data-dir.
    Admin(admin::AdminArgs),
    /// Copy an embedded store (a stopped server's data dir) into a cluster's stores:
    /// the metadata into --meta's database, the data into --blobs (RADOS) or into
    /// --data-dir. Resumable (run it again after an interruption), verifies every
    /// blob it copies, prints its progress.
    Migrate(migrate::MigrateArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FERRITE_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Directory holding all data and metadata (with --meta, the objects' data and the
    /// server's files: credentials, master key).
    #[arg(long, env = "FERRITE_DATA_DIR", default_value = "./ferrite-data")]
    pub data_dir: PathBuf,
    /// Where the metadata lives. Unset: the embedded store (`meta.redb` in --data-dir).
    /// `postgres://USER[:PASSWORD]@HOST1[,HOST2,...][:PORT]/DB?target_session_attrs=read-write`:
    /// a PostgreSQL database (the table is created at the first start; with several
    /// hosts, the primary is found). See docs/CLUSTER.md.
    #[arg(long, env = "FERRITE_META", value_name = "URL")]
    pub meta: Option<MetaUrl>,
    /// Where object data lives. Unset: files in --data-dir. `rados:pool=NAME[,conf=PATH][,user=NAME]`:
    /// a Ceph RADOS pool (conf default /etc/ceph/ceph.conf, cephx user default admin),
    /// shared by every gateway; needs --meta, and a build with the `rados` feature
    /// (librados is loaded at run time). See docs/CLUSTER.md.
    #[arg(long, env = "FERRITE_BLOBS", value_name = "STORE")]
    pub blobs: Option<String>,
    /// Connections to --meta's database that this server keeps at most.
    #[arg(long, env = "FERRITE_META_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub meta_pool_size: u32,
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
    /// When set, `GET /metrics` requires `Authorization: Bearer <token>` (from any
    /// address); otherwise the metrics are served to loopback clients only.
    #[arg(long, env = "FERRITE_METRICS_TOKEN")]
    pub metrics_token: Option<String>,
    /// Serve `GET /metrics` to every client without a token (they name every bucket).
    #[arg(long, env = "FERRITE_METRICS_PUBLIC", default_value_t = false)]
    pub metrics_public: bool,
    /// Object ownership of buckets created without `x-amz-object-ownership`:
    /// ObjectWriter (ACLs apply; no ownership controls are set), BucketOwnerPreferred,
    /// or BucketOwnerEnforced (AWS's default since 2023: ACLs disabled, the bucket
    /// owner owns every object).
    #[arg(long, env = "FERRITE_DEFAULT_OBJECT_OWNERSHIP", value_enum, default_value_t = DefaultOwnership::ObjectWriter)]
    pub default_object_ownership: DefaultOwnership,
    /// Block public access server-wide, over every bucket's own setting: public ACLs
    /// are refused and ignored, public bucket policies refused and restricted (AWS's
    /// account-level public access block with all four settings on).
    #[arg(long, env = "FERRITE_BLOCK_PUBLIC_ACCESS", default_value_t = false)]
    pub block_public_access: bool,
    /// Refuse SigV2-signed requests (header and presigned); accept SigV4 only.
    #[arg(long, env = "FERRITE_DISABLE_SIGV2", default_value_t = false)]
    pub disable_sigv2: bool,
    /// Connections served at once; more wait briefly for a slot, then get 503 SlowDown.
    #[arg(long, env = "FERRITE_MAX_CONNECTIONS", default_value_t = conn::ConnLimits::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Seconds a new connection has to send its first complete request head.
    #[arg(long, env = "FERRITE_HANDSHAKE_TIMEOUT_SECS", default_value_t = conn::ConnLimits::DEFAULT_HANDSHAKE_TIMEOUT_SECS)]
    pub handshake_timeout_secs: u64,
    /// Seconds a connection may sit with no request in flight before it is closed.
    #[arg(long, env = "FERRITE_IDLE_TIMEOUT_SECS", default_value_t = conn::ConnLimits::DEFAULT_IDLE_TIMEOUT_SECS)]
    pub idle_timeout_secs: u64,
    /// A file holding the master key of server-side encryption (32 bytes, base64).
    /// Without it (and without FERRITE_KMS_MASTER_KEY, the key itself in base64) the
    /// first start generates one into the data dir's `master.key`.
    #[arg(long, env = "FERRITE_KMS_MASTER_KEY_FILE")]
    pub kms_master_key_file: Option<std::path::PathBuf>,
    /// The default encryption every new bucket gets: `sse-s3` encrypts every object
    /// written without encryption headers (as AWS does for all buckets).
    #[arg(long, env = "FERRITE_DEFAULT_ENCRYPTION", value_enum, default_value_t = DefaultEncryption::None)]
    pub default_encryption: DefaultEncryption,
    /// Turn the web console off: no `/console/`, no console logins or cookie sessions
    /// (the SigV4 admin API stays). With the console on, every S3 response carries
    /// `Content-Security-Policy: sandbox`, so an HTML object opened in a browser runs
    /// no script on the console's origin; turn the console off to serve pages whose
    /// scripts must run from this endpoint.
    #[arg(long, env = "FERRITE_NO_CONSOLE", default_value_t = false)]
    pub no_console: bool,
    /// How long a console session lasts after its login, in minutes.
    #[arg(long, env = "FERRITE_CONSOLE_SESSION_MINUTES", default_value_t = 480)]
    pub console_session_minutes: u64,
    /// Accept SSE-C keys (`x-amz-server-side-encryption-customer-key`) over plain HTTP
    /// from any client, for operators who terminate TLS in front of the server.
    /// Without it they are refused (400, as AWS) except over TLS or from loopback.
    #[arg(long, env = "FERRITE_ALLOW_SSE_C_OVER_HTTP", default_value_t = false)]
    pub allow_sse_c_over_http: bool,
    /// Serve HTTPS with this certificate chain (PEM: the server's certificate first,
    /// then its intermediates), with --tls-key. Without both, plain HTTP. Both files
    /// are read again on SIGHUP.
    #[arg(long, env = "FERRITE_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "FERRITE_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// How many seconds a lifecycle "day" lasts (default: a real day, 86400). Rules'
    /// `Days` count in these, and the lifecycle worker runs four times per such day
    /// (at least every hour, at most every 200 ms): shorten it to watch rules act
    /// within seconds (tests; ceph/s3-tests' `lc_debug_interval`).
    #[arg(long, env = "FERRITE_LIFECYCLE_DAY_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub lifecycle_day_secs: u64,
    /// How many seconds a RestoreObject of an archived (GLACIER, DEEP_ARCHIVE) object
    /// takes before the restored copy can be read (default 0: at once).
    #[arg(long, env = "FERRITE_RESTORE_DELAY_SECS", default_value_t = 0)]
    pub restore_delay_secs: u64,
    /// Declares a storage tier: a directory (typically on another disk) that holds
    /// the bytes of the storage classes placed on it with --class-tier. `,compress`
    /// stores them zstd-compressed (meant for archive classes). Repeatable. The data
    /// dir itself is the tier named `default`.
    #[arg(long = "tier", value_name = "NAME=DIR[,compress]", value_parser = ferrite_model::TierSpec::parse)]
    pub tiers: Vec<ferrite_model::TierSpec>,
    /// Places a storage class's new data on a tier declared with --tier (or
    /// `default`): e.g. `--class-tier GLACIER=cold`. Classes not named stay in the
    /// data dir. Changing it later moves nothing: existing versions stay where they
    /// are until a transition or copy moves them. Repeatable.
    #[arg(long = "class-tier", value_name = "CLASS=TIER", value_parser = ferrite_model::parse_class_tier)]
    pub class_tiers: Vec<(ferrite_model::StorageClass, String)>,
}

/// Values of `--default-encryption`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultEncryption {
    /// New buckets have no default encryption.
    None,
    /// New buckets default to SSE-S3.
    #[value(name = "sse-s3")]
    SseS3,
}

/// Values of `--default-object-ownership`, named as S3 names them.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[value(rename_all = "verbatim")]
pub enum DefaultOwnership {
    ObjectWriter,
    BucketOwnerPreferred,
    BucketOwnerEnforced,
}

/// The most the protocol layer (s3s) may log, whatever `RUST_LOG` says: its debug and
/// trace events print signatures, strings to sign and form fields, which would make
/// the log a signing oracle. Its client-error events are at ERROR level.
const S3S_MAX_LEVEL: tracing::level_filters::LevelFilter = tracing::level_filters::LevelFilter::INFO;

fn log_filter() -> impl tracing_subscriber::layer::Filter<tracing_subscriber::Registry> + Send + Sync + 'static {
    use tracing_subscriber::filter::FilterExt;
    // s3s logs every client error (NoSuchKey, ...) at ERROR level; it is silenced by
    // default and can be turned on with RUST_LOG=s3s=info. Server errors are logged here.
    let env = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,s3s=off"));
    let cap = tracing_subscriber::filter::filter_fn(|meta| {
        !(meta.target() == "s3s" || meta.target().starts_with("s3s::")) || *meta.level() <= S3S_MAX_LEVEL
    });
    env.and(cap)
}

fn main() -> anyhow::Result<()> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(log_filter()),
        )
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(server::serve(*args)),
        Command::Admin(args) => runtime.block_on(admin::run(args)),
        Command::Migrate(args) => runtime.block_on(migrate::run(args)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_names_the_on_disk_format() {
        let want = format!("(on-disk format {})", ferrite_model::FORMAT_VERSION);
        assert!(
            super::VERSION.ends_with(&want),
            "{} does not end with {want}",
            super::VERSION
        );
    }
}

/// A metadata store URL, which may hold a password: never shown in full.
#[derive(Clone)]
pub struct MetaUrl(pub zeroize::Zeroizing<String>);

impl std::str::FromStr for MetaUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Self(zeroize::Zeroizing::new(s.to_string())))
        } else {
            Err("expected postgres://USER@HOST[,HOST...]/DB (or no --meta for the embedded store)".into())
        }
    }
}

impl std::fmt::Debug for MetaUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The scheme and hosts, never the user's password.
        let s = self.0.as_str();
        let rest = s.split_once("://").map_or(s, |(_, r)| r);
        let hosts = rest.split_once('@').map_or(rest, |(_, h)| h);
        let hosts = hosts.split(['/', '?']).next().unwrap_or("");
        write!(f, "MetaUrl(postgres://{hosts}/...)")
    }
}
