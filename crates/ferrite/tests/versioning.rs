//! Versioning, rollback and conditional writes, driven through the real binary with
//! `aws-sdk-s3`: every rule of the versioning issue, including racing writers.

mod common;

use std::collections::HashSet;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, Delete, MetadataDirective, MfaDelete, ObjectIdentifier, VersioningConfiguration,
};
use common::*;

async fn bucket(c: &Client, name: &str) {
    c.create_bucket().bucket(name).send().await.unwrap();
}

/// PUTs `data`; returns (etag, version id).
async fn put(c: &Client, b: &str, k: &str, data: &[u8]) -> (String, Option<String>) {
    let out = c
        .put_object()
        .bucket(b)
        .key(k)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap();
    (out.e_tag().unwrap().to_string(), out.version_id().map(str::to_string))
}

async fn get_version(c: &Client, b: &str, k: &str, v: Option<&str>) -> Vec<u8> {
    read_all(
        c.get_object()
            .bucket(b)
            .key(k)
            .set_version_id(v.map(str::to_string))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn header<E>(
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    name: &str,
) -> Option<String> {
    err.raw_response()
        .and_then(|r| r.headers().get(name))
        .map(str::to_string)
}

/// (key, version id, is latest, is a delete marker), in the order listed: versions
/// first, then delete markers, as the SDK exposes them.
async fn list_versions(c: &Client, b: &str) -> Vec<(String, String, bool, bool)> {
    let out = c.list_object_versions().bucket(b).send().await.unwrap();
    let mut all: Vec<_> = out
        .versions()
        .iter()
        .map(|v| {
            (
                v.key().unwrap().to_string(),
                v.version_id().unwrap().to_string(),
                v.is_latest().unwrap(),
                false,
            )
        })
        .chain(out.delete_markers().iter().map(|m| {
            (
                m.key().unwrap().to_string(),
                m.version_id().unwrap().to_string(),
                m.is_latest().unwrap(),
                true,
            )
        }))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    all
}

#[tokio::test]
async fn bucket_versioning_configuration() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    let out = c.get_bucket_versioning().bucket("bkt").send().await.unwrap();
    assert_eq!(
        out.status(),
        None,
        "a never-versioned bucket has the empty configuration"
    );
    assert_eq!(out.mfa_delete(), None);

    set_versioning(&c, "bkt", BucketVersioningStatus::Enabled).await;
    let out = c.get_bucket_versioning().bucket("bkt").send().await.unwrap();
    assert_eq!(out.status(), Some(&BucketVersioningStatus::Enabled));
    set_versioning(&c, "bkt", BucketVersioningStatus::Suspended).await;
    let out = c.get_bucket_versioning().bucket("bkt").send().await.unwrap();
    assert_eq!(out.status(), Some(&BucketVersioningStatus::Suspended));

    // MFA delete is refused clearly, and changes nothing.
    let e = c
        .put_bucket_versioning()
        .bucket("bkt")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .mfa_delete(MfaDelete::Enabled)
                .build(),
        )
        .mfa("123456 654321")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotImplemented");
    assert_eq!(status(&e), 501);
    let out = c.get_bucket_versioning().bucket("bkt").send().await.unwrap();
    assert_eq!(out.status(), Some(&BucketVersioningStatus::Suspended));

    // A Status that is neither Enabled nor Suspended.
    let e = c
        .put_bucket_versioning()
        .bucket("bkt")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::from("Disabled"))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 400);
    assert_eq!(code(&e), "IllegalVersioningConfigurationException");

    let e = c.get_bucket_versioning().bucket("missing").send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchBucket");
}

