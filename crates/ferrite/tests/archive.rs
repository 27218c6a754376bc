//! Storage classes and archived objects against the real binary with `aws-sdk-s3`
//! (default settings), checked against AWS's documentation: the classes accepted and
//! reported, unknown ones refused; GLACIER and DEEP_ARCHIVE objects not readable (403
//! InvalidObjectState) until RestoreObject (202 the first time, 409 while it runs,
//! 200 while a restored copy exists) has made them so, `x-amz-restore` on HEAD and
//! GET, and the restored copy expiring (`--restore-delay-secs 2`, a lifecycle day of
//! 2 s).

mod common;

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{GlacierJobParameters, RestoreRequest, StorageClass, Tier};
use common::{ACCESS_KEY, SECRET_KEY, Server, code, read_all, signed_request, status};

const RESTORE: &str =
    "<RestoreRequest><Days>1</Days><GlacierJobParameters><Tier>Standard</Tier></GlacierJobParameters></RestoreRequest>";

async fn restore_status(s: &Server, bucket: &str, key: &str) -> (u16, String) {
    let (st, _, body) = signed_request(
        s,
        (ACCESS_KEY, SECRET_KEY),
        "s3",
        "POST",
        &format!("/{bucket}/{key}?restore"),
        &[],
        RESTORE.as_bytes().to_vec(),
    )
    .await;
    (st, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn classes_are_accepted_as_aws_names_them_and_others_refused() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("classes").send().await.unwrap();
    let accepted = [
        StorageClass::Standard,
        StorageClass::ReducedRedundancy,
        StorageClass::StandardIa,
        StorageClass::OnezoneIa,
        StorageClass::IntelligentTiering,
        StorageClass::GlacierIr,
        StorageClass::Glacier,
        StorageClass::DeepArchive,
    ];
    for class in &accepted {
        let key = class.as_str().to_string();
        c.put_object()
            .bucket("classes")
            .key(&key)
            .storage_class(class.clone())
            .body(ByteStream::from_static(b"data"))
            .send()
            .await
            .unwrap();
        let head = c.head_object().bucket("classes").key(&key).send().await.unwrap();
        let want = (*class != StorageClass::Standard).then_some(class);
        assert_eq!(
            head.storage_class(),
            want,
            "{key}: STANDARD is not announced, others are"
        );
    }
    let listed = c.list_objects_v2().bucket("classes").send().await.unwrap();
    for o in listed.contents() {
        assert_eq!(o.storage_class().unwrap().as_str(), o.key().unwrap());
    }
    for bad in ["OUTPOSTS", "SNOW", "EXPRESS_ONEZONE", "standard", "COLD"] {
        let e = c
            .put_object()
            .bucket("classes")
            .key("bad")
            .storage_class(StorageClass::from(bad))
            .body(ByteStream::from_static(b"data"))
            .send()
            .await
            .unwrap_err();
        assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidStorageClass"), "{bad}");
        let e = c
            .create_multipart_upload()
            .bucket("classes")
            .key("bad")
            .storage_class(StorageClass::from(bad))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidStorageClass", "{bad} multipart");
    }
    let e = c.head_object().bucket("classes").key("bad").send().await.unwrap_err();
    assert_eq!(status(&e), 404, "nothing was stored");
}

#[tokio::test]
async fn archived_objects_read_only_through_a_restore_that_expires() {
    let s = Server::start_with(&["--restore-delay-secs", "2", "--lifecycle-day-secs", "2"]);
    let c = s.client();
    c.create_bucket().bucket("cold").send().await.unwrap();
    for (key, class) in [("glacier", StorageClass::Glacier), ("deep", StorageClass::DeepArchive)] {
        c.put_object()
            .bucket("cold")
            .key(key)
            .storage_class(class)
            .body(ByteStream::from_static(b"frozen bytes"))
            .send()
            .await
            .unwrap();
    }
    c.put_object()
        .bucket("cold")
        .key("warm")
        .body(ByteStream::from_static(b"warm bytes"))
        .send()
        .await
        .unwrap();

    // HEAD works and shows the class; reads of the data are refused, copies too.
    let head = c.head_object().bucket("cold").key("glacier").send().await.unwrap();
    assert_eq!(head.storage_class(), Some(&StorageClass::Glacier));
    assert_eq!(head.restore(), None);
    for key in ["glacier", "deep"] {
        let e = c.get_object().bucket("cold").key(key).send().await.unwrap_err();
        assert_eq!((status(&e), code(&e).as_str()), (403, "InvalidObjectState"), "{key}");
        let e = c
            .get_object()
            .bucket("cold")
            .key(key)
            .range("bytes=0-1")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidObjectState", "{key} range");
    }
    let e = c
        .copy_object()
        .bucket("cold")
        .key("copy")
        .copy_source("cold/glacier")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (403, "InvalidObjectState"));
    let up = c
        .create_multipart_upload()
        .bucket("cold")
        .key("mp")
        .send()
        .await
        .unwrap();
    let e = c
        .upload_part_copy()
        .bucket("cold")
        .key("mp")
        .upload_id(up.upload_id().unwrap())
        .part_number(1)
        .copy_source("cold/glacier")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidObjectState", "UploadPartCopy");

    // Restoring what is not archived is refused.
    let (st, body) = restore_status(&s, "cold", "warm").await;
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("InvalidObjectState"), "{body}");

    // The first restore is accepted (202); while it runs: 409, ongoing, still unreadable.
    let (st, body) = restore_status(&s, "cold", "glacier").await;
    assert_eq!(st, 202, "{body}");
    let (st, body) = restore_status(&s, "cold", "glacier").await;
    assert_eq!(st, 409, "{body}");
    assert!(body.contains("RestoreAlreadyInProgress"), "{body}");
    let head = c.head_object().bucket("cold").key("glacier").send().await.unwrap();
    assert_eq!(head.restore(), Some("ongoing-request=\"true\""));
    let e = c.get_object().bucket("cold").key("glacier").send().await.unwrap_err();
    assert_eq!(code(&e), "InvalidObjectState");

    // Once ready: readable, with the copy's expiry; another restore answers 200.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let head = c.head_object().bucket("cold").key("glacier").send().await.unwrap();
    let restore = head.restore().unwrap().to_string();
    assert!(
        restore.starts_with("ongoing-request=\"false\", expiry-date=\"") && restore.ends_with(" GMT\""),
        "{restore}"
    );
    let got = c.get_object().bucket("cold").key("glacier").send().await.unwrap();
    assert_eq!(got.restore(), Some(restore.as_str()));
    assert_eq!(read_all(got).await, b"frozen bytes");
    c.copy_object()
        .bucket("cold")
        .key("thawed")
        .copy_source("cold/glacier")
        .storage_class(StorageClass::Standard)
        .send()
        .await
        .unwrap();
    let got = c.get_object().bucket("cold").key("thawed").send().await.unwrap();
    assert_eq!(
        read_all(got).await,
        b"frozen bytes",
        "a copy out of the archive reads at once"
    );
    // The SDK's own RestoreObject call, on a restored copy: 200 (the expiry moves).
    c.restore_object()
        .bucket("cold")
        .key("glacier")
        .restore_request(
            RestoreRequest::builder()
                .days(1)
                .glacier_job_parameters(GlacierJobParameters::builder().tier(Tier::Bulk).build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (st, _) = restore_status(&s, "cold", "glacier").await;
    assert_eq!(st, 200);
    // The other archived object was never restored.
    let e = c.get_object().bucket("cold").key("deep").send().await.unwrap_err();
    assert_eq!(code(&e), "InvalidObjectState");

    // The restored copy lasts one (2 s) day; then the object is archived again.
    let mut expired = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let head = c.head_object().bucket("cold").key("glacier").send().await.unwrap();
        if head.restore().is_none() {
            expired = true;
            break;
        }
    }
    assert!(expired, "the restored copy never expired");
    let e = c.get_object().bucket("cold").key("glacier").send().await.unwrap_err();
    assert_eq!(code(&e), "InvalidObjectState");
    // A restore survives a restart: the state is in the version's record.
    let (st, _) = restore_status(&s, "cold", "deep").await;
    assert_eq!(st, 202);
    let mut s = s;
    s.terminate();
    s.restart();
    let c = s.client();
    let head = c.head_object().bucket("cold").key("deep").send().await.unwrap();
    assert!(head.restore().is_some(), "restore state kept across a restart");
}
