//! Lifecycle rules against the real binary with `aws-sdk-s3` (default settings),
//! checked against AWS's documentation: the configuration document and its errors,
//! who may read and change it, `x-amz-expiration`, and the worker applying every
//! action with a short lifecycle day (`--lifecycle-day-secs 2`): expiration in
//! unversioned and versioned buckets, noncurrent expiration, expired delete markers,
//! prefix, tag and size filters, transitions, aborting incomplete uploads, versions
//! under Object Lock surviving, and a pass resuming after a crash.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator, LifecycleRuleFilter, NoncurrentVersionExpiration,
    ObjectLockLegalHoldStatus, StorageClass, Tag, Transition, TransitionStorageClass,
};
use common::{Server, code, new_iam_user, raw_request, set_versioning, status};

/// A lifecycle day of the tests, in seconds.
const DAY_SECS: &str = "2";

fn start() -> Server {
    Server::start_with(&["--lifecycle-day-secs", DAY_SECS])
}

fn rule(id: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder().id(id).status(ExpirationStatus::Enabled)
}

fn prefix(p: &str) -> LifecycleRuleFilter {
    LifecycleRuleFilter::builder().prefix(p).build()
}

fn expire_days(d: i32) -> LifecycleExpiration {
    LifecycleExpiration::builder().days(d).build()
}

async fn set_rules(c: &Client, bucket: &str, rules: Vec<LifecycleRule>) -> Result<(), String> {
    let config = BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .unwrap();
    c.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(config)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn put(
    c: &Client,
    bucket: &str,
    key: &str,
    body: &'static [u8],
) -> aws_sdk_s3::operation::put_object::PutObjectOutput {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .unwrap()
}

async fn exists(c: &Client, bucket: &str, key: &str) -> bool {
    match c.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => true,
        Err(e) if status(&e) == 404 => false,
        Err(e) => panic!("HEAD {key}: {e:?}"),
    }
}

/// Versions and delete markers of `key`: (version id, is a marker), newest first.
async fn versions(c: &Client, bucket: &str, key: &str) -> Vec<(String, bool)> {
    let out = c
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .unwrap();
    let mut all: Vec<(String, bool, aws_sdk_s3::primitives::DateTime)> = Vec::new();
    for v in out.versions() {
        if v.key() == Some(key) {
            all.push((v.version_id().unwrap().to_string(), false, *v.last_modified().unwrap()));
        }
    }
    for m in out.delete_markers() {
        if m.key() == Some(key) {
            all.push((m.version_id().unwrap().to_string(), true, *m.last_modified().unwrap()));
        }
    }
    all.sort_by_key(|v| std::cmp::Reverse(v.2));
    all.into_iter().map(|(v, m, _)| (v, m)).collect()
}

/// Polls `check` until it holds (the worker acts within about two lifecycle days).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("never happened: {what}");
}

async fn metric(s: &Server, name: &str) -> f64 {
    let (_, body) = raw_request(&s.addr, "GET", "/metrics", &[]).await;
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or(0.0)
}