#[tokio::test]
async fn every_write_gets_a_version_and_any_version_is_addressable() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    let (_, none) = put(&c, "bkt", "k", b"before").await;
    assert_eq!(none, None, "no version id before versioning was ever enabled");
    set_versioning(&c, "bkt", BucketVersioningStatus::Enabled).await;

    let mut ids = Vec::new();
    for i in 0..4 {
        let (etag, v) = put(&c, "bkt", "k", format!("body {i}").as_bytes()).await;
        let v = v.expect("PutObject returns x-amz-version-id");
        assert_eq!(etag.trim_matches('"'), md5_hex(format!("body {i}").as_bytes()));
        ids.push(v);
    }
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 4, "ids are unique");
    for pair in ids.windows(2) {
        assert!(pair[1] < pair[0], "newer ids sort first");
    }
    for (i, id) in ids.iter().enumerate() {
        let out = c
            .get_object()
            .bucket("bkt")
            .key("k")
            .version_id(id)
            .send()
            .await
            .unwrap();
        assert_eq!(out.version_id(), Some(id.as_str()));
        assert_eq!(read_all(out).await, format!("body {i}").as_bytes());
        let head = c
            .head_object()
            .bucket("bkt")
            .key("k")
            .version_id(id)
            .send()
            .await
            .unwrap();
        assert_eq!(head.version_id(), Some(id.as_str()));
        assert_eq!(head.content_length(), Some(6));
    }
    // The current version is the newest, and says which it is.
    let out = c.get_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(out.version_id(), Some(ids[3].as_str()));
    // The object written before versioning is the null version.
    let out = c
        .get_object()
        .bucket("bkt")
        .key("k")
        .version_id("null")
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_id(), Some("null"));
    assert_eq!(read_all(out).await, b"before");

    // Unknown id: 404 NoSuchVersion. Malformed id: 400 InvalidArgument.
    let unknown = format!("{}ffffffffffffffff", &ids[0][..16]);
    let e = c
        .get_object()
        .bucket("bkt")
        .key("k")
        .version_id(&unknown)
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (404, "NoSuchVersion"));
    let e = c
        .head_object()
        .bucket("bkt")
        .key("k")
        .version_id(&unknown)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 404);
    let e = c
        .get_object()
        .bucket("bkt")
        .key("k")
        .version_id("bogus/../id")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidArgument"));
    let e = c
        .delete_object()
        .bucket("bkt")
        .key("k")
        .version_id("bogus")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidArgument"));

    // Deleting one version removes it for good; the others stay.
    let out = c
        .delete_object()
        .bucket("bkt")
        .key("k")
        .version_id(&ids[1])
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_id(), Some(ids[1].as_str()));
    assert_eq!(out.delete_marker(), None);
    let e = c
        .get_object()
        .bucket("bkt")
        .key("k")
        .version_id(&ids[1])
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchVersion");
    assert_eq!(list_versions(&c, "bkt").await.len(), 4);
    // Deleting the current version makes the previous one current.
    c.delete_object()
        .bucket("bkt")
        .key("k")
        .version_id(&ids[3])
        .send()
        .await
        .unwrap();
    assert_eq!(get_version(&c, "bkt", "k", None).await, b"body 2");
}

