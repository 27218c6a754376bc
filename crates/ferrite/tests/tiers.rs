//! Storage classes on tiers, against the real binary with `aws-sdk-s3` (default
//! settings): `--tier NAME=DIR[,compress]` and `--class-tier CLASS=TIER` put a
//! class's bytes in the tier's directory (checked on disk) on PUT, multipart upload,
//! a copy that changes the class, and a lifecycle transition; a compressed archive
//! tier stores fewer bytes and reads back the same bytes, ETag and checksum; a
//! restore copies an archived version into the STANDARD tier and the copy is
//! collected at expiry; and a SIGKILL during transitions leaves every version
//! readable from exactly one tier, with no orphan after the restart.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ExpirationStatus,
    GlacierJobParameters, LifecycleRule, LifecycleRuleFilter, RestoreRequest, StorageClass, Tier, Transition,
    TransitionStorageClass,
};
use common::{Server, code, md5_hex, pattern, read_all};

/// The blob files under a blob store's directory: name -> size.
fn blobs_in(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let Ok(shards) = std::fs::read_dir(dir.join("blobs")) else {
        return out;
    };
    for shard in shards {
        for f in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let f = f.unwrap();
            out.push((
                f.file_name().to_string_lossy().into_owned(),
                f.metadata().unwrap().len(),
            ));
        }
    }
    out.sort();
    out
}

/// Waits (up to 20 s) until `f` holds.
async fn until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !f().await {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Layout {
    _tmp: tempfile::TempDir,
    ia: PathBuf,
    cold: PathBuf,
}

impl Layout {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        Self {
            ia: tmp.path().join("ia"),
            cold: tmp.path().join("cold"),
            _tmp: tmp,
        }
    }

    fn args(&self) -> Vec<String> {
        vec![
            "--tier".into(),
            format!("ia={}", self.ia.display()),
            "--tier".into(),
            format!("cold={},compress", self.cold.display()),
            "--class-tier".into(),
            "STANDARD_IA=ia".into(),
            "--class-tier".into(),
            "ONEZONE_IA=ia".into(),
            "--class-tier".into(),
            "GLACIER=cold".into(),
            "--lifecycle-day-secs".into(),
            "1".into(),
        ]
    }
}

