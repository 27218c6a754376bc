//! Server-side encryption with customer-provided keys (SSE-C), driven by aws-sdk-s3
//! against the real binary: every request on an SSE-C object needs the key (none is
//! 400, another 403), responses echo the algorithm and the key's MD5 (never the key),
//! the ETag is not the MD5, multipart uploads need the key on every part, copies
//! between every pair of encryption kinds, and bad key headers refused with nothing
//! stored.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;

const CHUNK: usize = 64 * 1024;

/// A customer key: the base64 key and the base64 MD5 of its bytes.
#[derive(Clone)]
struct Ck {
    key: String,
    md5: String,
}

fn ck(byte: u8) -> Ck {
    let raw = [byte; 32];
    Ck {
        key: B64.encode(raw),
        md5: B64.encode(<md5::Md5 as md5::Digest>::digest(raw)),
    }
}

async fn put_c(c: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8], k: &Ck) -> String {
    let out = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k.key)
        .sse_customer_key_md5(&k.md5)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.sse_customer_algorithm(), Some("AES256"), "PUT {key}");
    assert_eq!(out.sse_customer_key_md5(), Some(k.md5.as_str()), "PUT {key}");
    assert_eq!(out.server_side_encryption(), None, "SSE-C answers its own headers");
    out.e_tag().unwrap().to_string()
}

async fn get_c(c: &aws_sdk_s3::Client, bucket: &str, key: &str, range: Option<&str>, k: &Ck) -> Vec<u8> {
    let out = c
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_range(range.map(str::to_string))
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k.key)
        .sse_customer_key_md5(&k.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(out.sse_customer_algorithm(), Some("AES256"));
    assert_eq!(out.sse_customer_key_md5(), Some(k.md5.as_str()));
    read_all(out).await
}

#[tokio::test]
async fn an_sse_c_object_is_read_only_with_its_key() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let (k, other) = (ck(1), ck(2));
    // Inline-sized and blob-sized, a whole chunk and a bit more.
    for (key, len) in [("small", 1000), ("large", 3 * CHUNK + 17)] {
        let body = pattern(len, len as u64);
        let etag = put_c(&c, "bkt", key, &body, &k).await;
        assert_ne!(
            etag.trim_matches('"'),
            md5_hex(&body),
            "an SSE-C ETag is not the MD5 (as AWS)"
        );
        assert!(get_c(&c, "bkt", key, None, &k).await == body, "{key}");
        for (first, last) in [(0, 9), (CHUNK - 3, CHUNK + 2), (len - 5, len - 1), (10, len - 1)] {
            if last < len {
                let got = get_c(&c, "bkt", key, Some(&format!("bytes={first}-{last}")), &k).await;
                assert!(got == body[first..=last], "{key} {first}-{last}");
            }
        }
        let head = c
            .head_object()
            .bucket("bkt")
            .key(key)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k.key)
            .sse_customer_key_md5(&k.md5)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(len as i64));
        assert_eq!(head.sse_customer_key_md5(), Some(k.md5.as_str()));
        assert_eq!(head.e_tag(), Some(etag.as_str()));
        // Without the key: 400 for GET and HEAD; with another: 403.
        let e = c.get_object().bucket("bkt").key(key).send().await.unwrap_err();
        assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidRequest"), "{key}");
        let e = c.head_object().bucket("bkt").key(key).send().await.unwrap_err();
        assert_eq!(status(&e), 400, "{key}");
        let e = c
            .get_object()
            .bucket("bkt")
            .key(key)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&other.key)
            .sse_customer_key_md5(&other.md5)
            .send()
            .await
            .unwrap_err();
        assert_eq!((status(&e), code(&e).as_str()), (403, "AccessDenied"), "{key}");
        let e = c
            .head_object()
            .bucket("bkt")
            .key(key)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&other.key)
            .sse_customer_key_md5(&other.md5)
            .send()
            .await
            .unwrap_err();
        assert_eq!(status(&e), 403, "{key}");
    }
    // A key given for an object that is not SSE-C is not applicable.
    c.put_object()
        .bucket("bkt")
        .key("plain")
        .body(ByteStream::from_static(b"plain"))
        .send()
        .await
        .unwrap();
    let e = c
        .get_object()
        .bucket("bkt")
        .key("plain")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k.key)
        .sse_customer_key_md5(&k.md5)
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidRequest"));
    // Listings show the object without the key.
    let list = c.list_objects_v2().bucket("bkt").send().await.unwrap();
    assert_eq!(list.contents().len(), 3);
}

