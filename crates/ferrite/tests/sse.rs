//! Server-side encryption with server-managed keys (SSE-S3), driven by aws-sdk-s3
//! against the real binary: headers as AWS answers them, data read back whole and in
//! ranges across chunk boundaries, no plaintext anywhere in the data dir, tampering
//! detected, the master key file across restarts and a start with the wrong key, and
//! the kinds of encryption not built yet refused.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use base64::Engine;
use common::*;

const CHUNK: usize = 64 * 1024;

async fn put_sse(c: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) -> String {
    let out = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256),
        "PUT {key}"
    );
    out.e_tag().unwrap().to_string()
}

async fn get_range(c: &aws_sdk_s3::Client, bucket: &str, key: &str, range: &str) -> Vec<u8> {
    let out = c
        .get_object()
        .bucket(bucket)
        .key(key)
        .range(range)
        .send()
        .await
        .unwrap();
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    read_all(out).await
}

#[tokio::test]
async fn sse_s3_objects_read_back_whole_and_in_ranges() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    // Empty, inline (up to 64 KiB), exactly one chunk, blob-sized, several flushes.
    for (i, len) in [0, 1, 100, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17, (3 << 20) + 5]
        .into_iter()
        .enumerate()
    {
        let key = format!("obj-{len}");
        let body = pattern(len, i as u64);
        let etag = put_sse(&c, "enc", &key, &body).await;
        // SSE-S3: the ETag is the plaintext's MD5, as on AWS.
        assert_eq!(etag, format!("\"{}\"", md5_hex(&body)), "{key}");
        let head = c.head_object().bucket("enc").key(&key).send().await.unwrap();
        assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
        assert_eq!(head.content_length(), Some(len as i64));
        let got = c.get_object().bucket("enc").key(&key).send().await.unwrap();
        assert_eq!(got.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
        assert_eq!(got.content_length(), Some(len as i64));
        assert!(read_all(got).await == body, "{key} reads back");
        if len < 2 {
            continue;
        }
        // Ranges: the first byte, the last byte, across each chunk boundary, a suffix.
        let mut ranges = vec![(0, 0), (len - 1, len - 1), (1, len - 2)];
        let mut boundary = CHUNK;
        while boundary < len {
            ranges.push((boundary - 3, (boundary + 2).min(len - 1)));
            ranges.push((boundary, boundary));
            boundary += CHUNK;
        }
        for (first, last) in ranges {
            let got = get_range(&c, "enc", &key, &format!("bytes={first}-{last}")).await;
            assert!(got == body[first..=last], "{key} bytes {first}-{last}");
        }
        let tail = get_range(&c, "enc", &key, "bytes=-7").await;
        assert_eq!(tail, body[len.saturating_sub(7)..], "{key} suffix");
    }
    // Listing shows plaintext sizes.
    let listed = c.list_objects_v2().bucket("enc").send().await.unwrap();
    let sizes: Vec<i64> = listed.contents().iter().map(|o| o.size().unwrap()).collect();
    assert!(sizes.contains(&((3 << 20) + 5)) && sizes.contains(&0), "{sizes:?}");
}

#[tokio::test]
async fn digests_are_checked_against_the_plaintext() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let body = pattern(200_000, 3);
    // A right Content-MD5 and a CRC32 checksum: stored, and the checksum answered.
    let md5 = base64::engine::general_purpose::STANDARD.encode(<md5::Md5 as md5::Digest>::digest(&body));
    let out = c
        .put_object()
        .bucket("enc")
        .key("checked")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .content_md5(&md5)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    assert!(out.checksum_crc32().is_some());
    // A wrong Content-MD5: BadDigest, and nothing is stored.
    let wrong = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
    let e = c
        .put_object()
        .bucket("enc")
        .key("refused")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .content_md5(wrong)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadDigest");
    let e = c.head_object().bucket("enc").key("refused").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
}

