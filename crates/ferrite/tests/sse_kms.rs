//! SSE-KMS on objects, driven by aws-sdk-s3 (and aws-sdk-kms for the keys) against
//! the real binary: the default key and named keys (id, ARN, alias), the encryption
//! context, the headers every answer carries, ETags that are not the MD5, ranges,
//! multipart uploads (a part sent again keeps its ETag), copies between kinds of
//! encryption, a disabled key, SSE-KMS bucket defaults, and S3 Bucket Keys cutting
//! the KMS operations `/metrics` counts.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use base64::Engine;
use common::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A new customer key with an alias; its id and ARN.
async fn new_key(server: &Server, alias: &str) -> (String, String) {
    let kms = kms_client(server, ACCESS_KEY, SECRET_KEY);
    let meta = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(meta.key_id())
        .send()
        .await
        .unwrap();
    (meta.key_id().to_string(), meta.arn().unwrap().to_string())
}

/// The KMS operations `/metrics` counts: (GenerateDataKey, Decrypt).
async fn kms_ops(server: &Server) -> (u64, u64) {
    let (_, text) = raw_request(&server.addr, "GET", "/metrics", &[]).await;
    let read = |op: &str| -> u64 {
        let prefix = format!("ferrite_kms_operations_total{{operation=\"{op}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map_or(0.0, |v| v.trim().parse::<f64>().unwrap()) as u64
    };
    (read("GenerateDataKey"), read("Decrypt"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_kms_objects_under_the_default_and_named_keys() {
    let server = Server::start();
    let c = server.client();
    c.create_bucket().bucket("kms").send().await.unwrap();
    let (id, arn) = new_key(&server, "alias/app").await;

    // No key named: the default key alias/aws/s3, made on first use.
    let body = pattern(300 * 1024, 1);
    let put = c
        .put_object()
        .bucket("kms")
        .key("default")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    let kms = kms_client(&server, ACCESS_KEY, SECRET_KEY);
    let default = kms.describe_key().key_id("alias/aws/s3").send().await.unwrap();
    let default_arn = default.key_metadata().unwrap().arn().unwrap().to_string();
    assert_eq!(put.ssekms_key_id(), Some(default_arn.as_str()));
    assert_eq!(put.bucket_key_enabled(), None);
    // AWS documents that an SSE-KMS object's ETag is not the MD5 of its data.
    let etag = put.e_tag().unwrap().trim_matches('"').to_string();
    assert_eq!(etag.len(), 32);
    assert_ne!(etag, md5_hex(&body));

    let got = c.get_object().bucket("kms").key("default").send().await.unwrap();
    assert_eq!(got.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(got.ssekms_key_id(), Some(default_arn.as_str()));
    assert_eq!(got.e_tag(), put.e_tag());
    assert_eq!(read_all(got).await, body);
    let head = c.head_object().bucket("kms").key("default").send().await.unwrap();
    assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(head.ssekms_key_id(), Some(default_arn.as_str()));
    // A range across chunk boundaries.
    let start = 64 * 1024 - 10;
    let got = c
        .get_object()
        .bucket("kms")
        .key("default")
        .range(format!("bytes={start}-{}", start + 70_000))
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(got).await, body[start..=start + 70_000]);

    // The key by id, ARN, alias and alias ARN; each answers the key's ARN.
    let context = r#"{"project":"alpha","team":"storage"}"#;
    for (n, spec) in [
        id.clone(),
        arn.clone(),
        "alias/app".to_string(),
        "arn:aws:kms:us-east-1:000000000000:alias/app".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let key = format!("named-{n}");
        let put = c
            .put_object()
            .bucket("kms")
            .key(&key)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(spec)
            .ssekms_encryption_context(B64.encode(context))
            .body(ByteStream::from_static(b"small and inline"))
            .send()
            .await
            .unwrap();
        assert_eq!(put.ssekms_key_id(), Some(arn.as_str()), "{spec}");
        // The context is answered as given.
        let answered = B64.decode(put.ssekms_encryption_context().unwrap()).unwrap();
        assert_eq!(String::from_utf8(answered).unwrap(), context);
        let got = c.get_object().bucket("kms").key(&key).send().await.unwrap();
        assert_eq!(got.ssekms_key_id(), Some(arn.as_str()));
        assert_eq!(read_all(got).await, b"small and inline");
    }

    // Refused, with AWS's errors, and nothing stored: an unknown key, a context that
    // is not base64 JSON, KMS headers without aws:kms.
    let e = c
        .put_object()
        .bucket("kms")
        .key("refused")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("alias/none")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "KMS.NotFoundException"));
    for bad in [
        "not base64!".to_string(),
        B64.encode("not json"),
        B64.encode(r#"{"n":1}"#),
    ] {
        let e = c
            .put_object()
            .bucket("kms")
            .key("refused")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_encryption_context(&bad)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidArgument"), "{bad}");
    }
    let e = c
        .put_object()
        .bucket("kms")
        .key("refused")
        .ssekms_key_id("alias/app")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidArgument"));
    let e = c.head_object().bucket("kms").key("refused").send().await.unwrap_err();
    assert_eq!(status(&e), 404, "nothing stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_key_stops_reads_and_writes_until_enabled() {
    let server = Server::start();
    let c = server.client();
    c.create_bucket().bucket("kms").send().await.unwrap();
    let (id, _) = new_key(&server, "alias/app").await;
    for (key, bucket_key) in [("direct", false), ("bucket-keyed", true)] {
        c.put_object()
            .bucket("kms")
            .key(key)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&id)
            .bucket_key_enabled(bucket_key)
            .body(ByteStream::from(pattern(100_000, 2)))
            .send()
            .await
            .unwrap();
    }
    admin_ok(&server, &["kms", "key", "disable", &id]);
    for key in ["direct", "bucket-keyed"] {
        let e = c.get_object().bucket("kms").key(key).send().await.unwrap_err();
        assert_eq!((status(&e), code(&e).as_str()), (400, "KMS.DisabledException"), "{key}");
        // HEAD needs no key, as on AWS.
        let head = c.head_object().bucket("kms").key(key).send().await.unwrap();
        assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    }
    let e = c
        .put_object()
        .bucket("kms")
        .key("new")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&id)
        .bucket_key_enabled(true)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "KMS.DisabledException"));
    let e = c.head_object().bucket("kms").key("new").send().await.unwrap_err();
    assert_eq!(status(&e), 404, "nothing stored");
    // A copy needs the key as a read does, even one that would share the sealed data.
    let e = c
        .copy_object()
        .bucket("kms")
        .key("copy")
        .copy_source("kms/direct")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "KMS.DisabledException"));

    admin_ok(&server, &["kms", "key", "enable", &id]);
    for key in ["direct", "bucket-keyed"] {
        let got = c.get_object().bucket("kms").key(key).send().await.unwrap();
        assert_eq!(read_all(got).await, pattern(100_000, 2), "{key}");
    }
}