#[tokio::test]
async fn bad_key_headers_are_refused_and_store_nothing() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let k = ck(1);
    let short = B64.encode([1u8; 16]);
    let short_md5 = B64.encode(<md5::Md5 as md5::Digest>::digest([1u8; 16]));
    // (object key, the customer headers sent (name after `...-customer-`), the error)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "no-md5",
            vec![("algorithm", "AES256".into()), ("key", k.key.clone())],
            "InvalidArgument",
        ),
        ("no-key", vec![("algorithm", "AES256".into())], "InvalidArgument"),
        (
            "no-algorithm",
            vec![("key", k.key.clone()), ("key-MD5", k.md5.clone())],
            "InvalidArgument",
        ),
        (
            "wrong-md5",
            vec![
                ("algorithm", "AES256".into()),
                ("key", k.key.clone()),
                ("key-MD5", "AAAAAAAAAAAAAAAAAAAAAA==".into()),
            ],
            "InvalidArgument",
        ),
        (
            "short-key",
            vec![("algorithm", "AES256".into()), ("key", short), ("key-MD5", short_md5)],
            "InvalidArgument",
        ),
        (
            "aes192",
            vec![
                ("algorithm", "AES192".into()),
                ("key", k.key.clone()),
                ("key-MD5", k.md5.clone()),
            ],
            "InvalidEncryptionAlgorithmError",
        ),
    ];
    for (key, headers, expected) in cases {
        let e = c
            .put_object()
            .bucket("bkt")
            .key(key)
            .body(ByteStream::from_static(b"data"))
            .customize()
            .mutate_request(move |r| {
                for (name, value) in &headers {
                    r.headers_mut()
                        .insert(format!("x-amz-server-side-encryption-customer-{name}"), value.clone());
                }
            })
            .send()
            .await
            .unwrap_err();
        assert_eq!((status(&e), code(&e).as_str()), (400, expected), "{key}");
    }
    // Content-MD5 is checked against the plaintext.
    let e = c
        .put_object()
        .bucket("bkt")
        .key("bad-digest")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k.key)
        .sse_customer_key_md5(&k.md5)
        .content_md5(B64.encode(<md5::Md5 as md5::Digest>::digest(b"other")))
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadDigest");
    c.put_object()
        .bucket("bkt")
        .key("good-digest")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k.key)
        .sse_customer_key_md5(&k.md5)
        .content_md5(B64.encode(<md5::Md5 as md5::Digest>::digest(b"data")))
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .unwrap();
    let list = c.list_objects_v2().bucket("bkt").send().await.unwrap();
    let keys: Vec<_> = list.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["good-digest"], "nothing else stored");
}

