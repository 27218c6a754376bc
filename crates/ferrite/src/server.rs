//! The HTTP server: accepts connections, answers health checks, hands everything else
//! to the s3s service, and shuts down gracefully on SIGTERM or SIGINT.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ferrite_api::{BodyStreamed, FerriteS3, OperationName, RecordOperation, RootAuth, VirtualHostDomain};
use ferrite_model::{Ferrite, Options};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use s3s::Body;
use s3s::config::{S3Config, StaticConfigProvider};
use s3s::service::{S3Service, S3ServiceBuilder};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::ServeArgs;
use crate::credentials;
use crate::metrics::{Metered, Metrics};

const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Request headers are bounded before they are parsed (AWS allows 8 KB of headers;
/// presigned URLs and user metadata fit well within this).
const MAX_HEADER_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 200;
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// XML request bodies (DeleteObjects of 1000 keys, CompleteMultipartUpload of 10,000
/// parts) are read into memory by s3s up to this size; larger ones are refused.
const MAX_XML_BODY: usize = 4 * 1024 * 1024;

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let (creds, generated) = credentials::load_or_create(&args.data_dir)?;
    if generated {
        println!(
            "Generated root credentials, stored in {}:\n  access key: {}\n  secret key: {}",
            args.data_dir.join("credentials.json").display(),
            creds.access_key,
            creds.secret_key
        );
    }
    let owner = hex::encode(Sha256::digest(creds.access_key.as_bytes()));
    let opts = Options {
        region: args.region.clone(),
        owner,
        durable: !args.no_fsync,
        body_idle_timeout: Duration::from_secs(args.body_timeout_secs.max(1)),
        meta_cache_bytes: args.meta_cache_mib.max(1) << 20,
    };
    if args.no_fsync {
        tracing::warn!("--no-fsync: writes are acknowledged before they are durable");
    }
    let model = Ferrite::open_local(&args.data_dir, opts)
        .await
        .context("opening the data directory")?;

    let metrics = Metrics::new(model.clone());
    let mut builder = S3ServiceBuilder::new(FerriteS3::new(model, "ferrite"));
    builder.set_auth(RootAuth::new(creds.access_key.clone(), creds.secret_key.clone()));
    builder.set_access(RecordOperation);
    if let Some(domain) = &args.domain {
        builder.set_host(VirtualHostDomain::new(domain));
    }
    let mut config = S3Config::default();
    config.xml_max_body_size = MAX_XML_BODY;
    builder.set_config(Arc::new(StaticConfigProvider::new(Arc::new(config))));
    let state = Arc::new(State {
        s3: builder.build(),
        metrics,
        metrics_token: args.metrics_token.clone(),
    });

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %args.data_dir.display(), region = %args.region, "ferrite is serving S3");
    // Machine-readable line: tests and scripts read the bound address from it.
    println!("listening on {addr}");

    let mut http = ConnBuilder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    http.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let stream = tokio::select! {
            res = listener.accept() => match res {
                Ok((stream, _)) => stream,
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
        let state = state.clone();
        let svc = service_fn(move |req| handle(state.clone(), req));
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), svc).into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!("connections still open after the grace period"),
    }
    Ok(())
}

/// What every connection shares.
struct State {
    s3: S3Service,
    metrics: Arc<Metrics>,
    /// When set, `GET /metrics` requires `Authorization: Bearer <token>`.
    metrics_token: Option<String>,
}

async fn handle(state: Arc<State>, mut req: Request<Incoming>) -> Result<Response<Metered<Body>>, Infallible> {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        match req.uri().path() {
            "/health/live" | "/health/ready" => return Ok(text(StatusCode::OK, "ok\n").map(Metered::plain)),
            // A bucket named `metrics` stays reachable: S3 requests are signed.
            "/metrics" if req.method() == Method::GET && !is_s3_signed(&req) => {
                return Ok(metrics_response(&state, &req).await.map(Metered::plain));
            }
            _ => {}
        }
    }
    let operation = OperationName::default();
    req.extensions_mut().insert(operation.clone());
    let meter = state.metrics.meter(operation);
    let req = req.map(|body| Body::http_body(meter.count_received(body)));
    let resp = respond(&state.s3, req).await;
    let status = resp.status().as_u16();
    Ok(resp.map(|body| meter.finish(status, body)))
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

async fn metrics_response<B>(state: &State, req: &Request<B>) -> Response<Body> {
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
async fn respond(s3: &S3Service, mut req: Request<Body>) -> Response<Body> {
    let is_head = req.method() == Method::HEAD;
    let declared_len = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let streamed = BodyStreamed::default();
    req.extensions_mut().insert(streamed.clone());
    let request_id = format!("{:016X}", rand::random::<u64>());
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
        resp = with_request_id_in_body(resp, &request_id).await;
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
async fn with_request_id_in_body(resp: Response<Body>, request_id: &str) -> Response<Body> {
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
    let text = String::from_utf8_lossy(&bytes);
    let body = match text.rfind("</Error>") {
        Some(at) if !text.contains("<RequestId>") => {
            format!("{}<RequestId>{request_id}</RequestId>{}", &text[..at], &text[at..])
        }
        _ => return Response::from_parts(parts, Body::from(bytes)),
    };
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
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
