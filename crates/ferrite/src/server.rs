//! The HTTP server: accepts connections (over TLS when configured, see `tls`), answers
//! health checks, hands everything else to the s3s service, and shuts down gracefully
//! on SIGTERM or SIGINT.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ferrite_api::admin::Admin;
use ferrite_api::cors::CorsRequest;
use ferrite_api::iam::{self, Iam};
use ferrite_api::kms::Kms;
use ferrite_api::post::{PostObject, PostRequest};
use ferrite_api::{
    BodyStreamed, FerriteAuth, FerriteS3, IgnoreUnusableRange, OperationName, RecordOperation, RequestView,
    RootIdentity, VirtualHostDomain, precheck,
};
use ferrite_model::{Ferrite, ObjectOwnership, Options, Secret};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::Body;
use s3s::config::{S3Config, StaticConfigProvider};
use s3s::service::{S3Service, S3ServiceBuilder};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use crate::ServeArgs;
use crate::conn::{Activity, Admission, ConnLimits, Guarded, watch_connection};
use crate::credentials;
use crate::metrics::{Metered, Metrics, TlsMetrics};
use crate::tls::{Tls, TlsFiles};

const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Request headers are bounded (AWS allows 8 KB of headers; presigned URLs and user
/// metadata fit well within this): a request head past this size is answered `431`
/// and its connection closed ([`head_too_large`]).
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// HTTP/1 reads from a connection at most this much at a time, which is also the most
/// a request head can take before it is refused unparsed (hyper's `max_buf_size`: a
/// head must fit the read buffer). A body arrives in pieces of up to this size: with
/// 64 KiB reads every 64 KiB chunk of an encrypted body straddled two pieces and was
/// copied together before sealing (perf: 6 ms per 64 MiB object; 1.7 ms with 512 KiB
/// reads), and plaintext bodies took more reads and wakeups. 512 KiB raised the peak
/// RSS of 16 concurrent 64 MiB part uploads (tests/multipart.rs, debug build) from
/// 106 MiB to 126-135 MiB, over that test's 128 MiB bound; 256 KiB keeps most of the
/// gain at 115 MiB. The memory this allows per connection is within what a body may
/// already hold (`FLUSH_AT`, `MD5_AHEAD`).
const READ_BUF_BYTES: usize = 256 * 1024;
const MAX_HEADERS: usize = 200;
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP/2 connections are pinged this often, and dropped when a ping goes unanswered
/// this long.
const H2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const H2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// A connection past `--max-connections` waits this long for a slot, then gets 503.
const ADMISSION_WAIT: Duration = Duration::from_secs(2);
/// A connection being closed for idleness has this long to finish closing.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// XML request bodies (DeleteObjects of 1000 keys, CompleteMultipartUpload of 10,000
/// parts) are read into memory by s3s up to this size; larger ones are refused.
const MAX_XML_BODY: usize = 4 * 1024 * 1024;

/// Every size limit of the protocol layer (s3s), stated here rather than left to its
/// defaults. POST uploads (HTML forms) never reach s3s (see [`is_form_post`]: they
/// are answered on our own streaming path, `ferrite_api::post`); s3s's form limits are
/// set low all the same, so that nothing can make s3s buffer much.
fn s3s_config() -> S3Config {
    let mut c = S3Config::default();
    c.xml_max_body_size = MAX_XML_BODY;
    c.post_object_max_file_size = 0;
    c.form_max_field_size = 64 * 1024;
    c.form_max_fields_size = 256 * 1024;
    c.form_max_parts = 64;
    c.presigned_url_max_skew_time_secs = 900;
    c
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // A certificate that cannot be used stops the start before anything is touched.
    let tls_metrics = TlsMetrics::default();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let files = TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            };
            Some(Tls::new(files, tls_metrics.clone())?)
        }
        (None, None) => None,
        // clap requires both or neither; stated again for the environment's sake.
        _ => anyhow::bail!("--tls-cert and --tls-key go together: give both files, or neither for plain HTTP"),
    };
    crate::datadir::prepare(&args.data_dir)?;
    let (creds, generated) = credentials::load_or_create(&args.data_dir)?;
    if generated {
        println!(
            "Generated root credentials, stored in {}:\n  access key: {}\n  secret key: {}",
            args.data_dir.join("credentials.json").display(),
            creds.access_key,
            creds.secret_key
        );
    }
    // Root's canonical id: stable for its access key, as stored owner ids must be.
    let root = RootIdentity {
        access_key: creds.access_key.clone(),
        canonical_id: hex::encode(Sha256::digest(creds.access_key.as_bytes())),
        display_name: "ferrite".into(),
    };
    let env_key = std::env::var("FERRITE_KMS_MASTER_KEY")
        .ok()
        .map(zeroize::Zeroizing::new);
    let (ring, source) = crate::master_key::load(&args.data_dir, args.kms_master_key_file.as_deref(), env_key)?;
    match &source {
        crate::master_key::Source::Generated(path) => tracing::warn!(
            file = %path.display(),
            "generated the master key of server-side encryption; keep a copy of it apart from the data dir \
             (without it encrypted objects cannot be read) and know that whoever copies the whole data dir, \
             this file included, can read them"
        ),
        crate::master_key::Source::File(path) => tracing::info!(file = %path.display(), "master key loaded"),
        crate::master_key::Source::Env => tracing::info!("master key taken from FERRITE_KMS_MASTER_KEY"),
    }
    let opts = Options {
        region: args.region.clone(),
        durable: !args.no_fsync,
        body_idle_timeout: Duration::from_secs(args.body_timeout_secs.max(1)),
        meta_cache_bytes: args.meta_cache_mib.max(1) << 20,
        root_canonical_id: root.canonical_id.clone(),
        keys: Some(Arc::new(ferrite_model::BuiltinKeys::with_ring(
            ring,
            crate::master_key::store_for(&source),
        )?)),
        lifecycle_day: Duration::from_secs(args.lifecycle_day_secs),
        restore_delay: Duration::from_secs(args.restore_delay_secs),
        tiering: ferrite_model::Tiering {
            tiers: args.tiers.clone(),
            classes: args.class_tiers.clone(),
        },
        console_session_ttl: Duration::from_secs(args.console_session_minutes.max(1) * 60),
    };
    if args.no_fsync {
        tracing::warn!("--no-fsync: writes are acknowledged before they are durable");
    }
    if args.disable_sigv2 {
        tracing::info!("SigV2 is turned off: only SigV4 requests are accepted");
    }
    if let Some(spec) = &args.blobs {
        if !spec.starts_with("rados:") {
            anyhow::bail!("unknown --blobs {spec:?}: expected rados:pool=NAME[,conf=PATH][,user=NAME]");
        }
        if args.meta.is_none() {
            anyhow::bail!("--blobs (object data shared by gateways) needs --meta (the metadata they share)");
        }
    }
    let model = match &args.meta {
        None => Ferrite::open_local(&args.data_dir, opts)
            .await
            .context("opening the data directory")?,
        Some(url) => {
            let (url, pool_size) = (url.clone(), args.meta_pool_size as usize);
            let durable = opts.durable;
            let meta = tokio::task::spawn_blocking(move || {
                let pg = ferrite_store::PgOptions {
                    pool_size,
                    durable,
                    ..Default::default()
                };
                ferrite_store::PgMetaStore::connect(&url.0, pg)
            })
            .await?
            .context("connecting to the metadata store (--meta)")?;
            tracing::info!(meta = ?args.meta, "metadata store: PostgreSQL");
            match open_blobs(args.blobs.as_deref()).await? {
                None => Ferrite::open_external(&args.data_dir, Arc::new(meta), opts)
                    .await
                    .context("opening the stores")?,
                Some(blobs) => Ferrite::open_paired(Arc::new(meta), blobs, opts, true)
                    .await
                    .context("opening the stores")?,
            }
        }
    };

    let metrics = Metrics::new(model.clone(), tls.as_ref().map(|_| &tls_metrics));
    let default_ownership = match args.default_object_ownership {
        crate::DefaultOwnership::ObjectWriter => None,
        crate::DefaultOwnership::BucketOwnerPreferred => Some(ObjectOwnership::BucketOwnerPreferred),
        crate::DefaultOwnership::BucketOwnerEnforced => Some(ObjectOwnership::BucketOwnerEnforced),
    };
    let account_block = if args.block_public_access {
        ferrite_model::PublicAccessBlock::ALL
    } else {
        ferrite_model::PublicAccessBlock::default()
    };
    let auth = FerriteAuth::with_account_block(
        model.clone(),
        root,
        Secret::new(creds.secret_key.clone()),
        account_block,
    );
    drop(creds);
    let iam = Iam::new(model.clone(), auth.clone());
    let admin = Admin::new(
        model.clone(),
        auth.clone(),
        ferrite_api::admin::ServerFacts {
            version: env!("CARGO_PKG_VERSION").to_string(),
            // Absolute when it can be: the info names the directory the server uses.
            data_dir: args.data_dir.canonicalize().unwrap_or_else(|_| args.data_dir.clone()),
        },
    )
    .with_metrics(metrics.clone());
    let kms = Kms::new(model.clone(), auth.clone());
    let default_encryption = match args.default_encryption {
        crate::DefaultEncryption::None => None,
        crate::DefaultEncryption::SseS3 => Some(ferrite_model::BucketEncryption {
            algorithm: ferrite_model::EncryptionAlgorithm::SseS3,
            kms_key_id: None,
            bucket_key: false,
        }),
    };
    let service = FerriteS3::new(model.clone(), auth.clone())
        .with_default_ownership(default_ownership)
        .with_default_encryption(default_encryption);
    let mut builder = S3ServiceBuilder::new(service);
    builder.set_auth(auth.clone());
    builder.set_access(RecordOperation);
    if let Some(domain) = &args.domain {
        builder.set_host(VirtualHostDomain::new(domain));
    }
    builder.set_config(Arc::new(StaticConfigProvider::new(Arc::new(s3s_config()))));
    let range_route = IgnoreUnusableRange::default();
    builder.set_route(range_route.clone());
    let s3 = builder.build();
    range_route.set_service(s3.clone());
    let state = Arc::new(State {
        s3,
        post: PostObject::new(model.clone(), auth.clone(), !args.disable_sigv2)
            .with_sse_c_over_http(args.allow_sse_c_over_http),
        sse_c_over_http: args.allow_sse_c_over_http,
        model,
        auth,
        iam,
        kms,
        admin,
        host: args.domain.as_deref().map(VirtualHostDomain::new),
        sigv2: !args.disable_sigv2,
        metrics,
        metrics_token: args.metrics_token.clone(),
        metrics_public: args.metrics_public,
        console: !args.no_console,
    });

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    if let Some(tls) = &tls {
        // In place before the address is announced: from then on SIGHUP reloads.
        tls.reload_on_sighup()?;
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, scheme, data_dir = %args.data_dir.display(), region = %args.region, "ferrite is serving S3");
    // Machine-readable line: tests and scripts read the bound address from it.
    println!("listening on {addr}");

    let limits = ConnLimits {
        max_connections: args.max_connections.max(1),
        handshake_timeout: Duration::from_secs(args.handshake_timeout_secs.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs.max(1)),
        header_read_timeout: HEADER_READ_TIMEOUT,
        h2_keep_alive_interval: H2_KEEP_ALIVE_INTERVAL,
        h2_keep_alive_timeout: H2_KEEP_ALIVE_TIMEOUT,
        admission_wait: ADMISSION_WAIT,
        max_waiting: (args.max_connections / 4).clamp(16, 1024),
        close_grace: CLOSE_GRACE,
    };
    let mut http = ConnBuilder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(READ_BUF_BYTES)
        .max_headers(MAX_HEADERS);
    http.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.h2_keep_alive_interval)
        .keep_alive_timeout(limits.h2_keep_alive_timeout)
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let http = Arc::new(http);
    let admission = Admission::new(limits.clone());
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let (mut stream, peer) = tokio::select! {
            res = listener.accept() => match res {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small responses must not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let (state, http, admission, limits) = (state.clone(), http.clone(), admission.clone(), limits.clone());
        let (shutdown_rx, tls) = (shutdown_rx.clone(), tls.clone());
        tokio::spawn(async move {
            let Some(slot) = admission.admit(&mut stream, tls.is_some()).await else {
                tracing::debug!(%peer, "connection refused: too many open connections");
                return;
            };
            let conn = Conn {
                state,
                http,
                activity: Activity::new(),
                limits,
                shutdown_rx,
            };
            match tls {
                None => conn.serve(stream, peer, false).await,
                Some(tls) => {
                    let deadline = conn.activity.handshake_deadline(&conn.limits);
                    if let Some(stream) = tls.accept(stream, peer, deadline).await {
                        conn.serve(stream, peer, true).await;
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = shutdown_tx.send(true);
    if admission.drained(SHUTDOWN_GRACE + CLOSE_GRACE).await {
        tracing::info!("all connections closed");
    } else {
        tracing::warn!("connections still open after the grace period");
    }
    range_route.clear();
    Ok(())
}

/// One admitted connection, before its stream is served.
struct Conn {
    state: Arc<State>,
    http: Arc<ConnBuilder<TokioExecutor>>,
    activity: Arc<Activity>,
    limits: ConnLimits,
    shutdown_rx: tokio::sync::watch::Receiver<bool>,
}

impl Conn {
    /// Serves HTTP/1.1 or HTTP/2 on `io` (a TCP stream, or a TLS stream over one when
    /// `secure`) until the connection ends, idles out or the server shuts down.
    async fn serve<I>(self, io: I, peer: SocketAddr, secure: bool)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let client = ferrite_api::ClientInfo { addr: peer, secure };
        let (state, activity) = (self.state, self.activity.clone());
        let svc = service_fn(move |req| handle(state.clone(), client, activity.clone(), req));
        let conn = self.http.serve_connection(TokioIo::new(io), svc).into_owned();
        watch_connection(
            conn,
            |c| c.graceful_shutdown(),
            self.activity,
            self.limits,
            self.shutdown_rx,
            SHUTDOWN_GRACE,
        )
        .await;
    }
}

/// What every connection shares.
struct State {
    s3: S3Service,
    /// The model, for the reads the server does itself (CORS rules).
    model: Ferrite,
    /// Browser uploads (POST Object).
    post: PostObject,
    /// The credentials, for the signature checks that run before s3s.
    auth: FerriteAuth,
    /// The IAM API (users, keys): requests signed for the `iam` service.
    iam: Iam,
    /// The built-in KMS's API (keys, aliases): requests signed for the `kms` service.
    kms: Kms,
    /// The admin endpoint: requests signed for the `admin` service.
    admin: Admin,
    host: Option<VirtualHostDomain>,
    /// Whether SigV2 requests are accepted.
    sigv2: bool,
    /// `--allow-sse-c-over-http`.
    sse_c_over_http: bool,
    metrics: Arc<Metrics>,
    /// When set, `GET /metrics` requires `Authorization: Bearer <token>`.
    metrics_token: Option<String>,
    /// Serve `/metrics` to any client without a token (default: loopback only).
    metrics_public: bool,
    /// The web console and its cookie sessions are served (not `--no-console`).
    console: bool,
}

type ResponseBody = Guarded<Metered<Body>>;

async fn handle(
    state: Arc<State>,
    client: ferrite_api::ClientInfo,
    activity: Arc<Activity>,
    req: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let busy = activity.begin();
    if head_too_large(&req) {
        let mut resp = text(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request header fields too large\n",
        );
        resp.headers_mut()
            .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        return Ok(resp.map(|body| Guarded::new(Metered::plain(body), busy)));
    }
    let resp = route(&state, client, req).await;
    Ok(resp.map(|body| Guarded::new(body, busy)))
}

/// Whether the request's head (request line and headers, as HTTP/1 sends them) is
/// over [`MAX_HEADER_BYTES`]. HTTP/1 heads up to [`READ_BUF_BYTES`] get this far;
/// HTTP/2 bounds its header lists itself.
fn head_too_large<B>(req: &Request<B>) -> bool {
    let uri = req.uri();
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len()) + uri.authority().map_or(0, |a| a.as_str().len());
    let line = req.method().as_str().len() + target + 12;
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    line + headers > MAX_HEADER_BYTES
}

/// Operational endpoints (health, metrics, the admin API's OpenAPI document, the web
/// console under `/console/`) answer unsigned requests only: a signed request always
/// reaches S3 (an object named `health/live` or a bucket named `metrics` or `console`
/// stays reachable). Unsigned requests under `/admin/v1/` are the console's admin
/// calls (cookie sessions). Requests SigV4-signed for the `iam`, `kms` or `admin` service are ours (s3s
/// refuses those scopes); every other request goes to S3.
async fn route(state: &State, client: ferrite_api::ClientInfo, mut req: Request<Incoming>) -> Response<Metered<Body>> {
    req.extensions_mut().insert(client);
    let signed = is_s3_signed(&req);
    if !signed && (req.method() == Method::GET || req.method() == Method::HEAD) {
        match req.uri().path() {
            "/health/live" | "/health/ready" => return text(StatusCode::OK, "ok\n").map(Metered::plain),
            // The admin API's OpenAPI document is public, like the health checks.
            "/admin/v1/openapi.json" if req.method() == Method::GET => {
                return Admin::openapi_response().map(Body::from).map(Metered::plain);
            }
            "/metrics" if req.method() == Method::GET => {
                return metrics_response(state, client.addr, &req).await.map(Metered::plain);
            }
            // The web console's page and assets.
            path if state.console && (path == "/console" || path.starts_with("/console/")) => {
                return ferrite_api::console::serve(path).map(Body::from).map(Metered::plain);
            }
            _ => {}
        }
    }
    // The console's admin API calls: unsigned, authenticated by the session cookie
    // (or the login that opens a session).
    if state.console && !signed && req.uri().path().starts_with("/admin/v1/") {
        return match bounded_body(req).await {
            Ok((parts, body)) => state.admin.handle_console(&parts, &body).await.map(Body::from),
            Err(resp) => resp,
        }
        .map(Metered::plain);
    }
    match iam::sigv4::scope_service(req.headers()) {
        Some("iam") => {
            return match bounded_body(req).await {
                Ok((parts, body)) => state.iam.handle(&parts, &body).await.map(Body::from),
                Err(resp) => resp,
            }
            .map(Metered::plain);
        }
        Some("kms") => {
            return match bounded_body(req).await {
                Ok((parts, body)) => state.kms.handle(&parts, &body).await.map(Body::from),
                Err(resp) => resp,
            }
            .map(Metered::plain);
        }
        Some("admin") => {
            return match bounded_body(req).await {
                Ok((parts, body)) => state.admin.handle(&parts, &body).await.map(Body::from),
                Err(resp) => resp,
            }
            .map(Metered::plain);
        }
        // An unsigned form-encoded POST is an IAM call without credentials (S3 has
        // no such request): IAM's MissingAuthenticationToken, body unread.
        None if !signed && is_iam_form_post(&req) => {
            let (parts, _) = req.into_parts();
            return state.iam.handle(&parts, b"").await.map(Body::from).map(Metered::plain);
        }
        _ => {}
    }
    // CORS preflights are answered here, unauthenticated, as on AWS; a request with an
    // Origin gets the CORS headers of its bucket's matching rule on its response,
    // whatever it is (errors too). A request without an Origin reads nothing for it.
    if req.method() == Method::OPTIONS {
        return preflight(state, &req).await.map(Metered::plain);
    }
    let cors = match req.headers().contains_key(http::header::ORIGIN) {
        true => CorsRequest::of(req.method(), req.headers(), addressed(state, &req).0),
        false => None,
    };
    let mut resp = route_s3(state, req).await;
    if let Some(cors) = cors {
        cors.decorate(&state.model, resp.headers_mut()).await;
    }
    if state.console {
        // Objects are served from the console's origin: an HTML object opened in a
        // browser is sandboxed (an opaque origin, no script), so it cannot act with
        // a logged-in console session.
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_SECURITY_POLICY,
            http::HeaderValue::from_static("sandbox"),
        );
        h.insert(
            http::header::X_CONTENT_TYPE_OPTIONS,
            http::HeaderValue::from_static("nosniff"),
        );
    }
    resp
}

/// The bucket a request addresses (virtual-hosted or path style) and whether it names
/// an object.
fn addressed<B>(state: &State, req: &Request<B>) -> (Option<String>, bool) {
    ferrite_api::cors::addressed(req.uri().path(), host_bucket(state, req).as_deref())
}

fn host_bucket<B>(state: &State, req: &Request<B>) -> Option<String> {
    state.host.as_ref().and_then(|h| {
        let host = req.headers().get(http::header::HOST)?.to_str().ok()?;
        h.bucket_of(host)
    })
}

async fn preflight<B>(state: &State, req: &Request<B>) -> Response<Body> {
    let request_id = new_request_id();
    let (bucket, names_object) = addressed(state, req);
    let mut resp = ferrite_api::cors::preflight(
        &state.model,
        req.headers(),
        bucket.as_deref(),
        names_object,
        &request_id,
    )
    .await
    .map(Body::from);
    if let Ok(v) = http::HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    resp
}

/// S3 requests: the checks that run before s3s, then s3s.
/// SSE-C keys cross the network in the request's headers: over plain HTTP they are
/// refused (as AWS refuses them), but from loopback or with `--allow-sse-c-over-http`.
fn refuse_insecure_sse_c<B>(state: &State, req: &Request<B>) -> Result<(), s3s::S3Error> {
    use ferrite_api::sse_c;
    if sse_c::KEY_HEADERS.iter().any(|h| req.headers().contains_key(*h))
        && !sse_c::sse_c_transport_allowed(req.extensions().get::<ferrite_api::ClientInfo>(), state.sse_c_over_http)
    {
        return Err(sse_c::insecure_transport());
    }
    Ok(())
}

async fn route_s3(state: &State, mut req: Request<Incoming>) -> Response<Metered<Body>> {
    if is_form_post(&req) {
        return post_object(state, req).await;
    }
    // Features not built yet are refused before anything runs (see `unsupported`).
    if let Err(e) = ferrite_api::refuse_unimplemented(req.headers())
        .and_then(|()| ferrite_api::refuse_encryption_on_reads(req.method(), req.headers()))
        .and_then(|()| refuse_insecure_sse_c(state, &req))
    {
        return s3_error_response(&e).map(Metered::plain);
    }
    match run_precheck(state, &req) {
        Err(e) => return s3_error_response(&e).map(Metered::plain),
        Ok(passed) => {
            if let Some(path) = passed.path_with_slash {
                let pq = match req.uri().query() {
                    Some(q) => format!("{path}?{q}"),
                    None => path,
                };
                let mut parts = req.uri().clone().into_parts();
                if let Ok(pq) = pq.parse() {
                    parts.path_and_query = Some(pq);
                    if let Ok(uri) = http::Uri::from_parts(parts) {
                        *req.uri_mut() = uri;
                    }
                }
            }
        }
    }
    let operation = OperationName::default();
    req.extensions_mut().insert(operation.clone());
    let meter = state.metrics.meter(operation.clone());
    let mut req = req.map(|body| Body::http_body(meter.count_received(body)));
    let resp = match check_document(&mut req).await {
        Ok(()) => respond(&state.s3, req, &operation).await,
        Err(e) => s3_error_response(&e),
    };
    let status = resp.status().as_u16();
    resp.map(|body| meter.finish(status, body))
}

/// A browser upload (POST Object, `POST /bucket` with an HTML form), answered on a
/// streaming path of our own (s3s's PostObject buffers the whole file): see
/// `ferrite_api::post`. A form posted to an object's URL is refused, its body unread.
async fn post_object(state: &State, req: Request<Incoming>) -> Response<Metered<Body>> {
    let request_id = new_request_id();
    let (bucket, names_object) = addressed(state, &req);
    let mut resp = match bucket {
        Some(bucket) if !names_object => {
            let host = req
                .headers()
                .get(http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("localhost")
                .to_string();
            let secure = req
                .extensions()
                .get::<ferrite_api::ClientInfo>()
                .is_some_and(|c| c.secure);
            let scheme = if secure { "https" } else { "http" };
            let location_base = match host_bucket(state, &req) {
                Some(_) => format!("{scheme}://{host}"),
                None => format!("{scheme}://{host}/{bucket}"),
            };
            let meter = state.metrics.meter(OperationName::named("PostObject"));
            let (parts, body) = req.into_parts();
            let body = Body::http_body(meter.count_received(body));
            let post = PostRequest {
                headers: &parts.headers,
                client: parts.extensions.get::<ferrite_api::ClientInfo>().copied(),
                bucket: &bucket,
                location_base,
            };
            let resp = state.post.handle(post, body).await.map(Body::from);
            let status = resp.status().as_u16();
            resp.map(|b| meter.finish(status, b))
        }
        _ => {
            let mut resp = xml_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            );
            resp.headers_mut()
                .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
            resp.map(Metered::plain)
        }
    };
    if let Ok(v) = http::HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    resp
}

/// Reads the whole body of a request we answer ourselves (IAM, admin), refusing one
/// over [`iam::MAX_BODY`] before reading it (by its declared length) or while reading.
async fn bounded_body(req: Request<Incoming>) -> Result<(http::request::Parts, bytes::Bytes), Response<Body>> {
    use http_body_util::BodyExt;
    const READ_TIMEOUT: Duration = Duration::from_secs(30);
    let too_large = || {
        xml_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "The request body is too large.",
        )
    };
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > iam::MAX_BODY as u64) {
        return Err(too_large());
    }
    let read = tokio::time::timeout(
        READ_TIMEOUT,
        http_body_util::Limited::new(body, iam::MAX_BODY).collect(),
    );
    match read.await {
        Ok(Ok(collected)) => Ok((parts, collected.to_bytes())),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) | Err(_) => Err(xml_error(
            StatusCode::BAD_REQUEST,
            "IncompleteBody",
            "The request body could not be read.",
        )),
    }
}

