//! Test harness: runs the real `ferrite` binary on a free port with a temporary data
//! dir, and builds `aws-sdk-s3` clients for it with the SDK's default settings.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

pub const ACCESS_KEY: &str = "FERRITETESTACCESSKEY";
pub const SECRET_KEY: &str = "ferrite-test-secret-key-0123456789abcdef";

pub struct Server {
    child: Option<Child>,
    pub addr: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    extra_args: Vec<String>,
    /// Environment variables set for the server process.
    envs: Vec<(String, String)>,
    /// Started with `--tls-cert`: the endpoint is `https://`.
    https: bool,
    /// The PostgreSQL database of `--meta`, when the metadata is there.
    pub meta_url: Option<String>,
}

/// `FERRITE_TEST_META=postgres` (with `FERRITE_TEST_POSTGRES_URL`, as
/// `scripts/postgres-tests.sh` sets them) runs every server of a test on PostgreSQL:
/// `--meta` with a database of its own per data dir, the same one when the server
/// restarts on that dir. A test that gives `--meta` itself keeps its own.
fn meta_url(data_dir: &Path, extra_args: &[String]) -> Option<String> {
    use std::sync::{Mutex, OnceLock};
    static DATABASES: OnceLock<Mutex<std::collections::HashMap<PathBuf, String>>> = OnceLock::new();
    static SERVER: OnceLock<ferrite_store::pg_testing::TestPostgres> = OnceLock::new();
    if let Some(i) = extra_args.iter().position(|a| a == "--meta") {
        return extra_args.get(i + 1).cloned();
    }
    if std::env::var("FERRITE_TEST_META").as_deref() != Ok("postgres") {
        return None;
    }
    assert!(
        std::env::var_os("FERRITE_TEST_POSTGRES_URL").is_some(),
        "FERRITE_TEST_META=postgres needs FERRITE_TEST_POSTGRES_URL (scripts/postgres-tests.sh sets both)"
    );
    let pg = SERVER.get_or_init(|| ferrite_store::pg_testing::TestPostgres::start().expect("a PostgreSQL server"));
    let mut dbs = DATABASES.get_or_init(Default::default).lock().unwrap();
    Some(
        dbs.entry(data_dir.to_path_buf())
            .or_insert_with(|| pg.database())
            .clone(),
    )
}

/// The `--meta` arguments a server on `data_dir` gets in this run (none for the
/// embedded store): for tests that run the binary themselves.
pub fn meta_flag(data_dir: &Path) -> Vec<String> {
    match meta_url(data_dir, &[]) {
        Some(url) => vec!["--meta".into(), url],
        None => Vec::new(),
    }
}

impl Server {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    pub fn start_with(extra_args: &[&str]) -> Self {
        Self::start_with_env(extra_args, &[])
    }

    /// Like [`Server::start_with`], with environment variables for the server.
    pub fn start_with_env(extra_args: &[&str], envs: &[(&str, &str)]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let mut s = Server {
            child: None,
            addr: String::new(),
            data_dir,
            _tmp: Some(tmp),
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            envs: envs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            https: extra_args.contains(&"--tls-cert"),
            meta_url: None,
        };
        s.spawn();
        s
    }

    /// Starts the binary on a data dir the caller owns (it is not removed).
    pub fn start_in(data_dir: &Path, extra_args: &[&str]) -> Self {
        let mut s = Server {
            child: None,
            addr: String::new(),
            data_dir: data_dir.to_path_buf(),
            _tmp: None,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            envs: Vec::new(),
            https: extra_args.contains(&"--tls-cert"),
            meta_url: None,
        };
        s.spawn();
        s
    }

    /// `--meta` for [`meta_url`]'s database, unless the test gave its own.
    fn meta_args(&mut self) -> Vec<String> {
        self.meta_url = meta_url(&self.data_dir, &self.extra_args);
        match &self.meta_url {
            Some(url) if !self.extra_args.iter().any(|a| a == "--meta") => vec!["--meta".into(), url.clone()],
            _ => Vec::new(),
        }
    }