/// Objects with a marker string under SSE-S3, inline and blob-sized: neither the
/// marker nor its first 16 bytes is in any file under the data dir (blobs, the
/// metadata file, temporary files). A plaintext object's marker is found, so the
/// scan does see what is there.
#[tokio::test]
async fn no_plaintext_of_an_encrypted_object_reaches_the_data_dir() {
    let mut s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let secret = b"FERRITE-SECRET-MARKER-7f3a9c21e5";
    let visible = b"FERRITE-PLAIN-MARKER-0b8d44e2aa";
    for (key, len) in [("small", 1000), ("inline-max", CHUNK), ("large", 5 << 20)] {
        let body: Vec<u8> = secret.iter().copied().cycle().take(len).collect();
        put_sse(&c, "enc", key, &body).await;
    }
    // And a multipart upload's parts.
    let up = c
        .create_multipart_upload()
        .bucket("enc")
        .key("parts")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    let part_body: Vec<u8> = secret.iter().copied().cycle().take(5 << 20).collect();
    let mut parts = Vec::new();
    for n in 1..=2 {
        let p = c
            .upload_part()
            .bucket("enc")
            .key("parts")
            .upload_id(up.upload_id().unwrap())
            .part_number(n)
            .body(ByteStream::from(part_body.clone()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(p.e_tag().unwrap())
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket("enc")
        .key("parts")
        .upload_id(up.upload_id().unwrap())
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    // A part of an upload still in progress.
    let pending = c
        .create_multipart_upload()
        .bucket("enc")
        .key("pending")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    c.upload_part()
        .bucket("enc")
        .key("pending")
        .upload_id(pending.upload_id().unwrap())
        .part_number(1)
        .body(ByteStream::from(part_body.clone()))
        .send()
        .await
        .unwrap();
    // SSE-C objects, inline and blob-sized, and an SSE-C multipart upload's part.
    let ck = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let ck_md5 = base64::engine::general_purpose::STANDARD.encode(<md5::Md5 as md5::Digest>::digest([9u8; 32]));
    for (key, len) in [("c-small", 1000), ("c-large", 3 << 20)] {
        let body: Vec<u8> = secret.iter().copied().cycle().take(len).collect();
        c.put_object()
            .bucket("enc")
            .key(key)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&ck)
            .sse_customer_key_md5(&ck_md5)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }
    let c_up = c
        .create_multipart_upload()
        .bucket("enc")
        .key("c-parts")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck)
        .sse_customer_key_md5(&ck_md5)
        .send()
        .await
        .unwrap();
    c.upload_part()
        .bucket("enc")
        .key("c-parts")
        .upload_id(c_up.upload_id().unwrap())
        .part_number(1)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck)
        .sse_customer_key_md5(&ck_md5)
        .body(ByteStream::from(part_body.clone()))
        .send()
        .await
        .unwrap();
    // SSE-KMS objects (the default key, and under a bucket key), inline and blob-sized.
    for (key, len, bucket_key) in [
        ("k-small", 1000, false),
        ("k-large", 3 << 20, false),
        ("kb-large", 3 << 20, true),
    ] {
        let body: Vec<u8> = secret.iter().copied().cycle().take(len).collect();
        c.put_object()
            .bucket("enc")
            .key(key)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .bucket_key_enabled(bucket_key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }
    let plain: Vec<u8> = visible.iter().copied().cycle().take(1000).collect();
    c.put_object()
        .bucket("enc")
        .key("plain")
        .body(ByteStream::from(plain))
        .send()
        .await
        .unwrap();
    // A clean stop, so everything the server keeps in memory is on disk too.
    assert!(s.terminate().success());
    let mut files = Vec::new();
    collect_files(&s.data_dir, &mut files);
    // Every file of the data dir, and the metadata wherever it is (the embedded
    // store's file is one of the files; a database's rows are searched as well).
    let mut contents: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| (f.display().to_string(), std::fs::read(f).unwrap()))
        .collect();
    match &s.meta_url {
        None => assert!(files.iter().any(|f| f.ends_with("meta.redb"))),
        Some(_) => contents.push(("the PostgreSQL metadata table".into(), s.metadata_bytes())),
    }
    let mut seen_plain = false;
    let customer_key = [9u8; 32];
    for (f, bytes) in &contents {
        assert!(
            !contains(bytes, secret) && !contains(bytes, &secret[..16]),
            "plaintext of an encrypted object in {f}"
        );
        assert!(
            !contains(bytes, &customer_key) && !contains(bytes, ck.as_bytes()),
            "an SSE-C key in {f}"
        );
        seen_plain |= contains(bytes, visible);
    }
    assert!(seen_plain, "the scan finds a plaintext object's bytes");
}

