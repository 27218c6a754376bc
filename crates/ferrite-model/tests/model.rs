//! The object model over the embedded stores: writes, reads, listing, copy, cleanup.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

mod common;

use bytes::Bytes;
use ferrite_model::*;
use futures::TryStreamExt;

fn root() -> Caller {
    Caller::root("0".repeat(64), "root")
}

async fn open(dir: &std::path::Path) -> Ferrite {
    let opts = Options {
        region: "us-east-1".into(),
        durable: true,
        body_idle_timeout: Options::DEFAULT_BODY_IDLE_TIMEOUT,
        meta_cache_bytes: Options::DEFAULT_META_CACHE,
        root_canonical_id: "0".repeat(64),
        lifecycle_day: ferrite_model::DAY,
        restore_delay: std::time::Duration::ZERO,
        tiering: Default::default(),
        console_session_ttl: ferrite_model::Options::DEFAULT_CONSOLE_SESSION_TTL,
        keys: None,
    };
    common::open_engine(dir, opts).await
}

fn body(data: &[u8]) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + Unpin + use<> {
    let chunks: Vec<std::io::Result<Bytes>> = data.chunks(100_000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures::stream::iter(chunks)
}

async fn put(f: &Ferrite, bucket: &str, key: &str, data: &[u8]) -> ObjectInfo {
    let staged = f.stage(body(data), None, MAX_PUT_SIZE).await.unwrap();
    f.put_staged(&root(), bucket, key, staged, PutAttrs::default())
        .await
        .unwrap()
}

async fn read(f: &Ferrite, bucket: &str, key: &str) -> Vec<u8> {
    let (_, body) = f
        .get_object(&root(), bucket, key, None, None, &ReadConditions::default())
        .await
        .unwrap();
    concat(body).await
}

fn del(key: &str) -> DeleteRequest {
    DeleteRequest {
        key: key.into(),
        ..Default::default()
    }
}

async fn concat(body: ObjectBody) -> Vec<u8> {
    let chunks: Vec<Bytes> = body.into_stream().try_collect().await.unwrap();
    chunks.concat()
}

fn blob_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("blobs"))
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn small_and_large_objects_round_trip_and_overwrites_free_space() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    let small = b"hello".to_vec();
    let large: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7) as u8).collect();
    let info = put(&f, "bkt", "small", &small).await;
    assert_eq!(info.etag, "5d41402abc4b2a76b9719d911017c592");
    put(&f, "bkt", "large", &large).await;
    assert_eq!(read(&f, "bkt", "small").await, small);
    assert_eq!(read(&f, "bkt", "large").await, large);
    assert_eq!(
        blob_files(dir.path()),
        1,
        "small objects live inline, large ones in a blob"
    );

    // Overwrite the large object with a small one: the old blob is collected.
    put(&f, "bkt", "large", b"now small").await;
    f.collect_garbage().await.unwrap();
    assert_eq!(blob_files(dir.path()), 0);
    assert_eq!(read(&f, "bkt", "large").await, b"now small");

    // Ranges.
    let (_, b) = f
        .get_object(
            &root(),
            "bkt",
            "small",
            None,
            Some(Slice::Range(ByteRange::Suffix { len: 3 })),
            &ReadConditions::default(),
        )
        .await
        .unwrap();
    assert_eq!(concat(b).await, b"llo");
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_mismatch_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    put(&f, "bkt", "k", b"original").await;
    let data = vec![1u8; 2_000_000];
    let staged = f
        .stage(body(&data), Some(ChecksumAlgorithm::Crc32), MAX_PUT_SIZE)
        .await
        .unwrap();
    let wrong = ChecksumValue::parse(ChecksumAlgorithm::Crc32, "AAAAAA==").unwrap();
    let err = staged
        .verify(&Expected {
            checksum: Some(wrong),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, ModelError::BadDigest(_)));
    drop(staged);
    assert_eq!(read(&f, "bkt", "k").await, b"original");
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0,
        "the staged body is discarded"
    );
    assert_eq!(blob_files(dir.path()), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn too_large_bodies_are_refused_while_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    let err = f.stage(body(&[0u8; 1000]), None, 999).await.err().unwrap();
    assert!(matches!(err, ModelError::EntityTooLarge));
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_with_prefix_delimiter_and_pages_matches_an_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    let keys = [
        "a", "a/1", "a/2", "a/b/3", "b", "b/1", "c/1/2", "c/2", "d", "\u{e9}", "a+b", "a b",
    ];
    for k in keys {
        put(&f, "bkt", k, k.as_bytes()).await;
    }
    let sorted: BTreeSet<&str> = keys.into_iter().collect();

    // Page through everything one key at a time.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let q = ListQuery {
            max_keys: 1,
            start_after: after.clone(),
            ..Default::default()
        };
        let page = f.list_objects(&root(), "bkt", q).await.unwrap();
        seen.extend(page.objects.iter().map(|o| o.key.clone()));
        if !page.is_truncated {
            break;
        }
        after = page.next_marker;
    }
    assert_eq!(seen, sorted.iter().map(|s| s.to_string()).collect::<Vec<_>>());

    // Delimiter roll-up, paged two entries at a time.
    let mut objects = Vec::new();
    let mut prefixes = Vec::new();
    let mut after = None;
    loop {
        let q = ListQuery {
            delimiter: Some("/".into()),
            max_keys: 2,
            start_after: after.clone(),
            ..Default::default()
        };
        let page = f.list_objects(&root(), "bkt", q).await.unwrap();
        objects.extend(page.objects.iter().map(|o| o.key.clone()));
        prefixes.extend(page.common_prefixes.clone());
        if !page.is_truncated {
            break;
        }
        after = page.next_marker;
    }
    assert_eq!(objects, ["a", "a b", "a+b", "b", "d", "\u{e9}"]);
    assert_eq!(prefixes, ["a/", "b/", "c/"]);

    let q = ListQuery {
        prefix: "a/".into(),
        delimiter: Some("/".into()),
        max_keys: 1000,
        ..Default::default()
    };
    let page = f.list_objects(&root(), "bkt", q).await.unwrap();
    assert_eq!(
        page.objects.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        ["a/1", "a/2"]
    );
    assert_eq!(page.common_prefixes, ["a/b/"]);
    assert!(!page.is_truncated);
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_shares_data_and_self_copy_rules() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    let data = vec![9u8; 200_000];
    put(&f, "bkt", "src", &data).await;
    let copy = |dst: &str, directive| CopyRequest {
        src_bucket: "bkt".into(),
        src_key: "src".into(),
        src_version: None,
        dst_bucket: "bkt".into(),
        dst_key: dst.into(),
        directive,
        storage_class: None,
        source_conditions: ReadConditions::default(),
        if_none_match: None,
        if_match: None,
        acl: None,
        encryption: None,
        tagging: Default::default(),
        lock: Default::default(),
    };
    f.copy_object(&root(), copy("dst", MetadataDirective::Copy))
        .await
        .unwrap();
    assert_eq!(blob_files(dir.path()), 1, "a copy shares the source's blob");
    let err = f
        .copy_object(&root(), copy("src", MetadataDirective::Copy))
        .await
        .unwrap_err();
    assert!(matches!(err, ModelError::CopyToSelfUnchanged));
    let attrs = ObjectAttrs {
        content_type: Some("text/x".into()),
        ..Default::default()
    };
    let info = f
        .copy_object(&root(), copy("src", MetadataDirective::Replace(attrs)))
        .await
        .unwrap();
    assert_eq!(info.info.attrs.content_type.as_deref(), Some("text/x"));
    // Delete the source: the copy still reads, the blob is kept until the last reference goes.
    f.delete_object(&root(), "bkt", del("src")).await.unwrap();
    f.collect_garbage().await.unwrap();
    assert_eq!(read(&f, "bkt", "dst").await, data);
    f.delete_object(&root(), "bkt", del("dst")).await.unwrap();
    f.collect_garbage().await.unwrap();
    assert_eq!(blob_files(dir.path()), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn buckets_and_format_version() {
    let dir = tempfile::tempdir().unwrap();
    {
        let f = open(dir.path()).await;
        f.create_bucket(&root(), "one", Default::default()).await.unwrap();
        // us-east-1: re-creating your own bucket succeeds and changes nothing.
        assert_eq!(
            f.create_bucket(&root(), "one", Default::default()).await.unwrap(),
            f.head_bucket(&root(), "one").await.unwrap()
        );
        assert!(matches!(
            f.create_bucket(&root(), "Bad_Name", Default::default()).await,
            Err(ModelError::InvalidBucketName(_))
        ));
        assert!(matches!(
            f.create_bucket(
                &root(),
                "two",
                ferrite_model::NewBucket {
                    location: Some("eu-west-1".into()),
                    ..Default::default()
                }
            )
            .await,
            Err(ModelError::InvalidLocationConstraint(_))
        ));
        put(&f, "one", "k", b"v").await;
        assert!(matches!(
            f.delete_bucket(&root(), "one").await,
            Err(ModelError::BucketNotEmpty)
        ));
        f.delete_object(&root(), "one", del("k")).await.unwrap();
        f.delete_bucket(&root(), "one").await.unwrap();
        assert!(matches!(
            f.head_bucket(&root(), "one").await,
            Err(ModelError::NoSuchBucket)
        ));
        f.create_bucket(&root(), "one", Default::default()).await.unwrap();
        assert!(
            f.list_objects(
                &root(),
                "one",
                ListQuery {
                    max_keys: 10,
                    ..Default::default()
                }
            )
            .await
            .unwrap()
            .objects
            .is_empty()
        );
        let (names, more) = f.list_buckets(&root(), None, None, 10).await.unwrap();
        assert_eq!(names.len(), 1);
        assert!(!more);
    }
    // Reopening the same directory works and keeps data.
    let f = open(dir.path()).await;
    assert!(f.head_bucket(&root(), "one").await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn orphans_and_temp_files_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    {
        let f = open(dir.path()).await;
        f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
        put(&f, "bkt", "kept", &vec![1u8; 100_000]).await;
    }
    // Simulate a crash after a blob was made durable but before its commit, and one mid-write.
    std::fs::write(dir.path().join("blobs/ab/abababababababababababababababab"), b"orphan").unwrap();
    std::fs::write(dir.path().join("tmp/cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"), b"partial").unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let f = open(dir.path()).await;
    assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    // The start-up sweep runs in the background: wait for it.
    for _ in 0..200 {
        if blob_files(dir.path()) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        blob_files(dir.path()),
        1,
        "the orphan is swept, the referenced blob kept"
    );
    assert!(!dir.path().join("blobs/ab/abababababababababababababababab").exists());
    assert_eq!(
        f.sweep_orphans(SystemTime::now()).await.unwrap(),
        0,
        "nothing left to sweep"
    );
    assert_eq!(read(&f, "bkt", "kept").await, vec![1u8; 100_000]);
}
