//! The caller in every operation: owners come from the caller and are stored per
//! bucket, version, delete marker and upload; listings return the stored owner; the
//! one access check refuses what the caller may not touch.

mod common;

use bytes::Bytes;
use common::{options, root};
use ferrite_model::*;

fn user(id: char, name: &str) -> Caller {
    Caller::new(Principal::User {
        canonical_id: id.to_string().repeat(64),
        display_name: name.into(),
        access_key_id: format!("AK{name}"),
        user_id: format!("AIDA{name}"),
    })
}

fn body(data: &'static [u8]) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + Unpin + use<> {
    futures::stream::iter(vec![Ok(Bytes::from_static(data))])
}

async fn put(f: &Ferrite, caller: &Caller, bucket: &str, key: &str) -> ModelResult<ObjectInfo> {
    f.put_object(
        caller,
        bucket,
        key,
        IncomingBody::new(body(b"data")),
        PutAttrs::default(),
    )
    .await
}

fn denied<T: std::fmt::Debug>(r: ModelResult<T>) {
    assert!(matches!(r, Err(ModelError::AccessDenied)), "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn owners_come_from_the_caller_and_are_listed_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let f = Ferrite::open_local(dir.path(), options()).await.unwrap();
    let (alice, bob) = (user('a', "alice"), user('b', "bob"));
    let alice_id = "a".repeat(64);

    let b = f.create_bucket(&alice, "alices", Default::default()).await.unwrap();
    assert_eq!(b.owner, alice_id);
    f.set_bucket_versioning(&alice, "alices", VersioningState::Enabled)
        .await
        .unwrap();
    put(&f, &alice, "alices", "k").await.unwrap();
    f.delete_object(
        &alice,
        "alices",
        DeleteRequest {
            key: "k".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let up = f
        .create_multipart_upload(&alice, "alices", "mp", NewUpload::default())
        .await
        .unwrap();
    assert_eq!(up.owner, alice_id);

    // Root sees alice's records with alice as owner, not itself.
    let q = VersionQuery {
        max_keys: 10,
        ..Default::default()
    };
    let versions = f.list_object_versions(&root(), "alices", q).await.unwrap();
    assert_eq!(versions.versions.len(), 2, "a version and a delete marker");
    for v in &versions.versions {
        assert_eq!(v.owner, alice_id, "{v:?}");
    }
    let uploads = f
        .list_multipart_uploads(
            &root(),
            "alices",
            UploadQuery {
                max_uploads: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(uploads.uploads[0].owner, alice_id);
    // ListBuckets lists the caller's own buckets, root's included.
    let (mine, _) = f.list_buckets(&alice, None, None, 10).await.unwrap();
    assert_eq!(
        mine.iter()
            .map(|b| (b.name.as_str(), b.owner.as_str()))
            .collect::<Vec<_>>(),
        [("alices", alice_id.as_str())]
    );
    let (roots, _) = f.list_buckets(&root(), None, None, 10).await.unwrap();
    assert!(roots.is_empty(), "{roots:?}");

    // Root writes into alice's bucket: that version is root's.
    let rooted = put(&f, &root(), "alices", "by-root").await.unwrap();
    let q = ListQuery {
        max_keys: 10,
        ..Default::default()
    };
    let page = f.list_objects(&alice, "alices", q).await.unwrap();
    let owners: Vec<(&str, &str)> = page
        .objects
        .iter()
        .map(|o| (o.key.as_str(), o.owner.as_str()))
        .collect();
    assert_eq!(owners, [("by-root", "0".repeat(64).as_str())]);
    assert_eq!(rooted.size, 4);

    // Bob may not touch alice's bucket, and does not see it listed.
    let (bobs, _) = f.list_buckets(&bob, None, None, 10).await.unwrap();
    assert!(bobs.is_empty());
    denied(f.head_bucket(&bob, "alices").await);
    denied(put(&f, &bob, "alices", "x").await);
    denied(
        f.get_object(&bob, "alices", "by-root", None, None, &ReadConditions::default())
            .await
            .map(|_| ()),
    );
    denied(f.delete_bucket(&bob, "alices").await);
    denied(
        f.create_multipart_upload(&bob, "alices", "y", NewUpload::default())
            .await,
    );
    // A name another principal holds is taken.
    assert!(matches!(
        f.create_bucket(&bob, "alices", Default::default()).await,
        Err(ModelError::BucketAlreadyExists)
    ));
    // A missing bucket is NoSuchBucket whoever asks.
    assert!(matches!(
        f.head_bucket(&bob, "nobodys").await,
        Err(ModelError::NoSuchBucket)
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_callers_may_do_nothing_without_grants() {
    let dir = tempfile::tempdir().unwrap();
    let f = Ferrite::open_local(dir.path(), options()).await.unwrap();
    f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    put(&f, &root(), "bkt", "k").await.unwrap();
    let anon = Caller::anonymous();
    denied(f.create_bucket(&anon, "anon", Default::default()).await);
    denied(f.head_bucket(&anon, "bkt").await);
    denied(put(&f, &anon, "bkt", "k2").await);
    denied(
        f.get_object(&anon, "bkt", "k", None, None, &ReadConditions::default())
            .await
            .map(|_| ()),
    );
    denied(f.list_buckets(&anon, None, None, 10).await);
}