#[tokio::test]
async fn configurations_round_trip_and_bad_ones_are_refused_with_aws_errors() {
    let s = start();
    let c = s.client();
    c.create_bucket().bucket("lcb").send().await.unwrap();

    let e = c
        .get_bucket_lifecycle_configuration()
        .bucket("lcb")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (404, "NoSuchLifecycleConfiguration"));

    let rules = vec![
        rule("logs")
            .filter(prefix("logs/"))
            .expiration(expire_days(30))
            .transitions(
                Transition::builder()
                    .days(10)
                    .storage_class(TransitionStorageClass::Glacier)
                    .build(),
            )
            .build()
            .unwrap(),
        rule("tagged")
            .filter(
                LifecycleRuleFilter::builder()
                    .and(
                        LifecycleRuleAndOperator::builder()
                            .prefix("tmp/")
                            .tags(Tag::builder().key("class").value("scratch").build().unwrap())
                            .object_size_greater_than(1024)
                            .build(),
                    )
                    .build(),
            )
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(3)
                    .newer_noncurrent_versions(2)
                    .build(),
            )
            .build()
            .unwrap(),
        LifecycleRule::builder()
            .id("uploads")
            .status(ExpirationStatus::Disabled)
            .filter(LifecycleRuleFilter::builder().build())
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(7)
                    .build(),
            )
            .build()
            .unwrap(),
    ];
    set_rules(&c, "lcb", rules.clone()).await.unwrap();
    let got = c
        .get_bucket_lifecycle_configuration()
        .bucket("lcb")
        .send()
        .await
        .unwrap();
    assert_eq!(got.rules(), rules.as_slice());

    // AWS's refusals; none of them changes the stored configuration.
    let bad: Vec<(Vec<LifecycleRule>, &str)> = vec![
        (
            vec![
                rule("same")
                    .filter(prefix("a"))
                    .expiration(expire_days(1))
                    .build()
                    .unwrap(),
                rule("same")
                    .filter(prefix("b"))
                    .expiration(expire_days(1))
                    .build()
                    .unwrap(),
            ],
            "InvalidArgument",
        ),
        (
            vec![
                rule("zero")
                    .filter(prefix(""))
                    .expiration(expire_days(0))
                    .build()
                    .unwrap(),
            ],
            "InvalidArgument",
        ),
        (
            vec![rule("no-action").filter(prefix("")).build().unwrap()],
            "InvalidArgument",
        ),
        (
            vec![
                rule("abort-tags")
                    .filter(
                        LifecycleRuleFilter::builder()
                            .tag(Tag::builder().key("k").value("v").build().unwrap())
                            .build(),
                    )
                    .abort_incomplete_multipart_upload(
                        AbortIncompleteMultipartUpload::builder()
                            .days_after_initiation(1)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            ],
            "InvalidRequest",
        ),
        (
            vec![
                rule("marker-days")
                    .filter(prefix(""))
                    .expiration(
                        LifecycleExpiration::builder()
                            .days(1)
                            .expired_object_delete_marker(true)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            ],
            "MalformedXML",
        ),
        (
            vec![
                rule("ia-too-soon")
                    .filter(prefix(""))
                    .transitions(
                        Transition::builder()
                            .days(29)
                            .storage_class(TransitionStorageClass::StandardIa)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            ],
            "InvalidArgument",
        ),
        (
            vec![
                rule("long-id-".repeat(40).as_str())
                    .filter(prefix(""))
                    .expiration(expire_days(1))
                    .build()
                    .unwrap(),
            ],
            "InvalidArgument",
        ),
        (
            vec![
                rule("to-standard")
                    .filter(prefix(""))
                    .transitions(
                        Transition::builder()
                            .days(1)
                            .storage_class(TransitionStorageClass::from("STANDARD"))
                            .build(),
                    )
                    .build()
                    .unwrap(),
            ],
            "InvalidStorageClass",
        ),
        (
            vec![
                rule("unknown-class")
                    .filter(prefix(""))
                    .transitions(
                        Transition::builder()
                            .days(1)
                            .storage_class(TransitionStorageClass::from("COLD"))
                            .build(),
                    )
                    .build()
                    .unwrap(),
            ],
            "InvalidStorageClass",
        ),
        (
            vec![
                rule("bad-status")
                    .status(ExpirationStatus::from("On"))
                    .filter(prefix(""))
                    .expiration(expire_days(1))
                    .build()
                    .unwrap(),
            ],
            "MalformedXML",
        ),
        (
            vec![rule("no-filter").expiration(expire_days(1)).build().unwrap()],
            "MalformedXML",
        ),
    ];
    for (rules, want) in bad {
        let id = rules[0].id().unwrap_or_default().to_string();
        assert_eq!(set_rules(&c, "lcb", rules).await.unwrap_err(), want, "rule {id}");
    }
    let still = c
        .get_bucket_lifecycle_configuration()
        .bucket("lcb")
        .send()
        .await
        .unwrap();
    assert_eq!(
        still.rules(),
        rules.as_slice(),
        "a refused configuration changed nothing"
    );

    // The legacy form (a Prefix in the rule) is accepted and answered as given.
    #[allow(deprecated)] // the legacy form is what is tested
    let legacy = LifecycleRule::builder()
        .id("legacy")
        .prefix("old/")
        .status(ExpirationStatus::Enabled)
        .expiration(expire_days(5))
        .build()
        .unwrap();
    set_rules(&c, "lcb", vec![legacy.clone()]).await.unwrap();
    let got = c
        .get_bucket_lifecycle_configuration()
        .bucket("lcb")
        .send()
        .await
        .unwrap();
    assert_eq!(got.rules(), [legacy].as_slice());

    c.delete_bucket_lifecycle().bucket("lcb").send().await.unwrap();
    let e = c
        .get_bucket_lifecycle_configuration()
        .bucket("lcb")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchLifecycleConfiguration");
    // A bucket deleted and made again has no configuration.
    set_rules(
        &c,
        "lcb",
        vec![rule("r").filter(prefix("")).expiration(expire_days(1)).build().unwrap()],
    )
    .await
    .unwrap();
    c.delete_bucket().bucket("lcb").send().await.unwrap();
    c.create_bucket().bucket("lcb").send().await.unwrap();
    let e = c
        .get_bucket_lifecycle_configuration()
        .bucket("lcb")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchLifecycleConfiguration");
}

#[tokio::test]
async fn only_the_owner_or_a_policy_reads_and_changes_the_configuration() {
    let s = start();
    let owner = s.client();
    owner.create_bucket().bucket("owned").send().await.unwrap();
    let one = vec![rule("r").filter(prefix("")).expiration(expire_days(1)).build().unwrap()];
    set_rules(&owner, "owned", one.clone()).await.unwrap();
    let other = new_iam_user(&s, "other").await.client;
    let anon = common::anonymous(&s);
    for (who, c) in [("other user", &other), ("anonymous", &anon)] {
        assert_eq!(
            set_rules(c, "owned", one.clone()).await.unwrap_err(),
            "AccessDenied",
            "{who} put"
        );
        let e = c
            .get_bucket_lifecycle_configuration()
            .bucket("owned")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "AccessDenied", "{who} get");
        let e = c.delete_bucket_lifecycle().bucket("owned").send().await.unwrap_err();
        assert_eq!(code(&e), "AccessDenied", "{who} delete");
    }
    // A bucket policy granting s3:GetLifecycleConfiguration lets the other user read it.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/other"},"Action":"s3:GetLifecycleConfiguration","Resource":"arn:aws:s3:::owned"}]}"#;
    owner
        .put_bucket_policy()
        .bucket("owned")
        .policy(policy)
        .send()
        .await
        .unwrap();
    let got = other
        .get_bucket_lifecycle_configuration()
        .bucket("owned")
        .send()
        .await
        .unwrap();
    assert_eq!(got.rules().len(), 1);
    assert_eq!(set_rules(&other, "owned", one).await.unwrap_err(), "AccessDenied");
}

#[tokio::test]
async fn expiration_removes_or_hides_current_objects_and_is_announced() {
    let s = start();
    let c = s.client();
    c.create_bucket().bucket("plain").send().await.unwrap();
    c.create_bucket().bucket("versioned").send().await.unwrap();
    set_versioning(&c, "versioned", BucketVersioningStatus::Enabled).await;
    for b in ["plain", "versioned"] {
        set_rules(
            &c,
            b,
            vec![
                rule("expire-tmp")
                    .filter(prefix("tmp/"))
                    .expiration(expire_days(1))
                    .build()
                    .unwrap(),
            ],
        )
        .await
        .unwrap();
    }
    let written = put(&c, "plain", "tmp/a", b"short-lived").await;
    let announced = written.expiration().expect("x-amz-expiration on PUT");
    assert!(
        announced.starts_with("expiry-date=\"") && announced.ends_with("GMT\", rule-id=\"expire-tmp\""),
        "{announced}"
    );
    let head = c.head_object().bucket("plain").key("tmp/a").send().await.unwrap();
    assert_eq!(head.expiration(), Some(announced));
    let get = c.get_object().bucket("plain").key("tmp/a").send().await.unwrap();
    assert_eq!(get.expiration(), Some(announced));
    assert_eq!(put(&c, "plain", "keep/b", b"kept").await.expiration(), None);
    let v1 = put(&c, "versioned", "tmp/a", b"short-lived")
        .await
        .version_id()
        .unwrap()
        .to_string();
    put(&c, "versioned", "keep/b", b"kept").await;

    eventually("tmp/a expires in both buckets", || async {
        !exists(&c, "plain", "tmp/a").await && !exists(&c, "versioned", "tmp/a").await
    })
    .await;
    assert!(exists(&c, "plain", "keep/b").await);
    assert!(exists(&c, "versioned", "keep/b").await);
    // Unversioned: gone for good. Versioned: a delete marker on top of the version.
    assert!(versions(&c, "plain", "tmp/a").await.is_empty());
    let v = versions(&c, "versioned", "tmp/a").await;
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0].1, "the newest is a delete marker");
    assert_eq!(v[1], (v1, false));
    assert!(metric(&s, "ferrite_lifecycle_objects_expired_total").await >= 2.0);
}

