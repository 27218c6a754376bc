//! `ferrite-bench`: a load generator for any S3 endpoint, in the spirit of MinIO's
//! warp. SigV4-signed requests over keep-alive HTTP/1.1 connections, a prepare phase
//! for read workloads, every response checked (status and length), and a report of
//! ops/s, MiB/s, errors and latency percentiles, as text and optionally JSON.
//!
//! The client shares the machine with the server, so it is kept cheap: payloads are
//! made once and shared (`Bytes` clones), bodies are signed as UNSIGNED-PAYLOAD, the
//! signing key is derived once a day, and responses are counted, not buffered.

#![forbid(unsafe_code)]

use ferrite_bench::sigv4;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use sigv4::{Signer, UNSIGNED_PAYLOAD, uri_encode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Op {
    Put,
    Get,
    Head,
    List,
    Delete,
    MultipartPut,
    /// 70% GET, 20% PUT, 10% LIST.
    Mixed,
    /// No server: single-core MD5 throughput over `--size` bytes (the ETag's floor cost,
    /// with the same MD5 implementation the server uses).
    Md5,
}

#[derive(Debug, Parser)]
#[command(version, about = "Load generator for S3 endpoints")]
struct Args {
    /// The operation to run.
    #[arg(long, value_enum)]
    op: Op,
    /// S3 endpoint (loopback only for Ferrite's own benchmarks).
    #[arg(long, default_value = "http://127.0.0.1:9000", env = "FERRITE_BENCH_ENDPOINT")]
    endpoint: String,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = "")]
    access_key: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true, default_value = "")]
    secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Bucket to use; created if missing.
    #[arg(long, default_value = "ferrite-bench")]
    bucket: String,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// How long to run, e.g. 10s, 1m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Object size, e.g. 4KiB, 64MiB.
    #[arg(long, default_value = "4KiB", value_parser = parse_size)]
    size: u64,
    /// Part size for multipart-put.
    #[arg(long, default_value = "16MiB", value_parser = parse_size)]
    part_size: u64,
    /// Objects prepared for get/head/delete/mixed (delete stops when they run out).
    #[arg(long, default_value_t = 1000)]
    objects: usize,
    /// Objects prepared for list (listed 1000 per page).
    #[arg(long, default_value_t = 100_000)]
    list_objects: usize,
    /// Skip the prepare phase (the objects exist from an earlier run).
    #[arg(long)]
    no_prepare: bool,
    /// Also write the result as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// A label for the result (e.g. the server's name).
    #[arg(long, default_value = "")]
    label: String,
    /// Send this `Origin` header with every request (what CORS costs the server).
    #[arg(long)]
    origin: Option<String>,
    /// Set this JSON document as the bucket's policy before the run (as the signer).
    #[arg(long)]
    bucket_policy: Option<std::path::PathBuf>,
    /// Grant WRITE on the bucket to every signed-in principal (an ACL grant to
    /// AuthenticatedUsers, set as the signer) before the run: other users may then
    /// write there without any policy.
    #[arg(long)]
    grant_write_to_authenticated: bool,
    /// Set this XML document as the bucket's lifecycle configuration before the run
    /// (as the signer).
    #[arg(long)]
    lifecycle: Option<std::path::PathBuf>,
    /// The bucket `--lifecycle` is set on (default: `--bucket`), made if missing.
    #[arg(long)]
    lifecycle_bucket: Option<String>,
    /// Ask for SSE-S3 (`x-amz-server-side-encryption: AES256`) on every PUT and
    /// CreateMultipartUpload (what server-side encryption costs).
    #[arg(long)]
    sse: bool,
    /// Ask for SSE-KMS under the default KMS key with an S3 Bucket Key
    /// (`x-amz-server-side-encryption: aws:kms`, `...-bucket-key-enabled: true`) on
    /// every PUT and CreateMultipartUpload.
    #[arg(long, conflicts_with = "sse")]
    sse_kms: bool,
    /// Send `x-amz-storage-class: CLASS` on every PUT and CreateMultipartUpload
    /// (with a server whose `--class-tier` places CLASS on a tier: what a tier costs).
    #[arg(long)]
    storage_class: Option<String>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len()));
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return Err(format!("bad duration unit in {s:?}")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("bad size {s:?}"))?;
    let mult = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        _ => return Err(format!("bad size unit in {s:?}")),
    };
    Ok(n * mult)
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// One endpoint, one signer, one connection pool.
struct S3 {
    client: HttpClient,
    signer: Signer,
    scheme_host: String,
    host: String,
    /// An `Origin` header to send with every request.
    origin: Option<String>,
}

