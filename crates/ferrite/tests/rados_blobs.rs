//! `ferrite serve --meta postgres://... --blobs rados:...`: gateways that share their
//! metadata (PostgreSQL) and their object data (one Ceph RADOS pool). Run by
//! `scripts/rados-tests.sh`, which starts a throwaway cluster and sets `CEPH_CONF`;
//! without one the tests are skipped with a note (unless FERRITE_REQUIRE_RADOS=1).
#![cfg(feature = "rados")]

mod common;

use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use common::{Server, pattern, read_all};
use ferrite_store::pg_testing::TestPostgres;

/// The test cluster's ceph.conf, or `None` (skipped) where there is none.
fn ceph_conf() -> Option<String> {
    match std::env::var("CEPH_CONF").ok().filter(|c| !c.is_empty()) {
        Some(c) => Some(c),
        None => {
            assert!(
                std::env::var_os("FERRITE_REQUIRE_RADOS").is_none_or(|v| v != "1"),
                "FERRITE_REQUIRE_RADOS=1 but no CEPH_CONF"
            );
            eprintln!("SKIPPED: no CEPH_CONF (scripts/rados-tests.sh starts a throwaway Ceph cluster)");
            None
        }
    }
}

/// A new pool of its own (size 3, min_size 2, as the cluster's defaults), so that
/// each test pairs its own pool with its own database.
fn fresh_pool(conf: &str) -> String {
    let name = format!("ferrite-t-{}", hex_id());
    for args in [
        vec!["osd", "pool", "create", &name, "8", "8", "replicated"],
        vec!["osd", "pool", "application", "enable", &name, "rados"],
    ] {
        let out = Command::new("ceph").arg("-c").arg(conf).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "ceph {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    name
}

fn hex_id() -> String {
    common::hex_encode(&rand::random::<[u8; 4]>())
}

/// RADOS objects of `pool` (names).
fn rados_objects(conf: &str, pool: &str) -> Vec<String> {
    let out = Command::new("rados")
        .args(["-c", conf, "-p", pool, "ls"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A gateway over `meta` and `blobs` with the master key in `key`: gateways that share
/// the stores share the key.
fn gateway(dir: &std::path::Path, meta: &str, blobs: &str, key: &std::path::Path) -> Server {
    let key = key.to_str().unwrap();
    Server::start_in(dir, &["--meta", meta, "--blobs", blobs, "--kms-master-key-file", key])
}

/// Two gateways with data dirs of their own, one database, one pool: what one writes
/// the other reads (single PUT over several segments, small objects, multipart), a
/// delete through one is seen by the other, nothing of the data is in the data dirs,
/// and a restarted gateway reads everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_objects_in_rados() {
    let Some(conf) = ceph_conf() else { return };
    let Some(pg) = TestPostgres::start() else { return };
    let (url, pool) = (pg.database(), fresh_pool(&conf));
    let blobs = format!("rados:pool={pool},conf={conf}");
    let dir = tempfile::tempdir().unwrap();
    let mut a = Server::start_in(&dir.path().join("a"), &["--meta", &url, "--blobs", &blobs]);
    // Gateways that share a store share the master key (generated into A's data dir).
    let key = dir.path().join("a").join("master.key");
    let b = gateway(&dir.path().join("b"), &url, &blobs, &key);
    let (ca, cb) = (a.client(), b.client());
    ca.create_bucket().bucket("shared").send().await.unwrap();
    let big = pattern(10 << 20, 5);
    ca.put_object()
        .bucket("shared")
        .key("big")
        .body(ByteStream::from(big.clone()))
        .send()
        .await
        .unwrap();
    cb.put_object()
        .bucket("shared")
        .key("small")
        .body(ByteStream::from_static(b"tiny"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        read_all(cb.get_object().bucket("shared").key("big").send().await.unwrap()).await,
        big
    );
    let range = cb
        .get_object()
        .bucket("shared")
        .key("big")
        .range("bytes=4194300-4194310")
        .send()
        .await
        .unwrap();
    assert_eq!(
        read_all(range).await,
        &big[4_194_300..=4_194_310],
        "a range across a segment edge"
    );
    assert_eq!(
        read_all(ca.get_object().bucket("shared").key("small").send().await.unwrap()).await,
        b"tiny"
    );

    // Multipart through B, read through A.
    let parts = [pattern(5 << 20, 1), pattern(1 << 20, 2)];
    common::multipart_put(&cb, "shared", "mp", &parts).await;
    let whole: Vec<u8> = parts.concat();
    assert_eq!(
        read_all(ca.get_object().bucket("shared").key("mp").send().await.unwrap()).await,
        whole
    );

    // Data lives in the pool, not in the data dirs.
    assert_eq!(a.blob_files() + b.blob_files(), 0);
    let objects = rados_objects(&conf, &pool);
    assert!(objects.iter().filter(|o| o.len() == 32).count() >= 2, "{objects:?}");

    // A delete through A is seen by B; its blob goes (the collector runs on A).
    ca.delete_object().bucket("shared").key("big").send().await.unwrap();
    let err = cb.get_object().bucket("shared").key("big").send().await.unwrap_err();
    assert_eq!(common::code(&err), "NoSuchKey");

    // A restarted gateway reads everything.
    assert!(a.terminate().success());
    a.restart();
    let ca = a.client();
    assert_eq!(
        read_all(ca.get_object().bucket("shared").key("mp").send().await.unwrap()).await,
        whole
    );
    let keys: Vec<String> = ca
        .list_objects_v2()
        .bucket("shared")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert_eq!(keys, ["mp", "small"]);
}

/// Three gateways started at the same moment on a new database and a new pool (as a
/// cluster's first start does) all start, and share one pairing: each agrees on the
/// pool's id in the database before the pool claims it, and each store write they
/// make before serving is retried when PostgreSQL aborts it for a concurrent one.
/// Several rounds: before this was so, about one start in six failed ("the metadata
/// store has no objects of it", "transaction conflict", "type already exists").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_starting_together_on_new_stores_all_start() {
    use base64::Engine;
    let Some(conf) = ceph_conf() else { return };
    let Some(pg) = TestPostgres::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    let secret: [u8; 32] = rand::random();
    std::fs::write(&key, base64::engine::general_purpose::STANDARD.encode(secret)).unwrap();
    for round in 0..5 {
        let (url, pool) = (pg.database(), fresh_pool(&conf));
        let blobs = format!("rados:pool={pool},conf={conf}");
        let gateways: Vec<Server> = std::thread::scope(|s| {
            let starts: Vec<_> = (0..3)
                .map(|i| {
                    let dir = dir.path().join(format!("r{round}-g{i}"));
                    let (url, blobs, key) = (&url, &blobs, &key);
                    s.spawn(move || gateway(&dir, url, blobs, key))
                })
                .collect();
            starts
                .into_iter()
                .map(|g| g.join().expect("every gateway starts"))
                .collect()
        });
        // One pairing: the pool's id is the database's.
        let held = Command::new("rados")
            .args(["-c", &conf, "-p", &pool, "get", "ferrite.pairing", "-"])
            .output()
            .unwrap();
        assert!(held.status.success(), "the pool holds its pairing");
        let held = String::from_utf8(held.stdout).unwrap();
        let in_db = Command::new("psql")
            .args([
                url.as_str(),
                "-Atqc",
                "SELECT convert_from(k, 'UTF8') || '=' || convert_from(v, 'UTF8') FROM ferrite_kv \
                 WHERE tbl = 'system' AND k IN ('blob_store_id'::bytea, 'blob_store_id.pending'::bytea)",
            ])
            .output()
            .unwrap();
        assert!(in_db.status.success(), "{}", String::from_utf8_lossy(&in_db.stderr));
        assert_eq!(
            String::from_utf8(in_db.stdout).unwrap().trim(),
            format!("blob_store_id={}", held.trim()),
            "the database holds the pool's id, and no pairing is left pending"
        );
        // And they serve one another's writes.
        let first = gateways[0].client();
        first.create_bucket().bucket("together").send().await.unwrap();
        for (i, g) in gateways.iter().enumerate() {
            g.client()
                .put_object()
                .bucket("together")
                .key(format!("k{i}"))
                .body(ByteStream::from(vec![i as u8; 10]))
                .send()
                .await
                .unwrap();
        }
        for i in 0..3 {
            let got = gateways[2 - i]
                .client()
                .get_object()
                .bucket("together")
                .key(format!("k{i}"))
                .send()
                .await
                .unwrap();
            assert_eq!(read_all(got).await, vec![i as u8; 10]);
        }
    }
}

/// A pool paired with one database is refused with another (its collector would
/// delete the first one's data); the refusal changes nothing.
#[tokio::test]
async fn a_pool_of_another_database_is_refused() {
    let Some(conf) = ceph_conf() else { return };
    let Some(pg) = TestPostgres::start() else { return };
    let pool = fresh_pool(&conf);
    let blobs = format!("rados:pool={pool},conf={conf}");
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (pg.database(), pg.database());
    let s = Server::start_in(&dir.path().join("a"), &["--meta", &first, "--blobs", &blobs]);
    s.client().create_bucket().bucket("first").send().await.unwrap();
    s.client()
        .put_object()
        .bucket("first")
        .key("k")
        .body(ByteStream::from(pattern(100_000, 3)))
        .send()
        .await
        .unwrap();
    drop(s);
    let out = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("b"))
        .args(["--meta", &second, "--blobs", &blobs])
        .env("FERRITE_ROOT_ACCESS_KEY", common::ACCESS_KEY)
        .env("FERRITE_ROOT_SECRET_KEY", common::SECRET_KEY)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("the blob store is blob store"), "{err}");
    let s = Server::start_in(&dir.path().join("a"), &["--meta", &first, "--blobs", &blobs]);
    let got = read_all(s.client().get_object().bucket("first").key("k").send().await.unwrap()).await;
    assert_eq!(got, pattern(100_000, 3));
}

/// Gateways sharing a database and a pool must share the master key: one with a key
/// of its own (each data dir generates one) refuses to start and says why, rather
/// than serve while unable to read what the others encrypt; with the first gateway's
/// key it starts and reads an SSE-S3 object written through the first.
#[tokio::test]
async fn gateways_sharing_the_stores_need_the_same_master_key() {
    let Some(conf) = ceph_conf() else { return };
    let Some(pg) = TestPostgres::start() else { return };
    let (url, pool) = (pg.database(), fresh_pool(&conf));
    let blobs = format!("rados:pool={pool},conf={conf}");
    let dir = tempfile::tempdir().unwrap();
    let a = Server::start_in(&dir.path().join("a"), &["--meta", &url, "--blobs", &blobs]);
    let ca = a.client();
    ca.create_bucket().bucket("sealed").send().await.unwrap();
    ca.put_object()
        .bucket("sealed")
        .key("k")
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .body(ByteStream::from_static(b"secret bytes"))
        .send()
        .await
        .unwrap();

    let (listened, log) = common::serve_once(&dir.path().join("b"), &["--meta", &url, "--blobs", &blobs], "warn");
    assert!(!listened, "a gateway with a master key of its own started: {log}");
    assert!(log.contains("need the same master key"), "{log}");

    let key = dir.path().join("a").join("master.key");
    let b = gateway(&dir.path().join("b2"), &url, &blobs, &key);
    let got = b.client().get_object().bucket("sealed").key("k").send().await.unwrap();
    assert_eq!(read_all(got).await, b"secret bytes");
}

/// Without the feature's cluster settings the flags fail clearly.
#[test]
fn bad_blob_settings_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (vec!["--blobs", "rados:pool=x"], "needs --meta"),
        (
            vec!["--meta", "postgres://u@127.0.0.1:1/db", "--blobs", "s3:bucket"],
            "unknown --blobs",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ferrite"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(&args)
            .env("FERRITE_ROOT_ACCESS_KEY", common::ACCESS_KEY)
            .env("FERRITE_ROOT_SECRET_KEY", common::SECRET_KEY)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// `ferrite migrate --blobs rados:...`: an embedded store's objects, copied into a
/// database and a pool, read back through a gateway on them.
#[tokio::test]
async fn migrate_into_postgres_and_rados() {
    let Some(conf) = ceph_conf() else { return };
    let Some(pg) = TestPostgres::start() else { return };
    let (url, pool) = (pg.database(), fresh_pool(&conf));
    let blobs = format!("rados:pool={pool},conf={conf}");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let mut s = Server::start_in(&src, &[]);
    let c = s.client();
    c.create_bucket().bucket("to-rados").send().await.unwrap();
    for (k, len) in [("small", 10), ("mid", 300_000), ("big", 9 << 20)] {
        c.put_object()
            .bucket("to-rados")
            .key(k)
            .body(ByteStream::from(pattern(len, len as u64)))
            .send()
            .await
            .unwrap();
    }
    assert!(s.terminate().success());
    let out = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args([
            "migrate",
            "--from",
            src.to_str().unwrap(),
            "--meta",
            &url,
            "--blobs",
            &blobs,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("blobs 2/2"));
    let master = src.join("master.key");
    let g = gateway(&dir.path().join("gw"), &url, &blobs, &master);
    for (k, len) in [("small", 10), ("mid", 300_000), ("big", 9 << 20)] {
        let got = read_all(g.client().get_object().bucket("to-rados").key(k).send().await.unwrap()).await;
        assert_eq!(got, pattern(len, len as u64), "{k}");
    }
    assert_eq!(g.blob_files(), 0);
}