fn collect_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            collect_files(&e.path(), out);
        } else {
            out.push(e.path());
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// One byte flipped in an encrypted object's blob file: GET fails (never returns
/// wrong bytes), and `/metrics` counts it.
#[tokio::test]
async fn a_tampered_chunk_fails_the_read() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let body = pattern(1 << 20, 9);
    put_sse(&c, "enc", "victim", &body).await;
    let mut files = Vec::new();
    collect_files(&s.data_dir.join("blobs"), &mut files);
    assert_eq!(files.len(), 1, "one blob: {files:?}");
    let mut stored = std::fs::read(&files[0]).unwrap();
    assert_eq!(
        stored.len(),
        body.len() + 16 * (body.len() / CHUNK + 1),
        "chunks with their tags"
    );
    // A byte in the middle of the sixth chunk.
    stored[5 * (CHUNK + 16) + 100] ^= 0x20;
    std::fs::write(&files[0], &stored).unwrap();
    // The whole object: the transfer fails after the chunks before the damage.
    match c.get_object().bucket("enc").key("victim").send().await {
        Err(_) => {}
        Ok(out) => match out.body.collect().await {
            Err(_) => {}
            Ok(got) => panic!("a tampered object was read ({} bytes)", got.into_bytes().len()),
        },
    }
    // A range within an intact chunk still reads; one that touches the damage fails.
    let ok = get_range(&c, "enc", "victim", "bytes=0-99").await;
    assert_eq!(ok, body[..100]);
    let bad = c
        .get_object()
        .bucket("enc")
        .key("victim")
        .range(format!("bytes={}-{}", 5 * CHUNK, 5 * CHUNK + 10))
        .send()
        .await;
    let failed = match bad {
        Err(_) => true,
        Ok(out) => out.body.collect().await.is_err(),
    };
    assert!(failed, "a range over the tampered chunk fails");
    let (_, metrics) = raw_request(&s.addr, "GET", "/metrics", &[]).await;
    let count: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("ferrite_sse_tampered_reads_total "))
        .expect("the counter is exported")
        .trim()
        .parse()
        .unwrap();
    assert!(count >= 2.0, "both failed reads counted: {count}");
}

/// The generated key file carries the key across restarts; a start with another
/// master key serves plaintext objects but refuses encrypted ones (and encrypting
/// writes), saying why in the log, and loses nothing: with the right key back, they
/// read again.
#[tokio::test]
async fn the_master_key_across_restarts_and_a_wrong_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut s = Server::start_in(&data, &[]);
    let c = s.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let body = pattern(300_000, 4);
    put_sse(&c, "enc", "kept", &body).await;
    put_sse(&c, "enc", "small", b"tiny secret").await;
    c.put_object()
        .bucket("enc")
        .key("plain")
        .body(ByteStream::from_static(b"plain"))
        .send()
        .await
        .unwrap();
    let key_file = data.join("master.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key_file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    s.kill();

    // Restart: the same generated key.
    s.restart();
    let c = s.client();
    let got = c.get_object().bucket("enc").key("kept").send().await.unwrap();
    assert!(read_all(got).await == body);
    s.kill();

    // Another master key.
    let wrong = tmp.path().join("wrong.key");
    std::fs::write(&wrong, base64::engine::general_purpose::STANDARD.encode([0x42u8; 32])).unwrap();
    let wrong_arg = wrong.to_str().unwrap();
    let mut s = Server::start_in(&data, &["--kms-master-key-file", wrong_arg]);
    let c = s.client();
    for key in ["kept", "small"] {
        let e = c.get_object().bucket("enc").key(key).send().await.unwrap_err();
        assert_eq!((status(&e), code(&e).as_str()), (500, "InternalError"), "{key}");
        let e = c.head_object().bucket("enc").key(key).send().await;
        assert!(e.is_ok(), "HEAD needs no key");
    }
    let plain = c.get_object().bucket("enc").key("plain").send().await.unwrap();
    assert_eq!(read_all(plain).await, b"plain");
    let e = c
        .put_object()
        .bucket("enc")
        .key("new")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 500);
    assert_eq!(
        status(&c.head_object().bucket("enc").key("new").send().await.unwrap_err()),
        404
    );
    s.kill();

    // The right key again (given as a file this time): everything reads.
    let mut s = Server::start_in(&data, &["--kms-master-key-file", key_file.to_str().unwrap()]);
    let c = s.client();
    let got = c.get_object().bucket("enc").key("kept").send().await.unwrap();
    assert!(read_all(got).await == body);
    let got = c.get_object().bucket("enc").key("small").send().await.unwrap();
    assert_eq!(read_all(got).await, b"tiny secret");
    s.kill();
}