fn start(layout: &Layout) -> Server {
    let args = layout.args();
    Server::start_with(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

async fn put(c: &Client, bucket: &str, key: &str, body: &[u8], class: StorageClass) -> String {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .storage_class(class)
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string()
}

async fn get(c: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
    match c.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(read_all(out).await),
        Err(e) => Err(code(&e)),
    }
}

async fn restore(c: &Client, bucket: &str, key: &str) {
    c.restore_object()
        .bucket(bucket)
        .key(key)
        .restore_request(
            RestoreRequest::builder()
                .days(1)
                .glacier_job_parameters(GlacierJobParameters::builder().tier(Tier::Standard).build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Sets a rule moving the bucket's `prefix` objects to GLACIER after a day.
async fn transition_to_glacier(c: &Client, bucket: &str, prefix: &str) {
    let rule = LifecycleRule::builder()
        .id("to-glacier")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
        .transitions(
            Transition::builder()
                .days(1)
                .storage_class(TransitionStorageClass::Glacier)
                .build(),
        )
        .build()
        .unwrap();
    c.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(rule).build().unwrap())
        .send()
        .await
        .unwrap();
}

/// Text-like bytes (compressible, as logs are) of `len`, varied by `seed`.
fn text(len: usize, seed: u64) -> Vec<u8> {
    let line = format!("2026-12-03T01:00:00Z host-{seed} GET /objects/{seed} 200 4096 \"aws-sdk-rust\"\n");
    line.bytes().cycle().take(len).collect()
}

#[tokio::test]
async fn classes_live_in_their_tiers_and_move_with_copies_and_restores() {
    let layout = Layout::new();
    let s = start(&layout);
    let c = s.client();
    c.create_bucket().bucket("tiered").send().await.unwrap();
    let data_dir = s.data_dir.clone();
    let base = blobs_in(&data_dir).len();

    // STANDARD stays in the data dir; STANDARD_IA goes to `ia`, even when small
    // (a tier's data is never kept inline in the metadata store).
    let std_body = pattern(200_000, 1);
    put(&c, "tiered", "std", &std_body, StorageClass::Standard).await;
    assert_eq!(blobs_in(&data_dir).len(), base + 1);
    assert!(blobs_in(&layout.ia).is_empty());
    let ia_body = pattern(300_000, 2);
    let etag = put(&c, "tiered", "ia", &ia_body, StorageClass::StandardIa).await;
    assert_eq!(etag, format!("\"{}\"", md5_hex(&ia_body)));
    put(&c, "tiered", "small", b"tiny", StorageClass::OnezoneIa).await;
    let ia = blobs_in(&layout.ia);
    assert_eq!(ia.len(), 2, "{ia:?}");
    assert!(ia.iter().any(|(_, n)| *n == 300_000) && ia.iter().any(|(_, n)| *n == 4));
    assert_eq!(blobs_in(&data_dir).len(), base + 1);
    assert_eq!(get(&c, "tiered", "ia").await.unwrap(), ia_body);
    assert_eq!(get(&c, "tiered", "small").await.unwrap(), b"tiny");

    // A multipart upload's parts go to the upload's class's tier.
    let up = c
        .create_multipart_upload()
        .bucket("tiered")
        .key("mp")
        .storage_class(StorageClass::StandardIa)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let (p1, p2) = (pattern(5 << 20, 3), pattern(1000, 4));
    let mut parts = Vec::new();
    for (n, body) in [(1, &p1), (2, &p2)] {
        let out = c
            .upload_part()
            .bucket("tiered")
            .key("mp")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    assert_eq!(blobs_in(&layout.ia).len(), 4);
    c.complete_multipart_upload()
        .bucket("tiered")
        .key("mp")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    assert_eq!(get(&c, "tiered", "mp").await.unwrap(), [p1, p2].concat());
    assert_eq!(
        blobs_in(&data_dir).len(),
        base + 1,
        "nothing of the upload in the data dir"
    );

    // A copy onto itself that changes the class moves the bytes: the new copy in
    // `ia`, the old blob collected from the data dir.
    c.copy_object()
        .bucket("tiered")
        .key("std")
        .copy_source("tiered/std")
        .storage_class(StorageClass::StandardIa)
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket("tiered").key("std").send().await.unwrap();
    assert_eq!(head.storage_class(), Some(&StorageClass::StandardIa));
    assert_eq!(head.e_tag(), Some(format!("\"{}\"", md5_hex(&std_body)).as_str()));
    assert!(blobs_in(&layout.ia).iter().filter(|(_, n)| *n == 200_000).count() == 1);
    until("the old copy is collected", async || blobs_in(&data_dir).len() == base).await;
    assert_eq!(get(&c, "tiered", "std").await.unwrap(), std_body);
    // A copy within a tier shares the bytes (no new blob).
    let before = blobs_in(&layout.ia).len();
    c.copy_object()
        .bucket("tiered")
        .key("ia-2")
        .copy_source("tiered/ia")
        .storage_class(StorageClass::OnezoneIa)
        .send()
        .await
        .unwrap();
    assert_eq!(blobs_in(&layout.ia).len(), before);
    assert_eq!(get(&c, "tiered", "ia-2").await.unwrap(), ia_body);

    // GLACIER goes to the compressed tier: fewer bytes on disk, the same bytes,
    // ETag and checksum when read after a restore.
    let log = text(2 << 20, 5);
    let etag = put(&c, "tiered", "logs", &log, StorageClass::Glacier).await;
    let cold = blobs_in(&layout.cold);
    assert_eq!(cold.len(), 1);
    assert!(
        cold[0].1 * 20 < log.len() as u64,
        "stored {} of {} bytes",
        cold[0].1,
        log.len()
    );
    assert_eq!(get(&c, "tiered", "logs").await.unwrap_err(), "InvalidObjectState");
    let data_before = blobs_in(&data_dir).len();
    restore(&c, "tiered", "logs").await;
    // The restored copy is in the STANDARD tier (the data dir), uncompressed.
    let restored: Vec<_> = blobs_in(&data_dir);
    assert_eq!(restored.len(), data_before + 1);
    assert!(restored.iter().any(|(_, n)| *n == log.len() as u64));
    let out = c
        .get_object()
        .bucket("tiered")
        .key("logs")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(out.e_tag(), Some(etag.as_str()));
    assert!(out.checksum_crc32_c().is_some());
    assert!(out.restore().unwrap().contains("ongoing-request=\"false\""));
    assert_eq!(read_all(out).await, log);
    let range = c
        .get_object()
        .bucket("tiered")
        .key("logs")
        .range("bytes=1000000-1000099")
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(range).await, &log[1_000_000..1_000_100]);
    // At expiry (a day of 1 s, rounded to the next "midnight"), the copy is
    // collected and the object is archived again; its own bytes stay in `cold`.
    until("the restored copy is collected", async || {
        blobs_in(&data_dir).len() == data_before
    })
    .await;
    assert_eq!(get(&c, "tiered", "logs").await.unwrap_err(), "InvalidObjectState");
    let head = c.head_object().bucket("tiered").key("logs").send().await.unwrap();
    assert_eq!(head.restore(), None);
    assert_eq!(blobs_in(&layout.cold).len(), 1);
    // Restored again, it reads again.
    restore(&c, "tiered", "logs").await;
    assert_eq!(get(&c, "tiered", "logs").await.unwrap(), log);

    // Deleting objects collects their blobs from their tiers.
    for key in ["ia", "ia-2", "small", "mp", "std", "logs"] {
        c.delete_object().bucket("tiered").key(key).send().await.unwrap();
    }
    until("every tier is empty", async || {
        blobs_in(&layout.ia).is_empty() && blobs_in(&layout.cold).is_empty() && blobs_in(&data_dir).len() == base
    })
    .await;
}

#[tokio::test]
async fn a_lifecycle_transition_moves_the_bytes_to_the_target_tier() {
    let layout = Layout::new();
    let s = start(&layout);
    let c = s.client();
    c.create_bucket().bucket("lc-tiers").send().await.unwrap();
    let data_dir = s.data_dir.clone();
    let base = blobs_in(&data_dir).len();
    let bodies: Vec<Vec<u8>> = (0..5).map(|i| text(300_000 + i, i as u64)).collect();
    for (i, b) in bodies.iter().enumerate() {
        put(&c, "lc-tiers", &format!("old/{i}"), b, StorageClass::Standard).await;
    }
    put(&c, "lc-tiers", "keep", &bodies[0], StorageClass::Standard).await;
    // An SSE-S3 object moves as stored (sealed) and still opens.
    let secret = text(250_000, 77);
    c.put_object()
        .bucket("lc-tiers")
        .key("old/sealed")
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .body(ByteStream::from(secret.clone()))
        .send()
        .await
        .unwrap();
    // A small body is kept inline in the metadata store; moved to a tier, it
    // becomes a file there.
    put(&c, "lc-tiers", "old/small", b"small body", StorageClass::Standard).await;
    assert_eq!(blobs_in(&data_dir).len(), base + 7);
    transition_to_glacier(&c, "lc-tiers", "old/").await;
    until("seven versions moved to the cold tier", async || {
        blobs_in(&layout.cold).len() == 7 && blobs_in(&data_dir).len() == base + 1
    })
    .await;
    restore(&c, "lc-tiers", "old/small").await;
    assert_eq!(get(&c, "lc-tiers", "old/small").await.unwrap(), b"small body");
    restore(&c, "lc-tiers", "old/sealed").await;
    let out = c
        .get_object()
        .bucket("lc-tiers")
        .key("old/sealed")
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.server_side_encryption(),
        Some(&aws_sdk_s3::types::ServerSideEncryption::Aes256)
    );
    assert_eq!(read_all(out).await, secret);
    for (i, b) in bodies.iter().enumerate() {
        let key = format!("old/{i}");
        let head = c.head_object().bucket("lc-tiers").key(&key).send().await.unwrap();
        assert_eq!(head.storage_class(), Some(&StorageClass::Glacier));
        assert_eq!(head.content_length(), Some(b.len() as i64));
        restore(&c, "lc-tiers", &key).await;
        assert_eq!(get(&c, "lc-tiers", &key).await.unwrap(), *b, "{key}");
    }
    // The text compressed well; the sealed bytes (random to zstd) did not.
    let mut sizes: Vec<u64> = blobs_in(&layout.cold).iter().map(|(_, n)| *n).collect();
    sizes.sort();
    assert!(sizes[6] >= secret.len() as u64, "{sizes:?}");
    assert!(sizes[..6].iter().sum::<u64>() * 10 < bodies.iter().map(|b| b.len() as u64).sum::<u64>());
    assert_eq!(get(&c, "lc-tiers", "keep").await.unwrap(), bodies[0]);
}

/// SIGKILL while the lifecycle worker moves versions from one tier to another;
/// after the restart (which finishes the moves) every version reads back
/// byte-exact, each from exactly one tier, and no orphan blob is left.
#[tokio::test]
async fn sigkill_during_transitions_leaves_one_readable_copy_and_no_orphan() {
    const N: usize = 40;
    let layout = Layout::new();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let args = layout.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut s = Server::start_in(&data_dir, &args);
    let c = s.client();
    c.create_bucket().bucket("kill-tiers").send().await.unwrap();
    let base = blobs_in(&data_dir).len();
    let bodies: Vec<Vec<u8>> = (0..N).map(|i| pattern(512 * 1024, 100 + i as u64)).collect();
    for (i, b) in bodies.iter().enumerate() {
        put(&c, "kill-tiers", &format!("o/{i:02}"), b, StorageClass::StandardIa).await;
    }
    assert_eq!(blobs_in(&layout.ia).len(), N);
    transition_to_glacier(&c, "kill-tiers", "o/").await;
    // Kill once about half the versions are in `cold`, the rest still in `ia`.
    let start = Instant::now();
    loop {
        let moved = blobs_in(&layout.cold).len();
        if moved >= N / 2 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no transition started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    s.kill();
    let (in_ia, in_cold) = (blobs_in(&layout.ia).len(), blobs_in(&layout.cold).len());
    println!("killed with {in_ia} blobs in ia, {in_cold} in cold");
    assert!(in_ia > 0 && in_cold > 0 && in_cold < N, "the kill landed mid-run");

    s.restart();
    let c = s.client();
    until(
        "every version is in the cold tier, and the ia tier is empty",
        async || blobs_in(&layout.cold).len() == N && blobs_in(&layout.ia).is_empty(),
    )
    .await;
    assert_eq!(blobs_in(&data_dir).len(), base, "nothing left in the data dir");
    for (i, b) in bodies.iter().enumerate() {
        let key = format!("o/{i:02}");
        let head = c.head_object().bucket("kill-tiers").key(&key).send().await.unwrap();
        assert_eq!(head.storage_class(), Some(&StorageClass::Glacier), "{key}");
        restore(&c, "kill-tiers", &key).await;
        assert_eq!(get(&c, "kill-tiers", &key).await.unwrap(), *b, "{key}");
    }
    // Each restore added one copy in the data dir; nothing else appeared.
    assert_eq!(blobs_in(&data_dir).len(), base + N);
    assert_eq!(blobs_in(&layout.cold).len(), N);
}

#[tokio::test]
async fn a_layout_naming_an_undeclared_tier_or_overlapping_dirs_does_not_start() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ferrite"))
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env("FERRITE_ROOT_ACCESS_KEY", common::ACCESS_KEY)
            .env("FERRITE_ROOT_SECRET_KEY", common::SECRET_KEY)
            .output()
            .unwrap()
    };
    let other = tmp.path().join("other");
    let inside = data.join("cold");
    for (args, says) in [
        (vec!["--class-tier", "GLACIER=cold"], "no tier \"cold\" is declared"),
        (vec!["--tier", &format!("cold={}", inside.display())], "overlaps"),
        (
            vec![
                "--tier",
                &format!("a={}", other.display()),
                "--tier",
                &format!("b={}", other.display()),
            ],
            "overlaps",
        ),
        (vec!["--tier", "cold=/x,fast"], "unknown option"),
        (vec!["--class-tier", "COLD=default"], "unknown storage class"),
    ] {
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// A tier dropped from the command line while versions live in it would make them
/// unreadable: the server refuses to start until it is declared again.
#[tokio::test]
async fn a_tier_that_holds_data_cannot_be_dropped_from_the_layout() {
    let layout = Layout::new();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let args = layout.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut s = Server::start_in(&data_dir, &args);
    let c = s.client();
    c.create_bucket().bucket("keep-tier").send().await.unwrap();
    put(&c, "keep-tier", "x", &pattern(100_000, 9), StorageClass::StandardIa).await;
    s.terminate();
    // Without `--tier ia=...` (the cold tier, still declared, holds nothing).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .args(common::meta_flag(&data_dir))
        .args(["--tier", &format!("cold={},compress", layout.cold.display())])
        .env("FERRITE_ROOT_ACCESS_KEY", common::ACCESS_KEY)
        .env("FERRITE_ROOT_SECRET_KEY", common::SECRET_KEY)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("tier \"ia\"") && err.contains("holds 1 blobs"), "{err}");
    // Declared again, the object reads; deleted, the tier can go.
    let mut s = Server::start_in(&data_dir, &args);
    let c = s.client();
    assert_eq!(get(&c, "keep-tier", "x").await.unwrap(), pattern(100_000, 9));
    c.delete_object().bucket("keep-tier").key("x").send().await.unwrap();
    until("the blob is collected", async || blobs_in(&layout.ia).is_empty()).await;
    s.terminate();
    let mut s = Server::start_in(
        &data_dir,
        &["--tier", &format!("cold={},compress", layout.cold.display())],
    );
    assert!(s.running());
}
