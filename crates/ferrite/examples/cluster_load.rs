//! The client of `scripts/cluster-test.sh`: a bounded S3 load over several gateways
//! with the AWS SDK for Rust, a log of what each gateway acknowledged, and a check of
//! that log against what the store holds afterwards.
//!
//! ```text
//! cluster_load setup  --endpoints URL,URL
//! cluster_load load   --endpoints URL,URL --log FILE --stop-file FILE [--workers 8]
//! cluster_load verify --endpoints URL,URL --log FILE [--events FILE]
//! ```
//!
//! `load` runs PUTs (single and multipart), versioned PUTs, deletes of objects and of
//! versions, delete markers and GETs, round-robin over the endpoints, until the stop
//! file appears. Every write is logged as tried before it is sent and as acknowledged
//! only after its 200/204, so that the log holds exactly what a client was promised.
//! Bodies check themselves: the first 16 bytes are the write's id and length, the rest
//! a stream derived from the id, so any object found later is whole or it is not.
//!
//! `verify` (exit 1 on any breach) then checks, through the endpoints given:
//! - every acknowledged PUT whose object was not later (tried to be) deleted reads
//!   back byte-exact, by version id where versioned, and appears in its listing;
//! - every acknowledged delete stays deleted (gone from listings, 404 on GET);
//! - every object or version listed reads back whole, is one that was tried under
//!   that key, and has the listed size: nothing unacknowledged is half-visible;
//! - no GET during the load returned wrong bytes, or a 404 for an acknowledged write
//!   (S3 reads its writes at once).
//!
//! It also prints, per event of `--events` (lines `NAME UNIX_MS`, written by the
//! script when it injects a fault), the time from the event to the first
//! acknowledged write sent after it, and a per-second count of acknowledgements and
//! errors. Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, VersioningConfiguration};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

const PLAIN: &str = "ct-plain";
const VERSIONED: &str = "ct-ver";
const VERSIONED_KEYS: u64 = 16;
const PART: usize = 5 << 20;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Creates the two buckets (one with versioning enabled).
    Setup {
        #[arg(long, value_delimiter = ',')]
        endpoints: Vec<String>,
    },
    /// Runs the load until the stop file exists (or --max-secs pass).
    Load {
        #[arg(long, value_delimiter = ',')]
        endpoints: Vec<String>,
        #[arg(long)]
        log: PathBuf,
        #[arg(long)]
        stop_file: PathBuf,
        #[arg(long, default_value_t = 8)]
        workers: u64,
        #[arg(long, default_value_t = 600)]
        max_secs: u64,
    },
    /// Checks the log against the store; prints a JSON summary; exit 1 on a breach.
    Verify {
        #[arg(long, value_delimiter = ',')]
        endpoints: Vec<String>,
        #[arg(long)]
        log: PathBuf,
        #[arg(long)]
        events: Option<PathBuf>,
    },
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn client(endpoint: &str) -> anyhow::Result<Client> {
    let key = std::env::var("AWS_ACCESS_KEY_ID").context("AWS_ACCESS_KEY_ID")?;
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").context("AWS_SECRET_ACCESS_KEY")?;
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "cluster-load"))
        .force_path_style(true)
        // One attempt per request: the log must say what this request's answer was.
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    Ok(Client::from_conf(conf))
}

fn clients(endpoints: &[String]) -> anyhow::Result<Vec<Client>> {
    if endpoints.is_empty() {
        bail!("no --endpoints");
    }
    endpoints.iter().map(|e| client(e)).collect()
}

/// splitmix64: the body stream and the workers' dice.
fn mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The body of write `id`: 16 bytes of header (id, length), then the id's stream.
fn body(id: u64, len: usize) -> Vec<u8> {
    let len = len.max(16);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(len as u64).to_le_bytes());
    let mut s = id;
    while out.len() < len {
        let w = mix(&mut s).to_le_bytes();
        let n = (len - out.len()).min(8);
        out.extend_from_slice(&w[..n]);
    }
    out
}

