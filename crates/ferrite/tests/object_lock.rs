//! Object Lock against the real binary with `aws-sdk-s3` (default settings), checked
//! against AWS's documentation: lock buckets (versioning Enabled for good), the lock
//! configuration and its default retention, retention and legal hold on writes and
//! in place, and what they hold: a version under COMPLIANCE retention that no one
//! (root included) can delete, shorten or remove, also after a crash; GOVERNANCE
//! retention overridden only with the bypass header and permission; a legal hold that
//! holds even against the bypass; DeleteObjects entry by entry; DeleteBucket.

mod common;

use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, DefaultRetention, Delete, ObjectIdentifier,
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode,
    ObjectLockRetention, ObjectLockRetentionMode, ObjectLockRule, VersioningConfiguration,
};
use common::{ACCESS_KEY, SECRET_KEY, Server, code, new_iam_user, set_versioning, status};

fn in_days(days: u64) -> DateTime {
    DateTime::from(SystemTime::now() + Duration::from_secs(days * 86_400))
}

fn config(mode: ObjectLockRetentionMode, days: Option<i32>, years: Option<i32>) -> ObjectLockConfiguration {
    ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(
            ObjectLockRule::builder()
                .default_retention(
                    DefaultRetention::builder()
                        .mode(mode)
                        .set_days(days)
                        .set_years(years)
                        .build(),
                )
                .build(),
        )
        .build()
}

async fn lock_bucket(c: &Client, name: &str) {
    c.create_bucket()
        .bucket(name)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
}

async fn put(c: &Client, bucket: &str, key: &str) -> String {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"locked data"))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string()
}