#[tokio::test]
async fn delete_markers() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    set_versioning(&c, "bkt", BucketVersioningStatus::Enabled).await;
    let (_, v1) = put(&c, "bkt", "k", b"one").await;
    let v1 = v1.unwrap();

    let out = c.delete_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(out.delete_marker(), Some(true));
    let marker = out.version_id().unwrap().to_string();
    assert_ne!(marker, v1);

    // GET and HEAD of the key: 404 NoSuchKey, flagged as a delete marker.
    let e = c.get_object().bucket("bkt").key("k").send().await.unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (404, "NoSuchKey"));
    assert_eq!(header(&e, "x-amz-delete-marker").as_deref(), Some("true"));
    assert_eq!(header(&e, "x-amz-version-id").as_deref(), Some(marker.as_str()));
    let e = c.head_object().bucket("bkt").key("k").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(header(&e, "x-amz-delete-marker").as_deref(), Some("true"));

    // GET or HEAD of the marker's own version id: 405 MethodNotAllowed.
    let e = c
        .get_object()
        .bucket("bkt")
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (405, "MethodNotAllowed"));
    assert_eq!(header(&e, "x-amz-delete-marker").as_deref(), Some("true"));
    assert!(header(&e, "last-modified").is_some());
    let e = c
        .head_object()
        .bucket("bkt")
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 405);

    // The old version is still there, and the listings tell the story.
    assert_eq!(get_version(&c, "bkt", "k", Some(&v1)).await, b"one");
    let listed = c.list_objects_v2().bucket("bkt").send().await.unwrap();
    assert!(listed.contents().is_empty(), "ListObjectsV2 hides deleted keys");
    let out = c.list_object_versions().bucket("bkt").send().await.unwrap();
    assert_eq!(out.delete_markers().len(), 1);
    assert_eq!(out.delete_markers()[0].version_id(), Some(marker.as_str()));
    assert_eq!(out.delete_markers()[0].is_latest(), Some(true));
    assert_eq!(out.versions().len(), 1);
    assert_eq!(out.versions()[0].is_latest(), Some(false));

    // Deleting the delete marker makes the previous version current again.
    let out = c
        .delete_object()
        .bucket("bkt")
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap();
    assert_eq!(out.delete_marker(), Some(true), "the version removed was a marker");
    assert_eq!(out.version_id(), Some(marker.as_str()));
    let out = c.get_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(out.version_id(), Some(v1.as_str()));
    assert_eq!(read_all(out).await, b"one");

    // A bucket holding only delete markers is not empty.
    c.delete_object()
        .bucket("bkt")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    c.delete_object().bucket("bkt").key("k").send().await.unwrap();
    let e = c.delete_bucket().bucket("bkt").send().await.unwrap_err();
    assert_eq!(code(&e), "BucketNotEmpty");
}

#[tokio::test]
async fn delete_objects_with_versions() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    set_versioning(&c, "bkt", BucketVersioningStatus::Enabled).await;
    let (_, a1) = put(&c, "bkt", "a", b"a1").await;
    put(&c, "bkt", "a", b"a2").await;
    put(&c, "bkt", "b", b"b1").await;
    let ident = |k: &str, v: Option<&str>| {
        ObjectIdentifier::builder()
            .key(k)
            .set_version_id(v.map(str::to_string))
            .build()
            .unwrap()
    };
    let out = c
        .delete_objects()
        .bucket("bkt")
        .delete(
            Delete::builder()
                .objects(ident("a", a1.as_deref()))
                .objects(ident("b", None))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    let by_key = |k: &str| out.deleted().iter().find(|d| d.key() == Some(k)).unwrap().clone();
    let a = by_key("a");
    assert_eq!(a.version_id(), a1.as_deref());
    assert_eq!(a.delete_marker(), None);
    let b = by_key("b");
    assert_eq!(b.delete_marker(), Some(true));
    let marker = b.delete_marker_version_id().unwrap().to_string();

    // Removing the marker through DeleteObjects reports it as a marker.
    let out = c
        .delete_objects()
        .bucket("bkt")
        .delete(Delete::builder().objects(ident("b", Some(&marker))).build().unwrap())
        .send()
        .await
        .unwrap();
    let d = &out.deleted()[0];
    assert_eq!(d.version_id(), Some(marker.as_str()));
    assert_eq!(d.delete_marker(), Some(true));
    assert_eq!(d.delete_marker_version_id(), Some(marker.as_str()));
    assert_eq!(get_version(&c, "bkt", "b", None).await, b"b1");
    assert_eq!(get_version(&c, "bkt", "a", None).await, b"a2");
}

