//! HTTPS (`--tls-cert`, `--tls-key`) on the real binary, with certificates made here:
//! a test CA and server certificates it signs (nothing is committed). aws-sdk-s3 over
//! https trusting the CA; ALPN (h2, http/1.1); plain HTTP on the TLS port; the
//! handshake under the connection limits; SIGHUP reload; `aws:SecureTransport`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A CA made for one test.
struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl TestCa {
    fn new() -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Ferrite test CA");
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            issuer: rcgen::Issuer::new(params, key),
            pem,
        }
    }

    /// A server certificate for 127.0.0.1 and localhost.
    fn leaf(&self, cn: &str, serial: u64) -> Leaf {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial.to_be_bytes()));
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

/// The two files the server reads, in a directory of their own.
struct TlsFiles {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

impl TlsFiles {
    fn new(leaf: &Leaf) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let f = Self {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            _dir: dir,
        };
        f.install(leaf);
        f
    }

    /// Replaces both files as a careful operator does: written beside, renamed over.
    fn install(&self, leaf: &Leaf) {
        replace(&self.cert, leaf.cert_pem.as_bytes());
        replace(&self.key, leaf.key_pem.as_bytes());
    }

    fn args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert.display().to_string(),
            "--tls-key".into(),
            self.key.display().to_string(),
        ]
    }
}

fn replace(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn start_tls(files: &TlsFiles, more: &[&str]) -> Server {
    let args = files.args();
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend_from_slice(more);
    Server::start_with(&all)
}

/// aws-sdk-s3 as configured by default, with an https client that trusts `ca_pem`.
fn sdk_client(server: &Server, ca_pem: &str) -> Client {
    use aws_smithy_http_client::tls;
    let trust = tls::TrustStore::empty().with_pem_certificate(ca_pem.as_bytes().to_vec());
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(tls::TlsContext::builder().with_trust_store(trust).build().unwrap())
        .build_https();
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "tls-tests"))
        .force_path_style(true)
        .http_client(http)
        .build();
    Client::from_conf(conf)
}