/// What is not built yet is refused, and nothing is stored: SSE-KMS (on PUT,
/// CreateMultipartUpload and copies) and SSE-C. An unknown algorithm is
/// InvalidArgument.
#[tokio::test]
async fn encryption_not_built_yet_is_refused() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    put_sse(&c, "enc", "src", b"source bytes").await;
    let e = c
        .put_object()
        .bucket("enc")
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKmsDsse)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotImplemented");
    let e = c
        .put_object()
        .bucket("enc")
        .key("rot13")
        .server_side_encryption(ServerSideEncryption::from("ROT13"))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidArgument"));
    let e = c
        .create_multipart_upload()
        .bucket("enc")
        .key("mpu")
        .server_side_encryption(ServerSideEncryption::AwsKmsDsse)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotImplemented");
    let e = c
        .copy_object()
        .bucket("enc")
        .key("copy")
        .copy_source("enc/src")
        .server_side_encryption(ServerSideEncryption::AwsKmsDsse)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotImplemented");
    // Contradicting headers are 400 InvalidArgument, as on AWS: a KMS key with AES256,
    // customer-key headers beside x-amz-server-side-encryption.
    let e = c
        .put_object()
        .bucket("enc")
        .key("conflict")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .ssekms_key_id("alias/k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidArgument"));
    let e = c
        .put_object()
        .bucket("enc")
        .key("conflict")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .sse_customer_algorithm("AES256")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidArgument"));
    // A read that names an encryption is refused (the object's encryption is its own).
    let e = c
        .head_object()
        .bucket("enc")
        .key("src")
        .customize()
        .mutate_request(|r| {
            r.headers_mut().insert("x-amz-server-side-encryption", "AES256");
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 400);
    for key in ["kms", "rot13", "copy", "conflict"] {
        let e = c.head_object().bucket("enc").key(key).send().await.unwrap_err();
        assert_eq!(status(&e), 404, "{key} not stored");
    }
    let uploads = c.list_multipart_uploads().bucket("enc").send().await.unwrap();
    assert!(uploads.uploads().is_empty());
}