#[tokio::test]
async fn suspended_buckets_write_null_versions() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    put(&c, "bkt", "k", b"original null").await;
    set_versioning(&c, "bkt", BucketVersioningStatus::Enabled).await;
    let (_, kept) = put(&c, "bkt", "k", b"kept").await;
    let kept = kept.unwrap();
    set_versioning(&c, "bkt", BucketVersioningStatus::Suspended).await;

    // Writes of the null version answer no version id; reads name it `null`.
    let (_, v) = put(&c, "bkt", "k", b"new null").await;
    assert_eq!(v, None);
    let (_, v) = put(&c, "bkt", "k", b"newer null").await;
    assert_eq!(v, None);
    assert_eq!(
        list_versions(&c, "bkt").await,
        [
            ("k".to_string(), kept.clone(), false, false),
            ("k".to_string(), "null".to_string(), true, false)
        ],
        "each null write replaced the previous null version; the enabled-era version stays"
    );
    let out = c.get_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(out.version_id(), Some("null"));
    assert_eq!(read_all(out).await, b"newer null");

    // A delete in a suspended bucket leaves a null delete marker.
    let out = c.delete_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(out.delete_marker(), Some(true));
    assert_eq!(out.version_id(), Some("null"));
    assert_eq!(
        list_versions(&c, "bkt").await,
        [
            ("k".to_string(), kept.clone(), false, false),
            ("k".to_string(), "null".to_string(), true, true)
        ]
    );
    assert_eq!(get_version(&c, "bkt", "k", Some(&kept)).await, b"kept");
}

#[tokio::test]
async fn list_object_versions_paging_prefixes_and_markers() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    set_versioning(&c, "bkt", BucketVersioningStatus::Enabled).await;
    for key in ["dir/a", "dir/b", "top"] {
        for i in 0..3 {
            put(&c, "bkt", key, format!("{key} {i}").as_bytes()).await;
        }
    }
    c.delete_object().bucket("bkt").key("top").send().await.unwrap();
    let everything = list_versions(&c, "bkt").await;
    assert_eq!(everything.len(), 10);

    // Page with max-keys 3: markers chain, versions of a key come newest first.
    let mut seen = Vec::new();
    let mut pages = 0;
    let (mut km, mut vm) = (None::<String>, None::<String>);
    loop {
        let out = c
            .list_object_versions()
            .bucket("bkt")
            .max_keys(3)
            .set_key_marker(km.clone())
            .set_version_id_marker(vm.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        let mut page: Vec<_> = out
            .versions()
            .iter()
            .map(|v| {
                (
                    v.key().unwrap().to_string(),
                    v.version_id().unwrap().to_string(),
                    v.is_latest().unwrap(),
                    false,
                    v.last_modified().unwrap().secs(),
                )
            })
            .chain(out.delete_markers().iter().map(|m| {
                (
                    m.key().unwrap().to_string(),
                    m.version_id().unwrap().to_string(),
                    m.is_latest().unwrap(),
                    true,
                    m.last_modified().unwrap().secs(),
                )
            }))
            .collect();
        assert!(page.len() <= 3);
        page.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        seen.extend(page.into_iter().map(|(k, v, l, d, _)| (k, v, l, d)));
        if !out.is_truncated().unwrap() {
            assert_eq!(out.next_key_marker(), None);
            break;
        }
        km = out.next_key_marker().map(str::to_string);
        vm = out.next_version_id_marker().map(str::to_string);
    }
    assert_eq!(pages, 4);
    seen.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    assert_eq!(seen, everything);
    for key in ["dir/a", "dir/b", "top"] {
        let latest: Vec<_> = seen.iter().filter(|e| e.0 == key && e.2).collect();
        assert_eq!(latest.len(), 1, "exactly one IsLatest for {key}");
        // The latest has the smallest (newest-sorting) id.
        let min = seen.iter().filter(|e| e.0 == key).map(|e| &e.1).min().unwrap();
        assert_eq!(&latest[0].1, min);
    }

    // Delimiter and prefix.
    let out = c
        .list_object_versions()
        .bucket("bkt")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = out.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["dir/"]);
    assert_eq!(out.versions().len() + out.delete_markers().len(), 4);
    let out = c
        .list_object_versions()
        .bucket("bkt")
        .prefix("dir/b")
        .send()
        .await
        .unwrap();
    assert_eq!(out.versions().len(), 3);
    assert!(out.versions().iter().all(|v| v.key() == Some("dir/b")));

    // key-marker alone resumes after all versions of that key.
    let out = c
        .list_object_versions()
        .bucket("bkt")
        .key_marker("dir/b")
        .send()
        .await
        .unwrap();
    assert!(out.versions().iter().all(|v| v.key() == Some("top")));
    assert_eq!(out.versions().len() + out.delete_markers().len(), 4);

    // A version-id marker without a key marker is an error.
    let e = c
        .list_object_versions()
        .bucket("bkt")
        .version_id_marker("null")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidArgument");

    // ListObjects shows only current, non-deleted objects.
    let out = c.list_objects_v2().bucket("bkt").send().await.unwrap();
    let keys: Vec<_> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["dir/a", "dir/b"]);
    let out = c.list_objects().bucket("bkt").send().await.unwrap();
    assert_eq!(out.contents().len(), 2);
}