/// The (id, length) a whole, untouched body says it is; None when it is not one.
fn check_body(b: &[u8]) -> Option<(u64, usize)> {
    if b.len() < 16 {
        return None;
    }
    let id = u64::from_le_bytes(b[..8].try_into().ok()?);
    let len = u64::from_le_bytes(b[8..16].try_into().ok()?) as usize;
    (len == b.len() && body(id, len) == b).then_some((id, len))
}

struct Log {
    out: std::sync::Mutex<std::io::BufWriter<std::fs::File>>,
}

impl Log {
    fn create(path: &Path) -> anyhow::Result<Log> {
        let f = std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
        Ok(Log {
            out: std::sync::Mutex::new(std::io::BufWriter::new(f)),
        })
    }
    fn put(&self, v: Value) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // A failed log write would make the check meaningless: stop at once.
        writeln!(out, "{v}").and_then(|_| out.flush()).expect("write the log");
    }
}

fn err_code<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
{
    match e {
        aws_sdk_s3::error::SdkError::ServiceError(s) => s.err().code().unwrap_or("service").to_string(),
        aws_sdk_s3::error::SdkError::TimeoutError(_) => "timeout".into(),
        aws_sdk_s3::error::SdkError::DispatchFailure(_) => "dispatch".into(),
        aws_sdk_s3::error::SdkError::ResponseError(_) => "response".into(),
        _ => "other".into(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Setup { endpoints } => setup(&endpoints).await,
        Cmd::Load {
            endpoints,
            log,
            stop_file,
            workers,
            max_secs,
        } => load(&endpoints, &log, &stop_file, workers, max_secs).await,
        Cmd::Verify { endpoints, log, events } => {
            let breaches = verify(&endpoints, &log, events.as_deref()).await?;
            if breaches > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

async fn setup(endpoints: &[String]) -> anyhow::Result<()> {
    let c = &clients(endpoints)?[0];
    c.create_bucket()
        .bucket(PLAIN)
        .send()
        .await
        .context("create ct-plain")?;
    c.create_bucket()
        .bucket(VERSIONED)
        .send()
        .await
        .context("create ct-ver")?;
    c.put_bucket_versioning()
        .bucket(VERSIONED)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .context("enable versioning")?;
    Ok(())
}

struct Shared {
    clients: Vec<Client>,
    next: AtomicUsize,
    stop: AtomicBool,
    log: Log,
}

impl Shared {
    fn client(&self) -> &Client {
        &self.clients[self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len()]
    }
}

async fn load(endpoints: &[String], log: &Path, stop_file: &Path, workers: u64, max_secs: u64) -> anyhow::Result<()> {
    let shared = Arc::new(Shared {
        clients: clients(endpoints)?,
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        log: Log::create(log)?,
    });
    let mut tasks = Vec::new();
    for w in 0..workers {
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move { worker(shared, w + 1).await }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(max_secs);
    while !stop_file.exists() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shared.stop.store(true, Ordering::Relaxed);
    let mut bad_gets = 0;
    for t in tasks {
        bad_gets += t.await?;
    }
    println!("load stopped; GETs with wrong bytes or none: {bad_gets}");
    Ok(())
}

/// One worker's loop; returns how many GETs returned wrong bytes or a 404.
async fn worker(s: Arc<Shared>, w: u64) -> u64 {
    let mut dice = w.wrapping_mul(0x2545_f491_4f6c_dd1d);
    let mut seq = 0u64;
    // What this worker was acknowledged and has not tried to delete since.
    let mut plain: Vec<(String, u64, usize)> = Vec::new();
    let mut versions: Vec<(String, String, u64, usize)> = Vec::new();
    let mut bad_gets = 0;
    while !s.stop.load(Ordering::Relaxed) {
        seq += 1;
        let id = (w << 32) | seq;
        let roll = mix(&mut dice) % 100;
        let small = 16 + (mix(&mut dice) % (64 << 10)) as usize;
        let c = s.client().clone();
        match roll {
            0..=37 => {
                let key = format!("p/{id:016x}");
                if let Some(_v) = put(&s, &c, PLAIN, &key, id, small).await {
                    plain.push((key, id, small));
                }
            }
            38..=57 => {
                let key = format!("v/{}", mix(&mut dice) % VERSIONED_KEYS);
                if let Some(Some(v)) = put(&s, &c, VERSIONED, &key, id, small).await {
                    versions.push((key, v, id, small));
                }
            }
            58..=61 => {
                let key = format!("m/{id:016x}");
                let len = 2 * PART + small;
                if multipart(&s, &c, &key, id, len).await {
                    plain.push((key, id, len));
                }
            }
            62..=71 if !plain.is_empty() => {
                let i = (mix(&mut dice) as usize) % plain.len();
                let (key, _, _) = plain.swap_remove(i);
                delete(&s, &c, PLAIN, &key, None).await;
            }
            72..=77 if !versions.is_empty() => {
                let i = (mix(&mut dice) as usize) % versions.len();
                let (key, v, _, _) = versions.swap_remove(i);
                delete(&s, &c, VERSIONED, &key, Some(v)).await;
            }
            78..=80 => {
                let key = format!("v/{}", mix(&mut dice) % VERSIONED_KEYS);
                delete(&s, &c, VERSIONED, &key, None).await;
            }
            _ => {
                let pick = mix(&mut dice) as usize;
                let target = if pick.is_multiple_of(2) && !plain.is_empty() {
                    let (k, id, len) = &plain[pick / 2 % plain.len()];
                    Some((PLAIN, k.clone(), None, *id, *len))
                } else if !versions.is_empty() {
                    let (k, v, id, len) = &versions[pick / 2 % versions.len()];
                    Some((VERSIONED, k.clone(), Some(v.clone()), *id, *len))
                } else {
                    None
                };
                if let Some((b, k, v, id, len)) = target {
                    let sent = now_ms();
                    match c.get_object().bucket(b).key(&k).set_version_id(v.clone()).send().await {
                        Ok(out) => match out.body.collect().await {
                            Ok(data) => {
                                if data.into_bytes().as_ref() != body(id, len).as_slice() {
                                    bad_gets += 1;
                                    s.log.put(json!({"t":"getbad","b":b,"k":k,"v":v,"id":id,"sent":sent}));
                                }
                            }
                            Err(_) => s.log.put(
                                json!({"t":"err","op":"get","code":"body","b":b,"k":k,"v":v,"sent":sent,"at":now_ms()}),
                            ),
                        },
                        Err(e) => {
                            let code = err_code(&e);
                            // S3 reads its writes: a 404 for an acknowledged write that
                            // was not deleted is a breach, as wrong bytes are.
                            if matches!(code.as_str(), "NoSuchKey" | "NoSuchVersion") {
                                bad_gets += 1;
                                s.log
                                    .put(json!({"t":"getmissing","b":b,"k":k,"v":v,"id":id,"sent":sent}));
                            }
                            s.log.put(
                                json!({"t":"err","op":"get","code":code,"b":b,"k":k,"v":v,"sent":sent,"at":now_ms()}),
                            )
                        }
                    }
                }
            }
        }
    }
    bad_gets
}

/// A single PUT; Some(version id) once acknowledged.
async fn put(s: &Shared, c: &Client, bucket: &str, key: &str, id: u64, len: usize) -> Option<Option<String>> {
    let data = body(id, len);
    let sent = now_ms();
    s.log
        .put(json!({"t":"try","b":bucket,"k":key,"id":id,"len":len,"sent":sent}));
    let r = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(data))
        .send()
        .await;
    match r {
        Ok(out) => {
            let v = out.version_id().map(str::to_string);
            s.log
                .put(json!({"t":"put","b":bucket,"k":key,"v":v,"id":id,"len":len,"sent":sent,"ack":now_ms()}));
            Some(v)
        }
        Err(e) => {
            s.log.put(
                json!({"t":"err","op":"put","code":err_code(&e),"b":bucket,"k":key,"id":id,"sent":sent,"at":now_ms()}),
            );
            None
        }
    }
}

/// A three-part upload (5 MiB, 5 MiB, the rest); true once CompleteMultipartUpload is
/// acknowledged. An upload left behind by a failure is aborted when possible.
async fn multipart(s: &Shared, c: &Client, key: &str, id: u64, len: usize) -> bool {
    let data = body(id, len);
    let sent = now_ms();
    s.log
        .put(json!({"t":"try","b":PLAIN,"k":key,"id":id,"len":len,"sent":sent}));
    let fail = |op: &str, code: String| {
        s.log
            .put(json!({"t":"err","op":op,"code":code,"b":PLAIN,"k":key,"id":id,"sent":sent,"at":now_ms()}));
        false
    };
    let up = match c.create_multipart_upload().bucket(PLAIN).key(key).send().await {
        Ok(up) => up,
        Err(e) => return fail("mpu-create", err_code(&e)),
    };
    let Some(upload_id) = up.upload_id().map(str::to_string) else {
        return fail("mpu-create", "no upload id".into());
    };
    let mut parts = Vec::new();
    for (n, chunk) in data.chunks(PART).enumerate() {
        let n = n as i32 + 1;
        let r = c
            .upload_part()
            .bucket(PLAIN)
            .key(key)
            .upload_id(&upload_id)
            .part_number(n)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await;
        match r {
            Ok(p) => parts.push(
                CompletedPart::builder()
                    .part_number(n)
                    .set_e_tag(p.e_tag().map(str::to_string))
                    .build(),
            ),
            Err(e) => {
                let _ = c
                    .abort_multipart_upload()
                    .bucket(PLAIN)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                return fail("mpu-part", err_code(&e));
            }
        }
    }
    let r = c
        .complete_multipart_upload()
        .bucket(PLAIN)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await;
    match r {
        Ok(_) => {
            s.log.put(
                json!({"t":"put","b":PLAIN,"k":key,"v":null,"id":id,"len":len,"mp":true,"sent":sent,"ack":now_ms()}),
            );
            true
        }
        Err(e) => fail("mpu-complete", err_code(&e)),
    }
}

/// DELETE of a key (a delete marker when versioned) or of one version.
async fn delete(s: &Shared, c: &Client, bucket: &str, key: &str, version: Option<String>) {
    let sent = now_ms();
    s.log
        .put(json!({"t":"trydel","b":bucket,"k":key,"v":version,"sent":sent}));
    match c.delete_object().bucket(bucket).key(key).set_version_id(version.clone()).send().await {
        Ok(_) => s.log.put(json!({"t":"del","b":bucket,"k":key,"v":version,"sent":sent,"ack":now_ms()})),
        Err(e) => s.log.put(json!({"t":"err","op":"delete","code":err_code(&e),"b":bucket,"k":key,"v":version,"sent":sent,"at":now_ms()})),
    }
}

#[derive(Default)]
struct Tally {
    acked_puts: u64,
    acked_deletes: u64,
    verified: u64,
    lost: u64,
    corrupt: u64,
    unlisted: u64,
    resurrected: u64,
    half_visible: u64,
    listed: u64,
    bad_gets_during_load: u64,
    examples: Vec<String>,
}

impl Tally {
    fn breach(&mut self, what: String) {
        if self.examples.len() < 20 {
            self.examples.push(what);
        }
    }
    fn breaches(&self) -> u64 {
        self.lost + self.corrupt + self.unlisted + self.resurrected + self.half_visible + self.bad_gets_during_load
    }
}

/// Where an object lives: bucket, key, version id ("" when unversioned).
type Loc = (String, String, String);

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

async fn verify(endpoints: &[String], log: &Path, events: Option<&Path>) -> anyhow::Result<u64> {
    let clients = clients(endpoints)?;
    let mut tried: HashMap<u64, (String, String)> = HashMap::new();
    let mut acked: BTreeMap<Loc, (u64, usize)> = BTreeMap::new();
    let mut delete_tried: HashSet<Loc> = HashSet::new();
    let mut deleted: Vec<Loc> = Vec::new();
    let mut writes: Vec<(u64, u64)> = Vec::new(); // (sent, ack) of acknowledged writes
    let mut per_sec: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut t = Tally::default();
    let f = std::fs::File::open(log).with_context(|| format!("open {}", log.display()))?;
    for line in std::io::BufReader::new(f).lines() {
        let line = line?;
        // The load may have been killed mid-line: a torn last line is not a record.
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let at = v
            .get("ack")
            .or_else(|| v.get("at"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
            / 1000;
        let loc = (s(&v, "b"), s(&v, "k"), s(&v, "v"));
        let num = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        match v.get("t").and_then(Value::as_str) {
            Some("try") => {
                tried.insert(num("id"), (loc.0, loc.1));
            }
            Some("put") => {
                t.acked_puts += 1;
                writes.push((num("sent"), num("ack")));
                per_sec.entry(at).or_default().0 += 1;
                acked.insert(loc, (num("id"), num("len") as usize));
            }
            Some("trydel") => {
                delete_tried.insert(loc);
            }
            Some("del") => {
                t.acked_deletes += 1;
                writes.push((num("sent"), num("ack")));
                per_sec.entry(at).or_default().0 += 1;
                deleted.push(loc);
            }
            Some("err") => per_sec.entry(at).or_default().1 += 1,
            Some("getbad") => {
                t.bad_gets_during_load += 1;
                t.breach(format!("GET during the load returned wrong bytes: {line}"));
            }
            Some("getmissing") => {
                t.bad_gets_during_load += 1;
                t.breach(format!("GET during the load found no acknowledged write: {line}"));
            }
            _ => {}
        }
    }

    // Listings, through the first endpoint that answers them.
    let mut listed: BTreeMap<Loc, i64> = BTreeMap::new();
    let c = &clients[0];
    let mut token = None;
    loop {
        let out = c
            .list_objects_v2()
            .bucket(PLAIN)
            .set_continuation_token(token)
            .send()
            .await?;
        for o in out.contents() {
            listed.insert(
                (PLAIN.into(), o.key().unwrap_or("").into(), String::new()),
                o.size().unwrap_or(-1),
            );
        }
        token = out.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let (mut km, mut vm) = (None, None);
    loop {
        let out = c
            .list_object_versions()
            .bucket(VERSIONED)
            .set_key_marker(km)
            .set_version_id_marker(vm)
            .send()
            .await?;
        for o in out.versions() {
            let loc = (
                VERSIONED.into(),
                o.key().unwrap_or("").into(),
                o.version_id().unwrap_or("").into(),
            );
            listed.insert(loc, o.size().unwrap_or(-1));
        }
        if !out.is_truncated().unwrap_or(false) {
            break;
        }
        km = out.next_key_marker().map(str::to_string);
        vm = out.next_version_id_marker().map(str::to_string);
    }
    t.listed = listed.len() as u64;

    let mut turn = 0usize;
    let mut get = |loc: &Loc| {
        turn += 1;
        let c = clients[turn % clients.len()].clone();
        let loc = loc.clone();
        async move {
            let v = (!loc.2.is_empty()).then(|| loc.2.clone());
            match c.get_object().bucket(&loc.0).key(&loc.1).set_version_id(v).send().await {
                Ok(out) => Ok(Some(out.body.collect().await?.into_bytes())),
                Err(e) if matches!(err_code(&e).as_str(), "NoSuchKey" | "NoSuchVersion") => Ok(None),
                Err(e) => Err(anyhow::anyhow!("GET {loc:?}: {}", err_code(&e))),
            }
        }
    };

    // 1. Every acknowledged PUT not tried to be deleted since reads back, and is listed.
    for (loc, (id, len)) in &acked {
        if delete_tried.contains(loc) {
            continue;
        }
        match get(loc).await? {
            None => {
                t.lost += 1;
                t.breach(format!("acknowledged PUT lost: {loc:?} id {id:x}"));
            }
            Some(b) if b.as_ref() != body(*id, *len).as_slice() => {
                t.corrupt += 1;
                t.breach(format!("acknowledged PUT reads back other bytes: {loc:?} id {id:x}"));
            }
            Some(_) => t.verified += 1,
        }
        if !listed.contains_key(loc) {
            t.unlisted += 1;
            t.breach(format!("acknowledged PUT missing from its listing: {loc:?}"));
        }
    }
    // 2. Every acknowledged delete of an object or a version stays done.
    for loc in &deleted {
        if loc.0 == VERSIONED && loc.2.is_empty() {
            continue; // a delete marker: the versions stay, checked above and below
        }
        if listed.contains_key(loc) || get(loc).await?.is_some() {
            t.resurrected += 1;
            t.breach(format!("acknowledged DELETE undone: {loc:?}"));
        }
    }
    // 3. Whatever is listed is whole, is a write tried under that key, has its size.
    for (loc, size) in &listed {
        let Some(b) = get(loc).await? else {
            t.half_visible += 1;
            t.breach(format!("listed but not readable: {loc:?}"));
            continue;
        };
        match check_body(&b) {
            Some((id, len)) if tried.get(&id) == Some(&(loc.0.clone(), loc.1.clone())) && len as i64 == *size => {}
            other => {
                t.half_visible += 1;
                t.breach(format!(
                    "listed object is not a whole tried write: {loc:?} {other:?} size {size}"
                ));
            }
        }
    }

    // Fault events: time to the first acknowledged write sent after each.
    let mut event_report = Vec::new();
    if let Some(path) = events {
        for line in std::fs::read_to_string(path)?.lines() {
            let mut it = line.split_whitespace();
            let (Some(name), Some(ms)) = (it.next(), it.next().and_then(|x| x.parse::<u64>().ok())) else {
                continue;
            };
            let first = writes.iter().filter(|(sent, _)| *sent >= ms).map(|(_, ack)| *ack).min();
            let during = per_sec
                .range(ms / 1000..ms / 1000 + 30)
                .map(|(_, (_, e))| e)
                .sum::<u64>();
            event_report.push(json!({
                "event": name,
                "first_ack_after_ms": first.map(|a| a - ms),
                "errors_in_next_30s": during,
            }));
        }
    }
    let start = per_sec.keys().next().copied().unwrap_or(0);
    let timeline: Vec<String> = per_sec
        .iter()
        .map(|(sec, (ok, err))| format!("{}:{ok}/{err}", sec - start))
        .collect();
    let summary = json!({
        "acked_puts": t.acked_puts,
        "acked_deletes": t.acked_deletes,
        "verified": t.verified,
        "listed": t.listed,
        "lost": t.lost,
        "corrupt": t.corrupt,
        "unlisted": t.unlisted,
        "resurrected": t.resurrected,
        "half_visible": t.half_visible,
        "bad_gets_during_load": t.bad_gets_during_load,
        "breaches": t.breaches(),
        "examples": t.examples,
        "events": event_report,
        "timeline_sec_acks_errors": timeline.join(" "),
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(t.breaches())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_check_themselves() {
        let b = body(7, 1000);
        assert_eq!(check_body(&b), Some((7, 1000)));
        let mut torn = b.clone();
        torn.truncate(999);
        assert_eq!(check_body(&torn), None);
        let mut flipped = b;
        flipped[500] ^= 1;
        assert_eq!(check_body(&flipped), None);
    }
}