    /// Everything the metadata store holds, as bytes to search: the embedded store's
    /// file, or every row of the PostgreSQL table (binary COPY: keys and values as
    /// stored). For tests that check what a copy of the metadata would reveal.
    pub fn metadata_bytes(&self) -> Vec<u8> {
        match &self.meta_url {
            None => std::fs::read(self.data_dir.join("meta.redb")).expect("the embedded store's file"),
            Some(url) => {
                let out = Command::new("psql")
                    .arg(url)
                    .args([
                        "-q",
                        "-c",
                        "\\copy (SELECT tbl, k, v FROM ferrite_kv) TO STDOUT WITH (FORMAT binary)",
                    ])
                    .output()
                    .expect("psql runs");
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                assert!(out.stdout.len() > 100, "the table has rows");
                out.stdout
            }
        }
    }

    fn spawn(&mut self) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferrite"))
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(self.meta_args())
            .args(&self.extra_args)
            .env("FERRITE_ROOT_ACCESS_KEY", ACCESS_KEY)
            .env("FERRITE_ROOT_SECRET_KEY", SECRET_KEY)
            .env("RUST_LOG", "warn")
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ferrite");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines.next().expect("ferrite exited before listening").unwrap();
            if let Some(a) = line.strip_prefix("listening on ") {
                break a.trim().to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.addr = addr;
        self.child = Some(child);
    }

    /// Peak resident memory of the server process so far, in bytes (Linux).
    pub fn peak_rss(&self) -> u64 {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
    }

    pub fn endpoint(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends a signal by name (`HUP`, `TERM`, ...) without waiting.
    pub fn signal(&self, name: &str) {
        let pid = self.pid().to_string();
        let ok = Command::new("kill").args([&format!("-{name}"), &pid]).status().unwrap();
        assert!(ok.success(), "kill -{name} {pid}");
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    pub fn client(&self) -> Client {
        client_with(&self.endpoint(), ACCESS_KEY, SECRET_KEY)
    }

    /// SIGKILL: no chance to clean up, like a crash or power cut of the process.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM, then wait for the process to exit; returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.send_sigterm();
        self.wait()
    }

    /// SIGTERM without waiting.
    pub fn send_sigterm(&self) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    }

    /// Waits for the process to exit; returns its exit status.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.take().expect("running").wait().unwrap()
    }

    /// Starts the binary again on the same data dir (on a new port).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server first");
        self.spawn();
    }

    pub fn blob_files(&self) -> usize {
        count_files(&self.data_dir.join("blobs"))
    }

    pub fn temp_files(&self) -> usize {
        count_files(&self.data_dir.join("tmp"))
    }
}

fn count_files(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.map(|e| {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            count_files(&e.path())
        } else {
            1
        }
    })
    .sum()
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client that signs nothing: an anonymous caller.
pub fn anonymous(server: &Server) -> Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(Region::new("us-east-1"))
        .allow_no_auth()
        .force_path_style(true)
        .build();
    Client::from_conf(conf)
}

pub fn client_with(endpoint: &str, access_key: &str, secret_key: &str) -> Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(access_key, secret_key, None, None, "ferrite-tests"))
        .force_path_style(true)
        .build();
    Client::from_conf(conf)
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex_encode(&md5::Md5::digest(data))
}

pub fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

pub async fn read_all(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

pub fn code<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .map(str::to_string)
        .unwrap_or_else(|| format!("{err:?}"))
}

pub fn status<E>(err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> u16 {
    err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0)
}

pub const TICK: Duration = Duration::from_millis(50);

/// Hand-made SigV4 signing, for requests the SDK cannot make (signed aws-chunked
/// bodies, oversized or malformed bodies). Follows AWS's "Signature Version 4" docs.
pub struct SigV4 {
    pub amz_date: String,
    pub scope: String,
    key: Vec<u8>,
}

fn hmac(key: &[u8], msg: &str) -> Vec<u8> {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(msg.as_bytes());
    m.finalize().into_bytes().to_vec()
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex_encode(&sha2::Sha256::digest(data))
}