/// An SSE-S3 multipart upload: every part sealed under the upload's data key with a
/// nonce prefix of its own (a part sent again gets a new one); the completed object
/// reads back whole, in ranges across part and chunk boundaries, and by partNumber;
/// every answer names the encryption.
#[tokio::test]
async fn sse_s3_multipart_uploads() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let up = c
        .create_multipart_upload()
        .bucket("enc")
        .key("big")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap();
    assert_eq!(up.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let id = up.upload_id().unwrap();
    let sizes = [5 << 20, (5 << 20) + 3, 777_777];
    let bodies: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, n)| pattern(*n, 40 + i as u64))
        .collect();
    // Part 2 is first sent with other bytes, then again: the second one counts.
    let decoy = pattern(sizes[1], 99);
    let mut parts = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let n = i as i32 + 1;
        if n == 2 {
            c.upload_part()
                .bucket("enc")
                .key("big")
                .upload_id(id)
                .part_number(n)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(ByteStream::from(decoy.clone()))
                .send()
                .await
                .unwrap();
        }
        let p = c
            .upload_part()
            .bucket("enc")
            .key("big")
            .upload_id(id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            p.server_side_encryption(),
            Some(&ServerSideEncryption::Aes256),
            "part {n}"
        );
        assert_eq!(
            p.e_tag(),
            Some(format!("\"{}\"", md5_hex(body)).as_str()),
            "plaintext MD5"
        );
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(p.e_tag().unwrap())
                .set_checksum_crc32(p.checksum_crc32().map(String::from))
                .build(),
        );
    }
    let done = c
        .complete_multipart_upload()
        .bucket("enc")
        .key("big")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    assert_eq!(done.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let whole: Vec<u8> = bodies.concat();
    let got = c.get_object().bucket("enc").key("big").send().await.unwrap();
    assert_eq!(got.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert!(read_all(got).await == whole);
    let b1 = sizes[0];
    let b2 = sizes[0] + sizes[1];
    for (first, last) in [
        (b1 - 10, b1 + 10),
        (b1 - CHUNK - 1, b2 + CHUNK + 1),
        (b2 - 1, b2),
        (whole.len() - 5, whole.len() - 1),
        (CHUNK - 1, CHUNK),
    ] {
        let got = get_range(&c, "enc", "big", &format!("bytes={first}-{last}")).await;
        assert!(got == whole[first..=last], "bytes {first}-{last}");
    }
    for (n, body) in bodies.iter().enumerate() {
        let got = c
            .get_object()
            .bucket("enc")
            .key("big")
            .part_number(n as i32 + 1)
            .send()
            .await
            .unwrap();
        assert!(read_all(got).await == *body, "partNumber {}", n + 1);
    }
}

/// Copies between plaintext and SSE-S3: a copy asking for the encryption its source
/// already has shares the sealed data (no new blob); one asking for encryption the
/// source lacks writes the bytes again, sealed (a copy onto itself so encrypts an
/// existing object). A copy without the header keeps the source's encryption.
#[tokio::test]
async fn copies_between_plaintext_and_sse_s3() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let body = pattern(2 << 20, 21);
    c.put_object()
        .bucket("enc")
        .key("plain")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    put_sse(&c, "enc", "sealed", &body).await;
    assert_eq!(s.blob_files(), 2);
    let copy = |src: &'static str, dst: &'static str, sse: bool| {
        let c = c.clone();
        async move {
            let mut req = c.copy_object().bucket("enc").key(dst).copy_source(format!("enc/{src}"));
            if sse {
                req = req.server_side_encryption(ServerSideEncryption::Aes256);
            }
            req.send().await.unwrap().server_side_encryption().cloned()
        }
    };
    // SSE-S3 to SSE-S3: shared.
    assert_eq!(
        copy("sealed", "sealed-copy", true).await,
        Some(ServerSideEncryption::Aes256)
    );
    assert_eq!(s.blob_files(), 2, "the copy shares the sealed data");
    // No header: keeps the source's encryption, shared.
    assert_eq!(copy("sealed", "kept", false).await, Some(ServerSideEncryption::Aes256));
    assert_eq!(copy("plain", "plain-copy", false).await, None);
    assert_eq!(s.blob_files(), 2);
    // Plaintext to SSE-S3: written again, sealed.
    assert_eq!(
        copy("plain", "now-sealed", true).await,
        Some(ServerSideEncryption::Aes256)
    );
    assert_eq!(s.blob_files(), 3, "a new, sealed blob");
    // Onto itself: the documented way to encrypt an existing object.
    assert_eq!(copy("plain", "plain", true).await, Some(ServerSideEncryption::Aes256));
    for key in ["sealed-copy", "kept", "plain-copy", "now-sealed", "plain"] {
        let got = c.get_object().bucket("enc").key(key).send().await.unwrap();
        let sealed = got.server_side_encryption().is_some();
        assert_eq!(sealed, key != "plain-copy", "{key}");
        assert!(read_all(got).await == body, "{key} reads back");
    }
    // Onto itself without any change is still refused, as on AWS.
    let e = c
        .copy_object()
        .bucket("enc")
        .key("plain-copy")
        .copy_source("enc/plain-copy")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequest");
}

/// A copy of an SSE-S3 object (no encryption headers) shares its sealed data and
/// stays SSE-S3; UploadPartCopy reads it through the GET path (decrypted).
#[tokio::test]
async fn copies_of_an_encrypted_object() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let body = pattern(6 << 20, 11);
    put_sse(&c, "enc", "src", &body).await;
    let out = c
        .copy_object()
        .bucket("enc")
        .key("copy")
        .copy_source("enc/src")
        .send()
        .await
        .unwrap();
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let got = c.get_object().bucket("enc").key("copy").send().await.unwrap();
    assert_eq!(got.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert!(read_all(got).await == body);

    let up = c
        .create_multipart_upload()
        .bucket("enc")
        .key("assembled")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, range) in [(1, "bytes=0-5242879"), (2, "bytes=5242880-6291455")] {
        let p = c
            .upload_part_copy()
            .bucket("enc")
            .key("assembled")
            .upload_id(id)
            .part_number(n)
            .copy_source("enc/src")
            .copy_source_range(range)
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(p.copy_part_result().unwrap().e_tag().unwrap())
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket("enc")
        .key("assembled")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    let got = c.get_object().bucket("enc").key("assembled").send().await.unwrap();
    assert!(read_all(got).await == body);
}

/// A default-encryption configuration of one rule.
fn sse_s3_config() -> aws_sdk_s3::types::ServerSideEncryptionConfiguration {
    encryption_config(ServerSideEncryption::Aes256, None, false)
}