/// A TLS connection to the server trusting `ca_pem`, offering `alpn`.
async fn tls_connect(addr: &str, ca_pem: &str, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let mut config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

/// The server certificate a connection was given.
fn peer_cert(stream: &TlsStream<TcpStream>) -> Vec<u8> {
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// An HTTP/1.1 client on one TLS connection, kept open between requests.
struct H1 {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    host: String,
}

impl H1 {
    async fn over(stream: TlsStream<TcpStream>, host: &str) -> Self {
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        Self {
            sender,
            host: host.to_string(),
        }
    }

    async fn get(&mut self, path: &str) -> (u16, String) {
        let req = http::Request::get(path)
            .header("host", &self.host)
            .body(Empty::<Bytes>::new())
            .unwrap();
        let resp = self.sender.send_request(req).await.unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_11);
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

/// `GET path` on a new connection over HTTP/2 (ALPN h2).
async fn h2_get(addr: &str, ca_pem: &str, path: &str) -> (u16, String) {
    let stream = tls_connect(addr, ca_pem, &[b"h2"]).await;
    let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(format!("https://{addr}{path}"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// One sample of the server's metrics, read over TLS.
async fn metric(addr: &str, ca_pem: &str, name: &str) -> Option<f64> {
    let (status, body) = h2_get(addr, ca_pem, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn wait_for_metric(addr: &str, ca_pem: &str, name: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = metric(addr, ca_pem, name).await;
        if got == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "{name} is {got:?}, never {want}");
        tokio::time::sleep(TICK).await;
    }
}

#[tokio::test]
async fn sdk_over_https_creates_puts_gets_and_uploads_in_parts() {
    let ca = TestCa::new();
    let files = TlsFiles::new(&ca.leaf("ferrite-sdk", 1));
    let s = start_tls(&files, &[]);
    assert!(s.endpoint().starts_with("https://127.0.0.1:"), "{}", s.endpoint());
    let c = sdk_client(&s, &ca.pem);
    c.create_bucket().bucket("tls-bkt").send().await.unwrap();
    let small = pattern(10_000, 1);
    let put = c
        .put_object()
        .bucket("tls-bkt")
        .key("small")
        .body(ByteStream::from(small.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(put.e_tag().unwrap(), format!("\"{}\"", md5_hex(&small)));
    assert_eq!(
        read_all(c.get_object().bucket("tls-bkt").key("small").send().await.unwrap()).await,
        small
    );

    let parts_data = [pattern(5 * 1024 * 1024, 2), pattern(123_457, 3)];
    let complete = common::multipart_put(&c, "tls-bkt", "big", &parts_data).await;
    assert!(complete.e_tag().unwrap().ends_with("-2\""), "{:?}", complete.e_tag());
    let got = read_all(c.get_object().bucket("tls-bkt").key("big").send().await.unwrap()).await;
    assert_eq!(got, parts_data.concat());
    let keys: Vec<String> = c
        .list_objects_v2()
        .bucket("tls-bkt")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert_eq!(keys, ["big", "small"]);

    // The SDK's default trust (the system's roots) does not know the test CA.
    let untrusting = client_with(&s.endpoint(), ACCESS_KEY, SECRET_KEY);
    assert!(untrusting.list_buckets().send().await.is_err());
}

#[tokio::test]
async fn alpn_picks_h2_or_http11_and_health_and_metrics_answer_on_both() {
    let ca = TestCa::new();
    let leaf = ca.leaf("ferrite-alpn", 1);
    let files = TlsFiles::new(&leaf);
    let s = start_tls(&files, &[]);

    let both = tls_connect(&s.addr, &ca.pem, &[b"h2", b"http/1.1"]).await;
    assert_eq!(both.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(peer_cert(&both), leaf.der);
    let h11 = tls_connect(&s.addr, &ca.pem, &[b"http/1.1"]).await;
    assert_eq!(h11.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let none = tls_connect(&s.addr, &ca.pem, &[]).await;
    assert_eq!(none.get_ref().1.alpn_protocol(), None);

    // HTTP/1.1 over TLS, negotiated or not: health answers.
    for stream in [h11, none] {
        let mut h1 = H1::over(stream, &s.addr).await;
        assert_eq!(h1.get("/health/live").await, (200, "ok\n".to_string()));
        assert_eq!(h1.get("/health/ready").await, (200, "ok\n".to_string()));
    }
    // HTTP/2: health and metrics (loopback), with the TLS samples.
    assert_eq!(
        h2_get(&s.addr, &ca.pem, "/health/ready").await,
        (200, "ok\n".to_string())
    );
    let (status, body) = h2_get(&s.addr, &ca.pem, "/metrics").await;
    assert_eq!(status, 200);
    let expiry = metric(&s.addr, &ca.pem, "ferrite_tls_certificate_not_after_seconds")
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(expiry > now, "{expiry} {now}");
    assert!(
        body.contains("ferrite_tls_certificate_reloads_total{result=\"ok\"} 0"),
        "{body}"
    );
}

#[tokio::test]
async fn plain_http_on_the_tls_port_is_answered_and_the_server_keeps_serving() {
    let ca = TestCa::new();
    let files = TlsFiles::new(&ca.leaf("ferrite-plain", 1));
    let s = start_tls(&files, &[]);

    let (status_line, body) = raw_request(&s.addr, "GET", "/health/live", &[]).await;
    assert_eq!(status_line, "HTTP/1.1 400 Bad Request");
    assert!(body.contains("This port speaks HTTPS"), "{body}");
    // An S3 client that forgot https:// gets the same answer as an error.
    let plain = client_with(&format!("http://{}", s.addr), ACCESS_KEY, SECRET_KEY);
    let e = plain.list_buckets().send().await.unwrap_err();
    assert_eq!(status(&e), 400, "{e:?}");

    // Not TLS after its first byte: closed, nothing answered.
    let mut junk = TcpStream::connect(&s.addr).await.unwrap();
    junk.write_all(b"\x16\x03\x01\x00\x05hello, not a ClientHello")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), junk.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept a connection that sent junk");
    assert!(!buf.starts_with(b"HTTP/"), "{buf:?}");

    assert_eq!(
        h2_get(&s.addr, &ca.pem, "/health/live").await,
        (200, "ok\n".to_string())
    );
    let c = sdk_client(&s, &ca.pem);
    c.create_bucket().bucket("after-plain").send().await.unwrap();
    wait_for_metric(&s.addr, &ca.pem, "ferrite_tls_handshake_failures_total", 3.0).await;
}

/// A client that opens TCP and never finishes (or never starts) its ClientHello holds
/// its slot for the handshake timeout only.
#[tokio::test]
async fn a_silent_client_holds_its_slot_for_the_handshake_timeout_only() {
    let ca = TestCa::new();
    let files = TlsFiles::new(&ca.leaf("ferrite-slow", 1));
    let s = start_tls(&files, &["--handshake-timeout-secs", "1", "--max-connections", "1"]);
    for opening in [&b""[..], &b"\x16\x03\x01"[..]] {
        let started = Instant::now();
        let mut silent = TcpStream::connect(&s.addr).await.unwrap();
        silent.write_all(opening).await.unwrap();
        // The one slot is taken; this one waits for it (up to 2 s), then gets it when
        // the silent client is dropped.
        let addr = s.addr.clone();
        let ca_pem = ca.pem.clone();
        let second = tokio::spawn(async move { h2_get(&addr, &ca_pem, "/health/live").await });
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf))
            .await
            .expect("the silent connection was never closed")
            .unwrap_or(0);
        let held = started.elapsed();
        assert_eq!(n, 0, "{:?}", &buf[..n]);
        assert!(
            held >= Duration::from_millis(800) && held < Duration::from_secs(5),
            "{held:?}"
        );
        assert_eq!(second.await.unwrap(), (200, "ok\n".to_string()));
    }
}

#[tokio::test]
async fn sighup_reloads_for_new_connections_and_keeps_open_ones() {
    let ca = TestCa::new();
    let (one, two, three) = (
        ca.leaf("ferrite-one", 1),
        ca.leaf("ferrite-two", 2),
        ca.leaf("ferrite-three", 3),
    );
    let files = TlsFiles::new(&one);
    let mut s = start_tls(&files, &[]);

    let before = tls_connect(&s.addr, &ca.pem, &[b"http/1.1"]).await;
    assert_eq!(peer_cert(&before), one.der);
    let mut before = H1::over(before, &s.addr).await;
    assert_eq!(before.get("/health/live").await.0, 200);

    files.install(&two);
    s.signal("HUP");
    wait_for_metric(
        &s.addr,
        &ca.pem,
        "ferrite_tls_certificate_reloads_total{result=\"ok\"}",
        1.0,
    )
    .await;
    let after = tls_connect(&s.addr, &ca.pem, &[b"h2"]).await;
    assert_eq!(peer_cert(&after), two.der);
    // The connection made before the reload is still served.
    assert_eq!(before.get("/health/ready").await, (200, "ok\n".to_string()));
    assert_eq!(before.get("/health/live").await.0, 200);
    // So is the SDK, on new connections.
    sdk_client(&s, &ca.pem)
        .create_bucket()
        .bucket("reloaded")
        .send()
        .await
        .unwrap();

    // A broken certificate file: the reload fails, the previous pair stays.
    replace(
        &files.cert,
        b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
    );
    s.signal("HUP");
    wait_for_metric(
        &s.addr,
        &ca.pem,
        "ferrite_tls_certificate_reloads_total{result=\"error\"}",
        1.0,
    )
    .await;
    assert_eq!(peer_cert(&tls_connect(&s.addr, &ca.pem, &[]).await), two.der);
    // Half a rotation (a new certificate with the old key) is refused whole.
    replace(&files.cert, three.cert_pem.as_bytes());
    s.signal("HUP");
    wait_for_metric(
        &s.addr,
        &ca.pem,
        "ferrite_tls_certificate_reloads_total{result=\"error\"}",
        2.0,
    )
    .await;
    assert_eq!(peer_cert(&tls_connect(&s.addr, &ca.pem, &[]).await), two.der);
    assert!(s.running());

    // Fixed files load on the next SIGHUP.
    files.install(&three);
    s.signal("HUP");
    wait_for_metric(
        &s.addr,
        &ca.pem,
        "ferrite_tls_certificate_reloads_total{result=\"ok\"}",
        2.0,
    )
    .await;
    assert_eq!(peer_cert(&tls_connect(&s.addr, &ca.pem, &[]).await), three.der);
    assert_eq!(before.get("/health/live").await.0, 200);
}

/// `aws:SecureTransport` is "true" over TLS and "false" over plain HTTP: a bucket
/// policy denying insecure transport lets TLS through and refuses plain HTTP, on the
/// same data.
// Multi-threaded: the SDK's HTTP/2 connections must answer the server's GOAWAY while
// this thread waits for the server to stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_denying_insecure_transport_refuses_plain_http_only() {
    let ca = TestCa::new();
    let files = TlsFiles::new(&ca.leaf("ferrite-policy", 1));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tls_args = files.args();
    let tls_args: Vec<&str> = tls_args.iter().map(String::as_str).collect();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",
        "Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::secure/*",
        "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;

    let mut s = Server::start_in(&data, &tls_args);
    let c = sdk_client(&s, &ca.pem);
    c.create_bucket().bucket("secure").send().await.unwrap();
    c.put_bucket_policy()
        .bucket("secure")
        .policy(policy)
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket("secure")
        .key("k")
        .body(ByteStream::from_static(b"over tls"))
        .send()
        .await
        .unwrap();
    let got = read_all(c.get_object().bucket("secure").key("k").send().await.unwrap()).await;
    assert_eq!(got, b"over tls");
    assert!(s.terminate().success());

    let mut s = Server::start_in(&data, &[]);
    let c = s.client();
    let e = c.get_object().bucket("secure").key("k").send().await.unwrap_err();
    assert_eq!((status(&e), code(&e)), (403, "AccessDenied".to_string()));
    let e = c
        .put_object()
        .bucket("secure")
        .key("k2")
        .body(ByteStream::from_static(b"plain"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e)), (403, "AccessDenied".to_string()));
    // What the policy does not name still works over plain HTTP.
    let listed = c.list_objects_v2().bucket("secure").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1));
    assert!(s.terminate().success());

    let s = Server::start_in(&data, &tls_args);
    let c = sdk_client(&s, &ca.pem);
    let got = read_all(c.get_object().bucket("secure").key("k").send().await.unwrap()).await;
    assert_eq!(got, b"over tls");
}

/// Runs `ferrite serve` expecting it to refuse to start; returns its stderr.
fn refused_start(args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrite"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(args)
        .env("FERRITE_ROOT_ACCESS_KEY", ACCESS_KEY)
        .env("FERRITE_ROOT_SECRET_KEY", SECRET_KEY)
        .env_remove("FERRITE_TLS_CERT")
        .env_remove("FERRITE_TLS_KEY")
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("ferrite started with {args:?} {env:?}");
        }
        std::thread::sleep(TICK);
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn unusable_tls_settings_stop_the_start_with_a_clear_error() {
    let ca = TestCa::new();
    let (a, b) = (ca.leaf("a", 1), ca.leaf("b", 2));
    let files = TlsFiles::new(&a);
    let (cert, key) = (files.cert.display().to_string(), files.key.display().to_string());

    let e = refused_start(&["--tls-cert", &cert], &[]);
    assert!(e.contains("--tls-key"), "{e}");
    let e = refused_start(&["--tls-key", &key], &[]);
    assert!(e.contains("--tls-cert"), "{e}");
    let e = refused_start(&[], &[("FERRITE_TLS_CERT", &cert)]);
    assert!(e.contains("--tls-key"), "{e}");

    let e = refused_start(&["--tls-cert", "/nonexistent/cert.pem", "--tls-key", &key], &[]);
    assert!(e.contains("reading the TLS certificate /nonexistent/cert.pem"), "{e}");
    let e = refused_start(&["--tls-cert", &key, "--tls-key", &key], &[]);
    assert!(e.contains("no PEM certificate"), "{e}");

    let other = TlsFiles::new(&b);
    let other_key = other.key.display().to_string();
    let e = refused_start(&["--tls-cert", &cert, "--tls-key", &other_key], &[]);
    assert!(e.contains("does not belong to the certificate"), "{e}");
    // The key's bytes are not in the message.
    let key_body: String = b.key_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!e.contains(&key_body[..32]), "{e}");
}
