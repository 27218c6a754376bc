//! Per-bucket usage counters: after every kind of write they equal what a full
//! listing of the bucket counts, they survive a restart, and an older data directory
//! gets them counted once when it is upgraded.

use std::ops::Bound;

mod common;

use bytes::Bytes;
use common::{open_store, options, root};
use ferrite_model::*;
use ferrite_store::{MetaStore, Table};

// The model's tables, by the names it stores them under (to rewrite a data dir into an
// older format).
const BUCKET_STATS: Table = Table::new("bucket_stats");
const SYSTEM: Table = Table::new("system");
use rand::{Rng, SeedableRng};

async fn stage(f: &Ferrite, data: Vec<u8>) -> Staged {
    let chunks = vec![Ok::<_, std::io::Error>(Bytes::from(data))];
    f.stage(futures::stream::iter(chunks), None, MAX_PUT_SIZE)
        .await
        .unwrap()
}

/// What a full ListObjectVersions of `bucket` counts, independent of the counters.
async fn counted(f: &Ferrite, bucket: &str) -> BucketUsage {
    let mut usage = BucketUsage::default();
    let mut q = VersionQuery {
        max_keys: 7,
        ..Default::default()
    };
    loop {
        let page = f.list_object_versions(&root(), bucket, q.clone()).await.unwrap();
        for v in &page.versions {
            if v.delete_marker {
                usage.delete_markers += 1;
                continue;
            }
            usage.versions += 1;
            usage.version_bytes += v.size;
            if v.is_latest {
                usage.objects += 1;
                usage.object_bytes += v.size;
            }
        }
        if !page.is_truncated {
            return usage;
        }
        q.key_marker = page.next_key_marker;
        q.version_id_marker = page.next_version_id_marker;
    }
}

async fn usage_of(f: &Ferrite, bucket: &str) -> Option<BucketUsage> {
    f.bucket_usage()
        .await
        .unwrap()
        .into_iter()
        .find(|(name, _)| name == bucket)
        .map(|(_, u)| u)
}