/// A `POST` with a URL-encoded form body: how the IAM query protocol calls.
fn is_iam_form_post<B>(req: &Request<B>) -> bool {
    req.method() == Method::POST
        && req.headers().get_all(http::header::CONTENT_TYPE).iter().any(|v| {
            v.to_str().is_ok_and(|s| {
                s.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            })
        })
}

/// A `POST` with an HTML form body (`multipart/form-data`): a browser upload.
fn is_form_post<B>(req: &Request<B>) -> bool {
    req.method() == Method::POST
        && req.headers().get_all(http::header::CONTENT_TYPE).iter().any(|v| {
            v.to_str()
                .map(|s| s.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
                .unwrap_or(true)
        })
}

fn run_precheck<B>(state: &State, req: &Request<B>) -> Result<ferrite_api::Passed, s3s::S3Error> {
    let host_bucket = host_bucket(state, req);
    let view = RequestView {
        method: req.method(),
        uri: req.uri(),
        headers: req.headers(),
        host_bucket: host_bucket.as_deref(),
    };
    precheck(
        &view,
        state.sigv2,
        &|ak| state.auth.secret_for(ak),
        time::OffsetDateTime::now_utc(),
    )
}

/// A document request's body (CORS, policy, ACL, DeleteObjects, ...) checked against
/// its `Content-MD5` / `x-amz-checksum-*` before it runs (`ferrite_api::document`).
/// The body is read (bounded as the S3 layer bounds it) and kept for the S3 layer.
async fn check_document(req: &mut Request<Body>) -> Result<(), s3s::S3Error> {
    let Some(expected) = ferrite_api::document_claims(req.method(), req.uri(), req.headers())? else {
        return Ok(());
    };
    let too_big =
        || s3s::S3Error::with_message(s3s::S3ErrorCode::MaxMessageLengthExceeded, "Your request was too big.");
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_XML_BODY as u64) {
        return Err(too_big());
    }
    // Past the bound without a declared length, or cut short: the body did not arrive
    // as a document can.
    let bytes = req.body_mut().store_all_limited(MAX_XML_BODY).await.map_err(|_| {
        s3s::S3Error::with_message(
            s3s::S3ErrorCode::IncompleteBody,
            "The request body did not arrive whole (or is larger than a document may be).",
        )
    })?;
    ferrite_api::verify_document(&expected, &bytes)
}