/// What a request returned: status and the number of body bytes read.
struct Answer {
    status: u16,
    bytes: u64,
    body: Option<Bytes>,
}

impl S3 {
    fn new(args: &Args) -> anyhow::Result<Self> {
        let uri: http::Uri = args.endpoint.parse().context("endpoint")?;
        let host = uri.authority().context("endpoint has no host")?.to_string();
        if uri.scheme_str() != Some("http") {
            bail!("only http:// endpoints are supported");
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(args.concurrency * 2)
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(Self {
            client,
            signer: Signer::new(&args.access_key, &args.secret_key, &args.region),
            scheme_host: format!("http://{host}"),
            host,
            origin: args.origin.clone(),
        })
    }

    /// Sends one signed request. `keep_body` keeps the response body (small XML
    /// answers); otherwise it is counted and dropped frame by frame.
    async fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Bytes,
        keep_body: bool,
    ) -> anyhow::Result<Answer> {
        self.send_with(method, path, query, &[], body, keep_body).await
    }

    /// [`Self::send`] with extra (unsigned) headers, keeping the answer's body: for
    /// setup requests (workloads with headers, `--sse`, call `send_with`).
    async fn send_with_headers(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> anyhow::Result<Answer> {
        self.send_with(method, path, query, headers, body, true).await
    }

    async fn send_with(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Bytes,
        keep_body: bool,
    ) -> anyhow::Result<Answer> {
        let signed = self
            .signer
            .sign(method, &self.host, path, query, time::OffsetDateTime::now_utc());
        let mut uri = format!("{}{path}", self.scheme_host);
        if !query.is_empty() {
            uri.push('?');
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        uri_encode(k, false)
                    } else {
                        format!("{}={}", uri_encode(k, false), uri_encode(v, false))
                    }
                })
                .collect();
            uri.push_str(&q.join("&"));
        }
        let mut req = http::Request::builder().method(method).uri(uri);
        if let Some(origin) = &self.origin {
            req = req.header("origin", origin);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req
            .header("host", &self.host)
            .header("x-amz-date", signed.amz_date)
            .header("x-amz-content-sha256", UNSIGNED_PAYLOAD)
            .header("authorization", signed.authorization)
            .header("content-length", body.len())
            .body(Full::new(body))?;
        let resp = self.client.request(req).await?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let mut bytes = 0u64;
        let mut kept = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                bytes += data.len() as u64;
                if keep_body {
                    kept.extend_from_slice(&data);
                }
            }
        }
        Ok(Answer {
            status,
            bytes,
            body: keep_body.then(|| Bytes::from(kept)),
        })
    }
}

fn object_path(bucket: &str, key: &str) -> String {
    format!("/{}/{}", uri_encode(bucket, false), uri_encode(key, true))
}