async fn upload_part(
    c: &aws_sdk_s3::Client,
    key: &str,
    upload: &str,
    n: i32,
    body: &[u8],
) -> aws_sdk_s3::operation::upload_part::UploadPartOutput {
    c.upload_part()
        .bucket("kms")
        .key(key)
        .upload_id(upload)
        .part_number(n)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_kms_multipart_uploads_and_copies() {
    let server = Server::start();
    let c = server.client();
    c.create_bucket().bucket("kms").send().await.unwrap();
    let (_, arn) = new_key(&server, "alias/app").await;
    let context = r#"{"purpose":"multipart"}"#;
    let up = c
        .create_multipart_upload()
        .bucket("kms")
        .key("mpu")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("alias/app")
        .ssekms_encryption_context(B64.encode(context))
        .send()
        .await
        .unwrap();
    assert_eq!(up.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(up.ssekms_key_id(), Some(arn.as_str()));
    assert_eq!(
        B64.decode(up.ssekms_encryption_context().unwrap()).unwrap(),
        context.as_bytes()
    );
    let id = up.upload_id().unwrap();
    let p1 = pattern(5 << 20, 3);
    let p2 = pattern(1 << 20, 4);
    let first = upload_part(&c, "mpu", id, 1, &p1).await;
    assert_eq!(first.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(first.ssekms_key_id(), Some(arn.as_str()));
    assert_ne!(first.e_tag().unwrap().trim_matches('"'), md5_hex(&p1));
    // A part sent again with the same bytes answers the same ETag, so a Complete that
    // lists the first answer still matches (clients retry parts).
    let again = upload_part(&c, "mpu", id, 1, &p1).await;
    assert_eq!(again.e_tag(), first.e_tag());
    let second = upload_part(&c, "mpu", id, 2, &p2).await;
    let done = c
        .complete_multipart_upload()
        .bucket("kms")
        .key("mpu")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(first.e_tag().unwrap())
                        .build(),
                )
                .parts(
                    CompletedPart::builder()
                        .part_number(2)
                        .e_tag(second.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(done.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(done.ssekms_key_id(), Some(arn.as_str()));
    let whole: Vec<u8> = [p1.clone(), p2.clone()].concat();
    let got = c.get_object().bucket("kms").key("mpu").send().await.unwrap();
    assert_eq!(got.ssekms_key_id(), Some(arn.as_str()));
    assert_eq!(read_all(got).await, whole);
    // A range across the part boundary.
    let start = (5 << 20) - 100;
    let got = c
        .get_object()
        .bucket("kms")
        .key("mpu")
        .range(format!("bytes={start}-{}", start + 199))
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(got).await, whole[start..start + 200]);

    // Copies between kinds of encryption: plaintext -> SSE-KMS, SSE-KMS -> SSE-S3,
    // SSE-S3 -> SSE-KMS (with a bucket key), and SSE-KMS kept by a copy asking for
    // nothing.
    c.put_object()
        .bucket("kms")
        .key("plain")
        .body(ByteStream::from_static(b"plain source"))
        .send()
        .await
        .unwrap();
    let out = c
        .copy_object()
        .bucket("kms")
        .key("plain-to-kms")
        .copy_source("kms/plain")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("alias/app")
        .ssekms_encryption_context(B64.encode(context))
        .send()
        .await
        .unwrap();
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(out.ssekms_key_id(), Some(arn.as_str()));
    assert_eq!(
        B64.decode(out.ssekms_encryption_context().unwrap()).unwrap(),
        context.as_bytes(),
        "a copy answers the context it was sealed with"
    );
    let out = c
        .copy_object()
        .bucket("kms")
        .key("kms-to-s3")
        .copy_source("kms/mpu")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(out.ssekms_key_id(), None);
    let out = c
        .copy_object()
        .bucket("kms")
        .key("s3-to-kms")
        .copy_source("kms/kms-to-s3")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .bucket_key_enabled(true)
        .send()
        .await
        .unwrap();
    assert_eq!(out.bucket_key_enabled(), Some(true));
    let out = c
        .copy_object()
        .bucket("kms")
        .key("kms-kept")
        .copy_source("kms/plain-to-kms")
        .send()
        .await
        .unwrap();
    assert_eq!(out.ssekms_key_id(), Some(arn.as_str()));
    // SSE-KMS -> SSE-C and back.
    let ck = B64.encode([8u8; 32]);
    let ck_md5 = B64.encode(<md5::Md5 as md5::Digest>::digest([8u8; 32]));
    c.copy_object()
        .bucket("kms")
        .key("kms-to-c")
        .copy_source("kms/plain-to-kms")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck)
        .sse_customer_key_md5(&ck_md5)
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket("kms")
        .key("kms-to-c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck)
        .sse_customer_key_md5(&ck_md5)
        .send()
        .await
        .unwrap();
    assert_eq!(got.ssekms_key_id(), None);
    assert_eq!(read_all(got).await, b"plain source");
    let out = c
        .copy_object()
        .bucket("kms")
        .key("c-to-kms")
        .copy_source("kms/kms-to-c")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&ck)
        .copy_source_sse_customer_key_md5(&ck_md5)
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .send()
        .await
        .unwrap();
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    for (key, want) in [
        ("c-to-kms", b"plain source".to_vec()),
        ("plain-to-kms", b"plain source".to_vec()),
        ("kms-to-s3", whole.clone()),
        ("s3-to-kms", whole.clone()),
        ("kms-kept", b"plain source".to_vec()),
    ] {
        let got = c.get_object().bucket("kms").key(key).send().await.unwrap();
        assert_eq!(read_all(got).await, want, "{key}");
    }
}

/// An SSE-C part sent again with the same key and bytes answers the same ETag too
/// (ceph's test_multipart_sse_c_get_part found that it did not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_c_part_sent_again_keeps_its_etag() {
    let server = Server::start();
    let c = server.client();
    c.create_bucket().bucket("kms").send().await.unwrap();
    let key = B64.encode([7u8; 32]);
    let key_md5 = B64.encode(<md5::Md5 as md5::Digest>::digest([7u8; 32]));
    let up = c
        .create_multipart_upload()
        .bucket("kms")
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&key_md5)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let body = pattern(5 << 20, 5);
    let mut etags = Vec::new();
    for _ in 0..2 {
        let p = c
            .upload_part()
            .bucket("kms")
            .key("c")
            .upload_id(id)
            .part_number(1)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&key_md5)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        etags.push(p.e_tag().unwrap().to_string());
    }
    assert_eq!(etags[0], etags[1]);
    assert_ne!(etags[0].trim_matches('"'), md5_hex(&body));
    c.complete_multipart_upload()
        .bucket("kms")
        .key("c")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(&etags[0]).build())
                .build(),
        )
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&key_md5)
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket("kms")
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&key_md5)
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(got).await, body);
}