fn s3_error_response(e: &s3s::S3Error) -> Response<Body> {
    let status = e.status_code().unwrap_or(StatusCode::FORBIDDEN);
    xml_error(status, e.code().as_str(), e.message().unwrap_or(""))
}

/// Whether a request carries an S3 signature (header or presigned query).
fn is_s3_signed<B>(req: &Request<B>) -> bool {
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS"));
    let query = req.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|p| p.starts_with("X-Amz-Signature=") || p.starts_with("Signature="))
    });
    header || query
}

/// Without a token, only this machine may read the metrics (they name every bucket),
/// unless the operator opened them with `--metrics-public`; with a token, anyone who
/// has it (checked separately).
fn metrics_open_to(peer: std::net::IpAddr, token_set: bool, public: bool) -> bool {
    let peer = match peer {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
        v4 => v4,
    };
    token_set || public || peer.is_loopback()
}

async fn metrics_response<B>(state: &State, peer: SocketAddr, req: &Request<B>) -> Response<Body> {
    if !metrics_open_to(peer.ip(), state.metrics_token.is_some(), state.metrics_public) {
        return text(
            StatusCode::FORBIDDEN,
            "metrics are served to loopback clients only (see --metrics-token, --metrics-public)\n",
        );
    }
    if let Some(token) = &state.metrics_token {
        let given = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // Compared as digests, so the time taken says nothing about the token.
        let matches = given.is_some_and(|g| Sha256::digest(g.as_bytes()) == Sha256::digest(token.as_bytes()));
        if !matches {
            let mut resp = text(StatusCode::UNAUTHORIZED, "a bearer token is required\n");
            resp.headers_mut()
                .insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
            return resp;
        }
    }
    let openmetrics = req
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    match state.metrics.render(openmetrics).await {
        Ok(body) => {
            let content_type = if openmetrics {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            } else {
                "text/plain; version=0.0.4; charset=utf-8"
            };
            let mut resp = Response::new(Body::from(body));
            resp.headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot render metrics");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
    }
}

/// Hands a request to s3s and finishes its response: request id, error body fixes.
async fn respond(s3: &S3Service, mut req: Request<Body>, operation: &OperationName) -> Response<Body> {
    let is_head = req.method() == Method::HEAD;
    let declared_len = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let streamed = BodyStreamed::default();
    req.extensions_mut().insert(streamed.clone());
    let request_id = new_request_id();
    let mut resp = match s3.call(req).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::error!(error = ?e, "request failed outside the S3 layer");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
        }
    };
    // s3s 0.14.1 reports an XML body over its limit as InternalError (it misses the
    // limit error of a streamed body); answer what it means to: 400 MaxMessageLengthExceeded.
    if resp.status() == StatusCode::INTERNAL_SERVER_ERROR
        && declared_len.is_some_and(|n| n > MAX_XML_BODY as u64)
        && !streamed.is_marked()
    {
        resp = xml_error(
            StatusCode::BAD_REQUEST,
            "MaxMessageLengthExceeded",
            "Your request was too big.",
        );
    }
    if let Ok(v) = http::HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    if resp.status().is_server_error() {
        tracing::warn!(status = %resp.status(), %request_id, "request failed");
    }
    if (resp.status().is_client_error() || resp.status().is_server_error()) && !is_head {
        // An ACL document s3s cannot parse is MalformedACLError on AWS, not MalformedXML.
        let acl_op = matches!(operation.get(), Some("PutBucketAcl" | "PutObjectAcl"));
        resp = with_request_id_in_body(resp, &request_id, acl_op).await;
    }
    if resp.headers_mut().remove(ferrite_api::restore::ACCEPTED_MARK).is_some() && resp.status() == StatusCode::OK {
        *resp.status_mut() = StatusCode::ACCEPTED;
    }
    if resp.status() == StatusCode::OK && operation.get() == Some("GetObjectAttributes") {
        resp = unquote_attributes_etag(resp).await;
    }
    // A 304 carries no body.
    if resp.status() == StatusCode::NOT_MODIFIED {
        let (mut parts, _) = resp.into_parts();
        parts.headers.remove(http::header::CONTENT_LENGTH);
        parts.headers.remove(http::header::CONTENT_TYPE);
        return Response::from_parts(parts, Body::empty());
    }
    resp
}

