//! Fault injection: the model over stores that fail chosen operations (I/O error,
//! disk full, failing fsync, a commit that is durable but reported failed). After
//! every failure nothing partial is visible, acknowledged data is intact, and the
//! model keeps serving once the fault is gone.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use common::{options, root};
use ferrite_model::{
    CompletePart, CompleteRequest, CopyRequest, DeleteRequest, Ferrite, MetadataDirective, ModelError, NewUpload,
    PutAttrs, ReadConditions,
};
use ferrite_store::faults::{FaultKind, Faults, FaultyBlobs, FaultyMeta};
use ferrite_store::{BlobStore, FsBlobStore, MetaStore};
use futures::StreamExt;

async fn open(dir: &std::path::Path, faults: &Arc<Faults>) -> Ferrite {
    // A dropped engine's background pass may hold the store for a moment: the
    // shared retrying open.
    let meta: Arc<dyn MetaStore> = Arc::new(common::open_store(dir).await);
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(dir, false).unwrap());
    Ferrite::open(
        Arc::new(FaultyMeta::new(meta, faults.clone())),
        Arc::new(FaultyBlobs::new(blobs, faults.clone())),
        options(),
    )
    .await
    .unwrap()
}

fn body(data: &[u8]) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + Unpin {
    let chunks: Vec<std::io::Result<Bytes>> = data.chunks(64 * 1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures::stream::iter(chunks)
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn put(m: &Ferrite, key: &str, bytes: &[u8]) -> Result<(), ModelError> {
    let staged = m.stage(body(bytes), None, u64::MAX).await?;
    m.put_staged(&root(), "bkt", key, staged, PutAttrs::default())
        .await
        .map(|_| ())
}

async fn read(m: &Ferrite, key: &str) -> Option<Vec<u8>> {
    match m
        .get_object(&root(), "bkt", key, None, None, &ReadConditions::default())
        .await
    {
        Ok((_, b)) => {
            let mut s = b.into_stream();
            let mut out = Vec::new();
            while let Some(c) = s.next().await {
                out.extend_from_slice(&c.expect("an acknowledged object reads whole"));
            }
            Some(out)
        }
        Err(ModelError::NoSuchKey) => None,
        Err(e) => panic!("reading {key}: {e}"),
    }
}

async fn multipart(m: &Ferrite, key: &str, parts: &[Vec<u8>]) -> Result<(), ModelError> {
    let up = m
        .create_multipart_upload(&root(), "bkt", key, NewUpload::default())
        .await?;
    let mut done = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let staged = m.stage_part(body(p), None).await?;
        let info = m
            .upload_part_staged(&root(), "bkt", key, &up.upload_id, i as u32 + 1, staged)
            .await?;
        done.push(CompletePart {
            part_number: i as u32 + 1,
            etag: info.etag.clone(),
            ..Default::default()
        });
    }
    m.complete_multipart_upload(
        &root(),
        "bkt",
        key,
        &up.upload_id,
        CompleteRequest {
            parts: done,
            ..Default::default()
        },
    )
    .await
    .map(|_| ())
}

/// Defect 12: a write whose commit became durable but reported an error deleted the
/// blob it had landed, leaving the committed record pointing at nothing.
#[tokio::test]
async fn defect12_a_commit_error_after_durability_keeps_the_landed_blob() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::new();
    let m = open(dir.path(), &faults).await;
    m.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    let big = data(300_000, 1);
    faults.commit_then_fail();
    let err = put(&m, "k", &big).await.unwrap_err();
    assert!(matches!(err, ModelError::Internal(_) | ModelError::Store(_)), "{err}");
    assert_eq!(faults.injected(), 1);
    // The commit happened: the object is there, whole.
    assert_eq!(read(&m, "k").await.as_deref(), Some(&big[..]));

    // The same for a part.
    let up = m
        .create_multipart_upload(&root(), "bkt", "mp", NewUpload::default())
        .await
        .unwrap();
    let part = data(200_000, 2);
    let staged = m.stage_part(body(&part), None).await.unwrap();
    faults.commit_then_fail();
    assert!(
        m.upload_part_staged(&root(), "bkt", "mp", &up.upload_id, 1, staged)
            .await
            .is_err()
    );
    let parts = m
        .list_parts(&root(), "bkt", "mp", &up.upload_id, 0, 1000)
        .await
        .unwrap();
    assert_eq!(parts.parts.len(), 1, "the part was committed");
    let etag = parts.parts[0].etag.clone();
    m.complete_multipart_upload(
        &root(),
        "bkt",
        "mp",
        &up.upload_id,
        CompleteRequest {
            parts: vec![CompletePart {
                part_number: 1,
                etag,
                ..Default::default()
            }],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(read(&m, "mp").await.as_deref(), Some(&part[..]));
    // After a collection pass and a restart (orphan sweep), both still read whole.
    m.collect_garbage().await.unwrap();
    drop(m);
    let m = open(dir.path(), &faults).await;
    m.sweep_orphans(std::time::SystemTime::now()).await.unwrap();
    assert_eq!(read(&m, "k").await.as_deref(), Some(&big[..]));
    assert_eq!(read(&m, "mp").await.as_deref(), Some(&part[..]));
}

/// A refused write (its checks failed) still removes the blob it landed at once.
#[tokio::test]
async fn a_refused_write_removes_its_landed_blob() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::new();
    let m = open(dir.path(), &faults).await;
    m.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    put(&m, "k", &data(100_000, 1)).await.unwrap();
    let staged = m.stage(body(&data(100_000, 2)), None, u64::MAX).await.unwrap();
    let attrs = PutAttrs {
        if_none_match: Some("*".into()),
        ..Default::default()
    };
    let err = m.put_staged(&root(), "bkt", "k", staged, attrs).await.unwrap_err();
    assert!(matches!(err, ModelError::PreconditionFailed), "{err}");
    let blobs = count_blobs(dir.path());
    assert_eq!(blobs, 1, "only the first object's blob remains");
}

fn count_blobs(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for shard in std::fs::read_dir(dir.join("blobs")).unwrap() {
        n += std::fs::read_dir(shard.unwrap().path()).unwrap().count();
    }
    n
}

/// Every write kind, with the n-th store operation failing (I/O error or disk full):
/// a failed write leaves the key as it was or (only when the failure came after the
/// commit was durable) as the write made it, never partial; acknowledged writes stay
/// intact; once healed, the model serves again.
#[tokio::test]
async fn every_write_kind_survives_a_failure_at_every_point() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::new();
    let m = open(dir.path(), &faults).await;
    m.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    let mut oracle: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut failures = 0;
    let mut successes = 0;
    let mut storage_full = 0;
    for round in 0..4u8 {
        for n in 1..=8u64 {
            for kind in [FaultKind::Io, FaultKind::DiskFull] {
                for op in 0..5 {
                    let key = format!("k{op}");
                    let seed = round.wrapping_mul(40).wrapping_add(n as u8).wrapping_add(op as u8);
                    let (new, result) = {
                        faults.fail_after(n, kind);
                        let r = match op {
                            0 => {
                                let d = data(1000, seed); // inline
                                (Some(d.clone()), put(&m, &key, &d).await)
                            }
                            1 => {
                                let d = data(150_000, seed); // one blob
                                (Some(d.clone()), put(&m, &key, &d).await)
                            }
                            2 => {
                                let parts = vec![data(5 << 20, seed), data(70_000, seed.wrapping_add(1))];
                                let whole = parts.concat();
                                (Some(whole), multipart(&m, &key, &parts).await)
                            }
                            3 => {
                                let src = oracle.keys().next().cloned();
                                match src {
                                    Some(src) => {
                                        let r = m
                                            .copy_object(
                                                &root(),
                                                CopyRequest {
                                                    src_bucket: "bkt".into(),
                                                    src_key: src.clone(),
                                                    dst_bucket: "bkt".into(),
                                                    dst_key: key.clone(),
                                                    directive: MetadataDirective::Copy,
                                                    src_version: None,
                                                    storage_class: None,
                                                    source_conditions: ReadConditions::default(),
                                                    if_none_match: None,
                                                    if_match: None,
                                                    acl: None,
                                                    encryption: None,
                                                    tagging: Default::default(),
                                                    lock: Default::default(),
                                                },
                                            )
                                            .await
                                            .map(|_| ());
                                        (oracle.get(&src).cloned(), r)
                                    }
                                    None => (None, Ok(())),
                                }
                            }
                            _ => {
                                let r = m
                                    .delete_object(
                                        &root(),
                                        "bkt",
                                        DeleteRequest {
                                            key: "k1".into(),
                                            ..Default::default()
                                        },
                                    )
                                    .await
                                    .map(|_| ());
                                (None, r)
                            }
                        };
                        faults.heal();
                        r
                    };
                    let target = if op == 4 { "k1".to_string() } else { key.clone() };
                    let now = read(&m, &target).await;
                    match result {
                        Ok(()) => {
                            successes += 1;
                            assert_eq!(now, new, "acknowledged write of {target} reads back as written");
                        }
                        Err(e) => {
                            failures += 1;
                            // ENOSPC must surface as such (the API maps it to 503).
                            if kind == FaultKind::DiskFull && e.is_storage_full() {
                                storage_full += 1;
                            }
                            let old = oracle.get(&target).cloned();
                            assert!(
                                now == old || now == new,
                                "after a failed write ({e}), {target} is neither as before nor as written"
                            );
                        }
                    }
                    match now {
                        Some(d) => oracle.insert(target, d),
                        None => oracle.remove(&target),
                    };
                }
            }
        }
        // Every acknowledged (or settled) object is intact.
        for (k, v) in &oracle {
            assert_eq!(read(&m, k).await.as_deref(), Some(&v[..]), "{k}");
        }
    }
    assert!(failures > 50, "only {failures} writes failed");
    assert!(successes > 20, "only {successes} writes succeeded");
    assert!(
        storage_full > 10,
        "only {storage_full} disk-full failures were reported as such"
    );
    // Healed: it serves, and after collection and a restart every object still reads.
    put(&m, "after", b"fine").await.unwrap();
    m.collect_garbage().await.unwrap();
    drop(m);
    let m = open(dir.path(), &faults).await;
    m.sweep_orphans(std::time::SystemTime::now()).await.unwrap();
    for (k, v) in &oracle {
        assert_eq!(read(&m, k).await.as_deref(), Some(&v[..]), "{k} after restart");
    }
    assert_eq!(read(&m, "after").await.as_deref(), Some(&b"fine"[..]));
}