/// An SSE-KMS bucket default encrypts every write that asks for nothing under its key;
/// with BucketKeyEnabled, a bucket key seals the data keys: ten writes and ten reads
/// make one KMS operation instead of twenty (`/metrics`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_defaults_and_bucket_keys_cut_kms_operations() {
    let server = Server::start();
    let c = server.client();
    let (_, arn) = new_key(&server, "alias/app").await;
    for (bucket, bucket_key) in [("direct", false), ("keyed", true)] {
        c.create_bucket().bucket(bucket).send().await.unwrap();
        c.put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(encryption_config(
                ServerSideEncryption::AwsKms,
                Some("alias/app"),
                bucket_key,
            ))
            .send()
            .await
            .unwrap();
        let got = c.get_bucket_encryption().bucket(bucket).send().await.unwrap();
        let rule = &got.server_side_encryption_configuration().unwrap().rules()[0];
        let dflt = rule.apply_server_side_encryption_by_default().unwrap();
        assert_eq!(dflt.sse_algorithm(), &ServerSideEncryption::AwsKms);
        assert_eq!(dflt.kms_master_key_id(), Some("alias/app"));
        assert_eq!(rule.bucket_key_enabled(), Some(bucket_key));
    }
    let mut ops = Vec::new();
    for (bucket, bucket_key) in [("direct", false), ("keyed", true)] {
        let before = kms_ops(&server).await;
        for i in 0..10 {
            let put = c
                .put_object()
                .bucket(bucket)
                .key(format!("o{i}"))
                .body(ByteStream::from(pattern(2000, i)))
                .send()
                .await
                .unwrap();
            assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
            assert_eq!(put.ssekms_key_id(), Some(arn.as_str()));
            assert_eq!(put.bucket_key_enabled(), bucket_key.then_some(true));
        }
        for i in 0..10 {
            let got = c.get_object().bucket(bucket).key(format!("o{i}")).send().await.unwrap();
            assert_eq!(got.bucket_key_enabled(), bucket_key.then_some(true));
            assert_eq!(read_all(got).await, pattern(2000, i));
        }
        let after = kms_ops(&server).await;
        ops.push((after.0 - before.0, after.1 - before.1));
    }
    assert_eq!(
        ops[0],
        (10, 10),
        "without a bucket key: one KMS operation per write and per read"
    );
    assert_eq!(ops[1], (1, 0), "with one: a single GenerateDataKey for the bucket key");

    // A write may turn the bucket key off for itself.
    let put = c
        .put_object()
        .bucket("keyed")
        .key("own")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .bucket_key_enabled(false)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.bucket_key_enabled(), None);
    // So may the header alone, under the bucket's SSE-KMS default, either way.
    for (bucket, bucket_key) in [("keyed", false), ("direct", true)] {
        let put = c
            .put_object()
            .bucket(bucket)
            .key("lone-header")
            .bucket_key_enabled(bucket_key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            put.server_side_encryption(),
            Some(&ServerSideEncryption::AwsKms),
            "{bucket}"
        );
        assert_eq!(put.ssekms_key_id(), Some(arn.as_str()));
        assert_eq!(put.bucket_key_enabled(), bucket_key.then_some(true), "{bucket}");
    }
    // A restart: the bucket key is opened once (one Decrypt), then kept.
    let mut server = server;
    assert!(server.terminate().success());
    server.restart();
    let c = server.client();
    for i in 0..3 {
        let got = c
            .get_object()
            .bucket("keyed")
            .key(format!("o{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(read_all(got).await, pattern(2000, i));
    }
    assert_eq!(kms_ops(&server).await, (0, 1));
}