/// Adds `<RequestId>` to an XML error body, so that clients can match it to the
/// `x-amz-request-id` header (s3s renders errors before our code sees the request).
async fn with_request_id_in_body(resp: Response<Body>, request_id: &str, acl_op: bool) -> Response<Body> {
    use http_body_util::BodyExt;
    const MAX_ERROR_BODY: usize = 64 * 1024;
    let (mut parts, body) = resp.into_parts();
    let bytes = match http_body_util::Limited::new(body, MAX_ERROR_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read an error body");
            return Response::from_parts(parts, Body::empty());
        }
    };
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if acl_op && text.contains("<Code>MalformedXML</Code>") {
        text = text.replace("<Code>MalformedXML</Code>", "<Code>MalformedACLError</Code>");
    }
    let body = match text.rfind("</Error>") {
        Some(at) if !text.contains("<RequestId>") => {
            format!("{}<RequestId>{request_id}</RequestId>{}", &text[..at], &text[at..])
        }
        _ => return Response::from_parts(parts, Body::from(bytes)),
    };
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// GetObjectAttributes answers its ETag unquoted, as AWS does (see
/// `ferrite_api::attributes::unquote_etag`).
async fn unquote_attributes_etag(resp: Response<Body>) -> Response<Body> {
    use http_body_util::BodyExt;
    let (mut parts, body) = resp.into_parts();
    let limit = ferrite_api::attributes::MAX_ATTRIBUTES_DOCUMENT;
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            tracing::error!(error = %e, "could not read a GetObjectAttributes answer");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
        }
    };
    match ferrite_api::attributes::unquote_etag(&bytes) {
        Some(body) => {
            parts.headers.remove(http::header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(body))
        }
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}