#[tokio::test]
async fn noncurrent_versions_and_lone_delete_markers_expire() {
    let s = start();
    let c = s.client();
    c.create_bucket().bucket("hist").send().await.unwrap();
    set_versioning(&c, "hist", BucketVersioningStatus::Enabled).await;
    set_rules(
        &c,
        "hist",
        vec![
            rule("old-versions")
                .filter(prefix(""))
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .newer_noncurrent_versions(1)
                        .build(),
                )
                .build()
                .unwrap(),
            rule("markers")
                .filter(prefix(""))
                .expiration(
                    LifecycleExpiration::builder()
                        .expired_object_delete_marker(true)
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    let mut ids = Vec::new();
    for body in [&b"one"[..], b"two", b"three"] {
        let out = c
            .put_object()
            .bucket("hist")
            .key("k")
            .body(ByteStream::from_static(body))
            .send()
            .await
            .unwrap();
        ids.push(out.version_id().unwrap().to_string());
    }
    // The oldest noncurrent version goes; the newest noncurrent one is kept
    // (NewerNoncurrentVersions 1) as long as it is the newest.
    eventually("the oldest version expires", || async {
        versions(&c, "hist", "k").await.len() == 2
    })
    .await;
    let v = versions(&c, "hist", "k").await;
    assert_eq!(v, vec![(ids[2].clone(), false), (ids[1].clone(), false)]);

    // Deleting the key: the marker goes on top; of the two noncurrent versions the
    // newer is kept, the older expires.
    c.delete_object().bucket("hist").key("k").send().await.unwrap();
    eventually("the older noncurrent version expires", || async {
        versions(&c, "hist", "k").await.len() == 2
    })
    .await;
    let v = versions(&c, "hist", "k").await;
    assert!(v[0].1, "{v:?}");
    assert_eq!(v[1], (ids[2].clone(), false));
    // With the last version deleted by id, the marker hides nothing and goes too.
    c.delete_object()
        .bucket("hist")
        .key("k")
        .version_id(&ids[2])
        .send()
        .await
        .unwrap();
    eventually("the lone marker is removed", || async {
        versions(&c, "hist", "k").await.is_empty()
    })
    .await;
    assert!(metric(&s, "ferrite_lifecycle_delete_markers_removed_total").await >= 1.0);
}

#[tokio::test]
async fn tag_and_size_filters_choose_what_expires() {
    let s = start();
    let c = s.client();
    c.create_bucket().bucket("filters").send().await.unwrap();
    set_rules(
        &c,
        "filters",
        vec![
            rule("scratch")
                .filter(
                    LifecycleRuleFilter::builder()
                        .tag(Tag::builder().key("class").value("scratch").build().unwrap())
                        .build(),
                )
                .expiration(expire_days(1))
                .build()
                .unwrap(),
            rule("big")
                .filter(LifecycleRuleFilter::builder().object_size_greater_than(10).build())
                .expiration(expire_days(1))
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    c.put_object()
        .bucket("filters")
        .key("tagged")
        .tagging("class=scratch")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket("filters")
        .key("other-tag")
        .tagging("class=keep")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    put(&c, "filters", "big", b"more than ten bytes").await;
    put(&c, "filters", "small", b"ten bytes!").await;
    eventually("tagged and big expire", || async {
        !exists(&c, "filters", "tagged").await && !exists(&c, "filters", "big").await
    })
    .await;
    assert!(exists(&c, "filters", "other-tag").await);
    assert!(exists(&c, "filters", "small").await, "10 bytes is not greater than 10");
}

#[tokio::test]
async fn transitions_change_the_class_and_uploads_are_aborted() {
    let s = start();
    let c = s.client();
    c.create_bucket().bucket("moves").send().await.unwrap();
    set_rules(
        &c,
        "moves",
        vec![
            rule("cold")
                .filter(prefix("cold/"))
                .transitions(
                    Transition::builder()
                        .days(1)
                        .storage_class(TransitionStorageClass::GlacierIr)
                        .build(),
                )
                .build()
                .unwrap(),
            rule("uploads")
                .filter(prefix("up/"))
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(1)
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    put(&c, "moves", "cold/a", b"cold data").await;
    put(&c, "moves", "warm/a", b"warm data").await;
    let up = c
        .create_multipart_upload()
        .bucket("moves")
        .key("up/big")
        .send()
        .await
        .unwrap();
    c.upload_part()
        .bucket("moves")
        .key("up/big")
        .upload_id(up.upload_id().unwrap())
        .part_number(1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .unwrap();
    c.create_multipart_upload()
        .bucket("moves")
        .key("other/big")
        .send()
        .await
        .unwrap();
    eventually("cold/a moves to GLACIER_IR", || async {
        let h = c.head_object().bucket("moves").key("cold/a").send().await.unwrap();
        h.storage_class() == Some(&StorageClass::GlacierIr)
    })
    .await;
    let h = c.head_object().bucket("moves").key("warm/a").send().await.unwrap();
    assert_eq!(h.storage_class(), None, "STANDARD is not announced");
    let got = c.get_object().bucket("moves").key("cold/a").send().await.unwrap();
    assert_eq!(common::read_all(got).await, b"cold data");
    let listed = c
        .list_objects_v2()
        .bucket("moves")
        .prefix("cold/")
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.contents()[0].storage_class().map(|c| c.as_str()),
        Some("GLACIER_IR")
    );
    eventually("up/big is aborted", || async {
        let l = c.list_multipart_uploads().bucket("moves").send().await.unwrap();
        let keys: Vec<_> = l.uploads().iter().filter_map(|u| u.key()).collect();
        keys == ["other/big"]
    })
    .await;
    let e = c
        .list_parts()
        .bucket("moves")
        .key("up/big")
        .upload_id(up.upload_id().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchUpload");
    assert!(metric(&s, "ferrite_lifecycle_objects_transitioned_total").await >= 1.0);
    assert!(metric(&s, "ferrite_lifecycle_uploads_aborted_total").await >= 1.0);
}

#[tokio::test]
async fn versions_under_object_lock_survive_expiration_rules() {
    let s = start();
    let c = s.client();
    c.create_bucket()
        .bucket("vault")
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    set_rules(
        &c,
        "vault",
        vec![
            rule("everything")
                .filter(prefix(""))
                .expiration(expire_days(1))
                .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(1).build())
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    let held = c
        .put_object()
        .bucket("vault")
        .key("held")
        .content_md5("FOENVwBHZn+QQmHm0I9SDw==") // MD5 of "evidence"
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .body(ByteStream::from_static(b"evidence"))
        .send()
        .await;
    let held = match held {
        Ok(out) => out.version_id().unwrap().to_string(),
        Err(e) => panic!("{:?}", e.into_service_error()),
    };
    let free = put(&c, "vault", "free", b"scratch")
        .await
        .version_id()
        .unwrap()
        .to_string();
    // Both current versions get a delete marker; the unlocked one then expires as a
    // noncurrent version and its marker with it; the held one stays, for good.
    eventually("the free version is gone", || async {
        versions(&c, "vault", "free").await.is_empty()
    })
    .await;
    let _ = free;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let v = versions(&c, "vault", "held").await;
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0].1, "a delete marker hides it");
    assert_eq!(v[1], (held.clone(), false));
    let got = c
        .get_object()
        .bucket("vault")
        .key("held")
        .version_id(&held)
        .send()
        .await
        .unwrap();
    assert_eq!(common::read_all(got).await, b"evidence");
}

#[tokio::test]
async fn a_pass_killed_midway_finishes_after_a_restart() {
    let mut s = start();
    let c = s.client();
    c.create_bucket().bucket("many").send().await.unwrap();
    let n = 1500;
    let mut tasks = Vec::new();
    for i in 0..n {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.put_object()
                .bucket("many")
                .key(format!("k{i:05}"))
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
                .unwrap();
        }));
        if tasks.len() == 32 {
            for t in tasks.drain(..) {
                t.await.unwrap();
            }
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    set_rules(
        &c,
        "many",
        vec![
            rule("all")
                .filter(prefix(""))
                .expiration(expire_days(1))
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    let count = |c: Client| async move {
        let mut total = 0;
        let mut token = None;
        loop {
            let out = c
                .list_objects_v2()
                .bucket("many")
                .set_continuation_token(token)
                .send()
                .await
                .unwrap();
            total += out.contents().len();
            token = out.next_continuation_token().map(str::to_string);
            if token.is_none() {
                return total;
            }
        }
    };
    // Wait until the pass has started, then kill the server in the middle of it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = count(c.clone()).await;
        if left < n {
            assert!(left > 0, "the pass finished before it could be interrupted");
            break;
        }
        assert!(Instant::now() < deadline, "the pass never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.kill();
    s.restart();
    let c = s.client();
    eventually("every object expires after the restart", || {
        let c = c.clone();
        async move { count(c).await == 0 }
    })
    .await;
}