/// Default bucket encryption: Put/Get/DeleteBucketEncryption as AWS answers them,
/// and a bucket with an SSE-S3 default encrypts every write that asks for nothing
/// (PUT, multipart upload, copy), while an SSE-KMS default is not accepted yet.
#[tokio::test]
async fn bucket_default_encryption() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("dflt").send().await.unwrap();
    c.create_bucket().bucket("plain").send().await.unwrap();
    let e = c.get_bucket_encryption().bucket("dflt").send().await.unwrap_err();
    assert_eq!(
        (status(&e), code(&e).as_str()),
        (404, "ServerSideEncryptionConfigurationNotFoundError")
    );
    c.put_object()
        .bucket("dflt")
        .key("before")
        .body(ByteStream::from_static(b"written before the default"))
        .send()
        .await
        .unwrap();
    c.put_bucket_encryption()
        .bucket("dflt")
        .server_side_encryption_configuration(sse_s3_config())
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_encryption().bucket("dflt").send().await.unwrap();
    let rule = &got.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm(),
        &ServerSideEncryption::Aes256
    );

    // A PUT without headers is encrypted; the object written before is not.
    let out = c
        .put_object()
        .bucket("dflt")
        .key("after")
        .body(ByteStream::from_static(b"written after"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let head = c.head_object().bucket("dflt").key("before").send().await.unwrap();
    assert_eq!(head.server_side_encryption(), None);
    // A multipart upload without headers.
    let up = c
        .create_multipart_upload()
        .bucket("dflt")
        .key("mpu")
        .send()
        .await
        .unwrap();
    assert_eq!(up.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let p = c
        .upload_part()
        .bucket("dflt")
        .key("mpu")
        .upload_id(up.upload_id().unwrap())
        .part_number(1)
        .body(ByteStream::from_static(b"one small part"))
        .send()
        .await
        .unwrap();
    c.complete_multipart_upload()
        .bucket("dflt")
        .key("mpu")
        .upload_id(up.upload_id().unwrap())
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(p.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let got = c.get_object().bucket("dflt").key("mpu").send().await.unwrap();
    assert_eq!(got.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(read_all(got).await, b"one small part");
    // A copy from a plaintext bucket into it, without headers: encrypted.
    c.put_object()
        .bucket("plain")
        .key("src")
        .body(ByteStream::from_static(b"plain source"))
        .send()
        .await
        .unwrap();
    let out = c
        .copy_object()
        .bucket("dflt")
        .key("copied")
        .copy_source("plain/src")
        .send()
        .await
        .unwrap();
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let got = c.get_object().bucket("dflt").key("copied").send().await.unwrap();
    assert_eq!(read_all(got).await, b"plain source");

    // A dual-layer SSE-KMS default is not built; a KMS key with AES256 is what AWS
    // refuses. (SSE-KMS defaults: tests/sse_kms.rs.)
    let kms = encryption_config(ServerSideEncryption::AwsKmsDsse, Some("alias/k"), false);
    let e = c
        .put_bucket_encryption()
        .bucket("plain")
        .server_side_encryption_configuration(kms)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotImplemented");
    let aes_with_key = encryption_config(ServerSideEncryption::Aes256, Some("alias/k"), false);
    let e = c
        .put_bucket_encryption()
        .bucket("plain")
        .server_side_encryption_configuration(aes_with_key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidArgument");
    let e = c.get_bucket_encryption().bucket("plain").send().await.unwrap_err();
    assert_eq!(status(&e), 404, "nothing stored");

    // Deleting the default: new writes are stored as sent again.
    c.delete_bucket_encryption().bucket("dflt").send().await.unwrap();
    let out = c
        .put_object()
        .bucket("dflt")
        .key("later")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.server_side_encryption(), None);
    let e = c.get_bucket_encryption().bucket("dflt").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
}

/// Only the bucket owner (and root) may read or change a bucket's default encryption.
#[tokio::test]
async fn bucket_encryption_is_the_owners() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("owned").send().await.unwrap();
    let a = new_iam_user(&s, "alice").await.client;
    let e = a.get_bucket_encryption().bucket("owned").send().await.unwrap_err();
    assert_eq!(status(&e), 403);
    let e = a
        .put_bucket_encryption()
        .bucket("owned")
        .server_side_encryption_configuration(sse_s3_config())
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 403);
    let e = a.delete_bucket_encryption().bucket("owned").send().await.unwrap_err();
    assert_eq!(status(&e), 403);
    let e = c.get_bucket_encryption().bucket("owned").send().await.unwrap_err();
    assert_eq!(status(&e), 404, "alice changed nothing");
}

/// `--default-encryption sse-s3`: every new bucket defaults to SSE-S3.
#[tokio::test]
async fn the_server_wide_default_encryption() {
    let s = Server::start_with(&["--default-encryption", "sse-s3"]);
    let c = s.client();
    c.create_bucket().bucket("auto").send().await.unwrap();
    let got = c.get_bucket_encryption().bucket("auto").send().await.unwrap();
    assert_eq!(got.server_side_encryption_configuration().unwrap().rules().len(), 1);
    let out = c
        .put_object()
        .bucket("auto")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
}

/// A bucket policy denying `s3:PutObject` on `bucket/*` unless the request's
/// `condition_key` is `AES256`.
fn deny_unless_aes256(bucket: &str, condition_key: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:PutObject",
        "Resource":"arn:aws:s3:::{bucket}/*","Condition":{{"StringNotEquals":{{"{condition_key}":"AES256"}}}}}}]}}"#
    )
}