impl SigV4 {
    pub fn now() -> Self {
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
        let iso = now.fmt(aws_smithy_types::date_time::Format::DateTime).unwrap();
        let digits: String = iso.chars().filter(|c| *c != '-' && *c != ':').collect();
        let amz_date = format!("{}Z", &digits[..15]);
        let day = amz_date[..8].to_string();
        let scope = format!("{day}/us-east-1/s3/aws4_request");
        let key = ["us-east-1", "s3", "aws4_request"]
            .iter()
            .fold(hmac(format!("AWS4{SECRET_KEY}").as_bytes(), &day), |k, part| {
                hmac(&k, part)
            });
        Self { amz_date, scope, key }
    }

    /// Signature of a canonical request.
    pub fn sign(&self, canonical_request: &str) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            sha256_hex(canonical_request.as_bytes())
        );
        hex_encode(&hmac(&self.key, &sts))
    }

    /// Signature of one aws-chunked chunk, chained from the previous signature.
    pub fn sign_chunk(&self, previous: &str, chunk: &[u8]) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{previous}\n{}\n{}",
            self.amz_date,
            self.scope,
            sha256_hex(b""),
            sha256_hex(chunk)
        );
        hex_encode(&hmac(&self.key, &sts))
    }

    pub fn authorization(&self, signed_headers: &str, signature: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{}, SignedHeaders={signed_headers}, Signature={signature}",
            self.scope
        )
    }
}

/// Runs `ferrite serve` until it listens or exits; returns (listened, stderr).
pub fn serve_once(data_dir: &std::path::Path, args: &[&str], rust_log: &str) -> (bool, String) {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env("FERRITE_ROOT_ACCESS_KEY", ACCESS_KEY)
        .env("FERRITE_ROOT_SECRET_KEY", SECRET_KEY)
        .env("RUST_LOG", rust_log)
        .stdout(Stdio::piped())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    use std::io::BufRead as _;
    let listened = std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .any(|l| l.starts_with("listening on "));
    if listened {
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    }
    child.wait().unwrap();
    (listened, std::fs::read_to_string(log.path()).unwrap())
}

/// A multipart upload of `parts` (in order) to `bucket`/`key`, completed; panics on
/// any error. For tests whose subject is not multipart itself.
pub async fn multipart_put(
    c: &Client,
    bucket: &str,
    key: &str,
    parts: &[Vec<u8>],
) -> aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let up = c
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut done = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let r = c
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .part_number(n)
            .body(aws_sdk_s3::primitives::ByteStream::from(p.clone()))
            .send()
            .await
            .unwrap();
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(r.e_tag().unwrap())
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .unwrap()
}

/// Sets a bucket's versioning state (Enabled or Suspended).
pub async fn set_versioning(c: &Client, bucket: &str, status: aws_sdk_s3::types::BucketVersioningStatus) {
    c.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(status)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Sends one HTTP/1.1 request over a raw socket; returns the status line and body.
pub async fn raw_request(addr: &str, method: &str, uri: &str, headers: &[(&str, &str)]) -> (String, String) {
    raw_request_to_host(addr, addr, method, uri, headers).await
}

pub fn path_of(uri: &str) -> &str {
    match uri.find("://") {
        Some(i) => {
            let rest = &uri[i + 3..];
            rest.find('/').map(|j| &rest[j..]).unwrap_or("/")
        }
        None => uri,
    }
}

/// Like `raw_request`, with the Host header given separately from the socket address.
pub async fn raw_request_to_host(
    addr: &str,
    host: &str,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let path = path_of(uri);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status_line = text.lines().next().unwrap_or("").to_string();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status_line, body)
}

/// Sends one plain HTTP request (hyper-util's client): the status, headers and body.
pub async fn http_send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, http::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt;
    let mut req = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(http_body_util::Full::new(bytes::Bytes::from(body))).unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let resp = client.request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.status.as_u16(), parts.headers, body)
}