/// One random write: put, copy, multipart, delete (a marker or a version), or a
/// versioning change. Refused writes (no such key, ...) are fine: they must change nothing.
async fn random_write(f: &Ferrite, rng: &mut rand::rngs::StdRng) {
    let key = format!("k{}", rng.random_range(0..6));
    match rng.random_range(0..100) {
        0..35 => {
            let data = vec![b'x'; rng.random_range(0..3000)];
            let staged = stage(f, data).await;
            f.put_staged(&root(), "bkt", &key, staged, PutAttrs::default())
                .await
                .unwrap();
        }
        35..45 => {
            let req = CopyRequest {
                src_bucket: "bkt".into(),
                src_key: format!("k{}", rng.random_range(0..6)),
                src_version: None,
                dst_bucket: "bkt".into(),
                dst_key: key,
                directive: MetadataDirective::Replace(ObjectAttrs::default()),
                storage_class: None,
                source_conditions: ReadConditions::default(),
                if_none_match: None,
                if_match: None,
                acl: None,
                encryption: None,
                tagging: Default::default(),
                lock: Default::default(),
            };
            let _ = f.copy_object(&root(), req).await;
        }
        45..52 => {
            let up = f
                .create_multipart_upload(&root(), "bkt", &key, NewUpload::default())
                .await
                .unwrap();
            let data = vec![b'm'; rng.random_range(1..5000)];
            let body = futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(data))]);
            let staged = f.stage_part(body, None).await.unwrap();
            let part = f
                .upload_part_staged(&root(), "bkt", &key, &up.upload_id, 1, staged)
                .await
                .unwrap();
            let req = CompleteRequest {
                parts: vec![CompletePart {
                    part_number: 1,
                    etag: part.etag,
                    checksum: None,
                }],
                ..Default::default()
            };
            f.complete_multipart_upload(&root(), "bkt", &key, &up.upload_id, req)
                .await
                .unwrap();
        }
        52..72 => {
            let req = DeleteRequest {
                key,
                ..Default::default()
            };
            let _ = f.delete_object(&root(), "bkt", req).await;
        }
        72..92 => {
            // Delete one named version (perhaps a marker, perhaps the current one).
            let q = VersionQuery {
                prefix: key.clone(),
                max_keys: 1000,
                ..Default::default()
            };
            let page = f.list_object_versions(&root(), "bkt", q).await.unwrap();
            let mine: Vec<_> = page.versions.iter().filter(|v| v.key == key).collect();
            if !mine.is_empty() {
                let v = mine[rng.random_range(0..mine.len())];
                let req = DeleteRequest {
                    key,
                    version_id: Some(v.version_id.clone()),
                    if_match: None,
                    bypass_governance: false,
                };
                f.delete_object(&root(), "bkt", req).await.unwrap();
            }
        }
        _ => {
            let state = if rng.random_bool(0.6) {
                VersioningState::Enabled
            } else {
                VersioningState::Suspended
            };
            f.set_bucket_versioning(&root(), "bkt", state).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn counters_match_a_full_listing_after_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let f = Ferrite::open_local(dir.path(), options()).await.unwrap();
    f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    f.create_bucket(&root(), "other", Default::default()).await.unwrap();
    assert_eq!(usage_of(&f, "bkt").await, Some(BucketUsage::default()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut saw_noncurrent = false;
    for step in 0..400 {
        random_write(&f, &mut rng).await;
        let expected = counted(&f, "bkt").await;
        assert_eq!(usage_of(&f, "bkt").await, Some(expected), "after write {step}");
        saw_noncurrent |= expected.versions > expected.objects && expected.delete_markers > 0;
    }
    assert!(saw_noncurrent, "the sequence exercised noncurrent versions and markers");
    // Other buckets are untouched.
    assert_eq!(usage_of(&f, "other").await, Some(BucketUsage::default()));

    // Concurrent writes in one group commit each count once.
    f.set_bucket_versioning(&root(), "bkt", VersioningState::Enabled)
        .await
        .unwrap();
    let before = counted(&f, "bkt").await;
    let mut tasks = Vec::new();
    for i in 0..32 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let staged = stage(&f, vec![1; 100]).await;
            f.put_staged(&root(), "bkt", &format!("c{}", i % 3), staged, PutAttrs::default())
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let after = usage_of(&f, "bkt").await.unwrap();
    assert_eq!(after, counted(&f, "bkt").await);
    assert_eq!(after.versions, before.versions + 32);
    assert_eq!(after.version_bytes, before.version_bytes + 3200);

    // The counters are stored: a restart reads the same values.
    drop(f);
    let f = reopen(dir.path()).await;
    assert_eq!(usage_of(&f, "bkt").await, Some(after));

    // Emptied and deleted, the bucket leaves no counters behind.
    f.create_bucket(&root(), "gone", Default::default()).await.unwrap();
    let staged = stage(&f, b"abc".to_vec()).await;
    f.put_staged(&root(), "gone", "k", staged, PutAttrs::default())
        .await
        .unwrap();
    let one = usage_of(&f, "gone").await.unwrap();
    assert_eq!((one.objects, one.object_bytes, one.versions), (1, 3, 1));
    f.delete_object(
        &root(),
        "gone",
        DeleteRequest {
            key: "k".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(usage_of(&f, "gone").await, Some(BucketUsage::default()));
    f.delete_bucket(&root(), "gone").await.unwrap();
    assert_eq!(usage_of(&f, "gone").await, None);
}

async fn reopen(dir: &std::path::Path) -> Ferrite {
    common::open_engine(dir, options()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn format_2_directories_get_their_counters_counted() {
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let f = Ferrite::open_local(dir.path(), options()).await.unwrap();
        f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
        f.create_bucket(&root(), "empty", Default::default()).await.unwrap();
        f.set_bucket_versioning(&root(), "bkt", VersioningState::Enabled)
            .await
            .unwrap();
        for (i, key) in ["a", "b", "a", "c", "a"].iter().enumerate() {
            let staged = stage(&f, vec![b'z'; 10 * (i + 1)]).await;
            f.put_staged(&root(), "bkt", key, staged, PutAttrs::default())
                .await
                .unwrap();
        }
        let req = DeleteRequest {
            key: "b".into(),
            ..Default::default()
        };
        f.delete_object(&root(), "bkt", req).await.unwrap();
        let expected = counted(&f, "bkt").await;
        assert_eq!(
            expected,
            BucketUsage {
                objects: 2,
                object_bytes: 50 + 40,
                versions: 5,
                version_bytes: 150,
                delete_markers: 1,
            }
        );
        expected
    };
    // Turn the directory back into format 2: no counters.
    {
        let meta = open_store(dir.path()).await;
        let mut w = meta.begin_write().unwrap();
        let rows = w
            .range(BUCKET_STATS, Bound::Unbounded, Bound::Unbounded, usize::MAX)
            .unwrap();
        assert!(!rows.is_empty());
        for (k, _) in rows {
            w.delete(BUCKET_STATS, &k).unwrap();
        }
        w.put(SYSTEM, b"format_version", &2u32.to_be_bytes()).unwrap();
        w.commit().unwrap();
    }
    let f = reopen(dir.path()).await;
    assert_eq!(usage_of(&f, "bkt").await, Some(expected));
    assert_eq!(usage_of(&f, "empty").await, Some(BucketUsage::default()));
}