fn new_request_id() -> String {
    format!("{:016X}", rand::random::<u64>())
}

fn xml_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    resp
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
    resp
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("received SIGTERM"),
        _ = tokio::signal::ctrl_c() => tracing::info!("received SIGINT"),
    }
}

/// The blob store `--blobs` names (`None`: files in the data dir).
async fn open_blobs(spec: Option<&str>) -> anyhow::Result<Option<Arc<dyn ferrite_store::BlobStore>>> {
    let Some(spec) = spec else { return Ok(None) };
    let Some(target) = spec.strip_prefix("rados:") else {
        anyhow::bail!("unknown --blobs {spec:?}: expected rados:pool=NAME[,conf=PATH][,user=NAME]");
    };
    open_rados(target.to_string()).await.map(Some)
}

#[cfg(feature = "rados")]
pub(crate) async fn open_rados(target: String) -> anyhow::Result<Arc<dyn ferrite_store::BlobStore>> {
    let target: ferrite_store::RadosTarget = target
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--blobs rados: {e}"))?;
    let pool = target.pool.clone();
    let store = tokio::task::spawn_blocking(move || ferrite_store::RadosBlobStore::connect(&target))
        .await?
        .context("connecting to the RADOS blob store (--blobs)")?;
    tracing::info!(%pool, "blob store: RADOS");
    Ok(Arc::new(store))
}