#[tokio::test]
async fn rollback_by_copying_an_old_version() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    set_versioning(&c, "bkt", BucketVersioningStatus::Enabled).await;
    let old_body = pattern(300_000, 7);
    let (old_etag, old) = put(&c, "bkt", "doc", &old_body).await;
    let old = old.unwrap();
    put(&c, "bkt", "doc", b"a bad edit").await;

    let out = c
        .copy_object()
        .bucket("bkt")
        .key("doc")
        .copy_source(format!("bkt/doc?versionId={old}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.copy_source_version_id(), Some(old.as_str()));
    let new = out.version_id().unwrap().to_string();
    assert_ne!(new, old, "the rollback is a new version");
    assert_eq!(out.copy_object_result().unwrap().e_tag(), Some(old_etag.as_str()));

    let cur = c.get_object().bucket("bkt").key("doc").send().await.unwrap();
    assert_eq!(cur.version_id(), Some(new.as_str()));
    assert_eq!(read_all(cur).await, old_body);
    assert_eq!(list_versions(&c, "bkt").await.len(), 3, "history is kept");

    // Copying a version to another key, and metadata REPLACE on a version.
    let out = c
        .copy_object()
        .bucket("bkt")
        .key("other")
        .copy_source(format!("bkt/doc?versionId={old}"))
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/x-restored")
        .send()
        .await
        .unwrap();
    assert!(out.version_id().is_some());
    let head = c.head_object().bucket("bkt").key("other").send().await.unwrap();
    assert_eq!(head.content_type(), Some("text/x-restored"));

    // A delete marker cannot be a copy source; a deleted key has no current source.
    let marker = c.delete_object().bucket("bkt").key("doc").send().await.unwrap();
    let marker = marker.version_id().unwrap();
    let e = c
        .copy_object()
        .bucket("bkt")
        .key("x")
        .copy_source(format!("bkt/doc?versionId={marker}"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidRequest"));
    let e = c
        .copy_object()
        .bucket("bkt")
        .key("x")
        .copy_source("bkt/doc")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchKey");
    let e = c
        .copy_object()
        .bucket("bkt")
        .key("x")
        .copy_source("bkt/doc?versionId=0000000000000000ffffffffffffffff")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchVersion");
}

#[tokio::test]
async fn concurrent_puts_to_a_versioned_key_keep_every_version() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    set_versioning(&c, "bkt", BucketVersioningStatus::Enabled).await;
    const N: usize = 16;
    let bodies: Vec<Vec<u8>> = (0..N)
        .map(|i| pattern(if i % 2 == 0 { 2_000 } else { 300_000 }, 40 + i as u64))
        .collect();
    let mut tasks = Vec::new();
    for body in bodies.clone() {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let (_, v) = put(&c, "bkt", "hot", &body).await;
            (v.unwrap(), body)
        }));
    }
    let mut written = Vec::new();
    for t in tasks {
        written.push(t.await.unwrap());
    }
    let ids: HashSet<_> = written.iter().map(|(v, _)| v.clone()).collect();
    assert_eq!(ids.len(), N, "every PUT got its own version");
    for (v, body) in &written {
        assert_eq!(
            &get_version(&c, "bkt", "hot", Some(v)).await,
            body,
            "version {v} is complete"
        );
    }
    let listed = list_versions(&c, "bkt").await;
    assert_eq!(listed.len(), N);
    // The newest commit is current: the id that sorts first, flagged IsLatest.
    let newest = written.iter().map(|(v, _)| v).min().unwrap();
    let cur = c.get_object().bucket("bkt").key("hot").send().await.unwrap();
    assert_eq!(cur.version_id(), Some(newest.as_str()));
    let latest: Vec<_> = listed.iter().filter(|e| e.2).collect();
    assert_eq!(latest.len(), 1);
    assert_eq!(&latest[0].1, newest);
}