/// Sends a request SigV4-signed by the aws-sigv4 crate (as the SDKs sign) for
/// `service` with `creds`; for `s3`, with the payload hash header s3s wants.
pub async fn signed_request(
    server: &Server,
    creds: (&str, &str),
    service: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, http::HeaderMap, Vec<u8>) {
    use aws_sigv4::http_request::{PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign};
    let url = format!("{}{path_and_query}", server.endpoint());
    let mut all: Vec<(String, String)> = vec![("host".into(), server.addr.clone())];
    all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let identity = aws_credential_types::Credentials::new(creds.0, creds.1, None, None, "test").into();
    let mut settings = SigningSettings::default();
    if service == "s3" {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(std::time::SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        method,
        url.clone(),
        all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    for (k, v) in instructions.headers() {
        all.push((k.to_string(), v.to_string()));
    }
    let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    http_send(method, &url, &refs, body).await
}

/// Calls the IAM API as root; returns status and body.
pub async fn iam_as_root(server: &Server, params: &[(&str, &str)]) -> (u16, String) {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        form.append_pair(k, v);
    }
    form.append_pair("Version", "2010-05-08");
    let body = form.finish().into_bytes();
    let ct = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
    let (status, _, body) = signed_request(server, (ACCESS_KEY, SECRET_KEY), "iam", "POST", "/", &ct, body).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The text of the first `<tag>` element of an XML document.
pub fn xml_tag(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(text[start..end].to_string())
}

/// A user made through the IAM API, with an access key and a client signed with it.
pub struct IamUser {
    pub key_id: String,
    pub secret: String,
    pub client: Client,
}

pub async fn new_iam_user(server: &Server, name: &str) -> IamUser {
    let (status, text) = iam_as_root(server, &[("Action", "CreateUser"), ("UserName", name)]).await;
    assert_eq!(status, 200, "{text}");
    let (status, text) = iam_as_root(server, &[("Action", "CreateAccessKey"), ("UserName", name)]).await;
    assert_eq!(status, 200, "{text}");
    let key_id = xml_tag(&text, "AccessKeyId").unwrap();
    let secret = xml_tag(&text, "SecretAccessKey").unwrap();
    let client = client_with(&server.endpoint(), &key_id, &secret);
    IamUser { key_id, secret, client }
}

/// Runs `ferrite admin ARGS` against `server` with root's credentials from the
/// environment; returns (success, stdout, stderr).
pub fn admin(server: &Server, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .arg("admin")
        .arg("--endpoint")
        .arg(server.endpoint())
        .args(args)
        .env("FERRITE_ROOT_ACCESS_KEY", ACCESS_KEY)
        .env("FERRITE_ROOT_SECRET_KEY", SECRET_KEY)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ferrite admin ARGS`, which must succeed; its stdout.
pub fn admin_ok(server: &Server, args: &[&str]) -> String {
    let (ok, out, err) = admin(server, args);
    assert!(ok, "ferrite admin {args:?} failed: {err}");
    out
}

/// `ferrite admin --json ARGS`, which must succeed; its output.
pub fn admin_json(server: &Server, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = admin_ok(server, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
}

/// An `aws-sdk-kms` client for the server's KMS endpoint (the S3 endpoint: requests
/// signed for the `kms` service go to the built-in KMS).
pub fn kms_client(server: &Server, access_key: &str, secret_key: &str) -> aws_sdk_kms::Client {
    let conf = aws_sdk_kms::config::Builder::new()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            access_key,
            secret_key,
            None,
            None,
            "ferrite-tests",
        ))
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

/// A default-encryption configuration of one rule (PutBucketEncryption).
pub fn encryption_config(
    algorithm: aws_sdk_s3::types::ServerSideEncryption,
    kms_key: Option<&str>,
    bucket_key: bool,
) -> aws_sdk_s3::types::ServerSideEncryptionConfiguration {
    use aws_sdk_s3::types::{
        ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    };
    ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(algorithm)
                        .set_kms_master_key_id(kms_key.map(String::from))
                        .build()
                        .unwrap(),
                )
                .bucket_key_enabled(bucket_key)
                .build(),
        )
        .build()
        .unwrap()
}