fn xml_value<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// A payload of `size` bytes, made once (not all zeros, so nothing compresses it away).
fn payload(size: u64) -> Bytes {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let v: Vec<u8> = (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    Bytes::from(v)
}

/// Per-operation outcome: latency in microseconds, bytes moved, whether it failed.
struct Sample {
    micros: u32,
    bytes: u64,
    ok: bool,
}

struct Ctx {
    s3: S3,
    args: Args,
    body: Bytes,
    part: Bytes,
    last_part: Bytes,
    /// MD5 hex of `part` and `last_part`, computed once: the client must not spend the
    /// shared cores hashing every part it sends.
    part_etag: String,
    last_etag: String,
    counter: AtomicU64,
    delete_next: AtomicUsize,
}

fn expect(ok: bool, what: &str) -> anyhow::Result<()> {
    if ok { Ok(()) } else { bail!("{what}") }
}

impl Ctx {
    fn prepared_key(&self, i: usize) -> String {
        format!("obj/{}/{i:08}", self.args.size)
    }

    fn list_key(i: usize) -> String {
        format!("list/{i:08}")
    }

    /// The headers every object write sends (`--sse`, `--sse-kms`, `--storage-class`).
    fn write_headers(&self) -> Vec<(&'static str, &str)> {
        let mut h = Vec::new();
        if self.args.sse {
            h.push(("x-amz-server-side-encryption", "AES256"));
        } else if self.args.sse_kms {
            h.push(("x-amz-server-side-encryption", "aws:kms"));
            h.push(("x-amz-server-side-encryption-bucket-key-enabled", "true"));
        }
        if let Some(class) = &self.args.storage_class {
            h.push(("x-amz-storage-class", class.as_str()));
        }
        h
    }

    async fn put(&self, key: &str, body: Bytes) -> anyhow::Result<u64> {
        let n = body.len() as u64;
        let a = self
            .s3
            .send_with(
                "PUT",
                &object_path(&self.args.bucket, key),
                &[],
                &self.write_headers(),
                body,
                false,
            )
            .await?;
        expect(a.status == 200, &format!("PUT {key}: status {}", a.status))?;
        Ok(n)
    }

    async fn get(&self, key: &str) -> anyhow::Result<u64> {
        let a = self
            .s3
            .send("GET", &object_path(&self.args.bucket, key), &[], Bytes::new(), false)
            .await?;
        expect(a.status == 200, &format!("GET {key}: status {}", a.status))?;
        expect(
            a.bytes == self.args.size,
            &format!("GET {key}: {} bytes, want {}", a.bytes, self.args.size),
        )?;
        Ok(a.bytes)
    }

    async fn head(&self, key: &str) -> anyhow::Result<u64> {
        let a = self
            .s3
            .send("HEAD", &object_path(&self.args.bucket, key), &[], Bytes::new(), false)
            .await?;
        expect(a.status == 200, &format!("HEAD {key}: status {}", a.status))?;
        Ok(0)
    }

    async fn delete(&self, key: &str) -> anyhow::Result<u64> {
        let a = self
            .s3
            .send("DELETE", &object_path(&self.args.bucket, key), &[], Bytes::new(), false)
            .await?;
        expect(a.status == 204, &format!("DELETE {key}: status {}", a.status))?;
        Ok(0)
    }

    /// One page of ListObjectsV2 (1000 keys) under `prefix`, from a random start.
    async fn list(&self, prefix: &str, start: &str, want: usize) -> anyhow::Result<u64> {
        let path = format!("/{}", uri_encode(&self.args.bucket, false));
        let q = [
            ("list-type", "2"),
            ("max-keys", "1000"),
            ("prefix", prefix),
            ("start-after", start),
        ];
        let a = self.s3.send("GET", &path, &q, Bytes::new(), true).await?;
        expect(a.status == 200, &format!("LIST: status {}", a.status))?;
        let xml = std::str::from_utf8(a.body.as_deref().unwrap_or_default())?;
        let count: usize = xml_value(xml, "KeyCount").unwrap_or("0").parse()?;
        expect(count == want, &format!("LIST: {count} keys, want {want}"))?;
        Ok(a.bytes)
    }

    async fn multipart_put(&self, key: &str) -> anyhow::Result<u64> {
        let path = object_path(&self.args.bucket, key);
        let a = self
            .s3
            .send_with(
                "POST",
                &path,
                &[("uploads", "")],
                &self.write_headers(),
                Bytes::new(),
                true,
            )
            .await?;
        expect(a.status == 200, &format!("CreateMultipartUpload: status {}", a.status))?;
        let xml = String::from_utf8(a.body.unwrap_or_default().to_vec())?;
        let id = xml_value(&xml, "UploadId").context("no UploadId")?.to_string();
        let parts = self.args.size.div_ceil(self.args.part_size).max(1) as usize;
        let mut complete = String::from("<CompleteMultipartUpload>");
        for n in 1..=parts {
            let body = if n == parts {
                self.last_part.clone()
            } else {
                self.part.clone()
            };
            let num = n.to_string();
            let q = [("partNumber", num.as_str()), ("uploadId", id.as_str())];
            let resp = self.s3.send("PUT", &path, &q, body, false).await?;
            expect(resp.status == 200, &format!("UploadPart: status {}", resp.status))?;
            // The part ETags are known: MD5 of each payload (checked by Complete).
            let etag = if n == parts { &self.last_etag } else { &self.part_etag };
            complete.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>\"{etag}\"</ETag></Part>"
            ));
        }
        complete.push_str("</CompleteMultipartUpload>");
        let a = self
            .s3
            .send("POST", &path, &[("uploadId", id.as_str())], Bytes::from(complete), true)
            .await?;
        let xml = String::from_utf8(a.body.unwrap_or_default().to_vec())?;
        expect(
            a.status == 200 && xml.contains("<ETag>"),
            &format!("CompleteMultipartUpload: status {}", a.status),
        )?;
        Ok(self.args.size)
    }

    /// Runs one operation of the workload.
    async fn one(&self, worker: usize, n: u64) -> anyhow::Result<u64> {
        let objects = self.args.objects.max(1);
        let pick = (n as usize * 7919 + worker * 104_729) % objects;
        match self.args.op {
            Op::Put => {
                let i = self.counter.fetch_add(1, Ordering::Relaxed);
                self.put(&format!("put/{}/{i:010}", self.args.size), self.body.clone())
                    .await
            }
            Op::Get => self.get(&self.prepared_key(pick)).await,
            Op::Head => self.head(&self.prepared_key(pick)).await,
            Op::Delete => {
                let i = self.delete_next.fetch_add(1, Ordering::Relaxed);
                if i >= objects {
                    bail!("exhausted");
                }
                self.delete(&self.prepared_key(i)).await
            }
            Op::List => {
                let total = self.args.list_objects;
                let start = (n as usize * 7919 + worker * 104_729) % total.saturating_sub(1000).max(1);
                let want = 1000.min(total - start - 1);
                self.list("list/", &Self::list_key(start), want).await
            }
            Op::MultipartPut => {
                let i = self.counter.fetch_add(1, Ordering::Relaxed);
                self.multipart_put(&format!("mp/{}/{i:08}", self.args.size)).await
            }
            Op::Md5 => bail!("md5 runs without a server"),
            Op::Mixed => match n % 10 {
                0..=6 => self.get(&self.prepared_key(pick)).await,
                7 | 8 => self.put(&self.prepared_key(pick), self.body.clone()).await,
                _ => {
                    let start = pick.saturating_sub(1);
                    let want = 1000.min(objects - start - 1);
                    self.list("obj/", &self.prepared_key(start), want).await
                }
            },
        }
    }

    async fn ensure_bucket(&self) -> anyhow::Result<()> {
        let path = format!("/{}", uri_encode(&self.args.bucket, false));
        let a = self.s3.send("PUT", &path, &[], Bytes::new(), true).await?;
        // 200 created; 409 BucketAlreadyOwnedByYou outside us-east-1.
        expect(
            a.status == 200 || a.status == 409,
            &format!("CreateBucket: status {}", a.status),
        )
    }

    /// PutBucketPolicy with the `--bucket-policy` file, when one is given.
    async fn set_bucket_policy(&self) -> anyhow::Result<()> {
        let Some(file) = &self.args.bucket_policy else {
            return Ok(());
        };
        let doc = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let path = format!("/{}", uri_encode(&self.args.bucket, false));
        let a = self
            .s3
            .send("PUT", &path, &[("policy", "")], Bytes::from(doc), true)
            .await?;
        expect(
            a.status == 204 || a.status == 200,
            &format!("PutBucketPolicy: status {}", a.status),
        )
    }

    /// PutBucketLifecycleConfiguration with the `--lifecycle` file, when one is given.
    async fn set_lifecycle(&self) -> anyhow::Result<()> {
        let Some(file) = &self.args.lifecycle else {
            return Ok(());
        };
        let doc = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let bucket = self.args.lifecycle_bucket.as_ref().unwrap_or(&self.args.bucket);
        let path = format!("/{}", uri_encode(bucket, false));
        let a = self
            .s3
            .send("PUT", &path, &[("lifecycle", "")], Bytes::from(doc), true)
            .await?;
        expect(
            a.status == 200,
            &format!("PutBucketLifecycleConfiguration: status {}", a.status),
        )
    }

    /// PutBucketAcl granting WRITE to AuthenticatedUsers, with `--grant-write-to-authenticated`.
    async fn grant_write(&self) -> anyhow::Result<()> {
        if !self.args.grant_write_to_authenticated {
            return Ok(());
        }
        let path = format!("/{}", uri_encode(&self.args.bucket, false));
        let grant = r#"uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers""#;
        let a = self
            .s3
            .send_with_headers(
                "PUT",
                &path,
                &[("acl", "")],
                &[("x-amz-grant-write", grant)],
                Bytes::new(),
            )
            .await?;
        expect(a.status == 200, &format!("PutBucketAcl: status {}", a.status))
    }

    /// Writes the objects a read workload needs, `concurrency` at a time.
    async fn prepare(self: &Arc<Self>) -> anyhow::Result<()> {
        let (count, list) = match self.args.op {
            Op::Get | Op::Head | Op::Delete | Op::Mixed => (self.args.objects, false),
            Op::List => (self.args.list_objects, true),
            Op::Put | Op::MultipartPut | Op::Md5 => return Ok(()),
        };
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..self.args.concurrency.max(1) {
            let (ctx, next) = (self.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return Ok::<_, anyhow::Error>(());
                    }
                    if list {
                        ctx.put(&Self::list_key(i), Bytes::new()).await?;
                    } else {
                        ctx.put(&ctx.prepared_key(i), ctx.body.clone()).await?;
                    }
                }
            }));
        }
        for t in tasks {
            t.await??;
        }
        eprintln!("prepared {count} objects in {:.1}s", started.elapsed().as_secs_f64());
        Ok(())
    }
}