#[tokio::test]
async fn concurrent_puts_without_versioning_leave_one_object() {
    let s = Server::start();
    let c = s.client();
    for (b, state) in [("plain", None), ("susp", Some(BucketVersioningStatus::Suspended))] {
        bucket(&c, b).await;
        if let Some(st) = state {
            set_versioning(&c, b, st).await;
        }
        let bodies: Vec<Vec<u8>> = (0..12)
            .map(|i| pattern(if i % 2 == 0 { 1_000 } else { 200_000 }, 90 + i))
            .collect();
        let mut tasks = Vec::new();
        for body in bodies.clone() {
            let c = c.clone();
            let b = b.to_string();
            tasks.push(tokio::spawn(async move { put(&c, &b, "hot", &body).await }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let listed = list_versions(&c, b).await;
        assert_eq!(listed.len(), 1, "{b}: exactly one version survives: {listed:?}");
        assert_eq!(listed[0].1, "null");
        let out = c.get_object().bucket(b).key("hot").send().await.unwrap();
        let etag = out.e_tag().unwrap().trim_matches('"').to_string();
        let bytes = read_all(out).await;
        assert_eq!(md5_hex(&bytes), etag);
        assert!(
            bodies.contains(&bytes),
            "{b}: the survivor is one writer's complete body"
        );
    }
    // Every replaced null version's data is freed (only the survivors' blobs remain,
    // and at most one of them is large enough to be a blob).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.blob_files() > 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(TICK).await;
    }
    assert!(s.blob_files() <= 2, "replaced versions' blobs are collected");
}

#[tokio::test]
async fn conditional_puts_and_copies() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    // If-None-Match: * stores only when there is no current object.
    let first = c
        .put_object()
        .bucket("bkt")
        .key("k")
        .if_none_match("*")
        .body(ByteStream::from_static(b"first"))
        .send()
        .await
        .unwrap();
    let e = c
        .put_object()
        .bucket("bkt")
        .key("k")
        .if_none_match("*")
        .body(ByteStream::from_static(b"second"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (412, "PreconditionFailed"));
    // If-None-Match with an ETag: stores only if the current object has another one.
    let e = c
        .put_object()
        .bucket("bkt")
        .key("k")
        .if_none_match(first.e_tag().unwrap())
        .body(ByteStream::from_static(b"second"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (412, "PreconditionFailed"));
    let other = c
        .put_object()
        .bucket("bkt")
        .key("other")
        .if_none_match("\"00000000000000000000000000000000\"")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert!(other.is_ok(), "no current object: an ETag cannot match");
    assert_eq!(get_version(&c, "bkt", "k", None).await, b"first");
    // If-Match: compare-and-swap on the ETag; a missing key is 404.
    let e = c
        .put_object()
        .bucket("bkt")
        .key("k")
        .if_match("\"00000000000000000000000000000000\"")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (412, "PreconditionFailed"));
    c.put_object()
        .bucket("bkt")
        .key("k")
        .if_match(first.e_tag().unwrap())
        .body(ByteStream::from_static(b"swapped"))
        .send()
        .await
        .unwrap();
    let e = c
        .put_object()
        .bucket("bkt")
        .key("nothing-here")
        .if_match(first.e_tag().unwrap())
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (404, "NoSuchKey"));
    assert_eq!(get_version(&c, "bkt", "k", None).await, b"swapped");

    // CopyObject destination conditions.
    put(&c, "bkt", "src", b"source").await;
    let e = c
        .copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/src")
        .if_none_match("*")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (412, "PreconditionFailed"));
    c.copy_object()
        .bucket("bkt")
        .key("fresh")
        .copy_source("bkt/src")
        .if_none_match("*")
        .send()
        .await
        .unwrap();
    let cur = c.head_object().bucket("bkt").key("k").send().await.unwrap();
    let e = c
        .copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/src")
        .if_match("\"00000000000000000000000000000000\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "PreconditionFailed");
    c.copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/src")
        .if_match(cur.e_tag().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(get_version(&c, "bkt", "k", None).await, b"source");
    let e = c
        .copy_object()
        .bucket("bkt")
        .key("absent")
        .copy_source("bkt/src")
        .if_match(cur.e_tag().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (404, "NoSuchKey"));
}

#[tokio::test]
async fn conditional_deletes() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    let (etag, _) = put(&c, "bkt", "k", b"data").await;
    let e = c
        .delete_object()
        .bucket("bkt")
        .key("k")
        .if_match("\"00000000000000000000000000000000\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (412, "PreconditionFailed"));
    assert_eq!(
        get_version(&c, "bkt", "k", None).await,
        b"data",
        "a failed condition deletes nothing"
    );
    c.delete_object()
        .bucket("bkt")
        .key("k")
        .if_match(&etag)
        .send()
        .await
        .unwrap();
    let e = c
        .delete_object()
        .bucket("bkt")
        .key("k")
        .if_match("*")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (404, "NoSuchKey"));

    // DeleteObjects carries the condition per object, as its ETag element.
    put(&c, "bkt", "a", b"a").await;
    put(&c, "bkt", "b", b"b").await;
    let out = c
        .delete_objects()
        .bucket("bkt")
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("a")
                        .e_tag(md5_hex(b"a"))
                        .build()
                        .unwrap(),
                )
                .objects(
                    ObjectIdentifier::builder()
                        .key("b")
                        .e_tag("00000000000000000000000000000000")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 1);
    assert_eq!(out.deleted()[0].key(), Some("a"));
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].code(), Some("PreconditionFailed"));
    assert_eq!(get_version(&c, "bkt", "b", None).await, b"b");
}

