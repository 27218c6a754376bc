//! SigV4 verification as the server runs it: a request through the s3s service with
//! Ferrite's credential provider and access check, to an operation that does no work
//! (this service implements none, so a verified request ends in NotImplemented).
//! Three cases: a header-signed request, the same request with a wrong signature
//! (fully verified, then refused), and an anonymous one (refused without any SigV4
//! work): signed minus anonymous is the cost of verifying a signature.
//! `cargo bench -p ferrite-api --bench sigv4`.

use criterion::{Criterion, criterion_group, criterion_main};
use ferrite_api::{FerriteAuth, RecordOperation, RootIdentity};
use ferrite_bench::sigv4::{Signer, UNSIGNED_PAYLOAD};
use http::{Request, StatusCode};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{Body, S3};

const ACCESS: &str = "BENCHACCESSKEY";
const SECRET: &str = "bench-secret-key-0123456789";
const HOST: &str = "127.0.0.1:9000";
const PATH: &str = "/bucket/some/object-key.bin";

struct NoOps;
impl S3 for NoOps {}

/// The server's credential provider over an empty model: root's key is found
/// first, as in the server.
fn service(model: ferrite_model::Ferrite) -> S3Service {
    let root = RootIdentity {
        access_key: ACCESS.into(),
        canonical_id: "0".repeat(64),
        display_name: "bench".into(),
    };
    let mut b = S3ServiceBuilder::new(NoOps);
    b.set_auth(FerriteAuth::new(model, root, SECRET.into()));
    b.set_access(RecordOperation);
    b.build()
}

fn request(authorization: Option<(&str, &str)>) -> Request<Body> {
    let mut r = Request::get(PATH).header("host", HOST);
    if let Some((date, auth)) = authorization {
        r = r
            .header("x-amz-date", date)
            .header("x-amz-content-sha256", UNSIGNED_PAYLOAD)
            .header("authorization", auth);
    }
    r.body(Body::empty()).unwrap()
}

fn sigv4(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = ferrite_model::Options {
        region: "us-east-1".into(),
        durable: false,
        body_idle_timeout: ferrite_model::Options::DEFAULT_BODY_IDLE_TIMEOUT,
        meta_cache_bytes: ferrite_model::Options::DEFAULT_META_CACHE,
        root_canonical_id: "0".repeat(64),
        lifecycle_day: ferrite_model::DAY,
        restore_delay: std::time::Duration::ZERO,
        tiering: Default::default(),
        console_session_ttl: ferrite_model::Options::DEFAULT_CONSOLE_SESSION_TTL,
        keys: None,
    };
    let model = rt
        .block_on(ferrite_model::Ferrite::open_local(dir.path(), opts))
        .unwrap();
    let svc = service(model);
    let signed = Signer::new(ACCESS, SECRET, "us-east-1").sign("GET", HOST, PATH, &[], time::OffsetDateTime::now_utc());
    let wrong = Signer::new(ACCESS, "not-the-secret", "us-east-1").sign(
        "GET",
        HOST,
        PATH,
        &[],
        time::OffsetDateTime::now_utc(),
    );
    let cases = [
        (
            "signed",
            Some((signed.amz_date.as_str(), signed.authorization.as_str())),
            StatusCode::NOT_IMPLEMENTED,
        ),
        (
            "wrong_signature",
            Some((wrong.amz_date.as_str(), wrong.authorization.as_str())),
            StatusCode::FORBIDDEN,
        ),
        ("anonymous", None, StatusCode::FORBIDDEN),
    ];
    let mut g = c.benchmark_group("s3s_request_auth");
    for (name, auth, expected) in cases {
        // Each case must end where it claims to, or the numbers mean nothing.
        let resp = rt.block_on(svc.call(request(auth))).unwrap();
        assert_eq!(resp.status(), expected, "{name}");
        g.bench_function(name, |b| {
            b.iter(|| rt.block_on(svc.call(request(auth))).unwrap());
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = sigv4
}
criterion_main!(benches);