/// An encryption header the server refuses (an unknown `x-amz-server-side-encryption`
/// value, an SSE-C algorithm without its key) is answered as refused (400) only to a
/// caller who may write there. Any other caller gets the write's own answer: 403 to
/// one without the grant, or whom a bucket policy denies on that very header's value
/// (the header's value is what the policy tests, valid or not), 404 for a bucket
/// that does not exist. PutObject, CopyObject, CreateMultipartUpload and UploadPart
/// alike; nothing is stored.
#[tokio::test]
async fn a_refused_encryption_header_is_answered_only_to_callers_who_may_write() {
    let s = Server::start();
    let root = s.client();
    let stranger = new_iam_user(&s, "stranger").await.client;
    let anon = anonymous(&s);
    for b in ["open", "deny-sse", "deny-ssec"] {
        root.create_bucket().bucket(b).send().await.unwrap();
    }
    put_sse(&root, "open", "src", b"source bytes").await;
    root.put_bucket_policy()
        .bucket("deny-sse")
        .policy(deny_unless_aes256("deny-sse", "s3:x-amz-server-side-encryption"))
        .send()
        .await
        .unwrap();
    root.put_bucket_policy()
        .bucket("deny-ssec")
        .policy(deny_unless_aes256(
            "deny-ssec",
            "s3:x-amz-server-side-encryption-customer-algorithm",
        ))
        .send()
        .await
        .unwrap();

    #[derive(Clone, Copy, Debug)]
    enum Bad {
        /// `x-amz-server-side-encryption: AES192`.
        Sse,
        /// `x-amz-server-side-encryption-customer-algorithm: AES192`, no key.
        CustomerAlgorithm,
    }
    #[derive(Clone, Copy, Debug)]
    enum Op {
        Put,
        Copy,
        CreateUpload,
        /// A part of the upload `upload` (SSE-C headers only: UploadPart has no
        /// `x-amz-server-side-encryption`).
        UploadPart,
    }
    async fn attempt(c: &aws_sdk_s3::Client, op: Op, bad: Bad, bucket: &str, key: &str, upload: &str) -> (u16, String) {
        fn refused<E>(e: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> (u16, String)
        where
            E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
        {
            (status(&e), code(&e))
        }
        let sse = ServerSideEncryption::from("AES192");
        let e = match (op, bad) {
            (Op::Put, Bad::Sse) => c
                .put_object()
                .bucket(bucket)
                .key(key)
                .server_side_encryption(sse)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
                .map(drop)
                .map_err(refused),
            (Op::Put, Bad::CustomerAlgorithm) => c
                .put_object()
                .bucket(bucket)
                .key(key)
                .sse_customer_algorithm("AES192")
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
                .map(drop)
                .map_err(refused),
            (Op::Copy, Bad::Sse) => c
                .copy_object()
                .bucket(bucket)
                .key(key)
                .copy_source("open/src")
                .server_side_encryption(sse)
                .send()
                .await
                .map(drop)
                .map_err(refused),
            (Op::Copy, Bad::CustomerAlgorithm) => c
                .copy_object()
                .bucket(bucket)
                .key(key)
                .copy_source("open/src")
                .sse_customer_algorithm("AES192")
                .send()
                .await
                .map(drop)
                .map_err(refused),
            (Op::CreateUpload, Bad::Sse) => c
                .create_multipart_upload()
                .bucket(bucket)
                .key(key)
                .server_side_encryption(sse)
                .send()
                .await
                .map(drop)
                .map_err(refused),
            (Op::CreateUpload, Bad::CustomerAlgorithm) => c
                .create_multipart_upload()
                .bucket(bucket)
                .key(key)
                .sse_customer_algorithm("AES192")
                .send()
                .await
                .map(drop)
                .map_err(refused),
            (Op::UploadPart, Bad::CustomerAlgorithm) => c
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload)
                .part_number(1)
                .sse_customer_algorithm("AES192")
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
                .map(drop)
                .map_err(refused),
            (Op::UploadPart, Bad::Sse) => unreachable!("UploadPart takes no x-amz-server-side-encryption"),
        };
        e.expect_err("a refused header is never carried out")
    }

    // The uploads UploadPart tries to add to (root's, allowed by the policies: the
    // SSE-C bucket's with its key).
    let ssec_key = [7u8; 32];
    let b64 = base64::engine::general_purpose::STANDARD;
    let (key_b64, key_md5) = (
        b64.encode(ssec_key),
        b64.encode(<md5::Md5 as md5::Digest>::digest(ssec_key)),
    );
    let open_upload = root
        .create_multipart_upload()
        .bucket("open")
        .key("part-target")
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let ssec_upload = root
        .create_multipart_upload()
        .bucket("deny-ssec")
        .key("part-target")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .sse_customer_key_md5(&key_md5)
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let upload_in = |bucket: &str| match bucket {
        "open" => open_upload.clone(),
        "deny-ssec" => ssec_upload.clone(),
        _ => "no-such-upload".to_string(),
    };

    let who: [(&str, &aws_sdk_s3::Client); 3] = [("root", &root), ("stranger", &stranger), ("anonymous", &anon)];
    for op in [Op::Put, Op::Copy, Op::CreateUpload, Op::UploadPart] {
        for bad in [Bad::Sse, Bad::CustomerAlgorithm] {
            if matches!((op, bad), (Op::UploadPart, Bad::Sse)) {
                continue;
            }
            for (name, c) in who {
                let denied_by_policy = match bad {
                    Bad::Sse => "deny-sse",
                    Bad::CustomerAlgorithm => "deny-ssec",
                };
                let cases = [
                    // Root may write "open": the header's refusal. Nobody else may.
                    (
                        "open",
                        if name == "root" {
                            (400, "InvalidArgument")
                        } else {
                            (403, "AccessDenied")
                        },
                    ),
                    // The policy denies this header's value to everyone, root included.
                    (denied_by_policy, (403, "AccessDenied")),
                    // As the write itself answers every caller.
                    ("no-such-bucket", (404, "NoSuchBucket")),
                ];
                for (bucket, (want_status, want_code)) in cases {
                    let key = match op {
                        Op::UploadPart => "part-target".to_string(),
                        _ => format!("{op:?}-{bad:?}-{name}"),
                    };
                    let (got_status, got_code) = attempt(c, op, bad, bucket, &key, &upload_in(bucket)).await;
                    assert_eq!(
                        (got_status, got_code.as_str()),
                        (want_status, want_code),
                        "{op:?} with {bad:?} by {name} into {bucket}"
                    );
                    if bucket != "no-such-bucket" {
                        let head = root.head_object().bucket(bucket).key(&key).send().await;
                        assert!(head.is_err(), "{op:?} {bad:?} {name} {bucket}: nothing stored");
                    }
                }
            }
        }
    }
    let uploads = root.list_multipart_uploads().bucket("open").send().await.unwrap();
    let ids: Vec<&str> = uploads.uploads().iter().filter_map(|u| u.upload_id()).collect();
    assert_eq!(ids, [open_upload.as_str()], "no upload was started");
    for (bucket, upload) in [("open", &open_upload), ("deny-ssec", &ssec_upload)] {
        let parts = root
            .list_parts()
            .bucket(bucket)
            .key("part-target")
            .upload_id(upload)
            .send()
            .await
            .unwrap();
        assert!(parts.parts().is_empty(), "no part was added in {bucket}");
    }

    // The same buckets take what the policies allow.
    put_sse(&root, "deny-sse", "fine", b"allowed").await;
    root.put_object()
        .bucket("deny-ssec")
        .key("fine")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .sse_customer_key_md5(&key_md5)
        .body(ByteStream::from_static(b"allowed"))
        .send()
        .await
        .unwrap();
}