/// A store error inside a multi-object delete (here one delete's write loses a
/// serialization conflict, as PostgreSQL reports under contention) belongs to the
/// whole batch, not to one key: the batch runs again and every key is deleted. Were
/// it one key's answer, the batch would commit what that key's delete half wrote
/// (and on PostgreSQL the COMMIT of the failed transaction is a ROLLBACK of the
/// writes of every other job in the batch).
#[tokio::test]
async fn a_conflict_inside_a_multi_delete_runs_the_batch_again() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::new();
    let m = open(dir.path(), &faults).await;
    m.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    let keys = ["a", "b", "c", "d"];
    for (i, k) in keys.iter().enumerate() {
        // Inline and blob-sized objects: a blob's delete also queues it as garbage.
        let len = if i % 2 == 0 { 1000 } else { 300 * 1024 };
        put(&m, k, &data(len, i as u8)).await.unwrap();
    }
    for n in [2, 3, 5] {
        faults.conflict_at_write(n);
        let reqs = keys
            .iter()
            .map(|k| DeleteRequest {
                key: (*k).into(),
                ..Default::default()
            })
            .collect();
        let results = m.delete_objects(&root(), "bkt", reqs).await.unwrap();
        for (k, r) in keys.iter().zip(results) {
            r.unwrap_or_else(|e| panic!("deleting {k} with a conflict at write {n}: {e}"));
        }
        for k in keys {
            assert_eq!(read(&m, k).await, None, "{k} deleted");
        }
        for (i, k) in keys.iter().enumerate() {
            put(&m, k, &data(1000 + i, n as u8)).await.unwrap();
        }
    }
    assert_eq!(faults.injected(), 3, "every armed conflict was met");
}