#[cfg(not(feature = "rados"))]
pub(crate) async fn open_rados(_target: String) -> anyhow::Result<Arc<dyn ferrite_store::BlobStore>> {
    anyhow::bail!(
        "this build has no RADOS blob store: build with `cargo build --release --features rados` \
         (it needs no Ceph package to build; librados2 is loaded when the server starts)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Defect 6: /metrics (bucket names and usage) was open to any client.
    #[test]
    fn defect6_metrics_are_for_loopback_clients_unless_opened() {
        let remote: std::net::IpAddr = "192.0.2.7".parse().unwrap();
        let remote6: std::net::IpAddr = "2001:db8::7".parse().unwrap();
        for local in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"] {
            assert!(metrics_open_to(local.parse().unwrap(), false, false), "{local}");
        }
        assert!(!metrics_open_to(remote, false, false));
        assert!(!metrics_open_to(remote6, false, false));
        assert!(!metrics_open_to("::ffff:192.0.2.7".parse().unwrap(), false, false));
        assert!(metrics_open_to(remote, false, true), "--metrics-public");
        assert!(metrics_open_to(remote, true, false), "a token (checked separately)");
    }

    #[test]
    fn form_posts_are_recognised_by_their_content_type() {
        let req = |m: Method, ct: &str| {
            let mut r = Request::new(());
            *r.method_mut() = m;
            r.headers_mut().insert(http::header::CONTENT_TYPE, ct.parse().unwrap());
            r
        };
        assert!(is_form_post(&req(Method::POST, "multipart/form-data; boundary=x")));
        assert!(is_form_post(&req(Method::POST, "  Multipart/Form-Data;boundary=x")));
        assert!(!is_form_post(&req(Method::POST, "application/xml")));
        assert!(!is_form_post(&req(Method::PUT, "multipart/form-data; boundary=x")));
    }
}