/// Racing conditional writers, many rounds: exactly one winner each round, every
/// loser told 412, and the survivor is the winner's complete body.
#[tokio::test]
async fn racing_conditional_writers_have_exactly_one_winner() {
    let s = Server::start();
    let c = s.client();
    const WRITERS: usize = 8;
    const ROUNDS: usize = 12;
    for (b, versioned) in [("plain", false), ("versioned", true)] {
        bucket(&c, b).await;
        if versioned {
            set_versioning(&c, b, BucketVersioningStatus::Enabled).await;
        }
        // If-None-Match: * on a fresh key per round.
        for round in 0..ROUNDS {
            let key = format!("create-{round}");
            let mut tasks = Vec::new();
            for w in 0..WRITERS {
                let (c, b, key) = (c.clone(), b.to_string(), key.clone());
                let body = pattern(if w % 2 == 0 { 500 } else { 100_000 }, (round * 100 + w) as u64);
                tasks.push(tokio::spawn(async move {
                    let r = c
                        .put_object()
                        .bucket(&b)
                        .key(&key)
                        .if_none_match("*")
                        .body(ByteStream::from(body.clone()))
                        .send()
                        .await;
                    (r.map_err(|e| (status(&e), code(&e))), body)
                }));
            }
            let mut winners = Vec::new();
            for t in tasks {
                let (r, body) = t.await.unwrap();
                match r {
                    Ok(_) => winners.push(body),
                    Err(e) => assert_eq!(e, (412, "PreconditionFailed".to_string())),
                }
            }
            assert_eq!(winners.len(), 1, "{b} round {round}: one If-None-Match winner");
            assert_eq!(get_version(&c, b, &key, None).await, winners[0]);
            assert_eq!(list_versions(&c, b).await.iter().filter(|v| v.0 == key).count(), 1);
        }
        // If-Match compare-and-swap: everyone read the same ETag, one may swap it.
        let (mut etag, _) = put(&c, b, "cas", b"start").await;
        for round in 0..ROUNDS {
            let mut tasks = Vec::new();
            for w in 0..WRITERS {
                let (c, b, etag) = (c.clone(), b.to_string(), etag.clone());
                let body = format!("round {round} writer {w}").into_bytes();
                tasks.push(tokio::spawn(async move {
                    let r = c
                        .put_object()
                        .bucket(&b)
                        .key("cas")
                        .if_match(&etag)
                        .body(ByteStream::from(body.clone()))
                        .send()
                        .await;
                    (
                        r.map(|o| o.e_tag().unwrap().to_string())
                            .map_err(|e| (status(&e), code(&e))),
                        body,
                    )
                }));
            }
            let mut winners = Vec::new();
            for t in tasks {
                let (r, body) = t.await.unwrap();
                match r {
                    Ok(new_etag) => winners.push((new_etag, body)),
                    Err(e) => assert_eq!(e, (412, "PreconditionFailed".to_string())),
                }
            }
            assert_eq!(winners.len(), 1, "{b} round {round}: one If-Match winner");
            assert_eq!(get_version(&c, b, "cas", None).await, winners[0].1);
            etag = winners[0].0.clone();
        }
        let cas_versions = list_versions(&c, b).await.iter().filter(|v| v.0 == "cas").count();
        assert_eq!(cas_versions, if versioned { ROUNDS + 1 } else { 1 });

        // Conditional deletes race too: one deleter wins, the rest find no match.
        let (etag, _) = put(&c, b, "del", b"to delete").await;
        let mut tasks = Vec::new();
        for _ in 0..WRITERS {
            let (c, b, etag) = (c.clone(), b.to_string(), etag.clone());
            tasks.push(tokio::spawn(async move {
                c.delete_object()
                    .bucket(&b)
                    .key("del")
                    .if_match(&etag)
                    .send()
                    .await
                    .map_err(|e| (status(&e), code(&e)))
            }));
        }
        let mut won = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => won += 1,
                Err(e) => assert_eq!(e, (404, "NoSuchKey".to_string())),
            }
        }
        assert_eq!(won, 1, "{b}: one conditional delete wins");
        let markers = list_versions(&c, b)
            .await
            .iter()
            .filter(|v| v.0 == "del" && v.3)
            .count();
        assert_eq!(markers, usize::from(versioned), "{b}: one delete marker at most");
    }
}

#[tokio::test]
async fn versions_survive_a_restart() {
    let mut s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    set_versioning(&c, "bkt", BucketVersioningStatus::Enabled).await;
    let (_, v1) = put(&c, "bkt", "k", &pattern(100_000, 1)).await;
    let (_, v2) = put(&c, "bkt", "k", b"small").await;
    let marker = c.delete_object().bucket("bkt").key("k").send().await.unwrap();
    let before = list_versions(&c, "bkt").await;
    s.kill();
    s.restart();
    let c = s.client();
    assert_eq!(list_versions(&c, "bkt").await, before);
    assert_eq!(get_version(&c, "bkt", "k", v1.as_deref()).await, pattern(100_000, 1));
    assert_eq!(get_version(&c, "bkt", "k", v2.as_deref()).await, b"small");
    let e = c.get_object().bucket("bkt").key("k").send().await.unwrap_err();
    assert_eq!(header(&e, "x-amz-version-id").as_deref(), marker.version_id());
    let out = c.get_bucket_versioning().bucket("bkt").send().await.unwrap();
    assert_eq!(out.status(), Some(&BucketVersioningStatus::Enabled));
}