#[tokio::test]
async fn sse_c_multipart_uploads_need_the_key_on_every_part() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let (k, other) = (ck(3), ck(4));
    let up = c
        .create_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k.key)
        .sse_customer_key_md5(&k.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(up.sse_customer_algorithm(), Some("AES256"));
    assert_eq!(up.sse_customer_key_md5(), Some(k.md5.as_str()));
    let id = up.upload_id().unwrap();
    let part_len = (5 << 20) + 1;
    let body = pattern(2 * part_len + 1000, 9);
    // A part without the key, or with another key than the upload's, is refused (400:
    // "The provided encryption parameters did not match the ones used originally").
    let e = c
        .upload_part()
        .bucket("bkt")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from(body[..part_len].to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 400);
    let e = c
        .upload_part()
        .bucket("bkt")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&other.key)
        .sse_customer_key_md5(&other.md5)
        .body(ByteStream::from(body[..part_len].to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidArgument"));
    let mut parts = Vec::new();
    for (n, piece) in body.chunks(part_len).enumerate() {
        let n = n as i32 + 1;
        let p = c
            .upload_part()
            .bucket("bkt")
            .key("mp")
            .upload_id(id)
            .part_number(n)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k.key)
            .sse_customer_key_md5(&k.md5)
            .body(ByteStream::from(piece.to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(p.sse_customer_key_md5(), Some(k.md5.as_str()));
        assert_ne!(p.e_tag().unwrap().trim_matches('"'), md5_hex(piece));
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(p.e_tag().unwrap())
                .build(),
        );
    }
    // Complete may send the key; another one is refused (400, as for a part).
    let e = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .upload_id(id)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&other.key)
        .sse_customer_key_md5(&other.md5)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts.clone()))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidArgument"));
    c.complete_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .upload_id(id)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k.key)
        .sse_customer_key_md5(&k.md5)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    assert!(get_c(&c, "bkt", "mp", None, &k).await == body);
    for (first, last) in [
        (part_len - 10, part_len + 10),
        (CHUNK - 1, CHUNK),
        (2 * part_len - 1, 2 * part_len + 999),
    ] {
        let got = get_c(&c, "bkt", "mp", Some(&format!("bytes={first}-{last}")), &k).await;
        assert!(got == body[first..=last], "{first}-{last}");
    }
    let second = c
        .get_object()
        .bucket("bkt")
        .key("mp")
        .part_number(2)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k.key)
        .sse_customer_key_md5(&k.md5)
        .send()
        .await
        .unwrap();
    assert!(read_all(second).await == body[part_len..2 * part_len]);
    let e = c.get_object().bucket("bkt").key("mp").send().await.unwrap_err();
    assert_eq!(status(&e), 400);

    // UploadPartCopy: an SSE-C source (its key as copy-source headers) into an SSE-C
    // upload under another key.
    let up = c
        .create_multipart_upload()
        .bucket("bkt")
        .key("assembled")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&other.key)
        .sse_customer_key_md5(&other.md5)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let e = c
        .upload_part_copy()
        .bucket("bkt")
        .key("assembled")
        .upload_id(id)
        .part_number(1)
        .copy_source("bkt/mp")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&other.key)
        .sse_customer_key_md5(&other.md5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 400, "the source's key is needed");
    let p = c
        .upload_part_copy()
        .bucket("bkt")
        .key("assembled")
        .upload_id(id)
        .part_number(1)
        .copy_source("bkt/mp")
        .copy_source_range(format!("bytes=0-{}", part_len - 1))
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&k.key)
        .copy_source_sse_customer_key_md5(&k.md5)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&other.key)
        .sse_customer_key_md5(&other.md5)
        .send()
        .await
        .unwrap();
    let parts = vec![
        CompletedPart::builder()
            .part_number(1)
            .e_tag(p.copy_part_result().unwrap().e_tag().unwrap())
            .build(),
    ];
    c.complete_multipart_upload()
        .bucket("bkt")
        .key("assembled")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    assert!(get_c(&c, "bkt", "assembled", None, &other).await == body[..part_len]);
}

/// How a copy's destination is encrypted, and how to read it.
#[derive(Clone)]
enum Kind {
    Plain,
    S3,
    C(Ck),
}

impl Kind {
    fn name(&self) -> String {
        match self {
            Kind::Plain => "plain".into(),
            Kind::S3 => "sse-s3".into(),
            Kind::C(k) => format!("sse-c-{}", &k.md5[..4]),
        }
    }
}

async fn put_kind(c: &aws_sdk_s3::Client, key: &str, body: &[u8], kind: &Kind) {
    match kind {
        Kind::C(k) => {
            put_c(c, "bkt", key, body, k).await;
        }
        _ => {
            c.put_object()
                .bucket("bkt")
                .key(key)
                .set_server_side_encryption(matches!(kind, Kind::S3).then_some(ServerSideEncryption::Aes256))
                .body(ByteStream::from(body.to_vec()))
                .send()
                .await
                .unwrap();
        }
    }
}

async fn read_kind(c: &aws_sdk_s3::Client, key: &str, kind: &Kind) -> Vec<u8> {
    match kind {
        Kind::C(k) => get_c(c, "bkt", key, None, k).await,
        _ => {
            let out = c.get_object().bucket("bkt").key(key).send().await.unwrap();
            let expected = matches!(kind, Kind::S3).then_some(ServerSideEncryption::Aes256);
            assert_eq!(out.server_side_encryption(), expected.as_ref(), "{key}");
            read_all(out).await
        }
    }
}