#[derive(Debug, Serialize)]
struct Report {
    label: String,
    op: Op,
    size: u64,
    concurrency: usize,
    seconds: f64,
    ops: u64,
    errors: u64,
    ops_per_sec: f64,
    mib_per_sec: f64,
    latency_ms: Latency,
    first_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

async fn run(args: Args) -> anyhow::Result<Report> {
    let s3 = S3::new(&args)?;
    let body = payload(args.size);
    let part_len = args.part_size.min(args.size.max(1));
    let part = body.slice(..part_len.min(body.len() as u64) as usize);
    let parts = args.size.div_ceil(args.part_size).max(1);
    let last_len = args.size - (parts - 1) * args.part_size;
    let last_part = payload(last_len);
    let md5_hex = |b: &[u8]| {
        use md5::Digest;
        hex::encode(md5::Md5::digest(b))
    };
    let ctx = Arc::new(Ctx {
        s3,
        args,
        part_etag: md5_hex(&part),
        last_etag: md5_hex(&last_part),
        body,
        part,
        last_part,
        counter: AtomicU64::new(0),
        delete_next: AtomicUsize::new(0),
    });
    ctx.ensure_bucket().await?;
    ctx.set_bucket_policy().await?;
    ctx.grant_write().await?;
    ctx.set_lifecycle().await?;
    if !ctx.args.no_prepare {
        ctx.prepare().await?;
    }
    let duration = ctx.args.duration;
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for w in 0..ctx.args.concurrency.max(1) {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(4096);
            let mut first_error = None;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = ctx.one(w, n).await;
                n += 1;
                let micros = t.elapsed().as_micros().min(u32::MAX as u128) as u32;
                match r {
                    Ok(bytes) => samples.push(Sample {
                        micros,
                        bytes,
                        ok: true,
                    }),
                    Err(e) if e.to_string() == "exhausted" => break,
                    Err(e) => {
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                        samples.push(Sample {
                            micros,
                            bytes: 0,
                            ok: false,
                        });
                    }
                }
            }
            (samples, first_error)
        }));
    }
    let mut all = Vec::new();
    let mut first_error = None;
    for t in tasks {
        let (s, e) = t.await?;
        all.extend(s);
        if first_error.is_none() {
            first_error = e;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let errors = all.iter().filter(|s| !s.ok).count() as u64;
    let ops = all.len() as u64 - errors;
    let bytes: u64 = all.iter().map(|s| s.bytes).sum();
    let mut lat: Vec<u32> = all.iter().filter(|s| s.ok).map(|s| s.micros).collect();
    lat.sort_unstable();
    let moved = match ctx.args.op {
        Op::Head | Op::Delete | Op::List => 0.0,
        _ => bytes as f64,
    };
    Ok(Report {
        label: ctx.args.label.clone(),
        op: ctx.args.op,
        size: ctx.args.size,
        concurrency: ctx.args.concurrency,
        seconds,
        ops,
        errors,
        ops_per_sec: ops as f64 / seconds,
        mib_per_sec: moved / seconds / (1 << 20) as f64,
        latency_ms: Latency {
            p50: percentile(&lat, 0.50),
            p90: percentile(&lat, 0.90),
            p99: percentile(&lat, 0.99),
            max: lat.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
        },
        first_error,
    })
}

/// Hashes `size` bytes (in 1 MiB buffers) for `duration` on one core; MiB/s.
fn md5_rate(args: &Args) -> Report {
    use md5::Digest;
    let buf = payload(1 << 20);
    let started = Instant::now();
    let mut bytes = 0u64;
    let mut ops = 0u64;
    while started.elapsed() < args.duration {
        let mut h = md5::Md5::new();
        let mut left = args.size.max(1);
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            h.update(&buf[..n]);
            left -= n as u64;
        }
        std::hint::black_box(h.finalize());
        bytes += args.size.max(1);
        ops += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    Report {
        label: args.label.clone(),
        op: Op::Md5,
        size: args.size,
        concurrency: 1,
        seconds,
        ops,
        errors: 0,
        ops_per_sec: ops as f64 / seconds,
        mib_per_sec: bytes as f64 / seconds / (1 << 20) as f64,
        latency_ms: Latency {
            p50: 0.0,
            p90: 0.0,
            p99: 0.0,
            max: 0.0,
        },
        first_error: None,
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.op == Op::Md5 {
        let report = md5_rate(&args);
        println!("md5: {:.1} MiB/s on one core", report.mib_per_sec);
        if let Some(path) = &args.json {
            std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
        }
        return Ok(());
    }
    let json = args.json.clone();
    // Two worker threads: the client shares the cores with the server.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = rt.block_on(run(args))?;
    println!(
        "{} {:?} size={} c={}: {:.0} ops/s, {:.1} MiB/s, {} errors, latency ms p50 {:.3} p90 {:.3} p99 {:.3} max {:.3}",
        report.label,
        report.op,
        report.size,
        report.concurrency,
        report.ops_per_sec,
        report.mib_per_sec,
        report.errors,
        report.latency_ms.p50,
        report.latency_ms.p90,
        report.latency_ms.p99,
        report.latency_ms.max
    );
    if let Some(e) = &report.first_error {
        eprintln!("first error: {e}");
    }
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    }
    if report.ops == 0 {
        bail!("no operation succeeded");
    }
    Ok(())
}
