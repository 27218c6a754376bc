//! PutObject, UploadPart and UploadPartCopy as one model call each: what a request
//! claims about its body is checked by the model, and what can be refused is refused
//! before a byte of the body is read.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use common::{options, root};
use ferrite_model::*;
use md5::{Digest, Md5};

fn body(data: &[u8]) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + Unpin + use<> {
    futures::stream::iter(vec![Ok(Bytes::copy_from_slice(data))])
}

/// A body that records whether anything polled it.
fn untouched(polled: Arc<AtomicBool>) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + Unpin {
    futures::stream::poll_fn(move |_| {
        polled.store(true, Ordering::SeqCst);
        std::task::Poll::Ready(Some(Ok(Bytes::from_static(b"x"))))
    })
}

fn claims_body(
    data: &[u8],
    claims: BodyClaims,
) -> IncomingBody<impl futures::Stream<Item = std::io::Result<Bytes>> + Send + Unpin + use<>> {
    IncomingBody {
        stream: body(data),
        claims,
        trailer_value: None,
    }
}

async fn open() -> (tempfile::TempDir, Ferrite) {
    let dir = tempfile::tempdir().unwrap();
    let f = Ferrite::open_local(dir.path(), options()).await.unwrap();
    f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    (dir, f)
}

async fn exists(f: &Ferrite, key: &str) -> bool {
    f.head_object(&root(), "bkt", key, None, &ReadConditions::default())
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_put_is_checked_against_its_claims() {
    let (_dir, f) = open().await;
    let data = b"hello, ferrite";
    let md5: [u8; 16] = Md5::digest(data).into();
    let good = BodyClaims {
        length: Some(data.len() as u64),
        content_md5: Some(md5),
        ..Default::default()
    };
    let info = f
        .put_object(
            &root(),
            "bkt",
            "ok",
            claims_body(data, good.clone()),
            PutAttrs::default(),
        )
        .await
        .unwrap();
    assert_eq!(info.etag, hex::encode(md5));

    let mut wrong_md5 = good.clone();
    wrong_md5.content_md5 = Some([0; 16]);
    let e = f
        .put_object(&root(), "bkt", "bad", claims_body(data, wrong_md5), PutAttrs::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ModelError::BadDigest(_)), "{e:?}");

    let mut short = good.clone();
    short.length = Some(data.len() as u64 + 1);
    let e = f
        .put_object(&root(), "bkt", "bad", claims_body(data, short), PutAttrs::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ModelError::IncompleteBody), "{e:?}");

    let crc = BodyClaims {
        checksum: Some(ChecksumValue::parse(ChecksumAlgorithm::Crc32, "AAAAAA==").unwrap()),
        ..Default::default()
    };
    let e = f
        .put_object(&root(), "bkt", "bad", claims_body(data, crc), PutAttrs::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ModelError::BadDigest(_)), "{e:?}");

    // A trailer announced and never sent is refused; one sent is checked.
    let announced = BodyClaims {
        trailer: Some(ChecksumAlgorithm::Crc32),
        ..Default::default()
    };
    let e = f
        .put_object(
            &root(),
            "bkt",
            "bad",
            claims_body(data, announced.clone()),
            PutAttrs::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ModelError::InvalidRequest(_)), "{e:?}");
    let mut with_trailer = claims_body(data, announced.clone());
    with_trailer.trailer_value = Some(Box::new(|_| Some("AAAAAA==".into())));
    let e = f
        .put_object(&root(), "bkt", "bad", with_trailer, PutAttrs::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ModelError::BadDigest(_)), "{e:?}");
    // The right trailer value: computed by a plain PUT of the same bytes with the
    // algorithm requested.
    let sdk = BodyClaims {
        sdk_algorithm: Some(ChecksumAlgorithm::Crc32),
        ..Default::default()
    };
    let stored = f
        .put_object(&root(), "bkt", "crc", claims_body(data, sdk), PutAttrs::default())
        .await
        .unwrap();
    let value = stored.checksum.expect("the SDK's algorithm is computed").base64;
    let mut with_trailer = claims_body(data, announced);
    with_trailer.trailer_value = Some(Box::new(move |algo| {
        assert_eq!(algo, ChecksumAlgorithm::Crc32);
        Some(value)
    }));
    f.put_object(&root(), "bkt", "trailer", with_trailer, PutAttrs::default())
        .await
        .unwrap();

    assert!(exists(&f, "ok").await && exists(&f, "trailer").await);
    assert!(!exists(&f, "bad").await, "no refused body was stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn what_can_be_refused_is_refused_before_the_body_is_read() {
    let (_dir, f) = open().await;
    let up = f
        .create_multipart_upload(
            &root(),
            "bkt",
            "mp",
            NewUpload {
                checksum_algorithm: Some(ChecksumAlgorithm::Sha256),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let polled = Arc::new(AtomicBool::new(false));
    let incoming = |claims: BodyClaims| IncomingBody {
        stream: untouched(polled.clone()),
        claims,
        trailer_value: None,
    };
    let huge = BodyClaims {
        length: Some(MAX_PUT_SIZE + 1),
        ..Default::default()
    };
    let e = f
        .put_object(&root(), "bkt", "k", incoming(huge.clone()), PutAttrs::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ModelError::EntityTooLarge), "{e:?}");
    let e = f
        .put_object(
            &root(),
            "nobucket",
            "k",
            incoming(BodyClaims::default()),
            PutAttrs::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ModelError::NoSuchBucket), "{e:?}");
    let e = f
        .put_object(
            &Caller::anonymous(),
            "bkt",
            "k",
            incoming(BodyClaims::default()),
            PutAttrs::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ModelError::AccessDenied), "{e:?}");
    let e = f
        .upload_part(&root(), "bkt", "mp", &up.upload_id, 1, incoming(huge))
        .await
        .unwrap_err();
    assert!(matches!(e, ModelError::EntityTooLarge), "{e:?}");
    let e = f
        .upload_part(&root(), "bkt", "mp", &up.upload_id, 0, incoming(BodyClaims::default()))
        .await
        .unwrap_err();
    assert!(matches!(e, ModelError::InvalidArgument(_)), "{e:?}");
    let e = f
        .upload_part(
            &root(),
            "bkt",
            "mp",
            "00000000000000000000000000000000",
            1,
            incoming(BodyClaims::default()),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ModelError::NoSuchUpload), "{e:?}");
    // The upload hashes parts with SHA256: a part that sends a CRC32 is refused.
    let crc = BodyClaims {
        trailer: Some(ChecksumAlgorithm::Crc32),
        ..Default::default()
    };
    let e = f
        .upload_part(&root(), "bkt", "mp", &up.upload_id, 1, incoming(crc))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ModelError::InvalidRequest(ref m) if m.contains("Checksum Type mismatch")),
        "{e:?}"
    );
    assert!(!polled.load(Ordering::SeqCst), "no refused request's body was read");
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_part_copy_is_one_call_with_source_conditions_and_range() {
    let (_dir, f) = open().await;
    let src = f
        .put_object(
            &root(),
            "bkt",
            "src",
            IncomingBody::new(body(b"0123456789")),
            PutAttrs::default(),
        )
        .await
        .unwrap();
    let up = f
        .create_multipart_upload(&root(), "bkt", "dst", NewUpload::default())
        .await
        .unwrap();
    let copy = |range: Option<ByteRange>, conditions: ReadConditions| PartCopy {
        bucket: "bkt".into(),
        key: "dst".into(),
        upload_id: up.upload_id.clone(),
        part_number: 1,
        src_bucket: "bkt".into(),
        src_key: "src".into(),
        src_version: None,
        range,
        conditions,
        sse_customer_key: None,
    };
    let done = f
        .upload_part_copy(
            &root(),
            copy(
                Some(ByteRange::From {
                    first: 2,
                    last: Some(4),
                }),
                ReadConditions::default(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(done.part.size, 3);
    assert_eq!(done.part.etag, hex::encode(Md5::digest(b"234")));
    // A range past the end of the source is refused (a GET would clamp it).
    let e = f
        .upload_part_copy(
            &root(),
            copy(
                Some(ByteRange::From {
                    first: 2,
                    last: Some(10),
                }),
                ReadConditions::default(),
            ),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ModelError::InvalidRange), "{e:?}");
    // A copy-source If-None-Match that matches fails with 412, not 304.
    let cond = ReadConditions {
        if_none_match: Some(vec![src.etag.clone()]),
        ..Default::default()
    };
    let e = f.upload_part_copy(&root(), copy(None, cond)).await.unwrap_err();
    assert!(matches!(e, ModelError::PreconditionFailed), "{e:?}");
}