async fn retain(
    c: &Client,
    bucket: &str,
    key: &str,
    version: &str,
    mode: ObjectLockRetentionMode,
    until: DateTime,
    bypass: bool,
) -> Result<(), String> {
    c.put_object_retention()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .retention(
            ObjectLockRetention::builder()
                .mode(mode)
                .retain_until_date(until)
                .build(),
        )
        .set_bypass_governance_retention(bypass.then_some(true))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn delete_version(c: &Client, bucket: &str, key: &str, version: &str, bypass: bool) -> Result<(), String> {
    c.delete_object()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .set_bypass_governance_retention(bypass.then_some(true))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn hold(c: &Client, bucket: &str, key: &str, version: &str, on: bool) {
    let status = if on {
        ObjectLockLegalHoldStatus::On
    } else {
        ObjectLockLegalHoldStatus::Off
    };
    c.put_object_legal_hold()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .legal_hold(ObjectLockLegalHold::builder().status(status).build())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_buckets_are_versioned_for_good_and_configured_as_aws_says() {
    let s = Server::start();
    let c = s.client();
    lock_bucket(&c, "locked").await;
    let v = c.get_bucket_versioning().bucket("locked").send().await.unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));
    let e = c
        .put_bucket_versioning()
        .bucket("locked")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (409, "InvalidBucketState"));

    // No rule yet: enabled, without a default retention.
    let got = c.get_object_lock_configuration().bucket("locked").send().await.unwrap();
    let got = got.object_lock_configuration().unwrap();
    assert_eq!(got.object_lock_enabled(), Some(&ObjectLockEnabled::Enabled));
    assert!(got.rule().is_none());
    let want = config(ObjectLockRetentionMode::Governance, Some(1), None);
    c.put_object_lock_configuration()
        .bucket("locked")
        .object_lock_configuration(want.clone())
        .send()
        .await
        .unwrap();
    let got = c.get_object_lock_configuration().bucket("locked").send().await.unwrap();
    assert_eq!(got.object_lock_configuration(), Some(&want));

    // Malformed rules change nothing.
    for (bad, want_code) in [
        (
            config(ObjectLockRetentionMode::Governance, Some(1), Some(1)),
            "MalformedXML",
        ),
        (config(ObjectLockRetentionMode::Governance, None, None), "MalformedXML"),
        (
            config(ObjectLockRetentionMode::Governance, Some(0), None),
            "InvalidRetentionPeriod",
        ),
        (
            config(ObjectLockRetentionMode::Compliance, None, Some(-1)),
            "InvalidRetentionPeriod",
        ),
        (
            config(ObjectLockRetentionMode::from("governance"), Some(1), None),
            "MalformedXML",
        ),
    ] {
        let e = c
            .put_object_lock_configuration()
            .bucket("locked")
            .object_lock_configuration(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!((status(&e), code(&e).as_str()), (400, want_code));
    }
    let got = c.get_object_lock_configuration().bucket("locked").send().await.unwrap();
    assert_eq!(got.object_lock_configuration(), Some(&want));

    // A plain bucket has no configuration; lock operations on it are refused.
    c.create_bucket().bucket("plain").send().await.unwrap();
    let e = c
        .get_object_lock_configuration()
        .bucket("plain")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (status(&e), code(&e).as_str()),
        (404, "ObjectLockConfigurationNotFoundError")
    );
    c.put_object()
        .bucket("plain")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let e = c
        .put_object_legal_hold()
        .bucket("plain")
        .key("k")
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidRequest"));
    let e = c
        .get_object_retention()
        .bucket("plain")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidRequest"));
    // Enabling it needs versioning Enabled; then it is for good.
    let e = c
        .put_object_lock_configuration()
        .bucket("plain")
        .object_lock_configuration(want.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (409, "InvalidBucketState"));
    set_versioning(&c, "plain", BucketVersioningStatus::Enabled).await;
    c.put_object_lock_configuration()
        .bucket("plain")
        .object_lock_configuration(want.clone())
        .send()
        .await
        .unwrap();
    let e = c
        .put_bucket_versioning()
        .bucket("plain")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidBucketState");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_holds_against_everyone_and_survives_a_crash() {
    let mut s = Server::start();
    let c = s.client();
    lock_bucket(&c, "wor").await;
    let until = in_days(30);
    let out = c
        .put_object()
        .bucket("wor")
        .key("audit.log")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(until)
        .body(ByteStream::from_static(b"audit"))
        .send()
        .await
        .unwrap();
    let v = out.version_id().unwrap().to_string();
    let head = c.head_object().bucket("wor").key("audit.log").send().await.unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    assert_eq!(
        head.object_lock_retain_until_date().map(|d| d.secs()),
        Some(until.secs())
    );
    assert_eq!(head.object_lock_legal_hold_status(), None);

    s.kill();
    s.restart();
    let c = s.client();
    // Root can neither delete it, with or without bypass, nor shorten, weaken or
    // remove its retention.
    assert_eq!(
        delete_version(&c, "wor", "audit.log", &v, false).await,
        Err("AccessDenied".into())
    );
    assert_eq!(
        delete_version(&c, "wor", "audit.log", &v, true).await,
        Err("AccessDenied".into())
    );
    let shorter = in_days(10);
    for (mode, date, bypass) in [
        (ObjectLockRetentionMode::Compliance, shorter, true),
        (ObjectLockRetentionMode::Governance, until, true),
    ] {
        assert_eq!(
            retain(&c, "wor", "audit.log", &v, mode, date, bypass).await,
            Err("AccessDenied".into())
        );
    }
    let e = c
        .put_object_retention()
        .bucket("wor")
        .key("audit.log")
        .version_id(&v)
        .retention(ObjectLockRetention::builder().build())
        .bypass_governance_retention(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // Extending is allowed, to anyone who may set retention.
    let later = in_days(60);
    retain(
        &c,
        "wor",
        "audit.log",
        &v,
        ObjectLockRetentionMode::Compliance,
        later,
        false,
    )
    .await
    .unwrap();
    let r = c
        .get_object_retention()
        .bucket("wor")
        .key("audit.log")
        .version_id(&v)
        .send()
        .await
        .unwrap();
    let r = r.retention().unwrap();
    assert_eq!(r.mode(), Some(&ObjectLockRetentionMode::Compliance));
    assert_eq!(r.retain_until_date().map(|d| d.secs()), Some(later.secs()));

    // A delete without a version id adds a marker; the locked version stays.
    let marker = c.delete_object().bucket("wor").key("audit.log").send().await.unwrap();
    assert_eq!(marker.delete_marker(), Some(true));
    let marker = marker.version_id().unwrap().to_string();
    delete_version(&c, "wor", "audit.log", &marker, false).await.unwrap();
    let got = c.get_object().bucket("wor").key("audit.log").send().await.unwrap();
    assert_eq!(common::read_all(got).await, b"audit");
    // An overwrite is a new version; the locked one is untouched.
    let v2 = put(&c, "wor", "audit.log").await;
    assert_ne!(v2, v);
    let old = c
        .get_object()
        .bucket("wor")
        .key("audit.log")
        .version_id(&v)
        .send()
        .await
        .unwrap();
    assert_eq!(common::read_all(old).await, b"audit");
    // The bucket cannot go while the version is there.
    delete_version(&c, "wor", "audit.log", &v2, false).await.unwrap();
    let e = c.delete_bucket().bucket("wor").send().await.unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (409, "BucketNotEmpty"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governance_yields_only_to_the_bypass_and_a_legal_hold_to_nothing() {
    let s = Server::start();
    let c = s.client();
    lock_bucket(&c, "gov").await;
    let v = put(&c, "gov", "k").await;
    let until = in_days(3);
    retain(&c, "gov", "k", &v, ObjectLockRetentionMode::Governance, until, false)
        .await
        .unwrap();
    // Extending needs no bypass; shortening, removing and switching to COMPLIANCE do.
    retain(
        &c,
        "gov",
        "k",
        &v,
        ObjectLockRetentionMode::Governance,
        in_days(5),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        retain(
            &c,
            "gov",
            "k",
            &v,
            ObjectLockRetentionMode::Governance,
            in_days(4),
            false
        )
        .await,
        Err("AccessDenied".into())
    );
    assert_eq!(
        retain(
            &c,
            "gov",
            "k",
            &v,
            ObjectLockRetentionMode::Compliance,
            in_days(5),
            false
        )
        .await,
        Err("AccessDenied".into())
    );
    retain(
        &c,
        "gov",
        "k",
        &v,
        ObjectLockRetentionMode::Governance,
        in_days(4),
        true,
    )
    .await
    .unwrap();
    assert_eq!(
        delete_version(&c, "gov", "k", &v, false).await,
        Err("AccessDenied".into())
    );

    // A legal hold holds even against the bypass, whatever the retention.
    hold(&c, "gov", "k", &v, true).await;
    let got = c
        .get_object_legal_hold()
        .bucket("gov")
        .key("k")
        .version_id(&v)
        .send()
        .await
        .unwrap();
    assert_eq!(got.legal_hold().unwrap().status(), Some(&ObjectLockLegalHoldStatus::On));
    assert_eq!(
        delete_version(&c, "gov", "k", &v, true).await,
        Err("AccessDenied".into())
    );
    hold(&c, "gov", "k", &v, false).await;
    delete_version(&c, "gov", "k", &v, true).await.unwrap();
    let e = c
        .head_object()
        .bucket("gov")
        .key("k")
        .version_id(&v)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 404);

    // A legal hold alone (no retention) holds too; off, the version goes.
    let v = put(&c, "gov", "held").await;
    hold(&c, "gov", "held", &v, true).await;
    assert_eq!(
        delete_version(&c, "gov", "held", &v, true).await,
        Err("AccessDenied".into())
    );
    hold(&c, "gov", "held", &v, false).await;
    delete_version(&c, "gov", "held", &v, false).await.unwrap();

    // The bypass is a permission: a user allowed to delete versions, but not to
    // bypass, cannot; with s3:BypassGovernanceRetention it can.
    let bob = new_iam_user(&s, "bob").await;
    let v = put(&c, "gov", "team").await;
    retain(
        &c,
        "gov",
        "team",
        &v,
        ObjectLockRetentionMode::Governance,
        in_days(2),
        false,
    )
    .await
    .unwrap();
    let policy = |actions: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",
            "Principal":{{"AWS":"arn:aws:iam::000000000000:user/bob"}},
            "Action":[{actions}],"Resource":"arn:aws:s3:::gov/*"}}]}}"#
        )
    };
    c.put_bucket_policy()
        .bucket("gov")
        .policy(policy(r#""s3:DeleteObjectVersion""#))
        .send()
        .await
        .unwrap();
    assert_eq!(
        delete_version(&bob.client, "gov", "team", &v, true).await,
        Err("AccessDenied".into())
    );
    c.put_bucket_policy()
        .bucket("gov")
        .policy(policy(r#""s3:DeleteObjectVersion","s3:BypassGovernanceRetention""#))
        .send()
        .await
        .unwrap();
    assert_eq!(
        delete_version(&bob.client, "gov", "team", &v, false).await,
        Err("AccessDenied".into())
    );
    delete_version(&bob.client, "gov", "team", &v, true).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_objects_refuses_locked_entries_one_by_one() {
    let s = Server::start();
    let c = s.client();
    lock_bucket(&c, "multi").await;
    let v1 = put(&c, "multi", "locked").await;
    let v2 = put(&c, "multi", "free").await;
    retain(
        &c,
        "multi",
        "locked",
        &v1,
        ObjectLockRetentionMode::Governance,
        in_days(1),
        false,
    )
    .await
    .unwrap();
    let delete = |bypass: bool| {
        let objects = vec![
            ObjectIdentifier::builder()
                .key("locked")
                .version_id(&v1)
                .build()
                .unwrap(),
            ObjectIdentifier::builder().key("free").version_id(&v2).build().unwrap(),
        ];
        c.delete_objects()
            .bucket("multi")
            .delete(Delete::builder().set_objects(Some(objects)).build().unwrap())
            .set_bypass_governance_retention(bypass.then_some(true))
            .send()
    };
    let out = delete(false).await.unwrap();
    let deleted: Vec<_> = out.deleted().iter().map(|d| d.key().unwrap()).collect();
    assert_eq!(deleted, ["free"]);
    assert_eq!(out.errors().len(), 1);
    let err = &out.errors()[0];
    assert_eq!(
        (err.key(), err.code(), err.version_id()),
        (Some("locked"), Some("AccessDenied"), Some(v1.as_str()))
    );
    let out = delete(true).await.unwrap();
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    let listed = c.list_object_versions().bucket("multi").send().await.unwrap();
    assert!(listed.versions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_retention_applies_to_puts_copies_and_multipart() {
    let s = Server::start();
    let c = s.client();
    lock_bucket(&c, "dflt").await;
    c.put_object_lock_configuration()
        .bucket("dflt")
        .object_lock_configuration(config(ObjectLockRetentionMode::Governance, Some(2), None))
        .send()
        .await
        .unwrap();
    let now = SystemTime::now();
    let near_two_days = |d: &DateTime| {
        let want = now + Duration::from_secs(2 * 86_400);
        let got = SystemTime::UNIX_EPOCH + Duration::from_secs(d.secs() as u64);
        let diff = got.duration_since(want).unwrap_or_else(|e| e.duration());
        diff < Duration::from_secs(120)
    };
    put(&c, "dflt", "put").await;
    c.copy_object()
        .bucket("dflt")
        .key("copy")
        .copy_source("dflt/put")
        .send()
        .await
        .unwrap();
    let up = c
        .create_multipart_upload()
        .bucket("dflt")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket("dflt")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .unwrap();
    c.complete_multipart_upload()
        .bucket("dflt")
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    for key in ["put", "copy", "mp"] {
        let head = c.head_object().bucket("dflt").key(key).send().await.unwrap();
        assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance), "{key}");
        assert!(near_two_days(head.object_lock_retain_until_date().unwrap()), "{key}");
        let v = head.version_id().unwrap();
        assert_eq!(
            delete_version(&c, "dflt", key, v, false).await,
            Err("AccessDenied".into()),
            "{key}"
        );
    }
    // A request's own retention beats the default; a multipart upload keeps what
    // CreateMultipartUpload asked for.
    let until = in_days(9);
    let up = c
        .create_multipart_upload()
        .bucket("dflt")
        .key("mp2")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(until)
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket("dflt")
        .key("mp2")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .unwrap();
    c.complete_multipart_upload()
        .bucket("dflt")
        .key("mp2")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket("dflt").key("mp2").send().await.unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    assert_eq!(
        head.object_lock_retain_until_date().map(|d| d.secs()),
        Some(until.secs())
    );
    assert_eq!(
        head.object_lock_legal_hold_status(),
        Some(&ObjectLockLegalHoldStatus::On)
    );
    // A date in the past is refused.
    let e = c
        .put_object()
        .bucket("dflt")
        .key("past")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(DateTime::from_secs(1_000_000))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidArgument"));
}

/// PutObject's contract: an upload with Object Lock parameters, or into a bucket
/// whose default retention applies, needs Content-MD5 or an x-amz-checksum value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_uploads_need_an_integrity_value() {
    let s = Server::start();
    let c = s.client();
    lock_bucket(&c, "md5").await;
    let creds = (ACCESS_KEY, SECRET_KEY);
    let body = b"hello".to_vec();
    let md5 = {
        use base64::Engine as _;
        use md5::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&body))
    };
    let hold = [("x-amz-object-lock-legal-hold", "ON")];
    let (st, _, text) = common::signed_request(&s, creds, "s3", "PUT", "/md5/a", &hold, body.clone()).await;
    assert_eq!(st, 400, "{}", String::from_utf8_lossy(&text));
    assert!(String::from_utf8_lossy(&text).contains("<Code>InvalidRequest</Code>"));
    let e = c.head_object().bucket("md5").key("a").send().await.unwrap_err();
    assert_eq!(status(&e), 404, "nothing was stored");
    let with_md5 = [("x-amz-object-lock-legal-hold", "ON"), ("content-md5", md5.as_str())];
    let (st, _, _) = common::signed_request(&s, creds, "s3", "PUT", "/md5/a", &with_md5, body.clone()).await;
    assert_eq!(st, 200);
    // No lock asked, no default: nothing needed.
    let (st, _, _) = common::signed_request(&s, creds, "s3", "PUT", "/md5/b", &[], body.clone()).await;
    assert_eq!(st, 200);
    // A default retention makes every upload a locked one.
    c.put_object_lock_configuration()
        .bucket("md5")
        .object_lock_configuration(config(ObjectLockRetentionMode::Governance, Some(1), None))
        .send()
        .await
        .unwrap();
    let (st, _, _) = common::signed_request(&s, creds, "s3", "PUT", "/md5/c", &[], body.clone()).await;
    assert_eq!(st, 400);
    let crc = [("x-amz-checksum-crc32", "NhCmhg==")];
    let (st, _, text) = common::signed_request(&s, creds, "s3", "PUT", "/md5/c", &crc, body.clone()).await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&text));
    // The SDK, left to its defaults, sends a checksum: it just works.
    put(&c, "md5", "sdk").await;
}