#[tokio::test]
async fn copies_between_every_pair_of_encryption_kinds() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let kinds = [Kind::Plain, Kind::S3, Kind::C(ck(5)), Kind::C(ck(6))];
    for (i, from) in kinds.iter().enumerate() {
        let body = pattern(CHUNK + 100 + i, i as u64);
        let src = format!("src-{}", from.name());
        put_kind(&c, &src, &body, from).await;
        for to in &kinds {
            let dst = format!("{}-to-{}", from.name(), to.name());
            let mut copy = c
                .copy_object()
                .bucket("bkt")
                .key(&dst)
                .copy_source(format!("bkt/{src}"));
            if let Kind::C(k) = from {
                copy = copy
                    .copy_source_sse_customer_algorithm("AES256")
                    .copy_source_sse_customer_key(&k.key)
                    .copy_source_sse_customer_key_md5(&k.md5);
            }
            // Asking for nothing keeps SSE-S3 (ferrite keeps the source's encryption
            // when the bucket has no default) and stores an SSE-C source's copy
            // unencrypted (the customer's key was given to read, not to seal).
            let expect = match to {
                Kind::Plain if matches!(from, Kind::S3) => Kind::S3,
                Kind::Plain => Kind::Plain,
                other => other.clone(),
            };
            match to {
                Kind::Plain => {}
                Kind::S3 => copy = copy.server_side_encryption(ServerSideEncryption::Aes256),
                Kind::C(k) => {
                    copy = copy
                        .sse_customer_algorithm("AES256")
                        .sse_customer_key(&k.key)
                        .sse_customer_key_md5(&k.md5)
                }
            }
            let out = copy.send().await.unwrap_or_else(|e| panic!("{dst}: {e:?}"));
            if let Kind::C(k) = &expect {
                assert_eq!(out.sse_customer_key_md5(), Some(k.md5.as_str()), "{dst}");
            }
            assert!(read_kind(&c, &dst, &expect).await == body, "{dst}");
        }
        // An SSE-C source needs its key: none is 400, another 403.
        if let Kind::C(k) = from {
            let e = c
                .copy_object()
                .bucket("bkt")
                .key("refused")
                .copy_source(format!("bkt/{src}"))
                .send()
                .await
                .unwrap_err();
            assert_eq!(status(&e), 400, "{src} without its key");
            let wrong = if k.md5 == ck(5).md5 { ck(6) } else { ck(5) };
            let e = c
                .copy_object()
                .bucket("bkt")
                .key("refused")
                .copy_source(format!("bkt/{src}"))
                .copy_source_sse_customer_algorithm("AES256")
                .copy_source_sse_customer_key(&wrong.key)
                .copy_source_sse_customer_key_md5(&wrong.md5)
                .sse_customer_algorithm("AES256")
                .sse_customer_key(&k.key)
                .sse_customer_key_md5(&k.md5)
                .send()
                .await
                .unwrap_err();
            assert_eq!(status(&e), 403, "{src} with another key");
        }
    }
    let e = c.head_object().bucket("bkt").key("refused").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
}

#[tokio::test]
async fn an_sse_c_copy_under_the_same_key_shares_the_data() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let k = ck(7);
    let body = pattern(1 << 20, 3);
    put_c(&c, "bkt", "src", &body, &k).await;
    let blobs = s.blob_files();
    c.copy_object()
        .bucket("bkt")
        .key("same")
        .copy_source("bkt/src")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&k.key)
        .copy_source_sse_customer_key_md5(&k.md5)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k.key)
        .sse_customer_key_md5(&k.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(s.blob_files(), blobs, "same key: no new data");
    assert!(get_c(&c, "bkt", "same", None, &k).await == body);
    // A self-copy under a new key re-encrypts: the old key no longer reads it.
    let k2 = ck(8);
    c.copy_object()
        .bucket("bkt")
        .key("src")
        .copy_source("bkt/src")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&k.key)
        .copy_source_sse_customer_key_md5(&k.md5)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k2.key)
        .sse_customer_key_md5(&k2.md5)
        .send()
        .await
        .unwrap();
    assert!(get_c(&c, "bkt", "src", None, &k2).await == body);
    let e = c
        .get_object()
        .bucket("bkt")
        .key("src")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k.key)
        .sse_customer_key_md5(&k.md5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 403);
}
